"""Pausing, resuming and migrating jobs, the stepping API, and failure counts through the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.sim.test_engine import NO_FAULTS, T0, _jobs, _scenario
from wattbit.control import make_policy
from wattbit.sim.engine import MIGRATION_LINK_GBPS, Engine
from wattbit.sim.faults import FailureRates
from wattbit.sim.fleet import build_fleet
from wattbit.sim.policy import Actions, Observation
from wattbit.sim.run import fleet_failures, simulate


class Script:
    """Plays a fixed list of actions per step (and records what it saw)."""

    name = "script"

    def __init__(self, plan: dict[int, Actions]) -> None:
        self.plan = plan
        self.seen: list[Observation] = []

    def decide(self, obs: Observation) -> Actions:
        for view in (obs.queue, obs.running):  # job fields are read while deciding
            for name in view.FIELDS:
                getattr(view, name)
        self.seen.append(obs)
        return self.plan.get(obs.step, Actions())


def _a(**kw: list[int]) -> Actions:
    return Actions(**{k: np.asarray(v, dtype=np.int64) for k, v in kw.items()})


def _finish_h(result) -> pd.Series:
    return (result.jobs["finish_utc"] - T0).dt.total_seconds() / 3600


def _one_job(data_gb: float = 0.0, pausable: bool = True, migratable: bool = True):
    jobs = _jobs([512], [5.0], [0], [None])
    jobs.data_size_gb[:] = data_gb
    jobs.pausable[:] = pausable
    jobs.migratable[:] = migratable
    jobs.checkpoint_cost_h[:] = 0.0  # no periodic checkpoint overhead: hand arithmetic stays simple
    return jobs


def test_pause_and_resume_cost_a_checkpoint_and_a_restart() -> None:
    sc = _scenario(inference=False)  # 1-hour steps
    jobs = _one_job()
    jobs.checkpoint_cost_h[:] = 0.0
    # the pause checkpoint is charged at checkpoint_cost_h; make it visible without periodic overhead
    policy = Script({0: _a(start_job=[0], start_site=[0]), 2: _a(pause_job=[0]), 4: _a(start_job=[0], start_site=[0])})
    r = simulate(sc, policy, jobs=jobs, failure_rates=NO_FAULTS)
    # ran steps 0-1 (2 h of work), paused steps 2-3, resumed at step 4 paying restart 0.1 h, then 3 h of work left
    assert _finish_h(r).iloc[0] == pytest.approx(4 + 0.1 + 3.0)
    assert r.jobs["pauses"].iloc[0] == 1 and r.jobs["migrations"].iloc[0] == 0
    assert r.jobs["overhead_h"].iloc[0] == pytest.approx(0.1)
    assert r.jobs["lost_h"].iloc[0] == 0.0
    assert r.summary["gpu_hours_overhead"] == pytest.approx(512 * 0.1)
    busy = r.timeseries[r.timeseries["site"] == "fukushima"]["busy_gpus"].to_numpy()
    np.testing.assert_array_equal(busy[:9], [512, 512, 0, 0, 512, 512, 512, 512, 0])


def test_migration_moves_the_gang_and_pays_the_transfer() -> None:
    sc = _scenario(inference=False)
    data_gb = 9_000.0  # 9 TB over 100 Gbit/s: 720 s = 0.2 h
    jobs = _one_job(data_gb=data_gb)
    policy = Script({0: _a(start_job=[0], start_site=[0]), 2: _a(migrate_job=[0], migrate_site=[1])})
    r = simulate(sc, policy, jobs=jobs, failure_rates=NO_FAULTS)
    transfer_h = data_gb * 8 / MIGRATION_LINK_GBPS / 3600
    assert transfer_h == pytest.approx(0.2)
    # 2 h at site 0, then at step 2 on site 1: restart 0.1 h + transfer 0.2 h, then the 3 h left
    assert _finish_h(r).iloc[0] == pytest.approx(2 + 0.1 + 0.2 + 3.0)
    assert r.jobs["site"].iloc[0] == 1 and r.jobs["migrations"].iloc[0] == 1 and r.jobs["pauses"].iloc[0] == 0
    ts = r.timeseries.pivot(index="time_utc", columns="site", values="busy_gpus")
    assert list(ts["fukushima"].iloc[:3]) == [512, 512, 0] and list(ts["ishikari"].iloc[:3]) == [0, 0, 512]
    assert r.summary["job_migrations"] == 1 and r.summary["refused_migrations"] == 0


def test_resuming_elsewhere_after_a_pause_also_moves_the_state() -> None:
    sc = _scenario(inference=False)
    jobs = _one_job(data_gb=9_000.0)
    policy = Script({0: _a(start_job=[0], start_site=[0]), 1: _a(pause_job=[0]), 2: _a(start_job=[0], start_site=[2])})
    r = simulate(sc, policy, jobs=jobs, failure_rates=NO_FAULTS)
    assert _finish_h(r).iloc[0] == pytest.approx(2 + 0.1 + 0.2 + 4.0)
    assert r.jobs["migrations"].iloc[0] == 1 and r.jobs["pauses"].iloc[0] == 1


def test_refusals_are_counted_not_applied() -> None:
    sc = _scenario(inference=False)
    jobs = _one_job(pausable=False, migratable=False)
    policy = Script(
        {
            0: _a(start_job=[0], start_site=[0]),
            1: _a(pause_job=[0], migrate_job=[0], migrate_site=[1]),
            2: _a(start_job=[0], start_site=[1]),  # not queued: refused
        }
    )
    r = simulate(sc, policy, jobs=jobs, failure_rates=NO_FAULTS)
    assert _finish_h(r).iloc[0] == pytest.approx(5.0)
    s = r.summary
    assert (s["refused_pauses"], s["refused_migrations"], s["refused_starts"]) == (1, 1, 1)


def test_non_migratable_job_cannot_resume_away_from_its_state() -> None:
    sc = _scenario(inference=False)
    jobs = _one_job(migratable=False)
    policy = Script({0: _a(start_job=[0], start_site=[0]), 1: _a(pause_job=[0]), 2: _a(start_job=[0], start_site=[1])})
    r = simulate(sc, policy, jobs=jobs, failure_rates=NO_FAULTS)
    assert r.summary["refused_starts"] == 1 and r.jobs["state"].iloc[0] == "queued"


def test_paused_gpus_are_free_for_another_job_in_the_same_step() -> None:
    sc = _scenario(inference=False)
    jobs = _jobs([2048, 2048], [5.0, 1.0], [0, 0], [None, None])
    policy = Script({0: _a(start_job=[0], start_site=[0]), 1: _a(pause_job=[0], start_job=[1], start_site=[0])})
    r = simulate(sc, policy, jobs=jobs, failure_rates=NO_FAULTS)
    assert r.summary["refused_starts"] == 0
    assert r.jobs["first_start_utc"].iloc[1] == T0 + pd.Timedelta(hours=1)


def test_observation_carries_job_details_and_the_past_of_every_signal() -> None:
    sc = _scenario(inference=False)
    jobs = _one_job(data_gb=123.0)
    policy = Script({0: _a(start_job=[0], start_site=[0])})
    simulate(sc, policy, jobs=jobs, failure_rates=NO_FAULTS)
    first, second = policy.seen[0], policy.seen[1]
    assert list(first.queue.job) == [0] and first.queue.data_size_gb[0] == 123.0 and first.queue.site[0] == -1
    assert list(second.running.job) == [0] and second.running.site[0] == 0 and second.running.data_site[0] == 0
    assert second.running.remaining_h[0] == pytest.approx(4.0)
    lazy = Script({})
    simulate(sc, _Lazy(), jobs=jobs, failure_rates=NO_FAULTS)
    del lazy
    for name in (
        "carbon_g_per_kwh",
        "price_jpy_per_mwh",
        "curtailed_mwh",
        "temp_db_c",
        "pv_w",
        "inference_gpus_needed",
    ):
        arr = getattr(second, name)
        assert arr.shape == (2, 3), name
        assert not arr.flags.writeable, name


class _Lazy:
    """Keeps the observation and reads a job field only after the engine has moved on."""

    name = "lazy"

    def __init__(self) -> None:
        self.obs: Observation | None = None

    def decide(self, obs: Observation) -> Actions:
        if self.obs is not None:
            with pytest.raises(RuntimeError, match="after the engine moved on"):
                _ = self.obs.queue.remaining_h
        self.obs = obs
        return Actions()


def test_battery_requests_move_the_state_of_charge_the_policy_sees() -> None:
    sc = _scenario(inference=False)
    ishikari = 1  # 8 MWh / 2 MW battery
    charge = np.array([0.0, -2.0, 0.0])
    policy = Script({0: Actions(battery_mw=charge)})
    simulate(sc, policy, jobs=_one_job(), failure_rates=NO_FAULTS)
    soc0, soc1 = policy.seen[0].battery_soc_mwh, policy.seen[1].battery_soc_mwh
    spec = policy.seen[0].batteries[ishikari]
    assert spec is not None and soc0[ishikari] == pytest.approx(spec.initial_soc_mwh)
    assert soc1[ishikari] == pytest.approx(soc0[ishikari] + 2.0 * spec.charge_efficiency)
    assert soc1[0] == soc0[0] == 0.0


def test_stepping_api_matches_run() -> None:
    sc = _scenario(days=2)
    fleet = build_fleet(sc)
    rng = np.random.default_rng(1)
    jobs = _jobs(rng.integers(1, 900, 40), rng.uniform(0.5, 9, 40), np.sort(rng.uniform(0, 30, 40)), [None] * 40)
    events = fleet_failures(fleet, sc.period, FailureRates.from_dict({"unplanned_per_gpu_day": 0.02}), 4)
    need = np.zeros(fleet.steps)
    a = Engine(fleet, jobs, need, events, make_policy("baseline"), seed=4)
    jrec_a, rec_a = a.run()
    b = Engine(fleet, jobs, need, events, seed=4)
    policy = make_policy("baseline")
    while not b.done:
        obs = b.observe()
        assert b.observe().step == obs.step  # observing twice does not begin the step twice
        b.advance(policy.decide(obs))
    np.testing.assert_array_equal(rec_a.busy_gpus, b.rec.busy_gpus)
    np.testing.assert_array_equal(jrec_a.finish_step, b.jobs_rec.finish_step)
    with pytest.raises(RuntimeError, match="ended"):
        b.observe()


def test_interruptions_follow_the_configured_failure_rate() -> None:
    """A fleet kept full: (nearly) every software failure (no GPU taken out) interrupts one job."""
    sc = _scenario(days=5, inference=False)
    fleet = build_fleet(sc)
    rate = 2e-3  # per GPU-day, ~4x Llama 3
    rates = FailureRates.from_dict(
        {"unplanned_per_gpu_day": rate, "cause_fractions": {"software_bug": 1.0}}
        | {
            "site_events": {
                k: {"rate_per_site_year": 0.0}
                for k in ("cooling_fault", "power_chain_fault", "grid_outage", "natural_disaster")
            }
        }
    )
    # 8-GPU jobs that outlast the period, enough to fill every site all the time
    n = int(fleet.gpus_total.sum() // 8) + 200
    jobs = _jobs([8] * n, [10_000.0] * n, [0] * n, [None] * n)
    counts = []
    for seed in range(3):
        r = simulate(sc, make_policy("baseline"), jobs=jobs, failure_rates=rates, seed=seed)
        assert r.summary["gpu_utilization"] == pytest.approx(1.0, abs=0.01)
        counts.append(r.summary["job_interruptions"])
        # a failed GPU hits a job with probability busy / installed, here about 1 (the grid limit idles a few)
        assert r.summary["job_interruptions"] <= r.summary["failure_events"]
        assert r.summary["job_interruptions"] >= 0.95 * r.summary["failure_events"]
    expected = rate * fleet.gpus_total.sum() * 5
    # the sum of three Poisson counts: within 4 standard deviations of 3x the mean
    assert abs(sum(counts) - 3 * expected) < 4 * np.sqrt(3 * expected)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"duration_h": -1.0}, r"duration_h = -1.0"),
        ({"gpus": 5000}, r"gpus = 5000; expected <= 4096, the GPUs of the largest"),
    ],
)
def test_bad_jobs_are_refused_before_the_run(change: dict[str, float], pattern: str) -> None:
    from wattbit.errors import WattbitInputError

    jobs = _jobs([8, 8], [1.0, 1.0], [0, 1], [None, None])
    for name, value in change.items():
        getattr(jobs, name)[1] = value
    with pytest.raises(WattbitInputError, match=pattern):
        simulate(_scenario(inference=False), make_policy("baseline"), jobs=jobs, failure_rates=NO_FAULTS)


def test_unsorted_jobs_are_refused_before_the_run() -> None:
    from wattbit.errors import WattbitInputError

    jobs = _jobs([8, 8], [1.0, 1.0], [2, 1], [None, None])
    with pytest.raises(WattbitInputError, match=r"submit_utc = .*non-decreasing order"):
        simulate(_scenario(inference=False), make_policy("baseline"), jobs=jobs, failure_rates=NO_FAULTS)


def test_a_job_exempt_from_the_site_cap_runs_at_full_speed_and_power() -> None:
    from wattbit.physics.gpu import get_gpu
    from wattbit.physics.gpu_load import class_throughput_factor

    sc = _scenario(inference=False)
    jobs = _jobs([512, 512], [4.0, 4.0], [0, 0], [None, None])
    jobs.checkpoint_cost_h[:] = 0.0
    cap = np.array([490.0, np.nan, np.nan])  # 70 % of the H100's 700 W at fukushima
    plan = {k: Actions(gpu_cap_w=cap, uncapped_job=np.array([1])) for k in range(24)}
    plan[0] = Actions(
        start_job=np.array([0, 1]), start_site=np.array([0, 0]), gpu_cap_w=cap, uncapped_job=np.array([1])
    )
    r = simulate(sc, Script(plan), jobs=jobs, failure_rates=NO_FAULTS)
    finish = _finish_h(r)
    # the cap slows the job by its power class: a compute phase drawing more than the cap (U: docs/models/gpu.md)
    capped_rate = float(class_throughput_factor(get_gpu("H100-SXM"), 490.0, r.jobs["power_class"].iloc[0]))
    assert finish.iloc[1] == pytest.approx(4.0)  # exempt: full speed
    assert finish.iloc[0] == pytest.approx(4.0 / capped_rate)  # capped
    # power: the exempt gang draws uncapped power, so the site draws more than with both capped
    both = {k: Actions(gpu_cap_w=cap) for k in range(24)}
    both[0] = Actions(start_job=np.array([0, 1]), start_site=np.array([0, 0]), gpu_cap_w=cap)
    r_both = simulate(sc, Script(both), jobs=jobs, failure_rates=NO_FAULTS)
    it = r.timeseries[r.timeseries["site"] == "fukushima"]["it_w"].to_numpy()
    it_both = r_both.timeseries[r_both.timeseries["site"] == "fukushima"]["it_w"].to_numpy()
    assert it[0] > it_both[0]


def test_capacity_claimed_back_by_inference_pauses_without_losing_work() -> None:
    sc = _scenario(inference=False)
    jobs = _one_job()
    need = np.zeros((24, 3))
    need[2:4, 0] = 2048.0  # inference takes all of fukushima for steps 2-3
    policy = Script({0: _a(start_job=[0], start_site=[0]), 4: _a(start_job=[0], start_site=[0])})
    r = simulate(sc, policy, jobs=jobs, inference_gpus_needed=need, failure_rates=NO_FAULTS)
    row = r.jobs.iloc[0]
    assert row["evictions"] == 1 and row["pauses"] == 1 and row["lost_h"] == 0.0 and row["interruptions"] == 0
    # 2 h done, paused for steps 2-3, resumed at 4 paying the restart (no checkpoint cost in this job)
    assert _finish_h(r).iloc[0] == pytest.approx(4 + 0.1 + 3.0)
    assert r.summary["job_evictions"] == 1


def test_training_runs_faster_on_faster_gpus() -> None:
    from wattbit.physics.gpu import get_gpu
    from wattbit.scenario import builtin_scenario_path, parse_scenario

    base = _scenario(inference=False)
    text = builtin_scenario_path("japan-2022").read_text(encoding="utf-8")
    text = text.replace(
        'it = { gpu_model = "H100-SXM", gpu_count = 4096, rack_kw = 41 }',
        'it = { gpu_model = "B200", gpu_count = 4096, rack_kw = 60 }',
    )
    sc = parse_scenario(text, builtin_scenario_path("japan-2022")).model_copy(update={"period": base.period})
    jobs = _one_job()
    r = simulate(sc, Script({0: _a(start_job=[0], start_site=[2])}), jobs=jobs, failure_rates=NO_FAULTS)
    speed = get_gpu("B200").training_speed
    assert speed == pytest.approx(2250 / 989)
    assert _finish_h(r).iloc[0] == pytest.approx(5.0 / speed)  # 5 H100-hours of work


def test_a_refused_start_changes_nothing_but_the_refusal_count() -> None:
    """Starts that all fit, one of them moving a job's state: the same run with a refused start (a job listed
    twice) added to the list, but for the count of refusals."""
    sc = _scenario(inference=False)
    jobs = _jobs([512, 256, 1024, 128], [3.0, 2.0, 4.0, 1.0], [0, 0, 0, 0], [None] * 4)
    jobs.home_site[:] = [-1, 1, -1, 0]  # job 1 moves its state from site 1 to site 0 (a migration's transfer)
    jobs.data_size_gb[:] = 100.0
    good = {0: _a(start_job=[0, 1, 2, 3], start_site=[0, 0, 2, 0])}
    mixed = {0: _a(start_job=[0, 1, 2, 3, 2], start_site=[0, 0, 2, 0, 1])}  # last: job 2 again, refused
    a = simulate(sc, Script(good), jobs=jobs, failure_rates=NO_FAULTS)
    b = simulate(sc, Script(mixed), jobs=jobs, failure_rates=NO_FAULTS)
    pd.testing.assert_frame_equal(a.jobs, b.jobs)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert a.summary["refused_starts"] == 0 and b.summary["refused_starts"] == 1
    assert a.jobs["migrations"].tolist() == [0, 1, 0, 0]
