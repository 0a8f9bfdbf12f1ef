"""The service's parts and their lifetime: configuration, database, live fleet, operations, runs, live events.

:class:`Service` is created by :func:`wattbit.api.app.create_app` and started by the app's lifespan: it migrates the
database, registers the built-in scenarios, starts the live fleet (the embedded twin by default), the run
supervisor and the operations poller, and stops them again on shutdown (runs in progress go on in their workers).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from wattbit.api.auth import PrincipalCache
from wattbit.api.db import ScenarioRow, make_engine, migrate, now_s, sessions
from wattbit.api.events import EventHub
from wattbit.api.fleet import FleetSource, NoFleet, PrometheusFleet, TwinFleet
from wattbit.api.ops_backend import AlertDrainProposer, HealOpsBackend
from wattbit.api.reads import ReadCache
from wattbit.api.runs import Supervisor
from wattbit.api.scenarios import MAX_UPLOAD_BYTES, builtin_rows, summary

log = logging.getLogger(__name__)


@dataclass
class ServiceConfig:
    """How ``wattbit serve`` runs.

    Attributes
    ----------
    db_url
        ``sqlite:///PATH`` (embedded default) or ``postgresql://USER@HOST:PORT/DB``.
    data_dir
        Runs' output folders and the embedded twin's alert store.
    fleet
        The live view: ``twin`` (embedded), ``prometheus`` (``prometheus_url``) or ``none``.
    scenario
        The scenario the twin runs and whose sites the map shows.
    alerts_db
        The watcher's alert store to read (default: ``data_dir/alerts.sqlite``, which the embedded twin writes).
    audit_db
        The control loop's audit store (default: ``data_dir/audit.sqlite``): its proposed actions and log.
    default_mode
        The loop's mode until an admin sets one (default: ``approve`` with the embedded demo's stand-in proposer,
        so that its drains wait for a person; ``shadow`` otherwise).
    cors_origins
        Origins allowed to call the API from a browser (none: CORS closed).
    data_roots
        Folders uploaded scenarios may read data files from (none: built-in data only).
    propose_drains
        Propose draining nodes with critical or likely-failure alerts (the demo's stand-in for the control loop).
    secure_cookies
        Mark the session cookie ``Secure`` (behind an HTTPS reverse proxy).
    """

    db_url: str
    data_dir: Path
    fleet: Literal["twin", "prometheus", "none"] = "twin"
    scenario: str = "japan-2022"
    prometheus_url: str | None = None
    alerts_db: Path | None = None
    audit_db: Path | None = None
    default_mode: str | None = None
    twin_speed: float = 1800.0
    twin_start: str | None = "2022-04-10"
    twin_nodes_per_site: int | None = None
    twin_seed: int | None = None
    max_workers: int = 1
    cors_origins: list[str] = field(default_factory=list)
    data_roots: list[Path] = field(default_factory=list)
    propose_drains: bool = True
    secure_cookies: bool = False
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    ops_poll_s: float = 2.0
    request_threads: int = 8


class Service:
    """The running parts (see the module docstring)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.engine = make_engine(config.db_url)
        self.sessions = sessions(self.engine)
        self.hub = EventHub()
        self.reads = ReadCache()
        self.hub.listeners.append(self.reads.clear)
        self.principals = PrincipalCache()
        self.alerts_path = config.alerts_db or (config.data_dir / "alerts.sqlite")
        self.audit_path = config.audit_db or (config.data_dir / "audit.sqlite")
        mode = config.default_mode or ("approve" if config.fleet == "twin" and config.propose_drains else "shadow")
        self.ops = HealOpsBackend(self.sessions, self.alerts_path, self.audit_path, default_mode=mode)
        self.fleet: FleetSource = NoFleet()
        self.supervisor = Supervisor(
            self.sessions, config.db_url, config.data_dir, config.max_workers, publish=self.hub.publish
        )
        self.proposer = AlertDrainProposer(self.ops) if config.propose_drains else None
        self.stop_event = threading.Event()
        self.poller = threading.Thread(target=self._poll_ops, name="wattbit-ops-poll", daemon=True)
        self.started_s = now_s()
        self.ready = False
        self.last_alert_s: float | None = None

    def start(self) -> None:
        """Migrate, register built-in scenarios, start the fleet, the supervisor and the poller."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        revision = migrate(self.engine)
        log.info("database at revision %s", revision)
        self._register_builtins()
        self.fleet = self._make_fleet()
        self.supervisor.start()
        self.poller.start()
        self.ready = True

    def _register_builtins(self) -> None:
        with self.sessions() as db:
            for sid, filename, sc in builtin_rows():
                if db.get(ScenarioRow, sid) is None:
                    text = Path(sc.source_path).read_text(encoding="utf-8") if sc.source_path else ""
                    db.add(
                        ScenarioRow(
                            id=sid,
                            name=sc.name,
                            filename=filename,
                            source="builtin",
                            toml=text,
                            summary=summary(sc),
                            created_s=now_s(),
                            created_by="wattbit",
                        )
                    )
            db.commit()

    def _make_fleet(self) -> FleetSource:
        from wattbit.scenario import load_scenario

        c = self.config
        if c.fleet == "none":
            return NoFleet()
        scenario = load_scenario(c.scenario)
        if c.fleet == "prometheus":
            if not c.prometheus_url:
                raise ValueError("fleet 'prometheus' needs prometheus_url")
            return PrometheusFleet(c.prometheus_url, scenario)
        twin = TwinFleet(
            scenario,
            self.alerts_path,
            speed=c.twin_speed,
            start=c.twin_start,
            nodes_per_site=c.twin_nodes_per_site,
            seed=c.twin_seed,
            publish=self.hub.publish,
        )
        return twin.start()

    def _poll_ops(self) -> None:
        """Publish new alerts and let the stand-in proposer propose drains."""
        while not self.stop_event.wait(self.config.ops_poll_s):
            try:
                alerts = self.ops.alerts(since_s=self.last_alert_s, limit=100)
                fresh = [a for a in alerts if self.last_alert_s is None or a["time_s"] > self.last_alert_s]
                if fresh:
                    self.last_alert_s = max(a["time_s"] for a in fresh)
                    self.hub.publish("alerts", {"new": len(fresh), "latest": fresh[:5]})
                if self.proposer is not None:
                    for action in self.proposer.poll():
                        self.hub.publish("action", action)
            except Exception:  # a locked or missing store is logged; the next round retries
                log.exception("operations poll failed")

    def close(self) -> None:
        """Stop what :meth:`start` started (workers of runs in progress go on)."""
        self.ready = False
        self.stop_event.set()
        self.supervisor.close()
        self.fleet.close()
        if self.poller.is_alive():
            self.poller.join(timeout=5.0)
        self.ops.close()
        self.engine.dispose()

    def scenario_rows(self) -> list[ScenarioRow]:
        """Every stored scenario, newest first."""
        with self.sessions() as db:
            return list(db.scalars(select(ScenarioRow).order_by(ScenarioRow.created_s.desc())))

    def clock_s(self) -> float:
        """The fleet's data clock: the twin's simulated time, else now."""
        status: dict[str, Any] = self.fleet.status()
        sim = status.get("simulated_time_utc")
        if sim:
            from datetime import datetime

            return datetime.fromisoformat(sim).timestamp()
        return now_s()
