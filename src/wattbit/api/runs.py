"""Background runs: what a request may ask for, and the supervisor that starts workers and watches them.

A run is a row of the database (:class:`~wattbit.api.db.Run`) from the moment the API acknowledges it: ``queued``
-> ``starting`` (a server claimed it) -> ``running`` (its worker process, :mod:`wattbit.api.worker`, took it) ->
``succeeded``, ``failed`` or ``cancelled``. The supervisor, a thread of every server, claims queued runs up to its
limit of concurrent workers with a conditional update (so that two servers on one PostgreSQL never start the same
run), starts a worker per run in its own session (the run goes on if the server is restarted or killed), reaps
its own children, and marks failed every run whose heartbeat stopped: its worker crashed, was killed or the
machine restarted. A failed or cancelled run can be started again (``POST /api/v1/runs/{id}/restart``).
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from wattbit.api.db import FINAL_RUN_STATES, Run, now_s
from wattbit.api.worker import DB_ENV, LOG_NAME
from wattbit.control import POLICY_NAMES

log = logging.getLogger(__name__)

#: A run whose heartbeat is older than this is taken for dead [s].
STALE_AFTER_S = 20.0
#: Files a run may serve: its results and report (names only, never paths).
SERVED_SUFFIXES = (".json", ".parquet", ".csv", ".html", ".log")


class RunRequest(BaseModel):
    """A run to start.

    ``start``/``end`` narrow the scenario's period (ISO dates or times, in the scenario's time zone when they carry
    none); ``policy`` is the policy of ``simulate``, ``policies`` those ``bench`` compares; ``draws`` the Monte Carlo
    draws of ``plan`` (0: none).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["simulate", "bench", "plan"]
    scenario_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    policy: Literal["baseline", "greedy", "mpc", "oracle"] = "baseline"
    policies: list[Literal["baseline", "greedy", "mpc", "oracle"]] | None = Field(default=None, min_length=1)
    start: str | None = Field(default=None, max_length=40)
    end: str | None = Field(default=None, max_length=40)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    draws: int = Field(default=0, ge=0, le=10_000)

    @field_validator("start", "end")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            (datetime if "T" in v else date).fromisoformat(v)
        except ValueError:
            raise ValueError("expected an ISO date or time such as 2022-04-10 or 2022-04-10T06:00") from None
        return v

    def params(self) -> dict[str, Any]:
        """The parameters the worker needs."""
        out: dict[str, Any] = {"seed": self.seed}
        if self.kind in ("simulate", "bench"):
            out.update(start=self.start, end=self.end)
        if self.kind == "simulate":
            out["policy"] = self.policy
        elif self.kind == "bench":
            out["policies"] = list(self.policies or POLICY_NAMES)
        else:
            out["draws"] = self.draws
        return out


def new_run_id() -> str:
    """A run id."""
    return "r-" + secrets.token_hex(6)


def run_dict(r: Run, base_url: str = "/api/v1") -> dict[str, Any]:
    """A run as the API returns it."""
    return {
        "id": r.id,
        "kind": r.kind,
        "scenario_id": r.scenario_id,
        "params": r.params,
        "state": r.state,
        "progress": r.progress,
        "message": r.message,
        "error": r.error,
        "result": r.result,
        "created_s": r.created_s,
        "created_by": r.created_by,
        "started_s": r.started_s,
        "finished_s": r.finished_s,
        "heartbeat_s": r.heartbeat_s,
        "attempt": r.attempt,
        "cancel_requested": r.cancel_requested,
        "report_url": f"{base_url}/runs/{r.id}/report" if r.state == "succeeded" else None,
        "files_url": f"{base_url}/runs/{r.id}/files",
    }


def run_dir(data_dir: Path, run_id: str) -> Path:
    """The folder of a run's output."""
    return data_dir / "runs" / run_id


def served_file(data_dir: Path, run_id: str, name: str) -> Path | None:
    """A run's output file by bare name, or None (no folders, no links, only results and reports)."""
    if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(SERVED_SUFFIXES) or len(name) > 100:
        return None
    folder = run_dir(data_dir, run_id).resolve()
    path = folder / name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != folder:
        return None
    return path


def list_files(data_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """A run's output files: name and size [bytes]."""
    folder = run_dir(data_dir, run_id)
    if not folder.is_dir():
        return []
    return [
        {"name": p.name, "bytes": p.stat().st_size}
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.is_symlink() and p.name.endswith(SERVED_SUFFIXES) and not p.name.startswith(".")
    ]


class Supervisor:
    """Starts workers for queued runs and watches running ones (see the module docstring).

    Parameters
    ----------
    sessions
        The database's session factory.
    db_url
        Handed to workers in their environment.
    data_dir
        Where run folders go.
    max_workers
        Runs this server executes at once.
    publish
        Called as ``publish("run", run_dict)`` whenever a run changes.
    """

    def __init__(
        self,
        sessions: sessionmaker[Any],
        db_url: str,
        data_dir: Path,
        max_workers: int = 1,
        publish: Callable[[str, Any], None] | None = None,
        interval_s: float = 0.5,
    ) -> None:
        self.sessions, self.db_url, self.data_dir = sessions, db_url, data_dir
        self.max_workers, self.publish, self.interval_s = max_workers, publish, interval_s
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stop_event = threading.Event()
        self.last_seen = 0.0
        self.thread = threading.Thread(target=self._loop, name="wattbit-runs", daemon=True)

    def start(self) -> Supervisor:
        """Start the supervisor's thread; returns self."""
        self.thread.start()
        return self

    def close(self) -> None:
        """Stop watching (workers go on; another server, or this one restarted, takes them over)."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5.0)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not stop the supervisor
                log.exception("run supervisor tick failed; retrying")
            self.stop_event.wait(self.interval_s)

    def tick(self) -> None:
        """One round: reap children, fail stale runs, start queued ones, publish changes."""
        self._reap_children()
        self._fail_stale()
        self._launch()
        self._publish_changes()

    def _reap_children(self) -> None:
        for run_id, proc in list(self.children.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.children[run_id]
            with self.sessions() as db:
                t = now_s()
                db.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.state.in_(("starting", "running")))
                    .values(
                        state="failed",
                        finished_s=t,
                        updated_s=t,
                        message="failed",
                        error=f"the worker exited with status {code} before finishing (see worker.log)",
                    )
                )
                db.commit()

    def _fail_stale(self) -> None:
        t = now_s()
        with self.sessions() as db:
            stale = db.execute(
                update(Run)
                .where(
                    Run.state.in_(("starting", "running")),
                    func.coalesce(Run.heartbeat_s, Run.updated_s) < t - STALE_AFTER_S,
                )
                .values(
                    state="failed",
                    finished_s=t,
                    updated_s=t,
                    message="failed",
                    error="the run's worker stopped without finishing (it crashed or was killed, or the machine "
                    "restarted); start it again with POST /api/v1/runs/{id}/restart",
                )
            ).rowcount
            db.commit()
        if stale:
            log.warning("%d run(s) whose worker stopped were marked failed", stale)

    def _launch(self) -> None:
        with self.sessions() as db:
            busy = db.scalar(select(func.count()).select_from(Run).where(Run.state.in_(("starting", "running"))))
            free = self.max_workers - int(busy or 0)
            if free <= 0:
                return
            queued = db.scalars(select(Run.id).where(Run.state == "queued").order_by(Run.created_s).limit(free))
            for run_id in list(queued):
                t = now_s()
                claimed = db.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.state == "queued")
                    .values(state="starting", updated_s=t, heartbeat_s=t, message="starting a worker")
                ).rowcount
                db.commit()
                if claimed == 1:
                    self._spawn(run_id)

    def _spawn(self, run_id: str) -> None:
        out = run_dir(self.data_dir, run_id)
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, DB_ENV: self.db_url}
        src = str(Path(__file__).resolve().parents[2])  # the wattbit package's root, for a source checkout
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with open(out / LOG_NAME, "ab") as logf:
            proc = subprocess.Popen(
                [sys.executable, "-m", "wattbit.api.worker", "--run", run_id, "--dir", str(out)],
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.children[run_id] = proc
        with self.sessions() as db:
            db.execute(update(Run).where(Run.id == run_id, Run.state == "starting").values(worker_pid=proc.pid))
            db.commit()
        log.info("run %s: worker pid %d", run_id, proc.pid)

    def _publish_changes(self) -> None:
        if self.publish is None:
            return
        with self.sessions() as db:
            changed = list(db.scalars(select(Run).where(Run.updated_s > self.last_seen).order_by(Run.updated_s)))
        for r in changed:
            self.last_seen = max(self.last_seen, r.updated_s)
            self.publish("run", run_dict(r))


def is_final(state: str) -> bool:
    """Whether a run in ``state`` is over."""
    return state in FINAL_RUN_STATES
