"""The operations store: alerts, data events and the watcher's state in SQLite with write-ahead logging (WAL).

SQLite in WAL mode is the embedded default: readers (an API, a dashboard, ``sqlite3``) never block the watcher's
writes, and a crash loses no committed transaction. Every write is one transaction. Tables:

- ``alerts`` — one row per alert (:class:`~wattbit.ops.detect.alerts.Alert`): ``alert_id`` (primary key), time,
  site, node, GPU, kind, severity, evidence (JSON), probability, horizon, last candidate, candidate count;
- ``data_events`` — what the watcher noticed about its input (bad values, counter resets, a Prometheus down);
- ``state`` — named JSON documents (the detectors' baselines and windows), to resume after a restart.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from wattbit.ops.detect.alerts import Alert

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    time_s REAL NOT NULL,
    site TEXT NOT NULL,
    node TEXT NOT NULL,
    gpu INTEGER NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    evidence TEXT NOT NULL,
    probability REAL,
    horizon_h REAL,
    last_s REAL NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts (time_s);
CREATE TABLE IF NOT EXISTS data_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_s REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_s REAL NOT NULL
);
"""
_COLUMNS = ("alert_id", "time_s", "site", "node", "gpu", "kind", "severity", "evidence", "probability", "horizon_h",
            "last_s", "count")  # fmt: skip


def connect_wal(path: Path, schema: str) -> sqlite3.Connection:
    """Open (creating it and its folder if missing) the SQLite file ``path`` in WAL mode and apply ``schema``.

    Autocommit (transactions are explicit), usable from several threads, waiting up to 30 s for another writer.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


class WalStore:
    """One SQLite file in WAL mode with its schema applied (:func:`connect_wal`): the connection, closing it (also as
    a context manager) and its journal mode. The alert store and the control loop's audit store build on it.

    Parameters
    ----------
    path
        The database file (created with its folder if missing).
    schema
        SQL run on opening (``CREATE TABLE IF NOT EXISTS ...``).
    """

    def __init__(self, path: Path | str, schema: str) -> None:
        self.path = Path(path)
        self.db = connect_wal(self.path, schema)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode (``wal``)."""
        return str(self.db.execute("PRAGMA journal_mode").fetchone()[0])


class AlertStore(WalStore):
    """Alerts, data events and state in one SQLite file (WAL).

    Parameters
    ----------
    path
        The database file (created with its folder if missing).
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, SCHEMA)

    def add_alerts(self, alerts: Iterable[Alert]) -> int:
        """Insert or update alerts (by ``alert_id``) in one transaction; returns how many."""
        rows = [
            (
                a.alert_id,
                a.time_s,
                a.site,
                a.node,
                a.gpu,
                a.kind,
                a.severity,
                json.dumps(a.evidence, default=float),
                a.probability,
                a.horizon_h,
                a.last_s,
                a.count,
            )  # fmt: skip
            for a in alerts
        ]
        if rows:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany(f"INSERT OR REPLACE INTO alerts VALUES ({','.join('?' * len(_COLUMNS))})", rows)
        return len(rows)

    def alerts(self, since_s: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Alerts, newest first, opened at or after ``since_s``."""
        cur = self.db.execute(
            "SELECT * FROM alerts WHERE time_s >= ? ORDER BY time_s DESC LIMIT ?",
            (-1e300 if since_s is None else since_s, limit),
        )
        out = []
        for row in cur.fetchall():
            d = dict(zip(_COLUMNS, row, strict=True))
            d["evidence"] = json.loads(d["evidence"])
            out.append(d)
        return out

    def log_event(self, message: str, time_s: float | None = None) -> None:
        """Record something about the watcher's input."""
        with self.db:
            self.db.execute("INSERT INTO data_events (time_s, message) VALUES (?, ?)", (time_s or time.time(), message))

    def events(self, limit: int = 1000) -> list[tuple[float, str]]:
        """Data events, newest first."""
        rows = self.db.execute("SELECT time_s, message FROM data_events ORDER BY id DESC LIMIT ?", (limit,))
        return [(float(t), str(m)) for t, m in rows.fetchall()]

    def save_state(self, key: str, value: Any) -> None:
        """Store a JSON document under ``key`` (replacing the previous one)."""
        text = json.dumps(value, allow_nan=True)
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", (key, text, time.time()))

    def load_state(self, key: str) -> Any:
        """The document stored under ``key``, or None."""
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])
