"""Operations behind the API: alerts, proposed actions with approve/reject, the audit log and the loop's mode.

:class:`OpsBackend` is the small interface the API and the dashboard use. :class:`HealOpsBackend` implements it with
the stores the operations layer already writes:

- alerts from the watcher's :class:`~wattbit.ops.store.AlertStore` (SQLite, WAL; written by ``wattbit ops watch``
  or by the service's embedded twin);
- actions from the control loop's :class:`~wattbit.ops.heal.audit.AuditStore` (SQLite, WAL): the loop proposes
  there, a person approves or rejects here, and the loop applies what is approved on its next cycle. The store
  checks every status change inside one transaction, so the loop and a person cannot both win;
- the service's own audit log (its database) with the token's name and role for every change made through the API,
  merged with the loop's log;
- the loop's mode in the service's database, mirrored into the audit store's state (key ``mode``) for the loop.

An approval is acknowledged only after the audit store committed it (with the approver's token name): a ``kill -9``
of the server afterwards loses nothing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from wattbit.api.auth import Principal, audit
from wattbit.api.db import AuditEntry, SettingRow, now_s
from wattbit.errors import WattbitInputError
from wattbit.ops.heal.actions import KINDS, MODES, STATUSES, Action
from wattbit.ops.heal.audit import ActionRecord, ActionStateError, AuditEvent, AuditStore, UnknownAction

#: Seconds an answer of the alert store is reused (alerts change at most once a twin step) [s].
ALERTS_TTL_S = 1.0
#: Action kinds the loop proposes (:data:`wattbit.ops.heal.actions.KINDS`).
ACTION_KINDS = tuple(KINDS)
#: Statuses of an action (:data:`wattbit.ops.heal.actions.STATUSES`); ``pending_approval`` waits for a person.
ACTION_STATUSES = STATUSES
__all__ = ["ACTION_KINDS", "ACTION_STATUSES", "MODES", "Conflict", "HealOpsBackend", "NotFound", "OpsBackend"]


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
        """Actions, newest first, optionally only those in ``state``."""
        ...

    def propose(self, proposal: dict[str, Any], who: Principal) -> tuple[dict[str, Any], bool]:
        """Record a proposed action (idempotent by ``idempotency_key``); returns it and whether it is new."""
        ...

    def approve(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """Approve an action waiting for approval (raises :class:`NotFound`, :class:`Conflict`)."""
        ...

    def reject(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """Reject an action waiting for approval (raises :class:`NotFound`, :class:`Conflict`)."""
        ...

    def audit(self, limit: int = 200, source: str = "all") -> list[dict[str, Any]]:
        """Audit entries, newest first: the service's (``service``), the loop's (``loop``) or both."""
        ...

    def mode(self) -> dict[str, Any]:
        """The loop's mode: ``{"mode", "updated_by", "updated_s"}``."""
        ...

    def set_mode(self, mode: str, who: Principal) -> dict[str, Any]:
        """Change the loop's mode (one of :data:`MODES`)."""
        ...


def action_dict(r: ActionRecord) -> dict[str, Any]:
    """An action as the API returns it."""
    return {
        "id": r.action_id,
        "kind": r.kind,
        "site": r.site,
        "target": r.target,
        "params": r.params,
        "reason": r.reason,
        "evidence": r.evidence,
        "destructive": r.destructive,
        "state": r.status,
        "mode": r.mode,
        "source": r.source,
        "proposed_by": r.actor,
        "proposed_s": r.created_s,
        "decided_by": r.approved_by or None,
        "updated_s": r.updated_s,
        "command": r.command,
        "result": r.result,
        "error": r.error,
    }


def audit_dict(e: AuditEntry) -> dict[str, Any]:
    """An entry of the service's audit log as the API returns it."""
    return {
        "id": f"s{e.id}",
        "time_s": e.time_s,
        "source": "service",
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "target": e.target,
        "detail": e.detail,
    }


def loop_audit_dict(e: AuditEvent) -> dict[str, Any]:
    """An entry of the loop's audit log in the same shape (``action`` is ``action.STATUS`` or ``note``)."""
    return {
        "id": f"l{e.id}",
        "time_s": e.time_s,
        "source": "loop",
        "actor": e.actor,
        "role": None,
        "action": "note" if e.event == "note" else f"action.{e.event}",
        "target": e.action_id or "loop",
        "detail": e.detail,
    }


class HealOpsBackend:
    """:class:`OpsBackend` over the alert store, the loop's audit store and the service's database.

    Parameters
    ----------
    sessions
        The service database's session factory.
    alert_store_path
        The :class:`~wattbit.ops.store.AlertStore` file, or None for no alerts.
    audit_store_path
        The control loop's :class:`~wattbit.ops.heal.audit.AuditStore` file (created if missing).
    default_mode
        The mode until an admin sets one.
    """

    def __init__(
        self,
        sessions: sessionmaker[Any],
        alert_store_path: Path | None,
        audit_store_path: Path,
        default_mode: str = "shadow",
    ) -> None:
        self.sessions = sessions
        self.alert_store_path = alert_store_path
        self.store = AuditStore(audit_store_path)
        self.default_mode = default_mode
        self._alerts: Any = None
        self._alert_cache: dict[tuple[float | None, int], tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def _alert_store(self) -> Any:
        if self.alert_store_path is None:
            return None
        if self._alerts is None:
            from wattbit.ops.store import AlertStore

            self._alerts = AlertStore(self.alert_store_path)
        return self._alerts

    def alerts(self, since_s: float | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """See :meth:`OpsBackend.alerts` (an answer is reused for :data:`ALERTS_TTL_S`: every dashboard reads them)."""
        key = (since_s, limit)
        with self._lock:
            hit = self._alert_cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            store = self._alert_store()
            out = [] if store is None else list(store.alerts(since_s, limit))
            if len(self._alert_cache) > 100:
                self._alert_cache.clear()
            self._alert_cache[key] = (time.monotonic() + ALERTS_TTL_S, out)
            return out

    def actions(self, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """See :meth:`OpsBackend.actions`."""
        return [action_dict(r) for r in self.store.actions(state, limit=limit)]

    def propose(self, proposal: dict[str, Any], who: Principal) -> tuple[dict[str, Any], bool]:
        """See :meth:`OpsBackend.propose`: stored with the status the current mode gives it."""
        try:
            action = Action(
                kind=proposal["kind"],
                target=proposal["target"],
                site=proposal.get("site") or "",
                params=dict(proposal.get("params") or {}),
                reason=proposal.get("reason") or "",
                evidence=dict(proposal.get("evidence") or {}),
                source=proposal.get("source") or "service",
                episode=proposal.get("episode") or "",
                data_time_s=proposal.get("data_time_s"),
                action_id=proposal.get("idempotency_key") or "",
            )
        except ValueError as exc:
            raise WattbitInputError(str(exc), field="kind") from None
        record, new = self.store.propose(action, self.mode()["mode"], who.name)
        if new:
            with self.sessions() as db:
                audit(db, who.name, who.role, "action.propose", record.action_id, {"kind": record.kind})
                db.commit()
        return action_dict(record), new

    def _decide(self, verb: str, action_id: str, who: Principal, comment: str | None) -> dict[str, Any]:
        try:
            fn = self.store.approve if verb == "approve" else self.store.reject
            record = fn(action_id, who.name, comment or "")
        except UnknownAction:
            raise NotFound(action_id) from None
        except ActionStateError as exc:
            raise Conflict(str(exc)) from None
        with self.sessions() as db:
            detail: dict[str, object] = {"kind": record.kind, "target": record.target, "comment": comment}
            audit(db, who.name, who.role, f"action.{verb}", record.action_id, detail)
            db.commit()
        return action_dict(record)

    def approve(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """See :meth:`OpsBackend.approve`."""
        return self._decide("approve", action_id, who, comment)

    def reject(self, action_id: str, who: Principal, comment: str | None = None) -> dict[str, Any]:
        """See :meth:`OpsBackend.reject`."""
        return self._decide("reject", action_id, who, comment)

    def audit(self, limit: int = 200, source: str = "all") -> list[dict[str, Any]]:
        """See :meth:`OpsBackend.audit`."""
        out: list[dict[str, Any]] = []
        if source in ("all", "service"):
            with self.sessions() as db:
                q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
                out += [audit_dict(e) for e in db.scalars(q)]
        if source in ("all", "loop"):
            out += [loop_audit_dict(e) for e in self.store.log(limit=limit)]
        out.sort(key=lambda e: e["time_s"], reverse=True)
        return out[:limit]

    def mode(self) -> dict[str, Any]:
        """See :meth:`OpsBackend.mode` (``default_mode`` until someone changes it)."""
        with self.sessions() as db:
            row = db.get(SettingRow, "loop_mode")
            if row is None:
                return {"mode": self.default_mode, "updated_by": None, "updated_s": None}
            return {"mode": row.value["mode"], "updated_by": row.updated_by, "updated_s": row.updated_s}

    def set_mode(self, mode: str, who: Principal) -> dict[str, Any]:
        """See :meth:`OpsBackend.set_mode`; also stored as the audit store's state ``mode`` for the loop."""
        if mode not in MODES:
            raise WattbitInputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}", field="mode")
        before = self.mode()["mode"]
        with self.sessions() as db:
            row = db.get(SettingRow, "loop_mode")
            if row is None:
                db.add(SettingRow(key="loop_mode", value={"mode": mode}, updated_s=now_s(), updated_by=who.name))
            else:
                row.value, row.updated_s, row.updated_by = {"mode": mode}, now_s(), who.name
            audit(db, who.name, who.role, "loop.mode", "loop", {"from": before, "to": mode})
            db.commit()
        self.store.save_state("mode", {"mode": mode, "by": who.name, "time_s": now_s()})
        return self.mode()

    def close(self) -> None:
        """Close the stores."""
        with self._lock:
            if self._alerts is not None:
                self._alerts.close()
                self._alerts = None
        self.store.close()


class AlertDrainProposer:
    """A stand-in for the control loop's healing playbooks, for the embedded demo: every new critical alert, and
    every failure prediction with a probability of at least ``min_probability``, proposes draining its node (one
    open proposal per node; the alert is the episode). ``wattbit ops heal`` (issue 14) replaces it.
    """

    def __init__(self, backend: OpsBackend, min_probability: float = 0.5) -> None:
        self.backend = backend
        self.min_probability = min_probability
        self.seen: set[str] = set()
        self.who = Principal(0, "wattbit-demo-proposer", "operator")

    def poll(self) -> list[dict[str, Any]]:
        """Propose drains for alerts not seen before; returns the new proposals."""
        open_nodes = {a["target"] for a in self.backend.actions("pending_approval", limit=5000)}
        out = []
        for a in reversed(self.backend.alerts(limit=200)):
            if a["alert_id"] in self.seen:
                continue
            self.seen.add(a["alert_id"])
            critical = a["severity"] == "critical"
            likely = a["probability"] is not None and a["probability"] >= self.min_probability
            if not a["node"] or a["node"] in open_nodes or not (critical or likely):
                continue
            action, new = self.backend.propose(drain_proposal(a), self.who)
            if new:
                open_nodes.add(a["node"])
                out.append(action)
        return out


def drain_proposal(alert: dict[str, Any]) -> dict[str, Any]:
    """The proposal to drain the node of ``alert``, with the alert as its evidence."""
    what = f"GPU {alert['gpu']}" if alert["gpu"] >= 0 else "the node"
    reason = f"{alert['kind']} ({alert['severity']}) on {what}"
    if alert["probability"] is not None:
        reason += f": failure probability {alert['probability']:.0%} within {alert['horizon_h']:.0f} h"
    return {
        "kind": "drain",
        "site": alert["site"],
        "target": alert["node"],
        "params": {"reason": reason},
        "reason": reason,
        "evidence": {"alert_id": alert["alert_id"], **alert["evidence"]},
        "source": "service-demo",
        "episode": alert["alert_id"],
        "data_time_s": alert["time_s"],
    }
