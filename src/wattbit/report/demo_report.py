"""The ``wattbit demo`` run: the built-in japan-2022 scenario's data, a year simulated under its policy and every
policy compared on two spring weeks, in one report (``DIR/report.html``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattbit.control import POLICY_NAMES, make_policy
from wattbit.control.history import window_history
from wattbit.physics.carbon import carbon_accounting_label
from wattbit.report.bench_report import comparison_table, run_bench
from wattbit.report.html import Section
from wattbit.report.signals_report import build_data_report
from wattbit.report.sim_report import simulation_sections
from wattbit.scenario import load_scenario, with_period
from wattbit.sim.run import SimResult, simulate, write_result

#: The built-in scenario the demo runs.
DEMO_SCENARIO = "japan-2022"
#: The demo compares policies over these two weeks of japan-2022 (Tohoku curtails solar most in spring).
DEMO_BENCH_WINDOW = ("2022-04-10", "2022-04-24")

#: ``progress(task, steps_done, steps)``: how far each task of the run has gone, for a progress bar.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoRun:
    """What :func:`run_demo` computed and wrote.

    Attributes
    ----------
    simulation
        The year simulated under the scenario's policy (also in ``DIR/simulate/``).
    sites
        Each site's data summary (carbon, prices, curtailment, weather; ``DIR/summary.json``).
    bench
        The policy comparison over :data:`DEMO_BENCH_WINDOW` (``DIR/bench/bench.json``).
    report
        The report, ``DIR/report.html``.
    """

    simulation: SimResult
    sites: dict[str, dict[str, float]]
    bench: dict[str, Any]
    report: Path


def run_demo(out: Path, progress: Progress | None = None) -> DemoRun:
    """Run the main job on the built-in japan-2022 scenario and write its report to ``out``.

    Simulates the year under the scenario's policy (``out/simulate/``), compares every policy over
    :data:`DEMO_BENCH_WINDOW` on the same jobs, failures and seed (``out/bench/``), and writes the data report with
    the simulation and the comparison added (``out/report.html``, ``out/summary.json``, ``out/signals.parquet``,
    ``out/provenance.json``).

    Parameters
    ----------
    out
        Folder to write to.
    progress
        Called as ``progress(task, steps_done, steps)`` while the simulations run.

    Returns
    -------
    DemoRun
        The simulation, the per-site data summary, the comparison and the report's path.
    """
    scenario = load_scenario(DEMO_SCENARIO)
    policy = make_policy(scenario.policy.name)
    steps = len(scenario.period.index_utc())
    task = f"simulating {scenario.name} ({policy.name})"
    result = simulate(scenario, policy, progress=_one_task(progress, task, steps))
    write_result(result, out / "simulate")
    step_h = scenario.period.step_timedelta.total_seconds() / 3600
    carbon = carbon_accounting_label(s.data.carbon.basis for s in scenario.sites)
    sections = simulation_sections(result, step_h, scenario.period.timezone, carbon)
    # the policy comparison on two weeks of the spring curtailment season (the full year: wattbit bench japan-2022)
    window = with_period(scenario, DEMO_BENCH_WINDOW[0], DEMO_BENCH_WINDOW[1])
    window_steps = len(window.period.index_utc())
    compared = run_bench(
        window,
        out / "bench",
        POLICY_NAMES,
        progress=_task_per_policy(progress, "comparing policies: ", window_steps),
        history=window_history(scenario, window),  # mpc forecasts from the weeks before, as in service
    )
    sections.append(bench_section(compared))
    sites = build_data_report(scenario, out, sections)
    return DemoRun(simulation=result, sites=sites, bench=compared, report=out / "report.html")


def bench_section(bench: dict[str, Any]) -> Section:
    """The report's section on the policy comparison over :data:`DEMO_BENCH_WINDOW`."""
    return Section(
        f"Policy comparison, {DEMO_BENCH_WINDOW[0]} to {DEMO_BENCH_WINDOW[1]}",
        comparison_table(bench)
        + '<p class="note">Two weeks of the spring curtailment season, every policy on the same jobs, failures '
        "and seed (full report: bench/bench.html; the whole year: <code>wattbit bench japan-2022</code>). "
        "oracle_bound is the offline optimum's own plan, a bound no policy can beat.</p>",
        id="bench",
    )


def _one_task(progress: Progress | None, task: str, steps: int) -> Callable[[int], None] | None:
    """The engine's ``progress(k)`` (step ``k`` done) as a :data:`Progress` of one task."""
    if progress is None:
        return None
    return lambda k: progress(task, k + 1, steps)


def _task_per_policy(progress: Progress | None, prefix: str, steps: int) -> Callable[[str, int], None] | None:
    """The comparison's ``progress(policy, k)`` as a :data:`Progress` with a task per policy, ``prefix + policy``."""
    if progress is None:
        return None
    return lambda name, k: progress(prefix + name, k + 1, steps)
