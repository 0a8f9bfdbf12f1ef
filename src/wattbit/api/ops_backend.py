"""Operations behind the API: alerts, proposed actions with approve/reject, the audit log and the loop's mode.

:class:`OpsBackend` is the small interface the API and the dashboard use. :class:`LocalOpsBackend` implements it
with what exists today: alerts from the watcher's :class:`~wattbit.ops.store.AlertStore` (SQLite, WAL; written by
``wattbit ops watch`` or by the service's embedded twin), and proposed actions, decisions, the audit log and the
mode in the service's own database. The control loop (``wattbit ops run``, issue 14) proposes actions through
:meth:`OpsBackend.propose` (``POST /api/v1/ops/actions``) and reads decisions back; its own store can replace these
tables by implementing the same methods.

Every decision is one transaction with its audit entry: an approval the API acknowledged is on disk with the name
of the token that made it.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from wattbit.api.auth import Principal, audit
from wattbit.api.db import Action, AuditEntry, SettingRow, now_s
from wattbit.errors import WattbitInputError

#: Modes of the control loop (issue 14): recommend only, queue destructive actions for a person, act.
MODES = ("shadow", "approve", "auto")
#: Action kinds the loop proposes.
ACTION_KINDS = ("drain", "resume", "requeue", "quarantine", "hold", "release", "move", "set_start", "power_cap")


class Conflict(Exception):
    """The action is not in a state that allows the change (already decided)."""


class NotFound(Exception):
    """No such action."""


class OpsBackend(Protocol):
    """What the API needs from operations (see the module docstring)."""

    def alerts(self, since_s: float | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Alerts, newest first: ``alert_id``, ``time_s``, ``site``, ``node``, ``gpu``, ``kind``, ``severity``,
        ``evidence``, ``probability``, ``horizon_h``, ``last_s``, ``count``."""
        ...

    def actions(self, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Proposed actions, newest first, optionally only those in ``state``."""
        ...

    def propose(self, proposal: dict[str, Any], who: Principal) -> tuple[dict[str, Any], bool]:
        """Record a proposed action (idempotent by ``idempotency_key``); returns it and whether it is new."""
        ...

    def approve(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """Approve a proposed action (raises :class:`NotFound`, :class:`Conflict`)."""
        ...

    def reject(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """Reject a proposed action (raises :class:`NotFound`, :class:`Conflict`)."""
        ...

    def audit(self, limit: int = 200, before_id: int | None = None) -> list[dict[str, Any]]:
        """Audit entries, newest first."""
        ...

    def mode(self) -> dict[str, Any]:
        """The loop's mode: ``{"mode", "updated_by", "updated_s"}``."""
        ...

    def set_mode(self, mode: str, who: Principal) -> dict[str, Any]:
        """Change the loop's mode (one of :data:`MODES`)."""
        ...


def action_dict(a: Action) -> dict[str, Any]:
    """An action as the API returns it."""
    return {
        "id": a.id,
        "kind": a.kind,
        "site": a.site,
        "target": a.target,
        "reason": a.reason,
        "evidence": a.evidence,
        "destructive": a.destructive,
        "state": a.state,
        "proposed_by": a.proposed_by,
        "proposed_s": a.proposed_s,
        "idempotency_key": a.idempotency_key,
        "decided_by": a.decided_by,
        "decided_s": a.decided_s,
        "comment": a.comment,
    }


def audit_dict(e: AuditEntry) -> dict[str, Any]:
    """An audit entry as the API returns it."""
    return {
        "id": e.id,
        "time_s": e.time_s,
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "target": e.target,
        "detail": e.detail,
    }


class LocalOpsBackend:
    """:class:`OpsBackend` over the watcher's alert store and the service's database.

    Parameters
    ----------
    sessions
        The service database's session factory.
    alert_store_path
        The :class:`~wattbit.ops.store.AlertStore` file, or None for no alerts.
    """

    def __init__(self, sessions: sessionmaker[Any], alert_store_path: Path | None) -> None:
        self.sessions = sessions
        self.alert_store_path = alert_store_path
        self._store: Any = None
        self._lock = threading.Lock()

    def _alert_store(self) -> Any:
        if self.alert_store_path is None:
            return None
        if self._store is None:
            from wattbit.ops.store import AlertStore

            self._store = AlertStore(self.alert_store_path)
        return self._store

    def alerts(self, since_s: float | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """See :meth:`OpsBackend.alerts`."""
        with self._lock:
            store = self._alert_store()
            return [] if store is None else list(store.alerts(since_s, limit))

    def actions(self, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """See :meth:`OpsBackend.actions`."""
        q = select(Action).order_by(Action.proposed_s.desc()).limit(limit)
        if state is not None:
            q = q.where(Action.state == state)
        with self.sessions() as db:
            return [action_dict(a) for a in db.scalars(q)]

    def propose(self, proposal: dict[str, Any], who: Principal) -> tuple[dict[str, Any], bool]:
        """See :meth:`OpsBackend.propose`."""
        kind = proposal["kind"]
        if kind not in ACTION_KINDS:
            raise WattbitInputError(f"unknown action kind {kind!r}; expected one of {', '.join(ACTION_KINDS)}")
        key = proposal.get("idempotency_key") or f"{kind}:{proposal['target']}:{secrets.token_hex(4)}"
        with self.sessions() as db:
            old = db.scalar(select(Action).where(Action.idempotency_key == key))
            if old is not None:
                return action_dict(old), False
            row = Action(
                id="a-" + secrets.token_hex(6),
                kind=kind,
                site=proposal.get("site", ""),
                target=proposal["target"],
                reason=proposal.get("reason", ""),
                evidence=proposal.get("evidence") or {},
                destructive=bool(proposal.get("destructive", True)),
                state="proposed",
                proposed_by=who.name,
                proposed_s=now_s(),
                idempotency_key=key,
            )
            db.add(row)
            audit(db, who.name, who.role, "action.propose", row.id, {"kind": kind, "target": row.target})
            try:
                db.commit()
            except IntegrityError:  # the same key proposed at the same moment by another process
                db.rollback()
                old = db.scalar(select(Action).where(Action.idempotency_key == key))
                assert old is not None
                return action_dict(old), False
            return action_dict(row), True

    def _decide(self, action_id: str, who: Principal, state: str, comment: str | None) -> dict[str, Any]:
        with self.sessions() as db:
            row = db.get(Action, action_id, with_for_update=True)
            if row is None:
                raise NotFound(action_id)
            if row.state != "proposed":
                raise Conflict(f"action {action_id} is {row.state} (by {row.decided_by}), not proposed")
            row.state, row.decided_by, row.decided_s, row.comment = state, who.name, now_s(), comment
            verb = "action.approve" if state == "approved" else "action.reject"
            detail = {"kind": row.kind, "target": row.target, "comment": comment}
            audit(db, who.name, who.role, verb, row.id, detail)
            db.commit()
            return action_dict(row)

    def approve(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """See :meth:`OpsBackend.approve`."""
        return self._decide(action_id, who, "approved", comment)

    def reject(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """See :meth:`OpsBackend.reject`."""
        return self._decide(action_id, who, "rejected", comment)

    def audit(self, limit: int = 200, before_id: int | None = None) -> list[dict[str, Any]]:
        """See :meth:`OpsBackend.audit`."""
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            q = q.where(AuditEntry.id < before_id)
        with self.sessions() as db:
            return [audit_dict(e) for e in db.scalars(q)]

    def mode(self) -> dict[str, Any]:
        """See :meth:`OpsBackend.mode` (shadow until someone changes it)."""
        with self.sessions() as db:
            row = db.get(SettingRow, "loop_mode")
            if row is None:
                return {"mode": "shadow", "updated_by": None, "updated_s": None}
            return {"mode": row.value["mode"], "updated_by": row.updated_by, "updated_s": row.updated_s}

    def set_mode(self, mode: str, who: Principal) -> dict[str, Any]:
        """See :meth:`OpsBackend.set_mode`."""
        if mode not in MODES:
            raise WattbitInputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}", field="mode")
        with self.sessions() as db:
            row = db.get(SettingRow, "loop_mode", with_for_update=True)
            before = "shadow" if row is None else row.value["mode"]
            if row is None:
                row = SettingRow(key="loop_mode", value={"mode": mode}, updated_s=now_s(), updated_by=who.name)
                db.add(row)
            else:
                row.value, row.updated_s, row.updated_by = {"mode": mode}, now_s(), who.name
            audit(db, who.name, who.role, "loop.mode", "loop", {"from": before, "to": mode})
            db.commit()
        return self.mode()

    def close(self) -> None:
        """Close the alert store."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


class AlertDrainProposer:
    """A stand-in for the control loop's healing playbook, for the embedded demo: every new critical alert, and
    every failure prediction with a probability of at least ``min_probability``, on a node proposes draining that
    node (one open proposal per node). Issue 14's loop replaces it.
    """

    def __init__(self, backend: OpsBackend, min_probability: float = 0.5) -> None:
        self.backend = backend
        self.min_probability = min_probability
        self.seen: set[str] = set()
        self.who = Principal(0, "wattbit-demo-proposer", "operator")

    def poll(self) -> list[dict[str, Any]]:
        """Propose drains for alerts not seen before; returns the new proposals."""
        open_nodes = {a["target"] for a in self.backend.actions("proposed")}
        out = []
        for a in reversed(self.backend.alerts(limit=200)):
            if a["alert_id"] in self.seen:
                continue
            self.seen.add(a["alert_id"])
            critical = a["severity"] == "critical"
            likely = a["probability"] is not None and a["probability"] >= self.min_probability
            if not a["node"] or a["node"] in open_nodes or not (critical or likely):
                continue
            what = f"GPU {a['gpu']}" if a["gpu"] >= 0 else "the node"
            reason = f"{a['kind']} ({a['severity']}) on {what}"
            if a["probability"] is not None:
                reason += f": failure probability {a['probability']:.0%} within {a['horizon_h']:.0f} h"
            proposal = {
                "kind": "drain",
                "site": a["site"],
                "target": a["node"],
                "reason": reason,
                "evidence": {"alert_id": a["alert_id"], **a["evidence"]},
                "idempotency_key": f"drain:{a['node']}:{a['alert_id']}",
            }
            action, new = self.backend.propose(proposal, self.who)
            if new:
                open_nodes.add(a["node"])
                out.append(action)
        return out
