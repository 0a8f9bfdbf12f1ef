"""What the control loop may do, and the life of each action.

An :class:`Action` is a proposal with an **idempotency key** (``action_id``): the same decision made twice, by the
same loop after a restart or by two cycles, has the same key, so it is stored and applied once. Keys are built by
:func:`action_key` from the kind, the target and the episode that caused it (an incident, or a plan's time).

Modes (:data:`MODES`):

- ``shadow`` (the default) — every action is stored as ``recommended`` and shown; nothing is applied;
- ``approve`` — destructive actions (:data:`DESTRUCTIVE`: drain, requeue, quarantine, cancel) wait as
  ``pending_approval`` for a person (``wattbit ops actions approve``, or the service); the others are applied;
- ``auto`` — everything allowed by the safety rules is applied.

Statuses (:data:`STATUSES`): ``recommended`` (shadow), ``pending_approval``, ``approved`` (to be applied),
``rejected``, ``blocked`` (held back by a safety rule; tried again while its cause lasts), ``decided`` (about to be
applied: the state before is recorded), ``applied``, ``failed`` (retried by rule), ``abandoned`` (not retried, e.g.
the job finished or the node vanished), ``superseded`` (no longer needed). The path to the scheduler is always
``approved -> decided -> applied``; a crash between ``decided`` and ``applied`` is reconciled on restart against the
scheduler's real state (:mod:`wattbit.ops.heal.execute`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: What the loop may do, and the target of each.
KINDS: dict[str, str] = {
    "drain": "node",
    "resume": "node",
    "quarantine": "node",
    "node_weight": "node",
    "checkpoint": "job",
    "requeue": "job",
    "move": "job",
    "start_time": "job",
    "hold": "job",
    "release": "job",
    "cancel": "job",
    "power_cap": "site",
    "supply_temp": "site",
}
#: Kinds that take capacity away or cost work: they wait for a person in ``approve`` mode.
DESTRUCTIVE = frozenset({"drain", "requeue", "quarantine", "cancel"})
MODES = ("shadow", "approve", "auto")
STATUSES = (
    "recommended",
    "pending_approval",
    "approved",
    "rejected",
    "blocked",
    "decided",
    "applied",
    "failed",
    "abandoned",
    "superseded",
)
#: Statuses after which nothing more happens to an action.
FINAL = frozenset({"recommended", "rejected", "applied", "abandoned", "superseded"})


def action_key(kind: str, target: str, episode: str) -> str:
    """The idempotency key of ``kind`` on ``target`` for ``episode`` (readable, and unique per decision)."""
    return f"{kind}:{target}:{episode}"


def short_id(*parts: object) -> str:
    """A short stable id of ``parts`` (12 hex digits)."""
    return hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=6).hexdigest()


@dataclass
class Action:
    """One proposed action.

    Attributes
    ----------
    kind, target, site
        What (:data:`KINDS`), on which node, job or site, at which site.
    params
        The kind's settings (``reason`` for a drain, ``partition`` for a move, ``when`` for a start time, ``weight``,
        ``watts``, ``celsius`` …).
    reason
        Why, in words (shown by Slurm for a drain and in the audit log).
    evidence
        What it rests on: alert ids and their values, the plan's figures.
    source
        ``heal`` or ``plan``.
    episode
        The incident or plan it belongs to (part of the key).
    data_time_s
        The data's clock when it was proposed (simulated time with the twin).
    action_id
        The idempotency key (default: from kind, target and episode).
    """

    kind: str
    target: str
    site: str
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    source: str = "heal"
    episode: str = ""
    data_time_s: float | None = None
    action_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown action kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not self.action_id:
            self.action_id = action_key(self.kind, self.target, self.episode)

    @property
    def destructive(self) -> bool:
        """Whether it waits for a person in ``approve`` mode."""
        return self.kind in DESTRUCTIVE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["destructive"] = self.destructive
        return out

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict(), default=str, sort_keys=True)


def initial_status(action: Action, mode: str) -> str:
    """The status a new action starts in under ``mode``."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "shadow":
        return "recommended"
    if mode == "approve" and action.destructive:
        return "pending_approval"
    return "approved"
