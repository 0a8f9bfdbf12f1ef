"""One run of a sweep, as a worker runs it: the scenario variant built and validated, the command run, its KPIs
flattened to one row of numbers and labels.

A run that fails (a value the schema refuses, an infeasible plan, a bug) gives a row with ``status = "error"`` and
the message, and the sweep goes on: one bad combination does not cost the others.
"""

from __future__ import annotations

import os
import re
import socket
import time
from typing import Any

from wattbit.control.bench import compare_policies, simulate_policy
from wattbit.data import cache
from wattbit.scenario import Scenario, scenario_from_dict, with_period
from wattbit.sweep.spec import RunTask

#: KPI keys of a run's summary that measure the machine, not the run (kept, but apart from the KPIs).
WALL_CLOCK_KEYS = ("wall_seconds", "decision_ms_p50", "decision_ms_p99", "decision_ms_max")
#: Columns of a row that say where and when the run ran, and how long it took (not results of the run).
MACHINE_COLUMNS = ("run_seconds", "run_started_unix_s", "worker", *WALL_CLOCK_KEYS)
_NOT_NAME = re.compile(r"[^a-z0-9_]+")
_MONTH_DAY = re.compile(r"^\d{2}-\d{2}(?:$|T)")
#: Deepest nesting of a summary flattened into columns (``pue_by_site.ishikari`` -> ``pue_by_site__ishikari``).
_MAX_DEPTH = 2


def column_name(text: str) -> str:
    """A name DuckDB takes without quotes: lower case, ``[a-z0-9_]``, not starting with a digit."""
    name = _NOT_NAME.sub("_", text.lower()).strip("_") or "x"
    return f"_{name}" if name[0].isdigit() else name


def flatten(summary: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, float | int | str]:
    """The numbers, flags and labels of a (nested) summary as flat columns joined by ``__``; lists are dropped
    (per-class breakdowns belong in the run's own files, not in a comparison row)."""
    out: dict[str, float | int | str] = {}
    for key, value in summary.items():
        name = column_name(f"{prefix}{key}")
        if isinstance(value, bool):
            out[name] = int(value)
        elif isinstance(value, int | float):
            out[name] = value
        elif isinstance(value, str) and depth == 0:
            out[name] = value
        elif isinstance(value, dict) and depth < _MAX_DEPTH:
            out.update(flatten(value, f"{name}__", depth + 1))
    return out


def scenario_of(task: RunTask) -> Scenario:
    """The run's scenario, validated, over the sweep's sub-period (``MM-DD`` dates in the scenario's own year).

    Raises
    ------
    ScenarioError
        If a value of the run makes the scenario invalid (the message names the field).
    """
    sc = scenario_from_dict(task.raw, task.path)
    year = sc.period.start.year
    return with_period(sc, _in_year(task.start, year), _in_year(task.end, year))


def _in_year(when: str | None, year: int) -> str | None:
    """``MM-DD[THH:MM]`` in ``year`` (each data year's scenario its own year); a full date as it is."""
    return f"{year}-{when}" if when is not None and _MONTH_DAY.match(when) else when


def _kpis(task: RunTask) -> dict[str, Any]:
    sc = scenario_of(task)
    if task.command == "simulate":
        return flatten(simulate_policy(sc, task.policy, task.seed).summary)
    if task.command == "bench":
        bench, _ = compare_policies(sc, task.policies, task.seed)
        row = flatten({k: v for k, v in bench.items() if k != "policies"})
        for name, summary in bench["policies"].items():
            row.update(flatten(summary, f"{name}__"))
        return row
    from wattbit.plan.planner import plan, plan_summary  # linopy and the solver only where a run plans

    summary = plan_summary(plan(sc))
    summary.pop("solver", None)  # solver timings and options
    return flatten(summary)


def run_task(task: RunTask) -> dict[str, Any]:
    """Run ``task`` and return its KPIs with ``status`` (``ok`` or ``error``), ``error`` (the message, or empty),
    ``run_seconds`` (wall time on the worker), ``run_started_unix_s`` and ``worker`` (``host:pid``). Runs in a worker
    process: picklable in, plain values out.

    Data files are parsed once per worker process (:mod:`wattbit.data.cache`): the runs of a sweep mostly read the
    same files (each scenario's data year), and a file changed on disk is read again.
    """
    cache.enable()
    started = time.time()
    t0 = time.perf_counter()
    try:
        row: dict[str, Any] = {"status": "ok", "error": "", **_kpis(task)}
    except Exception as exc:  # any failure of one run is that run's row, not the sweep's end
        row = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    row["run_seconds"] = time.perf_counter() - t0
    row["run_started_unix_s"] = started
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return row
