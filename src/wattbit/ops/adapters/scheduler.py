"""The port between wattbit and a batch scheduler: what the control loop reads and what it may do.

:class:`Scheduler` is the interface; :mod:`wattbit.ops.adapters.slurm` drives a real Slurm through its command line
(``--json`` where the version has it) and :mod:`wattbit.ops.adapters.twin_scheduler` is the twin's, a model of the
same semantics over simulated time. The loop sees only this module's records:

- :class:`NodeInfo` — a node, its partitions, base state and flags (``DRAIN``, ``NOT_RESPONDING`` …), reason, GPUs
  and scheduling weight;
- :class:`JobInfo` — a job, its partition, state, reason, nodes, GPUs, times (Unix seconds), restart count,
  whether it may be requeued and whether it is held;
- :class:`JobSpec` — what :meth:`Scheduler.submit` takes;
- :class:`JobEnd` — one run of a job that ended in failure (:meth:`Scheduler.job_ends`: ``sacct`` on Slurm, the
  kill log on the twin), what the black-hole rule reads.

Every failure is a :class:`SchedulerError`: :class:`SchedulerUnavailable` (down, refusing, too slow — the state is
unknown, so nothing may be concluded from it), :class:`UnknownNode`, :class:`UnknownJob` (a name that does not
exist, or a job that vanished), :class:`CommandFailed` (the scheduler refused; its message says why). Each carries
the command that was tried, for the audit log.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Protocol

#: Base node states (upper case) in which a node can run jobs, before flags.
SCHEDULABLE_STATES = frozenset({"IDLE", "MIXED", "ALLOCATED", "COMPLETING"})
#: Job states that hold resources or wait for them.
ACTIVE_JOB_STATES = frozenset({"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED"})


class SchedulerError(RuntimeError):
    """A scheduler operation failed.

    Parameters
    ----------
    message
        What went wrong, in the scheduler's words where it gave any.
    command
        The command (or request) that was tried, as text.
    """

    def __init__(self, message: str, command: str = "") -> None:
        self.message = message
        self.command = command
        super().__init__(f"{message} [{command}]" if command else message)


class SchedulerUnavailable(SchedulerError):
    """The scheduler could not be reached or did not answer in time: its state is unknown."""


class UnknownNode(SchedulerError):
    """A node name the scheduler does not know."""


class UnknownJob(SchedulerError):
    """A job id the scheduler does not know (never existed, or finished and was purged)."""


class CommandFailed(SchedulerError):
    """The scheduler answered and refused the operation."""


@dataclass(frozen=True)
class NodeInfo:
    """One node as the scheduler sees it.

    Attributes
    ----------
    name
        Node name (the telemetry's ``Hostname``).
    partitions
        Partitions the node belongs to (one per site in wattbit's clusters).
    state
        Base state, upper case: ``IDLE``, ``MIXED``, ``ALLOCATED``, ``DOWN``, ``COMPLETING``, ``UNKNOWN`` …
    flags
        State flags, upper case: ``DRAIN``, ``NOT_RESPONDING``, ``MAINTENANCE``, ``POWERED_DOWN`` …
    reason
        Why it was drained or set down (empty if none).
    gpus, gpus_used
        GPUs configured (GRES ``gpu``) and allocated to jobs.
    weight
        Scheduling weight (lower is used first).
    """

    name: str
    partitions: tuple[str, ...]
    state: str
    flags: frozenset[str] = frozenset()
    reason: str = ""
    gpus: int = 0
    gpus_used: int = 0
    weight: int = 1

    @property
    def drained(self) -> bool:
        """Drained or draining: the scheduler starts no new job on it."""
        return "DRAIN" in self.flags or self.state in ("DRAINED", "DRAINING")

    @property
    def down(self) -> bool:
        """Down or not responding."""
        return self.state == "DOWN" or "NOT_RESPONDING" in self.flags

    @property
    def available(self) -> bool:
        """Up, not drained: new jobs may start on it."""
        return self.state in SCHEDULABLE_STATES and not self.drained and not self.down


@dataclass(frozen=True)
class JobInfo:
    """One job as the scheduler sees it.

    Attributes
    ----------
    job_id
        The scheduler's id, as text.
    name, partition
        Job name; partition it is queued in or runs in (several, comma-separated, if submitted so).
    state, reason
        Upper-case state (``PENDING``, ``RUNNING``, ``COMPLETING``, ``COMPLETED``, ``FAILED``, ``CANCELLED`` …) and the
        scheduler's reason (``BeginTime``, ``JobHeldAdmin``, ``Resources`` …).
    nodes
        Nodes it runs on (empty while pending).
    gpus
        GPUs it asks for (all nodes together).
    submit_time_s, begin_time_s, start_time_s
        Unix seconds: submitted; earliest start allowed (the begin time); started (or expected to, if pending).
    time_limit_s
        Its time limit [s] (None: unlimited).
    restart_count
        How often it was requeued.
    requeue
        Whether it may be requeued.
    held
        Whether it is held (will not start until released).
    comment
        The job's comment (wattbit reads ``key=value`` hints from it: :func:`parse_hints`).
    deadline_s
        Unix seconds of its deadline (None: none).
    """

    job_id: str
    name: str
    partition: str
    state: str
    reason: str = ""
    nodes: tuple[str, ...] = ()
    gpus: int = 0
    submit_time_s: float | None = None
    begin_time_s: float | None = None
    start_time_s: float | None = None
    time_limit_s: float | None = None
    restart_count: int = 0
    requeue: bool = True
    held: bool = False
    comment: str = ""
    deadline_s: float | None = None

    @property
    def running(self) -> bool:
        """Running (or being set up) on its nodes."""
        return self.state in ("RUNNING", "CONFIGURING")

    @property
    def pending(self) -> bool:
        """Waiting to start."""
        return self.state == "PENDING"

    @property
    def hints(self) -> dict[str, str]:
        """``key=value`` hints from the comment (:func:`parse_hints`)."""
        return parse_hints(self.comment)


@dataclass(frozen=True)
class JobEnd:
    """One run of a job that ended in failure (a requeued job's runs are separate ends).

    Attributes
    ----------
    job_id
        The scheduler's id, as text.
    nodes
        Nodes the run had.
    start_s, end_s
        Unix seconds: the run started; it ended.
    state
        How it ended, upper case: ``FAILED`` (non-zero exit) or ``NODE_FAIL`` (a node of it failed).
    cause
        The scheduler's words for it (``ExitCode=1:0``; the twin's kill reason).
    """

    job_id: str
    nodes: tuple[str, ...]
    start_s: float
    end_s: float
    state: str
    cause: str = ""

    @property
    def run_s(self) -> float:
        """How long the run lasted [s]."""
        return self.end_s - self.start_s


#: Job end states that count as failures for :meth:`Scheduler.job_ends`.
FAILED_END_STATES = frozenset({"FAILED", "NODE_FAIL"})


@dataclass(frozen=True)
class PartitionInfo:
    """A partition (a site in wattbit's clusters) and its nodes."""

    name: str
    nodes: tuple[str, ...]
    state: str = "UP"


@dataclass(frozen=True)
class JobSpec:
    """A batch job to submit.

    Attributes
    ----------
    name
        Job name.
    partition
        Partition (or several, comma-separated: the scheduler starts it in the first that has room).
    nodes, gpus_per_node
        Gang: nodes and GPUs on each.
    command
        Shell command the job runs (wrapped in a batch script).
    time_limit_s
        Time limit [s] (None: the partition's).
    begin
        Earliest start, in the scheduler's syntax (``now+600``, an ISO time) or None.
    hold
        Submit held.
    requeue
        Whether it may be requeued after a failure or by wattbit.
    comment
        Hints for wattbit (``wattbit:pausable=1,work_h=6``) or anything else.
    output
        File its standard output goes to (None: the scheduler's default).
    """

    name: str
    partition: str
    command: str
    nodes: int = 1
    gpus_per_node: int = 8
    time_limit_s: float | None = None
    begin: str | None = None
    hold: bool = False
    requeue: bool = True
    comment: str = ""
    output: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def parse_hints(comment: str) -> dict[str, str]:
    """``key=value`` pairs after a ``wattbit:`` prefix in a job comment (``wattbit:pausable=1,work_h=6``).

    A comment without the prefix gives no hints; malformed pairs are skipped.
    """
    head, sep, tail = comment.partition("wattbit:")
    if not sep:
        return {}
    out = {}
    for part in re.split(r"[,;\s]+", tail):
        key, eq, value = part.partition("=")
        if eq and key:
            out[key.strip()] = value.strip()
    return out


class Scheduler(Protocol):
    """What wattbit reads from and asks of a batch scheduler (see the module docstring).

    Writes are idempotent where the scheduler allows it (draining a drained node changes nothing but its reason);
    :meth:`requeue` is not, and the loop checks :attr:`JobInfo.restart_count` before and after.
    """

    name: str

    def version(self) -> str:
        """The scheduler's version, e.g. ``22.05.8``."""
        ...

    def nodes(self) -> list[NodeInfo]:
        """Every node."""
        ...

    def partitions(self) -> list[PartitionInfo]:
        """Every partition."""
        ...

    def jobs(self) -> list[JobInfo]:
        """Jobs that are pending, running or recently finished."""
        ...

    def job(self, job_id: str) -> JobInfo:
        """One job (:class:`UnknownJob` if it does not exist)."""
        ...

    def job_ends(self, since_s: float) -> list[JobEnd]:
        """Runs of jobs that ended in failure (:data:`FAILED_END_STATES`) at or after ``since_s`` (Unix s), oldest
        first; a job requeued after each failure gives one end per run."""
        ...

    def submit(self, spec: JobSpec) -> str:
        """Submit a batch job; returns its id."""
        ...

    def drain(self, node: str, reason: str) -> None:
        """Start no new job on ``node``; running jobs go on. ``reason`` is shown by the scheduler."""
        ...

    def resume(self, node: str) -> None:
        """Return a drained node to service."""
        ...

    def requeue(self, job_id: str) -> None:
        """Stop a running job and put it back in the queue (it restarts from its own checkpoint)."""
        ...

    def signal(self, job_id: str, signal_name: str) -> None:
        """Send a signal to a running job's batch script (``USR1``: write a checkpoint)."""
        ...

    def hold(self, job_id: str) -> None:
        """Keep a pending job from starting."""
        ...

    def release(self, job_id: str) -> None:
        """Let a held job start."""
        ...

    def move(self, job_id: str, partition: str) -> None:
        """Move a pending job to another partition (site)."""
        ...

    def set_start_time(self, job_id: str, when: str) -> None:
        """Set a pending job's earliest start (``now``, ``now+3600``, ISO time)."""
        ...

    def set_node_weight(self, node: str, weight: int) -> None:
        """Set a node's scheduling weight (lower is used first)."""
        ...

    def cancel(self, job_id: str) -> None:
        """Cancel a job."""
        ...


def scheduler_now_s(scheduler: object) -> float:
    """The scheduler's clock [Unix s]: the twin's simulated ``now_s``, else the wall clock (a real Slurm)."""
    now = getattr(scheduler, "now_s", None)
    return float(now) if isinstance(now, int | float) else time.time()


def expand_hostlist(text: str) -> list[str]:
    """Slurm's compressed host list (``a-n[0001-0003,0007],b-n0001``) as names, in order."""
    out: list[str] = []
    for item in _split_top(text.strip()):
        if not item:
            continue
        m = re.fullmatch(r"([^\[\]]*)\[([^\]]+)\](.*)", item)
        if m is None:
            out.append(item)
            continue
        prefix, ranges, suffix = m.groups()
        for rng in ranges.split(","):
            lo, dash, hi = rng.partition("-")
            if not dash:
                out.extend(expand_hostlist(prefix + lo + suffix))
                continue
            width = len(lo)
            for k in range(int(lo), int(hi) + 1):
                out.extend(expand_hostlist(f"{prefix}{k:0{width}d}{suffix}"))
    return out


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts
