"""A run's own process: ``python -m wattbit.api.worker --run ID --dir DIR`` with the database URL in
``WATTBIT_SERVICE_DB``.

The service starts one per run, in its own session, so that a run survives a restart (even a ``kill -9``) of the
server that started it: the worker keeps its state in the database, where any server reads it. A thread beats
every second (``heartbeat_s``), writes the latest progress and watches for a cancellation; a run whose heartbeat
stops (its worker crashed, was killed, or the machine restarted) is marked failed by the server and can be
started again. Output goes to ``DIR`` (results, ``report.html``, ``worker.log``).

A worker lowers its own CPU priority (``nice`` +10, ``WATTBIT_WORKER_NICE``): a run is batch work, and the
server that answers the dashboard on the same cores must not wait behind it (docs/benchmarks.md, "Service").
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy import update

from wattbit.api.db import Run, ScenarioRow, make_engine, now_s, sessions
from wattbit.errors import WattbitInputError

log = logging.getLogger("wattbit.api.worker")
#: Seconds between heartbeats (and progress writes).
HEARTBEAT_S = 1.0
#: The worker's log inside its run's folder.
LOG_NAME = "worker.log"
#: Environment variable that carries the database URL (never the command line, where ``ps`` would show a password).
DB_ENV = "WATTBIT_SERVICE_DB"
#: The increment of the worker's nice value (``WATTBIT_WORKER_NICE`` overrides; 0 keeps the server's priority).
NICE_INCREMENT = 10


class _Beat:
    """The heartbeat thread's shared state."""

    def __init__(self) -> None:
        self.progress, self.message = 0.0, "starting"
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def set(self, fraction: float, message: str) -> None:
        with self.lock:
            self.progress, self.message = max(0.0, min(1.0, float(fraction))), message


def _heartbeat(factory: Any, run_id: str, beat: _Beat) -> None:
    while not beat.stop.wait(HEARTBEAT_S):
        with beat.lock:
            progress, message = beat.progress, beat.message
        try:
            with factory() as db:
                t = now_s()
                db.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.state == "running")
                    .values(heartbeat_s=t, updated_s=t, progress=progress, message=message)
                )
                db.commit()
                cancel = db.get(Run, run_id)
                if cancel is not None and cancel.cancel_requested and cancel.state == "running":
                    db.execute(
                        update(Run)
                        .where(Run.id == run_id, Run.state == "running")
                        .values(state="cancelled", finished_s=now_s(), updated_s=now_s(), message="cancelled")
                    )
                    db.commit()
                    log.info("run %s cancelled", run_id)
                    logging.shutdown()
                    os._exit(0)
        except Exception:  # a missed beat is logged; the next one retries
            log.exception("heartbeat failed")


def _clean_out(out: Path) -> None:
    """Empty ``out`` but for the worker's log."""
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir():
        if child.name == LOG_NAME:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def run_worker(db_url: str, run_id: str, out: Path) -> int:
    """Execute run ``run_id``; returns the process's exit status (0 when the run ended in a final state)."""
    from wattbit.api.jobs import execute
    from wattbit.api.scenarios import load_stored

    engine = make_engine(db_url)
    factory = sessions(engine)
    with factory() as db:
        t = now_s()
        claimed = db.execute(
            update(Run)
            .where(Run.id == run_id, Run.state == "starting")
            .values(
                state="running",
                started_s=t,
                heartbeat_s=t,
                updated_s=t,
                worker_pid=os.getpid(),
                worker_host=socket.gethostname(),
                message="starting",
            )
        ).rowcount
        db.commit()
        if claimed != 1:
            log.error("run %s is not waiting to start; nothing to do", run_id)
            return 1
        run = db.get(Run, run_id)
        assert run is not None
        row = db.get(ScenarioRow, run.scenario_id)
        assert row is not None
        kind, params = run.kind, dict(run.params)
        source, filename, text, base = row.source, row.filename, row.toml, row.summary.get("base_dir")
    beat = _Beat()
    thread = threading.Thread(target=_heartbeat, args=(factory, run_id, beat), daemon=True)
    thread.start()
    state, error, result = "failed", None, None
    try:
        _clean_out(out)  # a restarted run starts clean
        scenario = load_stored(source, filename, text, base)
        result = execute(kind, scenario, params, out, beat.set)
        state = "succeeded"
    except WattbitInputError as exc:
        error = str(exc)
        log.error("run %s: %s", run_id, exc)
    except Exception as exc:
        error = f"internal error: {type(exc).__name__}: {exc} (see the run's worker.log)"
        log.error("run %s failed:\n%s", run_id, traceback.format_exc())
    beat.stop.set()
    thread.join()
    with factory() as db:
        t = now_s()
        db.execute(
            update(Run)
            .where(Run.id == run_id, Run.state == "running")
            .values(
                state=state,
                error=error,
                result=result,
                finished_s=t,
                updated_s=t,
                heartbeat_s=t,
                progress=1.0 if state == "succeeded" else beat.progress,
                message="done" if state == "succeeded" else "failed",
            )
        )
        db.commit()
    engine.dispose()
    return 0


def lower_priority() -> int:
    """Raise this process's nice value by ``WATTBIT_WORKER_NICE`` (default :data:`NICE_INCREMENT`); the new one."""
    raw = os.environ.get("WATTBIT_WORKER_NICE", str(NICE_INCREMENT))
    try:
        increment = int(raw)
    except ValueError:
        log.warning("WATTBIT_WORKER_NICE=%r is not an integer; using %d", raw, NICE_INCREMENT)
        increment = NICE_INCREMENT
    return os.nice(max(0, increment)) if hasattr(os, "nice") else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser(prog="python -m wattbit.api.worker", description=__doc__)
    parser.add_argument("--run", required=True, help="The run's id.")
    parser.add_argument("--dir", required=True, type=Path, help="Folder of the run's output.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lower_priority()
    url = os.environ.get(DB_ENV)
    if not url:
        parser.error(f"set {DB_ENV} to the service's database URL")
    return run_worker(url, args.run, args.dir)


if __name__ == "__main__":
    sys.exit(main())
