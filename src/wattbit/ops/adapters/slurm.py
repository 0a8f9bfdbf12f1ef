"""Slurm through its own command line: ``sinfo``/``squeue --json`` to read, ``scontrol``/``sbatch``/``scancel`` to act.

Version-aware: :meth:`SlurmCli.version` reads ``sinfo --version``; from 21.08 on the reads use ``--json`` (OpenAPI
v0.0.37/38 shapes in 21.08-22.05: ``"state": "idle"`` with ``"state_flags"``, plain numbers; from 23.02 on: ``"state":
["IDLE", "DRAIN"]``, numbers as ``{"set", "infinite", "number"}``, a ``hold`` field), older versions the one-line
text of ``scontrol show node|job -o``. Both parse into :class:`~wattbit.ops.adapters.scheduler.NodeInfo` and
:class:`~wattbit.ops.adapters.scheduler.JobInfo`.

Failures are never read as state: a ``--json`` answer with ``errors`` (what ``squeue --json`` prints, with status 0
and an empty job list, when slurmctld is down) is :class:`SchedulerUnavailable`, as is a command that does not answer
within ``timeout_s`` (a slow or stopped controller); ``Invalid job id`` is :class:`UnknownJob`, ``Invalid node name``
:class:`UnknownNode`, anything else the scheduler refuses :class:`CommandFailed` with its message. Every error names
the command line, for the audit log.

Writes (Slurm 22.05, verified with Debian's packages): ``scontrol update NodeName=N State=DRAIN Reason=...`` and
``State=RESUME``; ``scontrol requeue J`` (the job goes back to PENDING with a begin time about two minutes ahead, which
:meth:`SlurmCli.set_start_time` with ``now`` lifts once it is pending); ``scancel --signal=USR1 --batch J``;
``scontrol hold|release J``; ``scontrol update JobId=J Partition=P``, ``StartTime=...``; ``scontrol update NodeName=N
Weight=W``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from wattbit.ops.adapters.scheduler import (
    CommandFailed,
    JobEnd,
    JobInfo,
    JobSpec,
    NodeInfo,
    PartitionInfo,
    SchedulerError,
    SchedulerUnavailable,
    UnknownJob,
    UnknownNode,
    expand_hostlist,
)
from wattbit.ops.adapters.slurm_acct import NO_ACCOUNTING, parse_sacct, sacct_args

log = logging.getLogger(__name__)

_UNAVAILABLE = (
    "unable to contact slurm controller",
    "socket timed out",
    "connection refused",
    "zero bytes were transmitted",
    "communication connection failure",
    "slurm_load_",
    "failed while looking for",
)


def _num(value: Any) -> float | None:
    """A Slurm JSON number: plain, or ``{"set": …, "infinite": …, "number": …}`` (23.02 on); None if unset."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _gres_gpus(text: str | None) -> int:
    """GPUs in a GRES or TRES string: ``gpu:8``, ``gpu:h100:8(S:0-1)``, ``gres:gpu:8``, ``gres/gpu=16``."""
    if not text:
        return 0
    total = 0
    for part in _split_tres(text):
        m = re.search(r"gpu(?::[\w.-]+)?[:=](\d+)", part)
        if m and ("gres" in part or part.startswith("gpu")):
            total += int(m.group(1))
    return total


def _split_tres(text: str) -> list[str]:
    """Split a GRES/TRES list on commas outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _state(value: Any) -> tuple[str, frozenset[str]]:
    """(base state, flags) from ``"mixed"`` (22.05), ``["MIXED", "DRAIN"]`` (23.02 on) or ``"IDLE+DRAIN"``."""
    items = value if isinstance(value, list) else str(value or "UNKNOWN").replace("+", " ").split()
    items = [str(x).upper() for x in items] or ["UNKNOWN"]
    return items[0], frozenset(items[1:])


def node_from_json(d: Mapping[str, Any]) -> NodeInfo:
    """A node of ``sinfo --json`` (any version from 21.08)."""
    state, flags = _state(d.get("state"))
    flags = flags | frozenset(str(f).upper() for f in d.get("state_flags", []) or [])
    return NodeInfo(
        name=str(d.get("name") or d.get("hostname")),
        partitions=tuple(str(p) for p in d.get("partitions", []) or []),
        state=state,
        flags=flags,
        reason=str(d.get("reason") or ""),
        gpus=_gres_gpus(d.get("gres")),
        gpus_used=_gres_gpus(d.get("gres_used")),
        weight=int(_num(d.get("weight")) or 1),
    )


def job_from_json(d: Mapping[str, Any]) -> JobInfo:
    """A job of ``squeue --json`` (any version from 21.08)."""
    state, _ = _state(d.get("job_state"))
    nodes_text = d.get("nodes") or ""
    node_count = int(_num(d.get("node_count")) or 1)
    gpus = _gres_gpus(d.get("tres_alloc_str")) or _gres_gpus(d.get("tres_per_job"))
    if not gpus:
        gpus = _gres_gpus(d.get("tres_per_node")) * node_count
    reason = str(d.get("state_reason") or "")
    priority = _num(d.get("priority"))
    held = bool(d.get("hold")) or reason in ("JobHeldAdmin", "JobHeldUser") or (priority == 0 and state == "PENDING")
    limit_min = _num(d.get("time_limit"))
    deadline = _num(d.get("deadline"))
    return JobInfo(
        job_id=str(int(_num(d.get("job_id")) or 0)),
        name=str(d.get("name") or ""),
        partition=str(d.get("partition") or ""),
        state=state,
        reason=reason,
        nodes=tuple(expand_hostlist(str(nodes_text))) if state not in ("PENDING",) else (),
        gpus=gpus,
        submit_time_s=_num(d.get("submit_time")),
        begin_time_s=_num(d.get("eligible_time")) or _num(d.get("begin_time")),
        start_time_s=_num(d.get("start_time")),
        time_limit_s=None if limit_min is None else limit_min * 60.0,
        restart_count=int(_num(d.get("restart_cnt")) or 0),
        requeue=bool(d.get("requeue", True)),
        held=held,
        comment=str(d.get("comment") or ""),
        deadline_s=deadline if deadline else None,
    )


def parse_key_values(line: str) -> dict[str, str]:
    """``Key=Value`` pairs of one ``scontrol show … -o`` line (values may hold spaces only in the last key)."""
    out: dict[str, str] = {}
    matches = list(re.finditer(r"(?:^|\s)([A-Za-z][\w:/]*)=", line))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        out[m.group(1)] = line[m.end() : end].strip()
    return out


def _local_time_s(text: str | None) -> float | None:
    if not text or text in ("Unknown", "None", "N/A"):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def node_from_text(kv: Mapping[str, str]) -> NodeInfo:
    """A node of ``scontrol show node -o`` (every version)."""
    state, flags = _state(kv.get("State", "UNKNOWN"))
    return NodeInfo(
        name=kv.get("NodeName", ""),
        partitions=tuple(p for p in kv.get("Partitions", "").split(",") if p),
        state=state,
        flags=flags,
        reason=re.sub(r"\s*\[[^\]]*@[^\]]*\]$", "", kv.get("Reason", "")),
        gpus=_gres_gpus(kv.get("Gres")),
        gpus_used=_gres_gpus(kv.get("GresUsed")),
        weight=int(kv.get("Weight", "1") or 1),
    )


def job_from_text(kv: Mapping[str, str]) -> JobInfo:
    """A job of ``scontrol show job -o`` (every version)."""
    state = kv.get("JobState", "UNKNOWN").upper()
    limit = kv.get("TimeLimit", "UNLIMITED")
    return JobInfo(
        job_id=kv.get("JobId", ""),
        name=kv.get("JobName", ""),
        partition=kv.get("Partition", ""),
        state=state,
        reason=kv.get("Reason", ""),
        nodes=tuple(expand_hostlist(kv.get("NodeList", ""))) if state != "PENDING" else (),
        gpus=_gres_gpus(kv.get("TRES")) or _gres_gpus(kv.get("TresPerNode")) * _first_int(kv.get("NumNodes", "1")),
        submit_time_s=_local_time_s(kv.get("SubmitTime")),
        begin_time_s=_local_time_s(kv.get("EligibleTime")),
        start_time_s=_local_time_s(kv.get("StartTime")),
        time_limit_s=None if limit in ("UNLIMITED", "Partition_Limit") else _duration_s(limit),
        restart_count=int(kv.get("Restarts", "0") or 0),
        requeue=kv.get("Requeue", "1") == "1",
        held=kv.get("Reason", "") in ("JobHeldAdmin", "JobHeldUser") or kv.get("Priority") == "0",
        comment=kv.get("Comment", "") if kv.get("Comment") != "(null)" else "",
        deadline_s=_local_time_s(kv.get("Deadline")),
    )


def _first_int(text: str) -> int:
    """The leading integer of ``1-1`` or ``2``; 1 when there is none."""
    m = re.match(r"\d+", text or "")
    return int(m.group(0)) if m else 1


def _duration_s(text: str) -> float | None:
    """``scontrol``'s ``[days-]hours:minutes:seconds`` (or ``minutes:seconds``) as seconds."""
    days, _, rest = text.rpartition("-")
    parts = rest.split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3 or (days and not days.isdigit()):
        return None
    values = [0] * (3 - len(parts)) + [int(p) for p in parts]
    return (int(days) if days else 0) * 86400.0 + values[0] * 3600.0 + values[1] * 60.0 + values[2]


def parse_version(text: str) -> tuple[int, int, int]:
    """``slurm-wlm 22.05.8`` / ``slurm 23.11.4`` -> (22, 5, 8)."""
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if m is None:
        raise SchedulerError(f"cannot read a Slurm version from {text!r}")
    major, minor, micro = (int(x) for x in m.groups())
    return major, minor, micro


class SlurmCli:
    """A :class:`~wattbit.ops.adapters.scheduler.Scheduler` over Slurm's commands (see the module docstring).

    Parameters
    ----------
    conf
        ``slurm.conf`` to use (sets ``SLURM_CONF``); None: the system's.
    bin_dir
        Folder of the Slurm commands; None: found on ``PATH``.
    timeout_s
        Time allowed per command; beyond it the scheduler counts as unavailable.
    workdir
        Working folder of submitted jobs (their output goes there unless a job names its own); None: the caller's.
    rest
        A slurmrestd client (:class:`~wattbit.ops.adapters.slurmrestd.SlurmRestClient`) to read nodes, jobs and
        partitions and to submit through; the other writes stay on ``scontrol`` (22.05's REST API cannot drain).
    """

    name = "slurm"

    def __init__(
        self,
        conf: Path | str | None = None,
        bin_dir: str | None = None,
        timeout_s: float = 10.0,
        rest: Any | None = None,
        workdir: Path | str | None = None,
    ) -> None:
        self.conf = None if conf is None else Path(conf)
        self.workdir = None if workdir is None else Path(workdir)
        self.bin_dir = bin_dir
        self.timeout_s = timeout_s
        self.rest = rest
        self._version: tuple[int, int, int] | None = None
        self._completion = False  # sacct reads the job completion log (no slurmdbd)
        #: The last command line run (for the audit log).
        self.last_command = ""

    # ----------------------------------------------------------------------------------------------- running
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.conf is not None:
            env["SLURM_CONF"] = str(self.conf)
        env["SLURM_TIME_FORMAT"] = "standard"  # ISO times, which the parsers read
        return env

    def _run(self, args: list[str]) -> str:
        cmd = [os.path.join(self.bin_dir, args[0]) if self.bin_dir else args[0], *args[1:]]
        text = shlex.join(args)
        self.last_command = text
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.timeout_s, env=self._env(), stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise SchedulerUnavailable(f"no answer within {self.timeout_s:g} s", text) from None
        except FileNotFoundError:
            raise SchedulerUnavailable(f"{args[0]} not found (install Slurm's client commands)", text) from None
        if proc.returncode != 0:
            raise self._error(proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}", text)
        log.debug("%s -> %s", text, proc.stdout[:200])
        return proc.stdout

    @staticmethod
    def _error(message: str, command: str) -> SchedulerError:
        low = message.lower()
        if "invalid job id" in low or "job id not found" in low:
            return UnknownJob(message, command)
        if "invalid node name" in low or "node not found" in low:
            return UnknownNode(message, command)
        if any(k in low for k in _UNAVAILABLE):
            return SchedulerUnavailable(message, command)
        return CommandFailed(message, command)

    def _json(self, args: list[str]) -> dict[str, Any]:
        out = self._run(args)
        text = shlex.join(args)
        try:
            data = json.loads(out)
        except ValueError:
            raise SchedulerUnavailable(f"not JSON: {out[:200]!r}", text) from None
        errors = data.get("errors") or []
        if errors:
            raise self._error("; ".join(str(e.get("description") or e.get("error") or e) for e in errors), text)
        return dict(data)

    # ----------------------------------------------------------------------------------------------- reading
    def version(self) -> str:
        """Slurm's version (``sinfo --version``)."""
        return ".".join(str(x) for x in self.version_tuple())

    def version_tuple(self) -> tuple[int, int, int]:
        """(major, minor, micro), read once."""
        if self._version is None:
            self._version = parse_version(self._run(["sinfo", "--version"]))
        return self._version

    @property
    def has_json(self) -> bool:
        """Whether ``sinfo``/``squeue`` take ``--json`` (21.08 and later)."""
        return self.version_tuple() >= (21, 8, 0)

    def ping(self) -> bool:
        """Whether slurmctld answers."""
        try:
            out = self._run(["scontrol", "ping"])
        except SchedulerError:
            return False
        return "UP" in out

    def nodes(self) -> list[NodeInfo]:
        """Every node (``sinfo --json``; ``scontrol show node -o`` before 21.08; slurmrestd if given)."""
        if self.rest is not None:
            return list(self.rest.nodes())
        if self.has_json:
            return [node_from_json(d) for d in self._json(["sinfo", "--json"]).get("nodes", [])]
        out = self._run(["scontrol", "show", "node", "-o"])
        return [node_from_text(parse_key_values(line)) for line in out.splitlines() if line.startswith("NodeName=")]

    def node(self, name: str) -> NodeInfo:
        """One node (:class:`UnknownNode` if there is none of that name)."""
        for n in self.nodes():
            if n.name == name:
                return n
        raise UnknownNode(f"Invalid node name specified: {name}", f"sinfo (node {name})")

    def partitions(self) -> list[PartitionInfo]:
        """Every partition (``scontrol show partition -o``, every version; slurmrestd if given)."""
        if self.rest is not None:
            return list(self.rest.partitions())
        out = self._run(["scontrol", "show", "partition", "-o"])
        parts = []
        for line in out.splitlines():
            kv = parse_key_values(line)
            if "PartitionName" in kv:
                nodes = tuple(expand_hostlist(kv.get("Nodes", ""))) if kv.get("Nodes") not in (None, "(null)") else ()
                parts.append(PartitionInfo(kv["PartitionName"], nodes, kv.get("State", "UP")))
        return parts

    def jobs(self) -> list[JobInfo]:
        """Pending, running and recently finished jobs (``squeue --json``; ``scontrol show job -o`` before 21.08;
        slurmrestd if given)."""
        if self.rest is not None:
            return list(self.rest.jobs())
        if self.has_json:
            return [job_from_json(d) for d in self._json(["squeue", "--json"]).get("jobs", [])]
        out = self._run(["scontrol", "show", "job", "-o"])
        return [job_from_text(parse_key_values(line)) for line in out.splitlines() if line.startswith("JobId=")]

    def job(self, job_id: str) -> JobInfo:
        """One job (:class:`UnknownJob` if it does not exist or was purged)."""
        out = self._run(["scontrol", "show", "job", "-o", str(job_id)])
        for line in out.splitlines():
            if line.startswith("JobId="):
                return job_from_text(parse_key_values(line))
        raise UnknownJob(f"Invalid job id specified: {job_id}", f"scontrol show job -o {job_id}")

    def job_ends(self, since_s: float) -> list[JobEnd]:
        """Runs that ended ``FAILED`` or ``NODE_FAIL`` since ``since_s`` (``sacct``: slurmdbd's accounting, else the
        job completion log; :mod:`wattbit.ops.adapters.slurm_acct`)."""
        if not self._completion:
            args = sacct_args(since_s, completion=False)
            try:
                return parse_sacct(self._run(args), since_s, shlex.join(args))
            except CommandFailed as exc:
                if NO_ACCOUNTING not in exc.message.lower():
                    raise
                self._completion = True  # no slurmdbd: the job completion log (JobCompType=jobcomp/filetxt)
        args = sacct_args(since_s, completion=True)
        return parse_sacct(self._run(args), since_s, shlex.join(args))

    # ---------------------------------------------------------------------------------------------- writing
    def submit(self, spec: JobSpec) -> str:
        """``sbatch --parsable`` (slurmrestd's ``job/submit`` if given); returns the job id."""
        if self.rest is not None:
            return str(self.rest.submit(spec))
        args = ["sbatch", "--parsable", "-J", spec.name, "-p", spec.partition, "-N", str(spec.nodes)]
        if spec.gpus_per_node:
            args.append(f"--gres=gpu:{spec.gpus_per_node}")
        args.append("--requeue" if spec.requeue else "--no-requeue")
        if spec.time_limit_s is not None:
            args.append(f"--time={max(1, round(spec.time_limit_s / 60))}")
        if spec.begin:
            args.append(f"--begin={spec.begin}")
        if spec.hold:
            args.append("--hold")
        if spec.comment:
            args.append(f"--comment={spec.comment}")
        if self.workdir is not None:
            args.append(f"--chdir={self.workdir}")
        if spec.output:
            args.append(f"--output={spec.output}")
        args += [f"--{k}={v}" for k, v in spec.extra.items()]
        args += ["--wrap", spec.command]
        out = self._run(args).strip()
        job_id = out.split(";")[0]
        if not job_id.isdigit():
            raise CommandFailed(f"sbatch answered {out!r}, not a job id", shlex.join(args))
        return job_id

    def _update_node(self, node: str, *settings: str) -> None:
        self._run(["scontrol", "update", f"NodeName={node}", *settings])

    def _update_job(self, job_id: str, *settings: str) -> None:
        self._run(["scontrol", "update", f"JobId={job_id}", *settings])

    def drain(self, node: str, reason: str) -> None:
        """``scontrol update NodeName=N State=DRAIN Reason=…``."""
        self._update_node(node, "State=DRAIN", f"Reason={reason}")

    def resume(self, node: str) -> None:
        """``scontrol update NodeName=N State=RESUME``."""
        self._update_node(node, "State=RESUME")

    def requeue(self, job_id: str) -> None:
        """``scontrol requeue J``."""
        self._run(["scontrol", "requeue", str(job_id)])

    def signal(self, job_id: str, signal_name: str) -> None:
        """``scancel --signal=SIG --batch J``."""
        self._run(["scancel", f"--signal={signal_name}", "--batch", str(job_id)])

    def hold(self, job_id: str) -> None:
        """``scontrol hold J``."""
        self._run(["scontrol", "hold", str(job_id)])

    def release(self, job_id: str) -> None:
        """``scontrol release J``."""
        self._run(["scontrol", "release", str(job_id)])

    def move(self, job_id: str, partition: str) -> None:
        """``scontrol update JobId=J Partition=P``."""
        self._update_job(job_id, f"Partition={partition}")

    def set_start_time(self, job_id: str, when: str) -> None:
        """``scontrol update JobId=J StartTime=WHEN``."""
        self._update_job(job_id, f"StartTime={when}")

    def set_node_weight(self, node: str, weight: int) -> None:
        """``scontrol update NodeName=N Weight=W``."""
        self._update_node(node, f"Weight={int(weight)}")

    def cancel(self, job_id: str) -> None:
        """``scancel J``."""
        self._run(["scancel", str(job_id)])
