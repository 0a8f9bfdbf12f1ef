"""The black-hole rule: which nodes kill the jobs that start on them.

A node with a failed GPU that telemetry does not rate as a failure (XID 13, 31 and 43 are raised by applications
too, so the detectors rate them ``info``) stays in service and kills every job started on it, minutes in, until
someone drains it — a "black hole". Operators catch these from the jobs' side: Slurm sites drain nodes on which jobs
repeatedly fail fast (with epilog and health-check scripts), and Meta's HPCA'25 "lemon node" paper finds bad nodes
from per-node signals that include the jobs failing on them. :func:`black_holes` is that rule over the scheduler's
job ends (:meth:`~wattbit.ops.adapters.scheduler.Scheduler.job_ends`: ``sacct`` on Slurm, the kill log on the
twin):

- a **fast failure** is a run that ended ``FAILED`` or ``NODE_FAIL`` at most ``Rules.black_hole_run_s`` (15 min)
  after it started — it did not get past its start-up: CUDA initialisation, loading its checkpoint, its first
  collectives (PyTorch's NCCL watchdog ends a hung collective after 10 minutes);
- a node is **suspect** when at least ``Rules.black_hole_failures`` (3) fast failures within the last
  ``Rules.black_hole_window_s`` (6 h) ran on it — of several jobs, or of one job requeued each time (one failure
  can be the job's own fault; three in a row on the same node rarely are);
- **blame** among the nodes of multi-node jobs: a run that failed on several nodes counts for each, so a suspect
  whose failures are all among another suspect's (and fewer) is cleared — the other node is the common factor;
  suspects with exactly the same failures (one gang restarted on the same nodes) are told apart by telemetry, the
  nodes among them with a GPU alert in the window (an ``app_xid`` of any severity, or a warning or failure): those
  are blamed; if none or all of them have one, no node stands out and none is drained (the loop notes it, for a
  person to run a diagnostic).

Blame is decided on every fast failure of the window; a node is drained only if enough of them ended after its last
resume (or drain) — so a node's partners are not blamed once it is drained and its failures are explained. The
caller drains what this returns under the safety rules (rate limit, share of a site, no flapping:
:mod:`wattbit.ops.heal.safety`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wattbit.ops.adapters.scheduler import JobEnd
from wattbit.ops.detect.alerts import Alert
from wattbit.ops.heal.safety import Rules


@dataclass(frozen=True)
class Verdict:
    """What :func:`black_holes` found.

    Attributes
    ----------
    drain
        Node -> the fast failures held against it (oldest first), for nodes to drain.
    ambiguous
        Groups of suspects with the same failures that telemetry does not tell apart, with those failures.
    """

    drain: dict[str, list[JobEnd]]
    ambiguous: list[tuple[tuple[str, ...], list[JobEnd]]]


def _marked(alerts: Iterable[Alert], since_s: float) -> set[str]:
    """Nodes with a GPU alert since ``since_s`` that points at the hardware: an application XID or worse."""
    return {
        a.node
        for a in alerts
        if a.node and (a.last_s or a.time_s) >= since_s and (a.kind == "app_xid" or a.severity != "info")
    }


def black_holes(
    ends: list[JobEnd],
    now_s: float,
    rules: Rules,
    clean_since_s: Mapping[str, float] | None = None,
    alerts: Iterable[Alert] = (),
) -> Verdict:
    """The nodes to drain as black holes (see the module docstring).

    Parameters
    ----------
    ends
        Failed runs from the scheduler (:meth:`~wattbit.ops.adapters.scheduler.Scheduler.job_ends`).
    now_s
        The data's clock [Unix s].
    rules
        ``black_hole_failures``, ``black_hole_run_s``, ``black_hole_window_s`` (``black_hole_failures`` 0: off).
    clean_since_s
        Node -> time after which its failures count (its last resume or drain by wattbit).
    alerts
        Alerts of the window (any severity), to tell apart nodes with the same failures.
    """
    if rules.black_hole_failures <= 0:
        return Verdict({}, [])
    clean = clean_since_s or {}
    start = now_s - rules.black_hole_window_s
    fast = [e for e in ends if start <= e.end_s <= now_s and e.run_s <= rules.black_hole_run_s]
    seen: dict[str, list[JobEnd]] = {}  # every fast failure of the window, for blame
    for e in fast:
        for n in e.nodes:
            seen.setdefault(n, []).append(e)
    held = {n: [e for e in es if e.end_s > clean.get(n, -float("inf"))] for n, es in seen.items()}
    suspects = {n: frozenset((e.job_id, e.end_s) for e in es) for n, es in seen.items()}
    suspects = {n: k for n, k in suspects.items() if len(k) >= rules.black_hole_failures}
    cleared = {n for n, k in suspects.items() if any(k < other for other in suspects.values())}
    groups: dict[frozenset[tuple[str, float]], list[str]] = {}
    for n in sorted(set(suspects) - cleared):
        groups.setdefault(suspects[n], []).append(n)
    marked = _marked(alerts, start)
    verdict = Verdict({}, [])
    for members in groups.values():
        if len(members) > 1:
            hit = [n for n in members if n in marked]
            if not hit or len(hit) == len(members):
                if all(len(held[n]) >= rules.black_hole_failures for n in members):  # none drained since: unexplained
                    verdict.ambiguous.append((tuple(members), sorted(held[members[0]], key=lambda e: e.end_s)))
                continue
            members = hit
        for n in members:  # blamed, and failed often enough since its last resume or drain
            if len(held[n]) >= rules.black_hole_failures:
                verdict.drain[n] = sorted(held[n], key=lambda e: e.end_s)
    return verdict
