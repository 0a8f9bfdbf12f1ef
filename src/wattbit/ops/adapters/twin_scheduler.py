"""The twin's :class:`~wattbit.ops.adapters.scheduler.Scheduler`: reads and writes over
:class:`~wattbit.ops.adapters.twin_cluster.TwinCluster` (Slurm 22.05's semantics over simulated time; see that module).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.adapters.scheduler import CommandFailed, JobEnd, JobInfo, NodeInfo, PartitionInfo
from wattbit.ops.adapters.twin_cluster import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    REQUEUE_DELAY_S,
    RUNNING,
    STATE_NAMES,
    TwinCluster,
)

#: Comment of jobs submitted without one: the twin's jobs write a checkpoint on ``USR1`` (``signal``).
TWIN_COMMENT = "wattbit:checkpoint_signal=USR1"


class TwinScheduler(TwinCluster):
    """A :class:`~wattbit.ops.adapters.scheduler.Scheduler` over the twin cluster (parameters: :class:`TwinCluster`)."""

    name = "twin"

    def load_jobs(
        self,
        gpus: NDArray[np.integer[Any]],
        duration_h: NDArray[np.floating[Any]],
        submit_s: NDArray[np.floating[Any]],
        checkpoint_interval_h: NDArray[np.floating[Any]],
        checkpoint_cost_h: NDArray[np.floating[Any]],
        restart_cost_h: NDArray[np.floating[Any]],
        requeue: NDArray[np.bool_] | None = None,
        partitions: str | None = None,
        deadline_s: NDArray[np.floating[Any]] | None = None,
    ) -> None:
        """Add many jobs that arrive at ``submit_s`` (Unix seconds), all allowed in ``partitions`` (default all).

        Gangs are whole nodes of the smallest GPUs-per-node of the allowed partitions.
        """
        n = len(gpus)
        first = self.jobs_.grow(n)
        sl = slice(first, first + n)
        mask = self._mask(partitions) if partitions else (1 << len(self.part_names)) - 1
        per_node = int(min(self.part_gpus[p] for p in range(len(self.part_names)) if mask >> p & 1))
        g = np.asarray(gpus, dtype=np.int64)
        self._fill(
            sl,
            nodes=np.maximum(1, -(-g // per_node)),
            gpus=g,
            work_h=np.asarray(duration_h, float),
            interval_h=np.maximum(np.asarray(checkpoint_interval_h, float), 1e-9),
            ckpt_cost_h=np.asarray(checkpoint_cost_h, float),
            restart_h=np.asarray(restart_cost_h, float),
            requeue=np.ones(n, bool) if requeue is None else np.asarray(requeue, bool),
            submit_s=np.asarray(submit_s, float),
            begin_s=np.asarray(submit_s, float),
            mask=mask,
            held=False,
            deadline_s=np.full(n, np.nan) if deadline_s is None else np.asarray(deadline_s, float),
        )
        self.jobs_.names.extend(f"job{k}" for k in range(first, first + n))
        order = np.argsort(self.jobs_.submit_s[sl], kind="stable") + first
        rest = self._arrivals[self._next_arrival :]
        merged = np.concatenate([rest, order])
        self._arrivals = merged[np.argsort(self.jobs_.submit_s[merged], kind="stable")]
        self._next_arrival = 0

    def node_info(self, n: int) -> NodeInfo:
        """Node ``n`` as a :class:`NodeInfo`."""
        part = int(self.node_part[n])
        busy = self.node_job[n] >= 0
        down = self.down_until[n] > self.now_s
        state = "DOWN" if down else ("ALLOCATED" if busy else "IDLE")
        flags = frozenset({"DRAIN"}) if self.drain_flag[n] else frozenset()
        if down:
            flags |= {"NOT_RESPONDING"}
        g = int(self.part_gpus[part])
        return NodeInfo(
            name=self.node_names[n],
            partitions=(self.part_names[part],),
            state=state,
            flags=flags,
            reason=self.reason[n],
            gpus=g,
            gpus_used=g if busy else 0,
            weight=int(self.weight[n]),
        )

    def nodes(self) -> list[NodeInfo]:
        """Every node."""
        return [self.node_info(n) for n in range(len(self.node_names))]

    def partitions(self) -> list[PartitionInfo]:
        """Every partition (one per site)."""
        return [
            PartitionInfo(p, tuple(self.node_names[n] for n in np.flatnonzero(self.node_part == k)))
            for k, p in enumerate(self.part_names)
        ]

    def job_info(self, i: int) -> JobInfo:
        """Job ``i`` as a :class:`JobInfo`."""
        c = self.jobs_
        state = STATE_NAMES[int(c.state[i])]
        reason = "None"
        if state == "PENDING":
            reason = "JobHeldAdmin" if c.held[i] else ("BeginTime" if c.begin_s[i] > self.now_s else "Resources")
        nodes = tuple(self.node_names[n] for n in self.job_nodes.get(i, []))
        parts = ",".join(p for k, p in enumerate(self.part_names) if int(c.mask[i]) >> k & 1)
        if nodes:
            parts = self.part_names[int(self.node_part[self.job_nodes[i][0]])]
        deadline = float(c.deadline_s[i])
        return JobInfo(
            job_id=str(i + 1),
            name=self.jobs_.names[i] if i < len(self.jobs_.names) else f"job{i}",
            partition=parts,
            state=state,
            reason=reason,
            nodes=nodes,
            gpus=int(c.gpus[i]),
            submit_time_s=float(c.submit_s[i]),
            begin_time_s=float(c.begin_s[i]),
            start_time_s=float(c.run_start_s[i]) if c.started[i] else None,
            time_limit_s=None,
            restart_count=int(c.restarts[i]),
            requeue=bool(c.requeue[i]),
            held=bool(c.held[i]),
            comment=self.jobs_.comments.get(i, TWIN_COMMENT),
            deadline_s=None if math.isnan(deadline) else deadline,
        )

    def jobs(self) -> list[JobInfo]:
        """Pending (already submitted) and running jobs, and those that ended within ``keep_finished_s``."""
        c = self.jobs_
        ids: list[int] = list(self.job_nodes)
        ids += [i for i in self.pending + self._incoming if c.state[i] == PENDING]
        ids += [i for _, i in self.finished if c.end_s[i] >= self.now_s - self.keep_finished_s]
        return [self.job_info(i) for i in sorted(set(ids))]

    def job(self, job_id: str) -> JobInfo:
        """One job (:class:`UnknownJob` if it does not exist or is long finished)."""
        return self.job_info(self._job(job_id))

    def job_ends(self, since_s: float) -> list[JobEnd]:
        """Runs that ended in failure at or after ``since_s``, from the kill log: a job its node failed under
        (``NODE_FAIL`` when the node went down, else ``FAILED``) or that died starting on a node with a failed GPU
        (``FAILED``); wattbit's requeues and cancellations are not failures."""
        k = bisect.bisect_left(self.ends, since_s, key=lambda e: e[0])
        return [
            JobEnd(str(i + 1), tuple(self.node_names[n] for n in nodes), start, end, state, why)
            for end, i, nodes, start, state, why in self.ends[k:]
        ]

    def running_on(self, node: str) -> JobInfo | None:
        """The job running on ``node``, if any."""
        j = int(self.node_job[self._node(node)])
        return None if j < 0 else self.job_info(j)

    # ------------------------------------------------------------------------------------------- writing
    def drain(self, node: str, reason: str) -> None:
        """Start nothing new on ``node``."""
        n = self._node(node)
        self.drain_flag[n] = True
        self.reason[n] = reason
        self.free[int(self.node_part[n])].discard(n)

    def burn_in(self, node: str) -> bool:
        """The twin's burn-in check of ``node``: passes when no GPU of it is failed and it is up."""
        n = self._node(node)
        return bool(self.broken_until[n] <= self.now_s and self.down_until[n] <= self.now_s)

    def resume(self, node: str) -> None:
        """Return a drained node to service (Slurm refuses ``RESUME`` on a node that is not drained or down)."""
        n = self._node(node)
        if not self.drain_flag[n]:
            raise CommandFailed("slurm_update error: Invalid node state specified", f"resume {node}")
        self.drain_flag[n] = False
        self.reason[n] = ""
        if self._usable(n):
            self.free[int(self.node_part[n])].add(n)
        self._schedule()

    def signal(self, job_id: str, signal_name: str) -> None:
        """``USR1`` asks the job to write a checkpoint now."""
        i = self._job(job_id)
        if self.jobs_.state[i] != RUNNING:
            raise CommandFailed("Job is not running", f"signal {job_id}")
        if signal_name.upper().removeprefix("SIG") == "USR1":
            self.jobs_.ckpt_asked_s[i] = self.now_s

    def requeue(self, job_id: str) -> None:
        """Stop a running job and queue it again (begin time :data:`REQUEUE_DELAY_S` ahead)."""
        i = self._job(job_id)
        c = self.jobs_
        if c.state[i] != RUNNING:
            raise CommandFailed("Job is not running (requeue needs a running or suspended job)", f"requeue {job_id}")
        if not c.requeue[i]:
            raise CommandFailed("Job is not requeueable", f"requeue {job_id}")
        asked = float(c.ckpt_asked_s[i])
        part = int(self.node_part[self.job_nodes[i][0]])
        checkpointed = not math.isnan(asked) and self.now_s - asked >= c.ckpt_cost_h[i] * 3600.0
        _, since = self._progress(i)
        self._stop(i)
        if checkpointed:
            c.overhead_h[i] += c.ckpt_cost_h[i]
            c.pending_overhead_h[i] += c.restart_h[i]
        else:  # stopped without a fresh checkpoint: the work since the last one is redone
            lost = since * self._rate(i, part)
            c.lost_h[i] += lost
            c.work_h[i] += lost
            c.pending_overhead_h[i] += c.restart_h[i]
        c.state[i] = PENDING
        c.restarts[i] += 1
        c.begin_s[i] = self.now_s + REQUEUE_DELAY_S
        self._enqueue(i)
        self._push(c.begin_s[i], 3, i, 0)
        self._schedule()

    def _pending_job(self, job_id: str, what: str) -> int:
        i = self._job(job_id)
        if self.jobs_.state[i] != PENDING:
            raise CommandFailed("Job is no longer pending execution", f"{what} {job_id}")
        return i

    def hold(self, job_id: str) -> None:
        """Keep a pending job from starting."""
        self.jobs_.held[self._pending_job(job_id, "hold")] = True

    def release(self, job_id: str) -> None:
        """Let a held job start."""
        self.jobs_.held[self._pending_job(job_id, "release")] = False
        self._schedule()

    def move(self, job_id: str, partition: str) -> None:
        """Move a pending job to ``partition``."""
        i = self._pending_job(job_id, "move")
        self.jobs_.mask[i] = self._mask(partition)
        self._schedule()

    def set_start_time(self, job_id: str, when: str) -> None:
        """Set a pending job's begin time."""
        i = self._pending_job(job_id, "starttime")
        self.jobs_.begin_s[i] = self._begin(when)
        if self.jobs_.begin_s[i] > self.now_s:
            self._push(float(self.jobs_.begin_s[i]), 3, i, 0)
        self._schedule()

    def set_node_weight(self, node: str, weight: int) -> None:
        """Set a node's weight (lower is used first)."""
        self.weight[self._node(node)] = int(weight)

    def cancel(self, job_id: str) -> None:
        """Cancel a job."""
        i = self._job(job_id)
        c = self.jobs_
        if c.state[i] == RUNNING:
            self._stop(i)
        if c.state[i] in (PENDING, RUNNING):
            c.state[i] = CANCELLED
            c.end_s[i] = self.now_s
            heapq.heappush(self.finished, (self.now_s, i))

    # ------------------------------------------------------------------------------------------- accounting
    def busy_gpus(self) -> NDArray[np.int64]:
        """GPUs running jobs per partition now."""
        busy = self.node_job >= 0
        return np.bincount(self.node_part[busy], minlength=len(self.part_names)) * self.part_gpus

    def totals(self, jobs: Iterable[int] | None = None) -> dict[str, float]:
        """GPU-hours lost (work redone), overhead, interruptions and jobs lost or unfinished so far."""
        c = self.jobs_
        sl = slice(0, c.n) if jobs is None else np.fromiter(jobs, dtype=np.int64)
        g = c.gpus[sl].astype(float)
        return {
            "gpu_hours_lost": float((g * c.lost_h[sl]).sum()),
            "gpu_hours_overhead": float((g * c.overhead_h[sl]).sum()),
            "jobs_interrupted": int((c.interruptions[sl] > 0).sum()),
            "interruptions": int(c.interruptions[sl].sum()),
            "jobs_lost": int((c.state[sl] == FAILED).sum()),
            "jobs_completed": int((c.state[sl] == COMPLETED).sum()),
            "requeues": int(c.restarts[sl].sum()),
        }
