"""The twin's cluster: Slurm's semantics over simulated time, node by node, for the fast path and for demos.

:class:`TwinCluster` holds the state and moves time; :class:`~wattbit.ops.adapters.twin_scheduler.TwinScheduler`
adds the :class:`~wattbit.ops.adapters.scheduler.Scheduler` reads and writes.

The engine (:mod:`wattbit.sim.engine`) counts GPUs per site and never places a job on a node; healing acts on nodes.
:class:`TwinScheduler` is the :class:`~wattbit.ops.adapters.scheduler.Scheduler` of a cluster whose nodes carry the
telemetry's names and whose partitions are the sites, with the behaviour of Slurm that the control loop relies on:

- jobs are gangs of whole nodes (``gpus / gpus_per_node``, rounded up), started first come first served per
  partition, the lowest node weight first, with bounded backfill (a job behind the queue's head starts only on nodes
  the head cannot use); a job submitted to several partitions (``fukushima,inzai``) starts where the most nodes are
  free; held jobs and jobs before their begin time wait;
- ``drain`` lets running jobs finish and starts nothing new on the node; ``resume`` returns it;
- ``requeue`` stops a running job and queues it again with a begin time two minutes ahead, as Slurm 22.05 does; the
  work since its last checkpoint is lost unless a checkpoint was asked for (``signal(job, "USR1")``) at least the
  job's checkpoint cost earlier, in which case only the checkpoint and the restart cost time;
- a node failure (:meth:`TwinScheduler.fail_node`) kills the job on it, which loses the work since its last periodic
  checkpoint plus the restart and is queued again if it may be requeued (else it is lost); a node that goes down is
  ``DOWN`` until repaired and then returns by itself (``ReturnToService=2``) unless drained; a node with a failed GPU
  stays up and kills every job started on it (after its start-up) until repaired (a "black hole" node), which is
  what draining prevents.

Work is counted as the engine counts it (:mod:`wattbit.sim.engine`): a job progresses at ``1 - checkpoint_cost /
checkpoint_interval`` of its running time after paying restart overheads; ``lost_h`` is work redone. Jobs are held as
arrays (a year of japan-2022 has about a million), so :meth:`jobs` lists only pending and running ones and those
that ended in the last ``keep_finished_s``. Time only moves through :meth:`advance`.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.adapters.scheduler import (
    CommandFailed,
    JobSpec,
    UnknownJob,
    UnknownNode,
)

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = 0, 1, 2, 3, 4
STATE_NAMES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
#: Slurm 22.05 queues a requeued job with a begin time this far ahead [s].
REQUEUE_DELAY_S = 120.0
#: A job started on a node with a failed GPU crashes this long after it starts (at least; its restart overhead if
#: longer) [s] (U: CUDA initialisation or the first collective fails).
BLACK_HOLE_S = 300.0
_COLUMNS: dict[str, Any] = {
    "nodes_needed": np.int32,
    "gpus": np.int32,
    "work_h": np.float64,  # remaining work at full throughput
    "interval_h": np.float64,
    "ckpt_cost_h": np.float64,
    "restart_h": np.float64,
    "requeue": np.bool_,
    "submit_s": np.float64,
    "begin_s": np.float64,
    "deadline_s": np.float64,
    "held": np.bool_,
    "state": np.int8,
    "mask": np.int64,  # partitions it may run in (bit per partition)
    "run_start_s": np.float64,
    "run_overhead_h": np.float64,
    "pending_overhead_h": np.float64,
    "restarts": np.int32,
    "interruptions": np.int32,
    "lost_h": np.float64,
    "overhead_h": np.float64,
    "end_s": np.float64,
    "ckpt_asked_s": np.float64,
    "seq": np.int64,
    "started": np.bool_,
}


@dataclass
class TwinJobs:
    """Job columns (arrays over jobs, grown as jobs are submitted)."""

    n: int = 0
    cols: dict[str, NDArray[Any]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    comments: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.cols:
            self.cols = {k: np.zeros(0, dtype=t) for k, t in _COLUMNS.items()}

    def grow(self, extra: int) -> int:
        """Room for ``extra`` more jobs; returns the first new index."""
        need = self.n + extra
        cap = len(self.cols["state"])
        if need > cap:
            new_cap = max(need, 2 * cap, 64)
            for k, a in self.cols.items():
                b = np.zeros(new_cap, dtype=a.dtype)
                b[:cap] = a
                self.cols[k] = b
        first = self.n
        self.n = need
        return first

    def __getattr__(self, name: str) -> NDArray[Any]:
        cols = self.__dict__.get("cols")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(name)


class TwinCluster:
    """The twin cluster's state and clock: jobs, nodes, events and the scheduling pass (see the module docstring).

    Parameters
    ----------
    partitions
        Partition (site) -> its node names.
    gpus_per_node
        Partition -> GPUs per node.
    start_s
        Simulated clock at the start (Unix seconds).
    backfill_depth
        Jobs behind the queue's head considered for backfill per pass.
    keep_finished_s
        How long finished jobs stay visible in :meth:`jobs` (Slurm's ``MinJobAge``).
    speed
        Partition -> training speed of its GPUs relative to an H100 (work per running hour); default 1.
    """

    name = "twin"

    def __init__(
        self,
        partitions: dict[str, list[str]],
        gpus_per_node: dict[str, int],
        start_s: float,
        *,
        backfill_depth: int = 64,
        keep_finished_s: float = 300.0,
        speed: dict[str, float] | None = None,
    ) -> None:
        if len(partitions) > 62:
            raise ValueError("the twin scheduler handles at most 62 partitions")
        self.part_names = list(partitions)
        self.node_names = [n for p in self.part_names for n in partitions[p]]
        self.node_index = {n: i for i, n in enumerate(self.node_names)}
        self.node_part = np.array([self.part_names.index(p) for p in self.part_names for _ in partitions[p]])
        self.part_gpus = np.array([gpus_per_node[p] for p in self.part_names], dtype=np.int64)
        self.part_speed = np.array([(speed or {}).get(p, 1.0) for p in self.part_names])
        n = len(self.node_names)
        self.weight = np.ones(n, dtype=np.int64)
        self.drain_flag = np.zeros(n, dtype=bool)
        self.reason = [""] * n
        self.down_until = np.full(n, -math.inf)  # node down (absent) until then
        self.broken_until = np.full(n, -math.inf)  # a failed GPU: jobs started on it die until then
        self.node_job = np.full(n, -1, dtype=np.int64)
        self.free: list[set[int]] = [set(np.flatnonzero(self.node_part == p).tolist()) for p in range(len(partitions))]
        self.now_s = float(start_s)
        self.jobs_ = TwinJobs()
        self.job_nodes: dict[int, list[int]] = {}
        self.pending: list[int] = []  # job indices in priority order (submit time, index)
        self._incoming: list[int] = []  # queued since the last pass
        self.events: list[tuple[float, int, int, int]] = []  # (time, order, key, value)
        self._arrivals: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._next_arrival = 0
        self.backfill_depth = backfill_depth
        self.keep_finished_s = keep_finished_s
        self.finished: list[tuple[float, int]] = []
        self.log: list[tuple[float, str, str]] = []  # (time, what, target): kills, losses, repairs
        self.kills: list[tuple[float, str, int, int, float]] = []  # (time, why, job index, GPUs, GPU-h lost)
        self.ends: list[
            tuple[float, int, tuple[int, ...], float, str, str]
        ] = []  # (end, job, nodes, start, state, why)
        self.stats = {"killed": 0, "lost_jobs": 0, "black_hole_kills": 0}

    # ------------------------------------------------------------------------------------------- submitting
    def version(self) -> str:
        """The twin's scheduler version."""
        return "twin-1 (Slurm 22.05 semantics)"

    def _mask(self, partition: str) -> int:
        mask = 0
        for p in partition.split(","):
            if p not in self.part_names:
                raise CommandFailed(f"Invalid partition name specified: {p}", f"partition={partition}")
            mask |= 1 << self.part_names.index(p)
        return mask

    def submit(self, spec: JobSpec) -> str:
        """Queue a job now (its work is ``work_h`` from the comment's hints, else its time limit, else 1 h)."""
        from wattbit.ops.adapters.scheduler import parse_hints

        hints = parse_hints(spec.comment)
        work_h = float(hints.get("work_h", (spec.time_limit_s or 3600.0) / 3600.0))
        i = self.jobs_.grow(1)
        self._fill(
            i,
            nodes=spec.nodes,
            gpus=spec.nodes * spec.gpus_per_node,
            work_h=work_h,
            interval_h=float(hints.get("checkpoint_interval_h", 1.0)),
            ckpt_cost_h=float(hints.get("checkpoint_cost_h", 0.0)),
            restart_h=float(hints.get("restart_h", 0.1)),
            requeue=spec.requeue,
            submit_s=self.now_s,
            begin_s=self._begin(spec.begin),
            mask=self._mask(spec.partition),
            held=spec.hold,
        )
        self.jobs_.names.append(spec.name)
        if spec.comment:
            self.jobs_.comments[i] = spec.comment
        self._enqueue(i)
        self._schedule()
        return str(i + 1)

    def _begin(self, when: str | None) -> float:
        if not when or when == "now":
            return self.now_s
        if when.startswith("now+"):
            return self.now_s + float(when[4:])
        try:
            return float(when)
        except ValueError:
            import pandas as pd

            return float(pd.Timestamp(when).timestamp())

    def _fill(self, i: int | slice, **values: Any) -> None:
        c = self.jobs_.cols
        nodes = values.pop("nodes")
        c["nodes_needed"][i] = nodes
        for k, v in values.items():
            c[k][i] = v
        c["state"][i] = PENDING
        c["end_s"][i] = np.nan
        c["ckpt_asked_s"][i] = np.nan
        c["deadline_s"][i] = values.get("deadline_s", np.nan)

    def _enqueue(self, i: int) -> None:
        self._incoming.append(i)

    # ------------------------------------------------------------------------------------------------ time
    def _push(self, t: float, order: int, key: int, value: int) -> None:
        heapq.heappush(self.events, (t, order, key, value))

    def fail_node(self, node: str, repair_h: float, *, node_down: bool, at_s: float | None = None) -> None:
        """A failure on ``node`` at ``at_s`` (default now), repaired ``repair_h`` later (see the module docstring)."""
        i = self._node(node)
        t = self.now_s if at_s is None else float(at_s)
        if t < self.now_s:
            raise ValueError(f"failure at {t} before the twin's clock {self.now_s}")
        self._push(t, 0, i, int(node_down))
        self._push(t + repair_h * 3600.0, 1, i, int(node_down))

    def advance(self, to_s: float) -> None:
        """Run the cluster up to ``to_s``: arrivals, completions, failures and repairs in time order."""
        while True:
            t_event = self.events[0][0] if self.events else math.inf
            arr = self._arrivals
            t_arrival = self.jobs_.submit_s[arr[self._next_arrival]] if self._next_arrival < len(arr) else math.inf
            t = min(t_event, t_arrival)
            if t > to_s:
                break
            self.now_s = max(self.now_s, float(t))
            if t_arrival <= t_event:
                while self._next_arrival < len(arr) and self.jobs_.submit_s[arr[self._next_arrival]] <= t:
                    self._enqueue(int(arr[self._next_arrival]))
                    self._next_arrival += 1
            else:
                _, order, key, value = heapq.heappop(self.events)
                if order == 0:
                    self._failure(key, bool(value))
                elif order == 1:
                    self._repair(key, bool(value))
                elif order == 2:
                    if self.jobs_.seq[key] == value and self.jobs_.state[key] == RUNNING:
                        self._finish(key)
                elif order == 4:  # a job started on a black-hole node crashes after its start-up
                    if self.jobs_.seq[key] == value and self.jobs_.state[key] == RUNNING:
                        self.stats["black_hole_kills"] += 1
                        hole = [n for n in self.job_nodes[key] if self.broken_until[n] > self.now_s]
                        self._kill(key, "black hole " + (self.node_names[hole[0]] if hole else "node"))
                else:  # 3: a begin time passed
                    pass
            self._schedule()
        self.now_s = max(self.now_s, float(to_s))
        self._schedule()
        self._expire()

    def _expire(self) -> None:
        while self.finished and self.finished[0][0] < self.now_s - self.keep_finished_s:
            heapq.heappop(self.finished)

    # -------------------------------------------------------------------------------------------- running
    def _rate(self, i: int, part: int) -> float:
        c = self.jobs_
        return float((1.0 - min(c.ckpt_cost_h[i] / c.interval_h[i], 0.9)) * self.part_speed[part])

    def _start(self, i: int, nodes: list[int]) -> None:
        c = self.jobs_
        part = int(self.node_part[nodes[0]])
        for n in nodes:
            self.free[int(self.node_part[n])].discard(n)
            self.node_job[n] = i
        self.job_nodes[i] = nodes
        c.state[i] = RUNNING
        c.started[i] = True
        c.run_start_s[i] = self.now_s
        overhead = float(c.pending_overhead_h[i])
        c.run_overhead_h[i] = overhead
        c.pending_overhead_h[i] = 0.0
        c.ckpt_asked_s[i] = np.nan
        c.seq[i] += 1
        if any(self.broken_until[n] > self.now_s for n in nodes):  # a black-hole node: the job dies starting up
            self._push(self.now_s + max(overhead * 3600.0, BLACK_HOLE_S), 4, i, int(c.seq[i]))
            return
        done_s = self.now_s + (overhead + c.work_h[i] / self._rate(i, part)) * 3600.0
        self._push(done_s, 2, i, int(c.seq[i]))

    def _progress(self, i: int) -> tuple[float, float]:
        """(work done this run [h], hours since the last periodic checkpoint) of running job ``i`` now."""
        c = self.jobs_
        part = int(self.node_part[self.job_nodes[i][0]])
        elapsed_h = (self.now_s - c.run_start_s[i]) / 3600.0
        productive_h = max(0.0, elapsed_h - c.run_overhead_h[i])
        return productive_h * self._rate(i, part), math.fmod(productive_h, float(c.interval_h[i]))

    def _release_nodes(self, i: int) -> list[int]:
        nodes = self.job_nodes.pop(i, [])
        for n in nodes:
            self.node_job[n] = -1
            if self._usable(n):
                self.free[int(self.node_part[n])].add(n)
        return nodes

    def _usable(self, n: int) -> bool:
        return not self.drain_flag[n] and self.down_until[n] <= self.now_s and self.node_job[n] < 0

    def _stop(self, i: int) -> None:
        """Take running job ``i`` off its nodes, counting its work and overhead so far."""
        c = self.jobs_
        done, _ = self._progress(i)
        elapsed_h = (self.now_s - c.run_start_s[i]) / 3600.0
        c.overhead_h[i] += min(elapsed_h, float(c.run_overhead_h[i]))
        c.work_h[i] = max(0.0, c.work_h[i] - done)
        self._release_nodes(i)
        c.seq[i] += 1

    def _finish(self, i: int) -> None:
        c = self.jobs_
        c.overhead_h[i] += c.run_overhead_h[i]
        c.work_h[i] = 0.0
        c.state[i] = COMPLETED
        c.end_s[i] = self.now_s
        self._release_nodes(i)
        heapq.heappush(self.finished, (self.now_s, i))

    def _kill(self, i: int, why: str, state: str = "FAILED") -> None:
        """A failure: the work since the last checkpoint and the restart are lost; requeued if allowed."""
        c = self.jobs_
        _, since = self._progress(i)
        self.ends.append((self.now_s, i, tuple(self.job_nodes.get(i, ())), float(c.run_start_s[i]), state, why))
        part = int(self.node_part[self.job_nodes[i][0]]) if self.job_nodes.get(i) else 0
        self._stop(i)
        lost = since * self._rate(i, part) + float(c.restart_h[i])
        c.lost_h[i] += lost
        c.work_h[i] += lost
        c.interruptions[i] += 1
        self.stats["killed"] += 1
        self.log.append((self.now_s, f"killed ({why}), lost {lost:.3f} h x {int(c.gpus[i])} GPUs", str(i + 1)))
        self.kills.append((self.now_s, why, i, int(c.gpus[i]), lost * float(c.gpus[i])))
        if c.requeue[i]:  # Slurm requeues a job its node failed under, begin time a little ahead
            c.state[i] = PENDING
            c.restarts[i] += 1
            c.begin_s[i] = self.now_s + REQUEUE_DELAY_S
            self._push(float(c.begin_s[i]), 3, i, 0)
            self._enqueue(i)
        else:
            c.state[i] = FAILED
            c.end_s[i] = self.now_s
            self.stats["lost_jobs"] += 1
            heapq.heappush(self.finished, (self.now_s, i))

    def _failure(self, n: int, node_down: bool) -> None:
        j = int(self.node_job[n])
        if node_down:
            self.down_until[n] = math.inf
            self.free[int(self.node_part[n])].discard(n)
        else:
            self.broken_until[n] = math.inf
        if j >= 0:
            self._kill(j, f"failure on {self.node_names[n]}", "NODE_FAIL" if node_down else "FAILED")
        self.log.append((self.now_s, "node down" if node_down else "GPU failed", self.node_names[n]))

    def _repair(self, n: int, node_down: bool) -> None:
        if node_down:
            self.down_until[n] = self.now_s
        else:
            self.broken_until[n] = self.now_s
        if self._usable(n):
            self.free[int(self.node_part[n])].add(n)
        self.log.append((self.now_s, "repaired", self.node_names[n]))

    def _pick(self, part: int, k: int, avoid: set[int] | None = None) -> list[int]:
        free = self.free[part] if not avoid else self.free[part] - avoid
        if len(free) < k:
            return []
        if k == len(free):
            return sorted(free)
        w = self.weight
        if int(w[list(free)].min()) == int(w[list(free)].max()):
            out = []
            it = iter(free)
            for _ in range(k):
                out.append(next(it))
            return out
        return sorted(free, key=lambda x: (int(w[x]), x))[:k]

    def _schedule(self) -> None:
        c = self.jobs_
        if self._incoming:  # new or requeued jobs: into priority order, finished ones dropped
            alive = [i for i in dict.fromkeys(self.pending + self._incoming) if c.state[i] == PENDING]
            alive.sort(key=lambda i: (c.submit_s[i], i))
            self.pending = alive
            self._incoming = []
        if not self.pending:
            return
        reserved: set[int] = set()
        reserved_part = -1
        looked = dead = 0
        nparts = len(self.part_names)
        for i in self.pending:
            if c.state[i] != PENDING:
                dead += 1
                continue
            if looked > self.backfill_depth:
                break
            if c.held[i] or c.begin_s[i] > self.now_s:
                continue
            looked += 1
            k = int(c.nodes_needed[i])
            mask = int(c.mask[i])
            parts = sorted((p for p in range(nparts) if mask >> p & 1), key=lambda p: -len(self.free[p]))
            for p in parts:
                nodes = self._pick(p, k, reserved if p == reserved_part else None)
                if nodes:
                    self._start(i, nodes)
                    if c.state[i] != PENDING:
                        dead += 1
                    break
            else:
                if reserved_part < 0 and parts:
                    # the first job that does not fit reserves the free nodes of its best partition
                    reserved_part = parts[0]
                    reserved = set(list(self.free[reserved_part])[:k])
        if dead > 32 and dead * 4 > len(self.pending):
            self.pending = [i for i in self.pending if c.state[i] == PENDING]

    # ------------------------------------------------------------------------------------------- reading
    def _node(self, name: str) -> int:
        try:
            return self.node_index[name]
        except KeyError:
            raise UnknownNode(f"Invalid node name specified: {name}", f"twin node {name}") from None

    def _job(self, job_id: str) -> int:
        try:
            i = int(job_id) - 1
        except ValueError:
            raise UnknownJob(f"Invalid job id specified: {job_id}", f"twin job {job_id}") from None
        if not 0 <= i < self.jobs_.n or not self._visible(i):
            raise UnknownJob(f"Invalid job id specified: {job_id}", f"twin job {job_id}")
        return i

    def _visible(self, i: int) -> bool:
        c = self.jobs_
        if c.state[i] in (PENDING, RUNNING):
            return bool(c.submit_s[i] <= self.now_s)
        return bool(c.end_s[i] >= self.now_s - self.keep_finished_s)
