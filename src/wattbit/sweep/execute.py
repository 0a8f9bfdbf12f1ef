"""``wattbit sweep``: every run of a sweep file on an executor, each run's row kept as it arrives, then a report.

The driver (this process) expands the sweep (:mod:`wattbit.sweep.spec`), sends the runs not yet done to the
executor (:mod:`wattbit.parallel`: local processes by default, a Dask cluster by address), and writes each result
as one Parquet file (:mod:`wattbit.sweep.store`) the moment it arrives. On a Dask cluster a worker that dies
mid-run loses nothing: its run is started again on another worker by the scheduler, and rows already received are
on the driver's disk. ``resume`` continues a sweep in the same folder after a crash or ``kill -9``, running only the
runs that have no row; the sweep's identity (the sweep file and every scenario variant) is kept in
``DIR/.checkpoint/identity.json`` so that a folder is never continued with other inputs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from wattbit.durable import Checkpoint, atomic_write_json, fingerprint
from wattbit.errors import WattbitInputError
from wattbit.parallel import Executor, is_executor, iter_completed, make_executor
from wattbit.report.sweep_report import build_sweep_report
from wattbit.sweep import LOCAL_START_METHOD, WORKER_MODULES
from wattbit.sweep.runs import column_name, run_task
from wattbit.sweep.spec import SPECIAL_AXES, RunTask, SweepFile, expand, load_sweep
from wattbit.sweep.store import done_ids, read_runs, write_row


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did.

    Attributes
    ----------
    runs
        Every run's row (those of earlier, resumed invocations included), in the sweep's order.
    ran, skipped
        Runs done by this invocation, and runs found done already (``resume``).
    wall_s
        Wall time of this invocation [s].
    report
        The HTML report's path.
    """

    runs: pd.DataFrame
    ran: int
    skipped: int
    wall_s: float
    report: Path


def _axis_kind(values: list[Any]) -> Callable[[Any], Any]:
    """How an axis's values are stored, one type per column: numbers as numbers, text as text, else JSON text."""
    if all(isinstance(v, bool) for v in values):
        return bool
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return int
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return float
    if all(isinstance(v, str) for v in values):
        return str
    return lambda v: json.dumps(v, sort_keys=True)


def _identity_row(task: RunTask, order: int, spec: SweepFile, kinds: Mapping[str, Callable[[Any], Any]]) -> dict:
    row: dict[str, Any] = {
        "run_id": task.run_id,
        "run_order": order,
        "sweep": spec.sweep.name,
        "scenario": task.scenario,
        "command": task.command,
    }
    if task.command == "simulate":
        row["policy"] = task.policy
    if task.seed is not None:
        row["seed"] = task.seed
    if "sites" in task.values:
        row["sites"] = ",".join(task.values["sites"])
    for axis, value in task.values.items():
        if axis not in SPECIAL_AXES:
            row[f"axis_{column_name(axis)}"] = kinds[axis](value)
    return row


def _start(spec: SweepFile, tasks: list[RunTask], out_dir: Path, resume: bool) -> set[str]:
    done = done_ids(out_dir)
    if done and not resume:
        raise WattbitInputError(
            f"{out_dir} already holds {len(done)} run(s) of a sweep; add --resume to continue it, or choose another "
            "--out",
            path=out_dir,
        )
    identity = {
        "command": "sweep",
        "sweep": spec.model_dump(mode="json"),
        "variants": fingerprint([[t.run_id, t.raw] for t in tasks]),
    }
    Checkpoint(out_dir, identity).start(resume)
    return done & {t.run_id for t in tasks}


def run_sweep(
    sweep_file: str | Path,
    out_dir: Path,
    executor: str | Mapping[str, Any] | Executor | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SweepOutcome:
    """Run the sweep of ``sweep_file``; write ``out_dir/runs/*.parquet``, ``sweep.json`` and ``report.html``.

    Parameters
    ----------
    sweep_file
        The sweep (:mod:`wattbit.sweep.spec`).
    out_dir
        Output folder.
    executor
        Where runs go (:func:`wattbit.parallel.make_executor`: ``"local"``, ``"serial"``, ``"dask"``, a scheduler
        address ``tcp://host:8786``, or an executor, left open); None means the sweep file's ``[executor]`` table,
        else local processes.
    resume
        Continue the sweep already in ``out_dir``: runs with a row are skipped.
    progress
        Called with (runs done, runs in all) after each run.

    Raises
    ------
    ScenarioError, WattbitInputError
        For a bad sweep file or axis, results in ``out_dir`` without ``resume``, or, with it, results of another
        sweep.
    """
    t0 = time.perf_counter()
    spec, path = load_sweep(sweep_file)
    tasks = expand(spec, path)
    done = _start(spec, tasks, out_dir, resume)
    todo = longest_first([(order, t) for order, t in enumerate(tasks) if t.run_id not in done])
    kinds = {axis: _axis_kind(values) for axis, values in spec.axes.items()}
    chosen = executor if executor is not None else spec.executor
    owned = not is_executor(chosen)
    ex = make_executor(chosen, preload=WORKER_MODULES, start_method=LOCAL_START_METHOD)
    started = datetime.now(UTC)
    try:
        for k, (i, kpis) in enumerate(iter_completed(ex, run_task, [t for _, t in todo]), start=1):
            order, task = todo[i]
            ident = _identity_row(task, order, spec, kinds)
            write_row(out_dir, {**ident, **kpis, **ident})  # identity columns first, and theirs the last word
            if progress is not None:
                progress(len(done) + k, len(tasks))
        where = repr(ex)
    finally:
        if owned:
            ex.close()
    runs = read_runs(out_dir)
    wall_s = time.perf_counter() - t0
    manifest = {
        "sweep": spec.sweep.name,
        "file": str(path),
        "command": spec.sweep.command,
        "runs": len(tasks),
        "ok": int((runs["status"] == "ok").sum()),
        "errors": int((runs["status"] != "ok").sum()),
        "ran_now": len(todo),
        "skipped_done": len(done),
        "executor": where,
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_s": wall_s,
        "axes": {name: list(values) for name, values in spec.axes.items()},
    }
    atomic_write_json(out_dir / "sweep.json", manifest, default=str)
    axes = [_axis_column(a) for a in spec.axes]
    report = build_sweep_report(runs, axes, out_dir / "report.html", spec.sweep.name, manifest)
    return SweepOutcome(runs=runs, ran=len(todo), skipped=len(done), wall_s=wall_s, report=report)


#: Rough cost of a step under each policy relative to ``baseline``: ``greedy`` measured at about 10 times (its site
#: energy model every hour); ``mpc`` solves an LP per decision, ``oracle`` one over the period; a plan is a big LP.
_POLICY_WEIGHT = {"greedy": 10.0, "mpc": 10.0, "oracle": 10.0}
_PLAN_WEIGHT = 100.0


def expected_cost(task: RunTask) -> float:
    """A rough relative cost of ``task``: hours simulated x sites x the policies' weights (1 when unknown).

    Only the order of runs depends on it (:func:`longest_first`), never a result.
    """
    given = task.raw.get("period")
    period: dict[str, Any] = given if isinstance(given, dict) else {}
    try:
        start = _timestamp(task.start if task.start is not None else period.get("start"))
        end = _timestamp(task.end if task.end is not None else period.get("end"))
        hours = max((end - start).total_seconds() / 3600.0, 1.0)
    except (TypeError, ValueError):
        hours = 1.0
    sites = task.raw.get("sites")
    n_sites = len(sites) if isinstance(sites, list) and sites else 1
    if task.command == "plan":
        weight = _PLAN_WEIGHT
    elif task.command == "bench":
        weight = sum(_POLICY_WEIGHT.get(p, 1.0) for p in task.policies) or 1.0
    else:
        weight = _POLICY_WEIGHT.get(task.policy, 1.0)
    return hours * n_sites * weight


def _timestamp(value: Any) -> pd.Timestamp:
    text = str(value)
    if len(text) >= 5 and text[2] == "-" and text[:2].isdigit():  # "MM-DD": a data-year sweep, any one year
        text = f"2001-{text}"
    stamp = pd.Timestamp(text)
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def longest_first(todo: list[tuple[int, RunTask]]) -> list[tuple[int, RunTask]]:
    """``todo`` with the runs expected to take longest first (ties in sweep order), so that the last runs to
    finish are short ones and no worker is left with a long run while the others wait."""
    return sorted(todo, key=lambda item: -expected_cost(item[1]))


def _axis_column(axis: str) -> str:
    return axis if axis in SPECIAL_AXES else f"axis_{column_name(axis)}"
