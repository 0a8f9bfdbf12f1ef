"""``wattbit bench``: every policy on the same scenario, seed, workload and failures, side by side.

The workload is the scenario's, less the jobs due after the period ends: those could be left half done by a policy
that defers work, which would lower its carbon by doing less. With only jobs due inside the period, a policy that
meets its deadlines does the same work as every other, and the figures compare like with like (the number of jobs
left out is reported). The offline optimum's own plan is reported as ``oracle_bound`` beside what following it
achieves in the engine (``oracle``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattbit.control import POLICY_NAMES, make_policy
from wattbit.errors import WattbitInputError
from wattbit.report.html import Section, figure_html, table_html, write_page
from wattbit.scenario import Scenario
from wattbit.sim.run import SimInputs, SimResult, collect, json_safe, make_engine, prepare

#: Summary keys shown in the comparison table, with their labels and decimals.
TABLE = (
    ("carbon_t", "carbon [t]", 1),
    ("energy_cost", "energy cost [M]", 2),
    ("energy_grid_mwh", "grid [MWh]", 0),
    ("curtailment_absorbed_mwh", "curtailment absorbed [MWh]", 1),
    ("clean_energy_share_hourly", "hourly CFE share", 3),
    ("pue", "PUE", 3),
    ("gpu_hours_served", "GPU-h served", 0),
    ("gpu_hours_unfinished", "GPU-h unfinished", 0),
    ("deadline_misses", "deadline misses", 0),
    ("slo_attainment", "inference SLO", 4),
    ("job_pauses", "pauses", 0),
    ("job_migrations", "migrations", 0),
    ("wall_seconds", "wall [s]", 1),
)


def due_in_period(inputs: SimInputs) -> tuple[SimInputs, int]:
    """``inputs`` without the jobs due after the period; returns them and how many were left out."""
    jobs = inputs.jobs
    end = inputs.fleet.index[-1].tz_convert("UTC").tz_localize(None).to_datetime64() + np.timedelta64(
        int(inputs.fleet.step_h * 3600), "s"
    )
    keep = ~np.isnat(jobs.deadline_utc) & (jobs.deadline_utc <= end)
    if keep.all():
        return inputs, 0
    return replace(inputs, jobs=jobs.select(np.flatnonzero(keep))), int((~keep).sum())


def run_policy(
    inputs: SimInputs, name: str, progress: Callable[[int], None] | None = None
) -> tuple[SimResult, dict[str, Any]]:
    """Simulate ``inputs`` under policy ``name``; returns the result and the policy's own statistics."""
    t0 = time.perf_counter()
    policy = make_policy(name, inputs)
    engine = make_engine(inputs, policy)
    engine.run(progress)
    result = collect(inputs, engine, name, t0)
    extra: dict[str, Any] = {}
    seconds = getattr(policy, "decision_seconds", None)
    if seconds:
        ms = np.asarray(seconds) * 1000.0
        extra["decision_ms_p50"], extra["decision_ms_p99"], extra["decision_ms_max"] = (
            float(np.percentile(ms, 50)),
            float(np.percentile(ms, 99)),
            float(ms.max()),
        )
    bound = getattr(policy, "bound", None)
    if bound is not None:
        extra["bound"] = dict(bound)
    return result, extra


def run_bench(
    scenario: Scenario,
    out: Path,
    policies: Sequence[str] = POLICY_NAMES,
    seed: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``policies`` on ``scenario``; writes ``out/bench.json``, ``out/bench.html`` and per-policy summaries."""
    unknown = [p for p in policies if p not in POLICY_NAMES]
    if unknown:
        raise WattbitInputError(f"unknown policies {unknown}; known: {', '.join(POLICY_NAMES)}", field="policies")
    inputs, dropped = due_in_period(prepare(scenario, seed=seed))
    results: dict[str, SimResult] = {}
    bench: dict[str, Any] = {
        "scenario": scenario.name,
        "period": [scenario.period.start.isoformat(), scenario.period.end.isoformat()],
        "seed": inputs.seed,
        "jobs": len(inputs.jobs),
        "jobs_due_after_period_left_out": dropped,
        "policies": {},
    }
    for name in policies:
        cb = (lambda k, n=name: progress(n, k)) if progress is not None else None
        result, extra = run_policy(inputs, name, cb)
        results[name] = result
        bench["policies"][name] = {**result.summary, **{k: v for k, v in extra.items() if k != "bound"}}
        if "bound" in extra:
            bench["oracle_bound"] = extra["bound"]
    base = bench["policies"].get("baseline")
    if base is not None:
        for s in bench["policies"].values():
            s["carbon_reduction_t"] = base["carbon_t"] - s["carbon_t"]
        if "oracle_bound" in bench:
            bench["oracle_bound"]["carbon_reduction_t"] = base["carbon_t"] - bench["oracle_bound"]["carbon_t"]
        best = bench.get("oracle_bound", {}).get("carbon_reduction_t")
        if "mpc" in bench["policies"] and best and best > 0:
            bench["mpc_share_of_oracle_bound_reduction"] = bench["policies"]["mpc"]["carbon_reduction_t"] / best
        if "mpc" in bench["policies"] and "oracle" in bench["policies"]:
            achieved = bench["policies"]["oracle"]["carbon_reduction_t"]
            if achieved > 0:
                bench["mpc_share_of_oracle_reduction"] = bench["policies"]["mpc"]["carbon_reduction_t"] / achieved
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(json_safe(bench), indent=2) + "\n", encoding="utf-8")
    write_page(
        out / "bench.html",
        f"wattbit bench: {scenario.name}",
        f"{len(policies)} policies, same workload, failures and seed ({inputs.seed})",
        bench_sections(bench, results, scenario.period.timezone),
    )
    return bench


def comparison_table(bench: dict[str, Any]) -> str:
    """The per-policy table (and the oracle's bound) as HTML."""
    rows: list[list[object]] = []
    for name, s in bench["policies"].items():
        rows.append([name] + [_cell(s.get(key), key) for key, _, _ in TABLE])
    if "oracle_bound" in bench:
        b = bench["oracle_bound"]
        rows.append(
            ["oracle_bound (plan, a bound)"] + [_cell(b.get(key), key) if key in b else "" for key, _, _ in TABLE]
        )
    return table_html(["policy"] + [label for _, label, _ in TABLE], rows, 2)


def _cell(value: Any, key: str) -> object:
    if value is None:
        return ""
    if key == "energy_cost":
        return float(value) / 1e6
    return value


def bench_sections(bench: dict[str, Any], results: dict[str, SimResult], tz: str) -> list[Section]:
    """Report sections: the comparison table, carbon and cost bars, and daily grid import per policy."""
    names = list(bench["policies"])
    notes = (
        f'<p class="note">Workload: {bench["jobs"]:,} jobs due inside the period '
        f"({bench['jobs_due_after_period_left_out']:,} due later left out, so every policy does the same work). "
        "<b>oracle</b> follows the offline optimum with perfect knowledge; <b>oracle_bound</b> is that optimum's own "
        "plan, a relaxation (fluid gangs, no failures or overheads, each slot's best signals), so no policy can beat "
        "it. Energy cost in millions of the scenario's currency.</p>"
    )
    if "mpc_share_of_oracle_bound_reduction" in bench:
        notes += (
            f'<p class="note">mpc achieves {bench["mpc_share_of_oracle_bound_reduction"]:.1%} of the bound\'s carbon '
            "reduction relative to baseline"
            + (
                f" and {bench['mpc_share_of_oracle_reduction']:.1%} of the oracle's achieved reduction."
                if "mpc_share_of_oracle_reduction" in bench
                else "."
            )
            + "</p>"
        )
    carbon = go.Figure(go.Bar(x=names, y=[bench["policies"][n]["carbon_t"] for n in names], name="carbon"))
    if "oracle_bound" in bench:
        carbon.add_trace(go.Bar(x=["oracle_bound"], y=[bench["oracle_bound"]["carbon_t"]], name="bound"))
    carbon.update_layout(title="Carbon [t CO2]", showlegend=False, height=320)
    daily = go.Figure()
    for name, result in results.items():
        ts = result.timeseries
        total = ts.groupby("time_utc", observed=True)["grid_w"].sum()
        idx = pd.DatetimeIndex(total.index).tz_convert(tz) if pd.DatetimeIndex(total.index).tz else total.index
        by_day = pd.Series(total.to_numpy() / 1e6, index=idx).resample("1D").mean()
        daily.add_trace(go.Scatter(x=by_day.index, y=by_day.to_numpy(), name=name, mode="lines"))
    daily.update_layout(title="Daily mean grid import [MW]", height=360)
    return [
        Section("Policy comparison", comparison_table(bench) + notes, id="bench"),
        Section("Carbon by policy", figure_html(carbon) + figure_html(daily), id="bench-plots"),
    ]
