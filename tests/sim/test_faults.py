"""Fault model: rates from Llama 3, seeded Poisson sampling, repair times, site events, lost work."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wattbit.errors import WattbitInputError
from wattbit.sim.faults import (
    CAUSE_CODES,
    CAUSE_NAMES,
    LLAMA3_CAUSES,
    LLAMA3_PER_GPU_DAY,
    META_RSC1_PER_GPU_DAY,
    SCOPE_GPU,
    SCOPE_NAMES,
    SCOPE_NETWORK,
    SCOPE_NODE,
    SCOPE_SITE,
    SCOPE_SOFTWARE,
    SITE_EVENT_KINDS,
    FailureEvents,
    FailureRates,
    RepairTime,
    elapsed_since_checkpoint_h,
    expected_lost_fraction,
    expected_lost_per_failure_h,
    interrupted_jobs,
    job_mtbf_h,
    lost_work_h,
    sample_failures,
    young_daly_interval_h,
)

YEAR = ("2024-01-01", "2025-01-01")
LLAMA3_PERIOD = ("2024-01-01", "2024-02-24")  # 54 days
ARRAYS = [f.name for f in fields(FailureEvents) if f.name not in ("period_start_utc", "step_s", "n_steps")]
NO_SITE_EVENTS = {"site_events": {k: {"rate_per_site_year": 0.0} for k in SITE_EVENT_KINDS}}


def _sample(
    site_gpus: Any = (100_000,), seed: int | np.random.SeedSequence = 1, rates: FailureRates | None = None, **kw: Any
) -> FailureEvents:
    start, end = kw.pop("period", YEAR)
    return sample_failures(
        rates or FailureRates(), site_gpus, kw.pop("gpn", 8), start, end, kw.pop("step_s", 900), seed, **kw
    )


def _poisson_999(mean: float) -> tuple[float, float]:
    return stats.poisson.ppf(0.0005, mean), stats.poisson.ppf(0.9995, mean)


# --- parameters -------------------------------------------------------------------------------------------------------


def test_defaults_are_the_llama3_table() -> None:
    assert sum(count for count, _ in LLAMA3_CAUSES.values()) == 419
    assert LLAMA3_PER_GPU_DAY == pytest.approx(4.74e-4, rel=1e-3)
    rates = FailureRates()
    assert sum(rates.cause_fractions.values()) == pytest.approx(1.0)
    assert rates.cause_fractions["faulty_gpu"] == pytest.approx(148 / 419)
    assert job_mtbf_h(16_384, LLAMA3_PER_GPU_DAY) == pytest.approx(54 * 24 / 419)  # 3.09 h, REFERENCE.md §7
    assert META_RSC1_PER_GPU_DAY * 8 * 1000 == pytest.approx(6.50)
    assert CAUSE_NAMES[CAUSE_CODES["natural_disaster"]] == "natural_disaster"
    assert len(CAUSE_NAMES) == 22 and max(CAUSE_CODES.values()) < 127  # fits int8


def test_from_dict_merges_and_round_trips() -> None:
    rates = FailureRates.from_dict({"site_events": {"grid_outage": {"rate_per_site_year": 0.1}}})
    assert rates.site_events["grid_outage"].rate_per_site_year == 0.1
    assert rates.site_events["grid_outage"].derate_fraction == 1.0  # untouched
    assert rates.repair == FailureRates().repair
    again = FailureRates.from_dict(rates.to_dict())
    assert again == rates
    assert FailureRates.from_dict({"cause_scopes": {"faulty_gpu": "node"}}).cause_scopes["faulty_gpu"] == "node"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"unplanned_per_gpu_day": -1e-4}, "unplanned_per_gpu_day"),
        ({"unplanned_per_gpu_day": float("nan")}, "unplanned_per_gpu_day"),
        ({"unplanned_per_gpu_day": "often"}, "unplanned_per_gpu_day"),
        ({"cause_fractions": {"faulty_gpu": 0.5, "software_bug": 0.4}}, "cause_fractions"),
        ({"cause_fractions": {"faulty_gpu": float("nan"), "software_bug": 1.0}}, "cause_fractions.faulty_gpu"),
        ({"cause_fractions": {"faulty_gpu": 1.2, "software_bug": -0.2}}, "cause_fractions.software_bug"),
        ({"cause_fractions": {"gremlins": 1.0}}, "cause_fractions"),
        ({"cause_scopes": {"faulty_gpu": "rack"}}, "cause_scopes.faulty_gpu"),
        ({"repair": {"gpu": {"median_h": -4.0}}}, "repair.gpu.median_h"),
        ({"repair": {"node": {"sigma": float("nan")}}}, "repair.node.sigma"),
        ({"repair": {"rack": {"median_h": 1.0}}}, "repair"),
        ({"site_events": {"grid_outage": {"derate_fraction": 0.0}}}, "site_events.grid_outage.derate_fraction"),
        (
            {"site_events": {"cooling_fault": {"rate_per_site_year": -1}}},
            "site_events.cooling_fault.rate_per_site_year",
        ),
        ({"site_events": {"meteor": {"rate_per_site_year": 1}}}, "site_events"),
        ({"network_group_nodes": 0}, "network_group_nodes"),
        ({"network_switch_share": 1.5}, "network_switch_share"),
        ({"mtbf": 3}, "faults"),
    ],
)
def test_bad_rates_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(WattbitInputError) as err:
        FailureRates.from_dict(data)
    assert err.value.field == field


def test_direct_construction_is_validated() -> None:
    with pytest.raises(WattbitInputError, match="sum to"):
        FailureRates(cause_fractions={"faulty_gpu": 0.9})
    with pytest.raises(WattbitInputError) as err:
        RepairTime(median_h=float("nan"))
    assert err.value.field == "median_h"


# --- sampling: reproducibility, counts, causes ------------------------------------------------------------------------


def test_same_seed_same_events_different_seed_different() -> None:
    a, b, c = _sample(seed=7), _sample(seed=7), _sample(seed=8)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert len(a) != len(c) or not np.array_equal(a.time_utc, c.time_utc)
    seq = np.random.SeedSequence(1234)
    d, e = _sample(seed=seq), _sample(seed=seq)
    np.testing.assert_array_equal(d.time_utc, e.time_utc)  # a SeedSequence is not consumed


def test_site_event_parameters_do_not_move_component_events() -> None:
    a = _sample(seed=3)
    b = _sample(seed=3, rates=FailureRates.from_dict({"site_events": {"cooling_fault": {"rate_per_site_year": 50}}}))
    comp_a, comp_b = a.scope < SCOPE_SITE, b.scope < SCOPE_SITE
    np.testing.assert_array_equal(a.time_utc[comp_a], b.time_utc[comp_b])
    assert (b.scope == SCOPE_SITE).sum() > (a.scope == SCOPE_SITE).sum()


def test_llama3_counts_are_poisson_with_mean_419() -> None:
    rates = FailureRates.from_dict(NO_SITE_EVENTS)
    counts = np.array([len(_sample([16_384], seed=s, rates=rates, period=LLAMA3_PERIOD)) for s in range(200)])
    lo, hi = _poisson_999(419.0)
    assert ((counts < lo) | (counts > hi)).sum() <= 2  # expected 0.2 of 200 outside the 99.9 % interval
    assert counts.mean() == pytest.approx(419, abs=4 * math.sqrt(419 / 200))
    assert 0.75 < counts.var(ddof=1) / counts.mean() < 1.3  # Poisson: variance = mean


def test_cause_shares_match_the_table() -> None:
    ev = _sample([1_000_000], seed=11)  # ~173,000 component events
    comp = ev.cause[ev.scope < SCOPE_SITE]
    observed = np.bincount(comp, minlength=len(LLAMA3_CAUSES))
    expected = np.array([c for c, _ in LLAMA3_CAUSES.values()]) / 419 * comp.size
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert observed[CAUSE_CODES["faulty_gpu"]] / comp.size == pytest.approx(148 / 419, abs=0.005)
    assert comp.size == pytest.approx(LLAMA3_PER_GPU_DAY * 1e6 * 366, rel=0.01)  # 2024 has 366 days


def test_scopes_blocks_and_partial_nodes() -> None:
    rates = FailureRates()
    site_gpus = np.array([0, 1_000, 30_000, 10])
    ev = _sample(site_gpus, seed=5, gpn=[8, 8, 4, 8])
    comp = ev.scope < SCOPE_SITE
    assert not np.any(comp & (site_gpus[ev.site] == 0))  # no GPU events at a site without GPUs
    scope_of = np.array([SCOPE_NAMES.index(rates.cause_scopes[c]) for c in LLAMA3_CAUSES])
    np.testing.assert_array_equal(ev.scope[comp], scope_of[ev.cause[comp]])
    assert np.all(ev.first_gpu + ev.gpus_affected <= site_gpus[ev.site])
    assert np.all(ev.gpus_affected[np.isin(ev.scope, [SCOPE_GPU, SCOPE_SOFTWARE])] == 1)
    big = ev.site == 2
    node = big & (ev.scope == SCOPE_NODE)
    assert np.all(ev.gpus_affected[node] == 4) and np.all(ev.first_gpu[node] % 4 == 0)
    net = big & (ev.scope == SCOPE_NETWORK)
    assert set(np.unique(ev.gpus_affected[net])) == {4, 128}
    assert np.all(ev.first_gpu[net & (ev.gpus_affected == 128)] % 128 == 0)
    assert np.mean(ev.gpus_affected[net] == 128) == pytest.approx(0.2, abs=0.08)
    tiny = (ev.site == 3) & (ev.scope == SCOPE_NODE)  # 10 GPUs, 8 per node: nodes of 8 and 2
    assert set(zip(ev.first_gpu[tiny], ev.gpus_affected[tiny], strict=True)) <= {(0, 8), (8, 2)}
    assert np.all(ev.derate_fraction[comp] == 0)


def test_scope_override_takes_the_node() -> None:
    rates = FailureRates.from_dict({"cause_scopes": {"faulty_gpu": "node"}})
    ev = _sample([8_000], seed=2, rates=rates)
    hit = ev.cause == CAUSE_CODES["faulty_gpu"]
    assert hit.any() and np.all(ev.scope[hit] == SCOPE_NODE) and np.all(ev.gpus_affected[hit] == 8)


# --- repair times and steps -------------------------------------------------------------------------------------------


def test_repair_times_have_the_configured_medians() -> None:
    rates = FailureRates()
    ev = _sample([1_000_000], seed=13)
    for code, name in enumerate(SCOPE_NAMES[:3]):
        rep = ev.repair_h[ev.scope == code]
        assert np.all(rep > 0) and np.all(ev.repair_steps[ev.scope == code] >= 1)
        assert np.median(rep) == pytest.approx(rates.repair[name].median_h, rel=0.05)
        assert np.std(np.log(rep)) == pytest.approx(rates.repair[name].sigma, rel=0.05)
    soft = ev.scope == SCOPE_SOFTWARE
    assert soft.any() and np.all(ev.repair_h[soft] == 0) and np.all(ev.repair_steps[soft] == 0)


def test_steps_and_repair_steps_cover_the_repair_interval() -> None:
    ev = _sample([50_000], seed=4, step_s=600)
    t_s = (ev.time_utc - ev.period_start_utc) / np.timedelta64(1, "s")
    np.testing.assert_array_equal(ev.step, np.floor(t_s / 600).astype(np.int64))
    out = ev.repair_h > 0
    end_s = t_s[out] + ev.repair_h[out] * 3600
    last = ev.step[out] + ev.repair_steps[out] - 1
    assert np.all(last * 600 < end_s + 1e-6) and np.all(end_s <= (last + 1) * 600 + 1e-6)
    assert ev.n_steps == 366 * 24 * 6


def test_events_sorted_and_inside_the_period() -> None:
    ev = _sample([100_000, 20_000], seed=9, period=("2024-01-01T09:00+09:00", "2024-07-01T09:00+09:00"))
    assert np.all(np.diff(ev.time_utc.astype(np.int64)) >= 0) and np.all(np.diff(ev.step) >= 0)
    assert ev.period_start_utc == np.datetime64("2024-01-01T00:00", "ns")  # converted to UTC
    assert ev.time_utc.min() >= np.datetime64("2024-01-01") and ev.time_utc.max() < np.datetime64("2024-07-01")
    sl = ev.in_steps(96, 192)  # the second day at 15-minute steps
    assert np.all((ev.step[sl] >= 96) & (ev.step[sl] < 192)) and sl.stop - sl.start == ((ev.step // 96) == 1).sum()


# --- site events ------------------------------------------------------------------------------------------------------


def test_site_events_at_their_per_site_year_rates() -> None:
    rates = FailureRates()
    n_sites, years = 10_000, 10
    ev = _sample(
        np.full(n_sites, 1_000),
        seed=21,
        rates=FailureRates.from_dict({"unplanned_per_gpu_day": 0.0}),
        period=("2020-01-01", "2030-01-01"),
        step_s=3600,
    )
    exposure = n_sites * (np.datetime64("2030-01-01") - np.datetime64("2020-01-01")).astype(int) / 365.25
    assert exposure == pytest.approx(n_sites * years, rel=1e-3)
    for kind in SITE_EVENT_KINDS:
        spec = rates.site_events[kind]
        hit = ev.cause == CAUSE_CODES[kind]
        lo, hi = _poisson_999(spec.rate_per_site_year * exposure)
        assert lo <= hit.sum() <= hi, kind
        assert np.all(ev.scope[hit] == SCOPE_SITE) and np.all(ev.derate_fraction[hit] == spec.derate_fraction)
        assert np.all(ev.gpus_affected[hit] == math.ceil(spec.derate_fraction * 1_000)) and np.all(
            ev.first_gpu[hit] == 0
        )
        if hit.sum() > 1_000:
            assert np.median(ev.repair_h[hit]) == pytest.approx(spec.median_h, rel=0.05)
    assert len(ev) == (ev.scope == SCOPE_SITE).sum()


def test_site_rate_scale_and_sites_without_gpus() -> None:
    scale = np.array([0.0, 1.0, 500.0])
    ev = _sample([0, 0, 0], seed=6, site_rate_scale=scale, period=("2020-01-01", "2030-01-01"))
    assert not np.any(ev.site == 0) and np.all(ev.scope == SCOPE_SITE) and np.all(ev.gpus_affected == 0)
    disasters = ev.cause == CAUSE_CODES["natural_disaster"]
    assert 2 <= (ev.site[disasters] == 2).sum() <= 25  # 500 x 0.002 x 10 years = 10 expected
    per_kind = np.zeros((3, 4))
    per_kind[:, 2] = 1.0  # grid outages only
    ev2 = _sample(
        [10, 10, 10],
        seed=6,
        site_rate_scale=per_kind,
        rates=FailureRates.from_dict({"unplanned_per_gpu_day": 0.0}),
        period=("2000-01-01", "2100-01-01"),
    )
    assert len(ev2) > 0 and np.all(ev2.cause == CAUSE_CODES["grid_outage"])


# --- bad input to the sampler -----------------------------------------------------------------------------------------


def test_rates_must_be_failure_rates() -> None:
    with pytest.raises(WattbitInputError) as err:
        sample_failures({"unplanned_per_gpu_day": 1e-4}, [8], 8, *YEAR, 900, 1)  # type: ignore[arg-type]
    assert err.value.field == "rates"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"step_s": 0}, "step_s"),
        ({"step_s": -900}, "step_s"),
        ({"step_s": float("nan")}, "step_s"),
        ({"period": ("2024-02-01", "2024-01-01")}, "period_end_utc"),
        ({"period": ("2024-01-01", "2024-01-01")}, "period_end_utc"),
        ({"period": ("not a time", "2024-01-01")}, "period_start_utc"),
        ({"period": ("2024-01-01", None)}, "period_end_utc"),
        ({"site_gpus": [100, -1]}, "site_gpus[1]"),
        ({"site_gpus": [100.5]}, "site_gpus[0]"),
        ({"site_gpus": [float("nan")]}, "site_gpus[0]"),
        ({"site_gpus": [[1, 2]]}, "site_gpus"),
        ({"site_gpus": []}, "site_gpus"),
        ({"gpn": 0}, "gpus_per_node[0]"),
        ({"gpn": [8, 8, 8]}, "gpus_per_node"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": None}, "seed"),
        ({"site_rate_scale": -1.0}, "site_rate_scale"),
    ],
)
def test_bad_sampler_input_names_the_argument(kwargs: dict[str, Any], field: str) -> None:
    site_gpus = kwargs.pop("site_gpus", [100, 200])
    with pytest.raises(WattbitInputError) as err:
        _sample(site_gpus, **kwargs)
    assert err.value.field == field


# --- output and the engine contract -----------------------------------------------------------------------------------


def test_to_frame_and_parquet(tmp_path: Path) -> None:
    ev = _sample([16_384, 0], seed=1, period=LLAMA3_PERIOD)
    df = ev.to_frame()
    assert len(df) == len(ev) > 0
    assert str(df["time_utc"].dt.tz) == "UTC"
    assert set(df["cause_name"].astype(str)) <= set(CAUSE_NAMES)
    assert (df["scope_name"].astype(str) == np.array(SCOPE_NAMES)[ev.scope]).all()
    df.to_parquet(tmp_path / "faults.parquet")
    back = pd.read_parquet(tmp_path / "faults.parquet")
    pd.testing.assert_frame_equal(back, df, check_categorical=False)
    empty = _sample([0], seed=1, rates=FailureRates.from_dict(NO_SITE_EVENTS))
    assert len(empty) == 0 and len(empty.to_frame()) == 0


def test_interrupted_jobs_reads_the_gpu_block() -> None:
    ev = _sample([64], seed=3, gpn=8, rates=FailureRates.from_dict({"unplanned_per_gpu_day": 0.05}))
    gpu_job = np.repeat([0, 1, -1, 2], 16)  # jobs 0, 1 and 2 on 16 GPUs each, 16 idle GPUs
    for i in range(len(ev)):
        first, n = ev.first_gpu[i], ev.gpus_affected[i]
        expected = sorted({int(j) for j in gpu_job[first : first + n] if j >= 0})
        assert interrupted_jobs(ev, i, gpu_job).tolist() == expected
    outage = np.flatnonzero(ev.derate_fraction == 1.0)
    if outage.size:
        assert interrupted_jobs(ev, int(outage[0]), gpu_job).tolist() == [0, 1, 2]


# --- lost work and checkpoints ----------------------------------------------------------------------------------------


def test_lost_work_is_the_work_since_the_last_checkpoint() -> None:
    np.testing.assert_array_equal(lost_work_h([0.0, 0.25, 3.0]), [0.0, 0.25, 3.0])
    np.testing.assert_allclose(elapsed_since_checkpoint_h([0.5, 1.0, 2.75], 1.0), [0.5, 0.0, 0.75])
    with pytest.raises(WattbitInputError, match="elapsed_since_checkpoint_h"):
        lost_work_h([-1.0])
    with pytest.raises(WattbitInputError, match="checkpoint_interval_h"):
        elapsed_since_checkpoint_h(1.0, 0.0)


def test_expected_lost_fraction_and_young_interval() -> None:
    assert expected_lost_fraction(1.0, 10.0) == pytest.approx(1.0 / 20)  # tau / (2 M)
    assert expected_lost_fraction(1.0, math.inf) == 0.0
    assert expected_lost_fraction(100.0, 1.0) == 1.0
    delta, mtbf = 0.05, job_mtbf_h(16_384, LLAMA3_PER_GPU_DAY)
    tau = young_daly_interval_h(delta, mtbf)
    assert tau == pytest.approx(math.sqrt(2 * 0.05 * 54 * 24 / 419))
    best = expected_lost_fraction(tau, mtbf, delta)
    assert best < expected_lost_fraction(0.8 * tau, mtbf, delta) and best < expected_lost_fraction(
        1.25 * tau, mtbf, delta
    )
    assert expected_lost_per_failure_h(1.0, 3.0) < 0.5
    assert expected_lost_per_failure_h(1e-3, 3.0) == pytest.approx(5e-4, rel=1e-3)
    with pytest.raises(WattbitInputError) as err:
        expected_lost_fraction(1.0, 0.0)
    assert err.value.field == "mtbf_h"


def test_lost_work_monte_carlo_matches_the_formula() -> None:
    rng = np.random.default_rng(0)
    tau, mtbf = 1.0, 3.09
    run_h = rng.exponential(mtbf, 200_000)  # progress between consecutive failures (no checkpoint cost)
    lost = lost_work_h(elapsed_since_checkpoint_h(run_h, tau))
    assert lost.mean() == pytest.approx(expected_lost_per_failure_h(tau, mtbf), rel=0.01)
    assert lost.sum() / run_h.sum() == pytest.approx(expected_lost_fraction(tau, mtbf), rel=0.1)  # first order


# --- speed ------------------------------------------------------------------------------------------------------------


def test_100k_gpu_year_draws_the_expected_count() -> None:
    # its speed is a benchmark (benchmarks/bench_engine.py), not a timed test
    for seed in range(3):
        ev = _sample([100_000], seed=seed)
        assert 15_000 < len(ev) < 20_000  # 4.74e-4 x 100,000 x 366 = 17,300 expected
