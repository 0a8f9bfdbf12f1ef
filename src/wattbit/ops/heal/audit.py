"""The audit store: every action the control loop proposes, who approved it, what was run and what came of it.

One SQLite file in write-ahead-log mode (WAL), so that a reader (the web service, ``sqlite3``) never blocks the loop
and a crash, including ``kill -9``, loses no committed transaction. Every change is one transaction; a status change
is checked against :data:`TRANSITIONS` inside it (``BEGIN IMMEDIATE``), so the loop and a person approving from the
service cannot both win.

Tables:

- ``actions`` — one row per idempotency key (:attr:`~wattbit.ops.heal.actions.Action.action_id`): kind, target,
  site, params, why (``reason``), what it rests on (``evidence``), status, mode, who or what proposed or approved it
  (``actor``, ``approved_by``), the command run, its result or error, attempts, times;
- ``audit`` — the log: one row per event (a status change, or a note such as "Slurm did not answer"), with time,
  actor and details; never updated or deleted;
- ``state`` — named JSON documents of the loop (episodes, lemon counts, last cycle), to resume after a restart.

The public API, stable for other parts of wattbit (the service of ``wattbit serve``):

- :class:`AuditStore` ``(path)``: :meth:`~AuditStore.propose`, :meth:`~AuditStore.get`, :meth:`~AuditStore.actions`,
  :meth:`~AuditStore.awaiting_approval`, :meth:`~AuditStore.approve`, :meth:`~AuditStore.reject`,
  :meth:`~AuditStore.transition`, :meth:`~AuditStore.note`, :meth:`~AuditStore.log`, :meth:`~AuditStore.counts`;
- :class:`ActionRecord` and :class:`AuditEvent` (frozen, with ``to_dict()``);
- :class:`UnknownAction` (no such key: HTTP 404) and :class:`ActionStateError` (not allowed from its status: 409).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.ops.heal.actions import STATUSES, Action, initial_status
from wattbit.ops.store import WalStore

#: Status -> statuses it may change to. ``recommended``, ``rejected``, ``applied``, ``abandoned``, ``superseded``
#: are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "recommended": frozenset(),
    "pending_approval": frozenset({"approved", "rejected", "superseded", "abandoned"}),
    "approved": frozenset({"decided", "blocked", "superseded", "abandoned"}),
    "blocked": frozenset({"approved", "superseded", "abandoned"}),
    "decided": frozenset({"applied", "failed", "abandoned"}),
    "failed": frozenset({"decided", "abandoned"}),
    "rejected": frozenset(),
    "applied": frozenset(),
    "abandoned": frozenset(),
    "superseded": frozenset(),
}
#: Statuses the loop still has work for.
OPEN = frozenset({"pending_approval", "approved", "blocked", "decided", "failed"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    action_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    site TEXT NOT NULL,
    source TEXT NOT NULL,
    episode TEXT NOT NULL,
    params TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    actor TEXT NOT NULL,
    approved_by TEXT NOT NULL DEFAULT '',
    destructive INTEGER NOT NULL,
    command TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_s REAL NOT NULL,
    updated_s REAL NOT NULL,
    data_time_s REAL,
    next_try_s REAL
);
CREATE INDEX IF NOT EXISTS actions_status ON actions (status);
CREATE INDEX IF NOT EXISTS actions_created ON actions (created_s);
CREATE INDEX IF NOT EXISTS actions_site_kind ON actions (site, kind, data_time_s);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_s REAL NOT NULL,
    action_id TEXT,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action_id);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_s REAL NOT NULL
);
"""


class UnknownAction(WattbitInputError):
    """No action has this key."""


class ActionStateError(WattbitInputError):
    """The action's status does not allow the change asked for (approving one already applied …)."""


@dataclass(frozen=True)
class ActionRecord:
    """One stored action (columns of ``actions``; ``params`` and ``evidence`` decoded)."""

    action_id: str
    kind: str
    target: str
    site: str
    source: str
    episode: str
    params: dict[str, Any]
    reason: str
    evidence: dict[str, Any]
    status: str
    mode: str
    actor: str
    approved_by: str
    destructive: bool
    command: str
    result: str
    error: str
    attempts: int
    created_s: float
    updated_s: float
    data_time_s: float | None
    next_try_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def to_action(self) -> Action:
        """The :class:`~wattbit.ops.heal.actions.Action` it stores."""
        return Action(
            kind=self.kind,
            target=self.target,
            site=self.site,
            params=dict(self.params),
            reason=self.reason,
            evidence=dict(self.evidence),
            source=self.source,
            episode=self.episode,
            data_time_s=self.data_time_s,
            action_id=self.action_id,
        )


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit log: ``event`` is the new status, or ``note``."""

    id: int
    time_s: float
    action_id: str | None
    event: str
    actor: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


_COLS = tuple(ActionRecord.__dataclass_fields__)


def _record(row: tuple[Any, ...]) -> ActionRecord:
    d = dict(zip(_COLS, row, strict=True))
    d["params"] = json.loads(d["params"])
    d["evidence"] = json.loads(d["evidence"])
    d["destructive"] = bool(d["destructive"])
    return ActionRecord(**d)


class AuditStore(WalStore):
    """Actions, their audit log and the loop's state in one SQLite file (WAL); see the module docstring.

    Parameters
    ----------
    path
        The database file (created with its folder if missing).
    clock
        Wall clock for the timestamps [Unix s] (``time.time``; tests may pass their own).
    """

    def __init__(self, path: Path | str, clock: Any = time.time) -> None:
        super().__init__(path, SCHEMA)
        self.clock = clock
        self._lock = threading.RLock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading (``BEGIN IMMEDIATE``)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _log(self, db: sqlite3.Connection, action_id: str | None, event: str, actor: str, detail: Any) -> None:
        db.execute(
            "INSERT INTO audit (time_s, action_id, event, actor, detail) VALUES (?, ?, ?, ?, ?)",
            (self.clock(), action_id, event, actor, json.dumps(detail, default=str, sort_keys=True)),
        )

    def _get(self, db: sqlite3.Connection, action_id: str) -> ActionRecord:
        row = db.execute(f"SELECT {', '.join(_COLS)} FROM actions WHERE action_id = ?", (action_id,)).fetchone()
        if row is None:
            raise UnknownAction(f"no action {action_id!r}", field="action_id")
        return _record(row)

    # ------------------------------------------------------------------------------------------- proposing
    def propose(self, action: Action, mode: str, actor: str = "wattbit") -> tuple[ActionRecord, bool]:
        """Store ``action`` under its key with the status ``mode`` gives it; (record, whether it is new).

        A key already stored is returned as it is, whatever its status: the same decision is never stored twice.
        """
        status = initial_status(action, mode)
        now = self.clock()
        with self._tx() as db:
            row = db.execute(f"SELECT {', '.join(_COLS)} FROM actions WHERE action_id = ?", (action.action_id,))
            found = row.fetchone()
            if found is not None:
                return _record(found), False
            db.execute(
                f"INSERT INTO actions ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})",
                (
                    action.action_id,
                    action.kind,
                    action.target,
                    action.site,
                    action.source,
                    action.episode,
                    json.dumps(action.params, default=str, sort_keys=True),
                    action.reason,
                    json.dumps(action.evidence, default=str, sort_keys=True),
                    status,
                    mode,
                    actor,
                    "",
                    int(action.destructive),
                    "",
                    "",
                    "",
                    0,
                    now,
                    now,
                    action.data_time_s,
                    None,
                ),  # fmt: skip
            )
            self._log(db, action.action_id, status, actor, {"reason": action.reason, "params": action.params})
            return self._get(db, action.action_id), True

    # --------------------------------------------------------------------------------------------- reading
    def get(self, action_id: str) -> ActionRecord:
        """The action stored under ``action_id`` (:class:`UnknownAction` if none)."""
        with self._lock:
            return self._get(self.db, action_id)

    def actions(
        self,
        status: str | Iterable[str] | None = None,
        limit: int = 500,
        since_s: float | None = None,
        *,
        kinds: Iterable[str] | None = None,
        site: str | None = None,
        data_since_s: float | None = None,
    ) -> list[ActionRecord]:
        """Actions, newest first, with one of ``status`` (all if None), created at or after ``since_s`` (wall clock);
        optionally only of ``kinds``, at ``site``, and with a data time at or after ``data_since_s``."""
        wanted = [status] if isinstance(status, str) else list(status or [])
        bad = [s for s in wanted if s not in STATUSES]
        if bad:
            raise WattbitInputError(f"unknown status {bad[0]!r}; expected one of {', '.join(STATUSES)}", field="status")
        sql = f"SELECT {', '.join(_COLS)} FROM actions WHERE created_s >= ?"
        args: list[Any] = [-1e300 if since_s is None else since_s]
        if wanted:
            sql += f" AND status IN ({', '.join('?' * len(wanted))})"
            args += wanted
        kind_list = list(kinds or [])
        if kind_list:
            sql += f" AND kind IN ({', '.join('?' * len(kind_list))})"
            args += kind_list
        if site is not None:
            sql += " AND site = ?"
            args.append(site)
        if data_since_s is not None:
            sql += " AND data_time_s >= ?"
            args.append(data_since_s)
        sql += " ORDER BY created_s DESC, rowid DESC LIMIT ?"
        with self._lock:
            return [_record(r) for r in self.db.execute(sql, (*args, limit)).fetchall()]

    def awaiting_approval(self) -> list[ActionRecord]:
        """Actions waiting for a person (``pending_approval``), oldest first."""
        return sorted(self.actions("pending_approval", limit=10_000), key=lambda r: r.created_s)

    def counts(self) -> dict[str, int]:
        """Actions per status."""
        with self._lock:
            rows = self.db.execute("SELECT status, COUNT(*) FROM actions GROUP BY status").fetchall()
        return {str(s): int(n) for s, n in rows}

    def log(self, action_id: str | None = None, limit: int = 1000) -> list[AuditEvent]:
        """The audit log, newest first (of one action if ``action_id`` is given)."""
        sql = "SELECT id, time_s, action_id, event, actor, detail FROM audit"
        args: tuple[Any, ...] = ()
        if action_id is not None:
            sql += " WHERE action_id = ?"
            args = (action_id,)
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [AuditEvent(int(i), float(t), a, str(e), str(w), json.loads(d)) for i, t, a, e, w, d in rows]

    # -------------------------------------------------------------------------------------------- changing
    def transition(
        self,
        action_id: str,
        status: str,
        actor: str,
        *,
        command: str | None = None,
        result: str | None = None,
        error: str | None = None,
        next_try_s: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> ActionRecord:
        """Move ``action_id`` to ``status`` (checked against :data:`TRANSITIONS`), recording what was run and how it
        ended; ``decided`` counts an attempt. Raises :class:`ActionStateError` if the change is not allowed."""
        with self._tx() as db:
            rec = self._get(db, action_id)
            if status not in TRANSITIONS.get(rec.status, frozenset()):
                raise ActionStateError(
                    f"action {action_id!r} is {rec.status}; it cannot become {status}", field="status"
                )
            sets = {"status": status, "updated_s": self.clock(), "next_try_s": next_try_s}
            if command is not None:
                sets["command"] = command
            if result is not None:
                sets["result"] = result
            if error is not None:
                sets["error"] = error
            if status in ("approved", "rejected"):  # whoever decided, the proposer included
                sets["approved_by"] = actor
            sql = ", ".join(f"{k} = ?" for k in sets)
            inc = ", attempts = attempts + 1" if status == "decided" else ""
            db.execute(f"UPDATE actions SET {sql}{inc} WHERE action_id = ?", (*sets.values(), action_id))
            info = {k: v for k, v in (("command", command), ("result", result), ("error", error)) if v}
            self._log(db, action_id, status, actor, {**info, **(detail or {})})
            return self._get(db, action_id)

    def approve(self, action_id: str, who: str, note: str = "") -> ActionRecord:
        """A person approves an action waiting for approval; the loop applies it on its next cycle."""
        if not who.strip():
            raise WattbitInputError("an approval needs the name of who approves", field="who")
        return self.transition(action_id, "approved", who, detail={"note": note} if note else None)

    def reject(self, action_id: str, who: str, note: str = "") -> ActionRecord:
        """A person rejects an action waiting for approval; it is never applied."""
        if not who.strip():
            raise WattbitInputError("a rejection needs the name of who rejects", field="who")
        return self.transition(action_id, "rejected", who, detail={"note": note} if note else None)

    def note(self, message: str, actor: str = "wattbit", action_id: str | None = None, **detail: Any) -> None:
        """Write a note to the audit log (a part that failed, a reconciliation, a skipped cycle)."""
        with self._tx() as db:
            self._log(db, action_id, "note", actor, {"message": message, **detail})

    # ----------------------------------------------------------------------------------------------- state
    def save_state(self, key: str, value: Any) -> None:
        """Store a JSON document under ``key`` (replacing the previous one)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", (key, json.dumps(value), self.clock()))

    def load_state(self, key: str, default: Any = None) -> Any:
        """The document stored under ``key``, or ``default``."""
        with self._lock:
            row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])
