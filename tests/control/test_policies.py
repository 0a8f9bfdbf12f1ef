"""greedy, mpc and oracle in the engine: the bound holds, limits and deadlines hold, no policy reads the future."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.sim.test_engine import NO_FAULTS, _scenario
from wattbit.cli import app
from wattbit.control import make_policy
from wattbit.control.bench import due_in_period, policy_statistics, run_policy, simulate_policy
from wattbit.control.mpc import MPCConfig
from wattbit.control.oracle import OracleConfig
from wattbit.opt import DispatchWeights
from wattbit.sim.run import SimInputs, collect, make_engine, prepare


@pytest.fixture(scope="module")
def two_days() -> SimInputs:
    inputs, _ = due_in_period(prepare(_scenario(days=2, step="15min")))
    return inputs


@pytest.fixture(scope="module")
def two_days_no_faults() -> SimInputs:
    inputs, _ = due_in_period(prepare(_scenario(days=2, step="15min"), failure_rates=NO_FAULTS))
    return inputs


def test_oracle_bound_is_never_beaten(two_days: SimInputs) -> None:
    carbon_only = OracleConfig(weights=DispatchWeights(carbon_per_t=1.0, curtailment_per_mwh=0.0))
    oracle = make_policy("oracle", two_days, config=carbon_only)
    bound = oracle.bound["carbon_t"]  # type: ignore[attr-defined]
    results = {name: run_policy(two_days, name)[0].summary for name in ("baseline", "greedy", "mpc", "oracle")}
    for name, s in results.items():
        assert bound <= s["carbon_t"], name
    assert results["mpc"]["carbon_t"] < results["baseline"]["carbon_t"]


@pytest.mark.parametrize("name", ["greedy", "mpc", "oracle"])
def test_limits_and_deadlines_hold(two_days_no_faults: SimInputs, name: str) -> None:
    result, _ = run_policy(two_days_no_faults, name)
    s, ts = result.summary, result.timeseries
    assert s["deadline_misses"] == 0
    assert s["gpu_hours_unfinished"] == pytest.approx(0.0, abs=1e-6)  # every job due in the period is done
    assert s["slo_attainment"] == pytest.approx(1.0)
    assert (ts["busy_gpus"] + ts["inference_gpus"] <= ts["available_gpus"]).all()
    limit = dict(zip(two_days_no_faults.fleet.names, two_days_no_faults.fleet.grid_limit_w, strict=True))
    assert (ts["grid_w"] <= ts["site"].map(limit).astype(float) * (1 + 1e-9)).all()
    parts = ts["it_w"] + ts["cooling_w"] + ts["losses_w"] + ts["misc_w"]
    np.testing.assert_allclose(parts, ts["facility_w"], rtol=1e-9)


@pytest.mark.parametrize("name", ["greedy", "mpc"])
def test_decisions_do_not_depend_on_the_future(two_days_no_faults: SimInputs, name: str) -> None:
    cut = 96  # one day of 15-minute steps
    altered = copy.deepcopy(two_days_no_faults)
    f = altered.fleet
    f.carbon_g_per_kwh[cut:, 0] *= 3.0  # the cleanest site becomes the dirtiest
    f.price_jpy_per_mwh[cut:] *= 2.0
    f.pv_w[cut:] = 0.0
    f.temp_db_c[cut:] += 10.0
    runs = []
    for inputs in (two_days_no_faults, altered):
        engine = make_engine(inputs, make_policy(name, inputs))
        engine.run()
        runs.append(engine.rec)
    a, b = runs
    np.testing.assert_array_equal(a.busy_gpus[:cut], b.busy_gpus[:cut])
    np.testing.assert_array_equal(a.gpu_cap_w[:cut], b.gpu_cap_w[:cut])
    np.testing.assert_array_equal(a.battery_mw[:cut], b.battery_mw[:cut])
    assert not np.array_equal(a.busy_gpus[cut:], b.busy_gpus[cut:])  # the change matters once it is the past


def test_oracle_needs_the_run_inputs() -> None:
    from wattbit.errors import WattbitInputError

    with pytest.raises(WattbitInputError, match="oracle policy needs the run's inputs"):
        make_policy("oracle")


def test_bench_command_writes_the_comparison(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    r = CliRunner().invoke(
        app, ["bench", "japan-2022", "--start", "2022-04-12", "--end", "2022-04-13", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    bench = json.loads((out / "bench.json").read_text())
    assert set(bench["policies"]) == {"baseline", "greedy", "mpc", "oracle"}
    for s in bench["policies"].values():
        for key in ("carbon_t", "energy_cost", "curtailment_absorbed_mwh", "deadline_misses", "slo_attainment"):
            assert key in s
    assert bench["oracle_bound"]["carbon_t"] <= min(s["carbon_t"] for s in bench["policies"].values())
    assert (out / "bench.html").read_text().count("<table") >= 1
    assert "oracle_bound" in r.output


def test_bench_period_outside_the_scenario_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["bench", "japan-2022", "--start", "2021-12-01", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "outside the scenario's" in r.output


def test_collect_is_the_summary_of_simulate(two_days_no_faults: SimInputs) -> None:
    engine = make_engine(two_days_no_faults, make_policy("baseline"))
    engine.run()
    s = collect(two_days_no_faults, engine, "baseline").summary
    assert s["policy"] == "baseline" and s["deadline_misses"] == 0


def test_simulate_policy_adds_the_policy_statistics_and_the_bound() -> None:
    sc = _scenario(days=1, step="1h")
    oracle = simulate_policy(sc, "oracle", seed=5).summary
    assert oracle["policy"] == "oracle" and oracle["seed"] == 5
    assert "bound" not in oracle and oracle["oracle_bound"]["carbon_t"] <= oracle["carbon_t"]
    mpc = simulate_policy(sc, "mpc", seed=5).summary
    assert mpc["decision_ms_p50"] <= mpc["decision_ms_p99"] <= mpc["decision_ms_max"]
    assert "oracle_bound" not in mpc and "decision_ms_p50" not in oracle
    assert mpc["plans_failed"] == 0 and "plans_failed" not in oracle


def test_plans_cut_off_by_the_time_limit_are_counted(two_days_no_faults: SimInputs) -> None:
    inputs = copy.deepcopy(two_days_no_faults)
    policy = make_policy("mpc", inputs, config=MPCConfig(time_limit_s=1e-6))
    engine = make_engine(inputs, policy)
    engine.run()
    stats = policy_statistics(policy)
    # not one plan in a microsecond: with no plan yet mpc tries again every step, and acts as the baseline
    assert stats["plans_failed"] == inputs.fleet.steps


def test_simulate_command_writes_the_run_and_names_an_unknown_policy(tmp_path: Path) -> None:
    args = ["simulate", "japan-2022", "--start", "2022-04-12", "--end", "2022-04-13", "--out", str(tmp_path)]
    r = CliRunner().invoke(app, [*args, "--policy", "greedy"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["policy"] == "greedy" and f"carbon_t: {summary['carbon_t']:,.3f}" in r.output
    assert (tmp_path / "timeseries.parquet").stat().st_size > 0
    r = CliRunner().invoke(app, [*args, "--policy", "magic"])
    assert r.exit_code == 2
    assert "unknown policy 'magic'; known policies: baseline, greedy, mpc, oracle" in r.output


def test_mpc_plans_for_the_work_expected_to_arrive(two_days_no_faults: SimInputs) -> None:
    inputs = two_days_no_faults
    runs = {}
    for arrivals in (False, True):
        policy = make_policy("mpc", inputs, config=MPCConfig(arrivals=arrivals))
        engine = make_engine(inputs, policy)
        for _ in range(30 * 4):  # 30 hours: more than a day of arrivals logged
            engine.advance(policy.decide(engine.observe()))
        obs = engine.observe()
        plan_in, slot_steps = policy.plan_inputs(obs)  # type: ignore[attr-defined]
        runs[arrivals] = (policy, obs, plan_in.work, slot_steps)
    assert not np.any(runs[False][2].first_slot > 0)  # without: only the jobs seen, all ready now
    policy, obs, work, slot_steps = runs[True]
    n_slots = plan_in.gpus_available.shape[0]
    later = (work.first_slot > 0) & (work.end_slot == work.first_slot + 1) & work.required
    expected = policy._incoming.ahead_gpu_h(obs.step, n_slots, slot_steps, 96)  # type: ignore[attr-defined]
    assert expected[1:].sum() > 0
    got = np.zeros(n_slots)
    np.add.at(got, work.first_slot[later], work.work_gpu_h[later])
    np.testing.assert_allclose(got[1:], expected[1:])  # each slot's expected arrivals, served in that slot
