"""What a run does: ``simulate``, ``bench`` or ``plan`` (with Monte Carlo) on a scenario, writing its files and its
HTML report to a folder. The same public functions the CLI calls; nothing here knows about the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wattbit.scenario import Scenario, with_period

#: ``progress(fraction, message)``.
Progress = Callable[[float, str], None]
RUN_KINDS = ("simulate", "bench", "plan")
#: Up to this many Monte Carlo draws run in the worker itself: a draw of a plan costs milliseconds, a process pool
#: seconds of start-up (each process imports wattbit) on the cores the server shares.
SERIAL_DRAWS = 16


def execute(kind: str, scenario: Scenario, params: dict[str, Any], out: Path, progress: Progress) -> dict[str, Any]:
    """Run ``kind`` on ``scenario`` with ``params`` (see :class:`wattbit.api.runs.RunRequest`); write to ``out``.

    Returns
    -------
    dict
        The run's headline figures (JSON-ready): the summary of ``simulate``, the per-policy table of ``bench``, the
        plan's summary (with P10/P50/P90 when there were draws).
    """
    out.mkdir(parents=True, exist_ok=True)
    if kind == "simulate":
        return _simulate(scenario, params, out, progress)
    if kind == "bench":
        return _bench(scenario, params, out, progress)
    if kind == "plan":
        return _plan(scenario, params, out, progress)
    raise ValueError(f"unknown run kind {kind!r}")


def _simulate(scenario: Scenario, params: dict[str, Any], out: Path, progress: Progress) -> dict[str, Any]:
    from wattbit.control.bench import simulate_policy
    from wattbit.control.history import window_history
    from wattbit.physics.carbon import carbon_accounting_label
    from wattbit.report.html import write_page
    from wattbit.report.sim_report import simulation_sections
    from wattbit.sim.run import json_safe, write_result

    sc = with_period(scenario, params.get("start"), params.get("end"))
    steps = len(sc.period.index_utc())
    policy = params.get("policy", "baseline")
    progress(0.0, f"simulating {steps:,} steps under {policy}")
    result = simulate_policy(
        sc,
        policy,
        params.get("seed"),
        progress=lambda k: progress((k + 1) / steps, f"step {k + 1:,} of {steps:,}"),
        history=window_history(scenario, sc) if policy == "mpc" else None,  # as `wattbit simulate --start` gives
    )
    write_result(result, out)
    step_h = sc.period.step_timedelta.total_seconds() / 3600
    carbon = carbon_accounting_label(s.data.carbon.basis for s in sc.sites)
    p = sc.period
    write_page(
        out / "report.html",
        f"wattbit simulate: {sc.name} ({policy})",
        f"{p.start:%Y-%m-%d %H:%M} to {p.end:%Y-%m-%d %H:%M} ({p.timezone}), step {p.step}.",
        simulation_sections(result, step_h, p.timezone, carbon),
    )
    keep = (
        "policy",
        "seed",
        "pue",
        "carbon_t",
        "energy_cost",
        "energy_grid_mwh",
        "energy_facility_mwh",
        "gpu_utilization",
        "deadline_misses",
        "slo_attainment",
        "curtailment_absorbed_mwh",
        "wall_seconds",
        "currency",
    )
    out_summary: dict[str, Any] = json_safe({k: result.summary.get(k) for k in keep})
    return out_summary


def _bench(scenario: Scenario, params: dict[str, Any], out: Path, progress: Progress) -> dict[str, Any]:
    from wattbit.control import POLICY_NAMES
    from wattbit.control.history import window_history
    from wattbit.report.bench_report import run_bench
    from wattbit.sim.run import json_safe

    sc = with_period(scenario, params.get("start"), params.get("end"))
    names = list(params.get("policies") or POLICY_NAMES)
    steps = len(sc.period.index_utc())
    total = steps * len(names)

    def on_step(name: str, k: int) -> None:
        done = names.index(name) * steps + k + 1
        progress(done / total, f"{name}: step {k + 1:,} of {steps:,}")

    progress(0.0, f"comparing {', '.join(names)} over {steps:,} steps")
    history = window_history(scenario, sc) if "mpc" in names else None  # as `wattbit bench --start` gives
    bench = run_bench(sc, out, names, params.get("seed"), progress=on_step, history=history)
    keys = ("carbon_t", "energy_cost", "carbon_reduction_t", "deadline_misses", "slo_attainment", "wall_seconds")
    table = {n: {k: s.get(k) for k in keys} for n, s in bench["policies"].items()}
    result: dict[str, Any] = json_safe({"policies": table, "jobs": bench["jobs"]})
    return result


def _plan(scenario: Scenario, params: dict[str, Any], out: Path, progress: Progress) -> dict[str, Any]:
    from wattbit.plan.planner import plan, plan_summary, write_plan
    from wattbit.plan.uncertainty import plan_monte_carlo, uncertainty_summary
    from wattbit.report.plan_report import build_plan_report
    from wattbit.sim.run import json_safe

    draws = int(params.get("draws", 0))
    progress(0.02, "building and solving the capacity programme")
    result = plan(scenario)
    progress(0.6, f"plan solved; {draws} Monte Carlo draws" if draws else "plan solved; writing the report")
    executor = params.get("executor") or ("serial" if draws <= SERIAL_DRAWS else "local")
    mc = plan_monte_carlo(result, draws, params.get("seed") or 0, executor) if draws else None
    progress(0.9, "writing the plan and its report")
    write_plan(result, out, mc)
    build_plan_report(result, out, mc)
    summary = plan_summary(result)
    head: dict[str, Any] = {k: summary[k] for k in ("objective", "figures") if k in summary}
    if mc is not None:
        head["uncertainty"] = uncertainty_summary(mc, result)
    out_summary: dict[str, Any] = json_safe(head)
    return out_summary
