"""Every injected fault is accounted, in every step, on every scenario in examples/ (and the built-in japan-2022),
over many seeds and fault mixes drawn by Hypothesis.

Faults injected: GPU, node, network and software failures (up to 200 a day over the fleet: ~40x Llama 3's rate on
10,000 GPUs), cooling and power-chain derates, grid outages and natural disasters (up to a few per site in the
window), and grid-connection limits (the GPUs a site may run cut to a drawn share for a drawn block of steps). The
engine is stepped by hand (``observe``/``advance``) and a ledger kept beside it checks, after every step:

* capacity: GPUs available = installed - GPUs out (recomputed here from the events), inference and jobs fit in what
  is available, and jobs in what the grid connection allows;
* GPUs busy = the gangs of the jobs running (nothing runs unseen, nothing stops unseen): a job that stopped was
  interrupted or paused, never dropped;
* lost work = the work since the last checkpoint plus the restart, for each interruption, and nothing else;
* GPU-hours: demanded + lost = performed + unfinished, i.e. served (performed - lost) + unfinished = demanded;
  every GPU-hour of work done is either served or lost;

and after the run: the summary's GPU-hour KPIs equal the ledger's, the inference SLO counts the GPUs outages took,
and energy balances in every step and site (facility = IT + cooling + losses + misc = grid + PV + wind + battery -
export - spill), with sites that have no GPU available drawing no IT power for GPUs.

``HYPOTHESIS_PROFILE=long`` (``make test-long``) runs ``LONG_EXAMPLES`` cases per scenario instead of
``DEFAULT_EXAMPLES`` (counts in docs/faults.md).
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattbit.control import make_policy
from wattbit.scenario import load_scenario, with_period
from wattbit.sim.engine import DONE, QUEUED, RUNNING, Engine
from wattbit.sim.faults import FailureEvents, FailureRates
from wattbit.sim.run import SimInputs, collect, fleet_failures, make_engine, prepare

REPO = Path(__file__).resolve().parents[2]
#: The built-in scenario and every scenario file of examples/ that simulates.
SCENARIOS = ("japan-2022", *sorted(str(p) for p in (REPO / "examples").glob("japan-*.toml")))
DEFAULT_EXAMPLES, LONG_EXAMPLES = 8, 150
EXAMPLES = LONG_EXAMPLES if os.environ.get("HYPOTHESIS_PROFILE") == "long" else DEFAULT_EXAMPLES
#: The window simulated: six hours from April 10 of each scenario's own year.
WINDOW_H = 6
#: Component failures per day over the whole fleet at the top of the drawn range (0.02 per GPU-day on 10,000 GPUs,
#: ~40 x Llama 3's rate): a fleet of a few GPUs sees as many faults as a large one.
COMPONENT_EVENTS_PER_DAY = 200.0
SITE_KINDS = ("cooling_fault", "power_chain_fault", "grid_outage", "natural_disaster")


@functools.cache
def _inputs(ref: str) -> SimInputs:
    sc = load_scenario(ref)
    year = sc.period.start.year
    return prepare(with_period(sc, f"{year}-04-10", f"{year}-04-10T{WINDOW_H:02d}:00"))


@dataclass(frozen=True)
class Faults:
    """One drawn mix of faults."""

    seed: int
    component_level: float
    site_per_year: tuple[float, ...]
    grid_share: float
    grid_steps: tuple[float, float]
    policy: str


faults = st.builds(
    Faults,
    seed=st.integers(0, 2**32 - 1),
    component_level=st.floats(0.0, 1.0),
    site_per_year=st.tuples(*(st.floats(0.0, 4000.0) for _ in SITE_KINDS)),
    grid_share=st.floats(0.0, 1.0),
    grid_steps=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    policy=st.sampled_from(["baseline", "greedy"]),
)


def _with_faults(base: SimInputs, f: Faults) -> SimInputs:
    rates = FailureRates.from_dict(
        {
            "unplanned_per_gpu_day": f.component_level * COMPONENT_EVENTS_PER_DAY / base.fleet.gpus_total.sum(),
            "site_events": {k: {"rate_per_site_year": r} for k, r in zip(SITE_KINDS, f.site_per_year, strict=True)},
        }
    )
    fleet = base.fleet
    events = fleet_failures(fleet, base.scenario.period, rates, f.seed)
    lo, hi = sorted(int(x * fleet.steps) for x in f.grid_steps)
    cap = fleet.max_busy_gpus.copy()
    cap[lo:hi] = np.minimum(cap[lo:hi], np.floor(f.grid_share * fleet.gpus_total).astype(np.int64))
    return replace(base, fleet=replace(fleet, max_busy_gpus=cap), events=events, seed=f.seed)


def _gpus_out(events: FailureEvents, total: np.ndarray, steps: int) -> np.ndarray:
    """GPUs out per step and site, event by event (the engine does it with difference arrays)."""
    out = np.zeros((steps, len(total)))
    for i in range(len(events)):
        amount = total[events.site[i]] * events.derate_fraction[i] if events.scope[i] == 4 else events.gpus_affected[i]
        first = int(events.step[i])
        out[first : first + int(events.repair_steps[i]), events.site[i]] += amount
    return np.minimum(np.ceil(out - 1e-9).astype(np.int64), total)


class Ledger:
    """GPU-hours of work per job, kept beside the engine from what changes between steps."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.performed_h = np.zeros(len(engine.jobs))
        self.lost_h = np.zeros(len(engine.jobs))

    def step(self) -> None:
        """One step of the engine under its policy, checked."""
        # read the job table through Engine.jobs_rec each time: it writes the running jobs' progress back first
        e, k = self.engine, self.engine.step
        before = _snapshot(e.jobs_rec)
        obs = e.observe()
        observed = _snapshot(e.jobs_rec)
        assert e.policy is not None
        e.advance(e.policy.decide(obs))
        rec = e.jobs_rec
        after = _snapshot(rec)
        self._check_capacity(k)
        self._check_stops(k, before, after)
        self._check_lost(before, after)
        # work moves only by progress (during advance) and by losses (interruptions): a pause or migration loses none
        np.testing.assert_allclose(
            observed["remaining_h"] - before["remaining_h"], after["lost_h"] - before["lost_h"], rtol=0, atol=1e-9
        )
        self.performed_h += observed["remaining_h"] - after["remaining_h"]
        self.lost_h += after["lost_h"] - before["lost_h"]
        assert np.all(self.performed_h >= -1e-12)
        gang, jobs = e.jobs.gpus.astype(float), e.jobs
        demanded = gang @ jobs.duration_h
        np.testing.assert_allclose(
            demanded + gang @ self.lost_h, gang @ self.performed_h + gang @ rec.remaining_h, rtol=1e-12
        )

    def _check_capacity(self, k: int) -> None:
        e, rec = self.engine, self.engine.rec
        total = e.fleet.gpus_total
        assert np.array_equal(rec.available_gpus[k], total - _gpus_out(e.events, total, e.fleet.steps)[k])
        assert np.all(rec.inference_gpus[k] <= rec.available_gpus[k])
        assert np.all(rec.busy_gpus[k] + rec.inference_gpus[k] <= rec.available_gpus[k])
        assert np.all(rec.busy_gpus[k] <= e.fleet.max_busy_gpus[k])  # the grid connection's limit holds

    def _check_stops(self, k: int, before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> None:
        e, state = self.engine, after["state"]
        ran = (state == RUNNING) | ((state == DONE) & (after["finish_step"] >= k) & (after["finish_step"] <= k + 1))
        busy = np.bincount(after["site"][ran], weights=e.jobs.gpus[ran], minlength=len(e.fleet.names))
        assert np.array_equal(busy.astype(np.int64), e.rec.busy_gpus[k])  # GPUs busy = the gangs running
        stopped = (before["state"] == RUNNING) & (state == QUEUED)
        told = (after["interruptions"] - before["interruptions"]) + (after["pauses"] - before["pauses"])
        assert np.all(told[stopped] >= 1)  # a job that stopped was interrupted or paused, never dropped

    def _check_lost(self, before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> None:
        hits = after["interruptions"] - before["interruptions"]
        assert np.all((hits == 0) | (hits == 1))
        expected = hits * (before["since_checkpoint_h"] + self.engine.jobs.restart_cost_h)
        np.testing.assert_allclose(after["lost_h"] - before["lost_h"], expected, rtol=0, atol=1e-12)


def _snapshot(rec: object) -> dict[str, np.ndarray]:
    keys = ("state", "site", "remaining_h", "lost_h", "since_checkpoint_h", "interruptions", "pauses", "finish_step")
    return {k: np.array(getattr(rec, k), copy=True) for k in keys}


def _check_run(inputs: SimInputs, engine: Engine, ledger: Ledger, policy: str) -> None:
    result = collect(inputs, engine, policy)
    s, gang = result.summary, inputs.jobs.gpus.astype(float)
    admitted = engine.jobs_rec.state > 0
    assert s["gpu_hours_lost"] == pytest.approx(float(gang @ ledger.lost_h), rel=1e-12, abs=1e-9)
    served = float((gang * (ledger.performed_h - ledger.lost_h))[admitted].sum())
    assert s["gpu_hours_served"] == pytest.approx(served, rel=1e-9, abs=1e-9)
    assert s["gpu_hours_demanded"] == pytest.approx(s["gpu_hours_served"] + s["gpu_hours_unfinished"], rel=1e-12)
    assert s["job_interruptions"] == int(engine.jobs_rec.interruptions.sum())
    rec = engine.rec
    needed, held = rec.inference_needed.sum(), np.minimum(rec.inference_gpus, rec.inference_needed).sum()
    assert s["slo_attainment"] == pytest.approx(held / needed if needed > 0 else 1.0, rel=1e-12)
    ts = result.timeseries
    parts = ts["it_w"] + ts["cooling_w"] + ts["losses_w"] + ts["misc_w"]
    np.testing.assert_allclose(parts, ts["facility_w"], rtol=1e-9, atol=1e-6)
    supply = ts["grid_w"] + ts["pv_w"] + ts["wind_w"] + ts["battery_w"] - ts["export_w"] - ts["spill_w"]
    np.testing.assert_allclose(supply, ts["facility_w"], rtol=1e-9, atol=1e-6)
    for col in ("it_w", "cooling_w", "grid_w", "export_w", "spill_w"):
        assert (ts[col] >= -1e-9).all(), col
    dark = ts["available_gpus"] == 0  # a site with every GPU out (outage, disaster) powers no GPU
    assert (ts.loc[dark, "busy_gpus"] == 0).all() and (ts.loc[dark, "inference_gpus"] == 0).all()


def _tally(tally: Counter[str], engine: Engine) -> None:
    events, rec = engine.events, engine.rec
    tally["cases"] += 1
    tally["component faults"] += int(np.sum(events.scope < 4))
    tally["site faults"] += int(np.sum(events.scope == 4))
    tally["site-steps dark"] += int(np.sum(rec.available_gpus == 0))
    tally["site-steps grid-limited"] += int(
        np.sum(engine.fleet.max_busy_gpus < rec.available_gpus - rec.inference_gpus)
    )
    tally["jobs interrupted"] += int(engine.jobs_rec.interruptions.sum())
    tally["jobs evicted"] += int(engine.jobs_rec.evictions.sum())


@pytest.mark.parametrize("ref", SCENARIOS, ids=lambda r: Path(r).stem)
def test_every_fault_is_accounted_in_every_step(ref: str) -> None:
    base = _inputs(ref)
    tally: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=EXAMPLES == DEFAULT_EXAMPLES,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(faults)
    def check(f: Faults) -> None:
        inputs = _with_faults(base, f)
        engine = make_engine(inputs, make_policy(f.policy, inputs))
        ledger = Ledger(engine)
        while not engine.done:
            ledger.step()
        _check_run(inputs, engine, ledger, f.policy)
        _tally(tally, engine)

    check()
    print(f"{Path(ref).stem}: {dict(tally)}")  # the counts docs/faults.md reports (pytest -s)
    assert tally["component faults"] > 0 and tally["site faults"] > 0  # the faults were injected
    assert tally["site-steps grid-limited"] > 0
    assert tally["jobs interrupted"] > 0 or len(base.jobs) < 10  # and hit running jobs
