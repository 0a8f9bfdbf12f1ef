"""The look-ahead for work due after the MPC horizon: forecasts from the past, required work, terminal value."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.opt.test_dispatch import _inputs
from wattbit.control.lookahead import FutureSupply, deferred_work, profile_ahead
from wattbit.control.signals_ahead import recent_ahead
from wattbit.opt import DispatchInputs, WorkClasses, solve_dispatch


def test_profile_ahead_repeats_the_daily_pattern_and_fades_the_last_days_level() -> None:
    day = np.r_[np.full(12, 500.0), np.full(12, 300.0)]
    history = np.tile(day, 7)[:, None]
    np.testing.assert_allclose(profile_ahead(history, 1, 48, 24)[:, 0], np.tile(day, 2))
    shifted = history.copy()
    shifted[-24:] += 70.0  # the last day ran 70 above its profile (10 above the 7-day mean profile's mean)
    fc = profile_ahead(shifted, 1, 24 * 7, 24)[:, 0]
    expected = np.tile(day, 7) + 10.0 + 60.0 * np.exp(-np.arange(1, 24 * 7 + 1) / 36.0)
    np.testing.assert_allclose(fc, expected, atol=1e-9)


def test_short_history_forecasts_start_from_now_and_decay_to_the_recent_pattern() -> None:
    wind = np.r_[np.full(96, 2.0), np.full(96, 4.0), np.full(4, 9.0)][:, None]
    fc = recent_ahead(wind, 400, 96, "level")[:, 0]
    assert fc[0] == 9.0 and np.all(np.diff(fc) < 0)
    mean = wind[-2 * 96 :].mean()
    assert fc[-1] == pytest.approx(mean + (9.0 - mean) * np.exp(-399 / 144.0))


def _supply(cost: float, hours: int = 96) -> FutureSupply:
    return FutureSupply(np.full((hours, 1), cost), np.array([500.0]), arrivals_gpu_h=0.0)


def test_work_a_gang_cannot_finish_after_the_horizon_is_required_now() -> None:
    work, gangs = np.array([1000.0, 1000.0]), np.array([100.0, 100.0])  # 10 h of running each
    out = deferred_work(work, gangs, np.array([40.0, 8.0]), _supply(1.0), fill=0.5)
    # the first may count on 20 h after the horizon (enough); the second on 4 h: 6 h x 100 GPUs are required now
    assert out.required_gpu_h == pytest.approx(600.0)
    assert out.work_gpu_h.sum() == pytest.approx(1400.0)
    assert np.all(out.value_per_gpu_h == 1.0)
    full = deferred_work(work, gangs, np.array([40.0, 8.0]), FutureSupply(np.ones((96, 1)), np.array([5.0]), 0.0))
    assert full.required_gpu_h > 1000.0  # a future with room for 5 per hour cannot hold the work


def _deferrable(base: DispatchInputs, future_g_per_kwh: float) -> DispatchInputs:
    """One job due two days after a 12-slot horizon whose carbon is 500 g/kWh everywhere; the future's as given."""
    n_t = base.gpus_available.shape[0]
    energy = base.energy
    marginal_mwh = (energy.busy_w_per_gpu[:, 0] - energy.idle_w_per_gpu) * np.median(energy.line_b, axis=(0, 2)) / 1e6
    speed = energy.throughput[:, 0]
    per_unit = future_g_per_kwh / 1000.0 * marginal_mwh / speed
    supply = FutureSupply(np.tile(per_unit, (96, 1)), np.array([900.0, 1800.0]) * speed, arrivals_gpu_h=0.0)
    later = deferred_work(np.array([3000.0]), np.array([600.0]), np.array([48.0]), supply)
    assert later.required_gpu_h == 0.0
    k = len(later.work_gpu_h)
    work = WorkClasses(
        work_gpu_h=later.work_gpu_h,
        max_gpus=later.max_gpus,
        first_slot=np.zeros(k, dtype=np.int64),
        end_slot=np.full(k, n_t),
        required=np.zeros(k, bool),
        value_per_gpu_h=later.value_per_gpu_h,
    )
    zeros = np.zeros_like(base.carbon_g_per_kwh)
    return replace(
        base, work=work, carbon_g_per_kwh=zeros + 500.0, onsite_w=zeros, curtailed_mwh=zeros, soc_mwh=np.zeros(2)
    )


@pytest.mark.parametrize("backend", ["highs", "linopy"])
def test_a_job_due_after_the_horizon_waits_only_for_a_cleaner_day(backend: str) -> None:
    base = _inputs(0, battery=False)

    def done_now(future_g_per_kwh: float) -> float:
        inputs = _deferrable(base, future_g_per_kwh)
        plan = solve_dispatch(inputs, backend=backend)  # type: ignore[arg-type]
        assert plan.class_gpus is not None
        return float(plan.class_gpus.sum() * inputs.slot_h)

    assert done_now(300.0) == pytest.approx(0.0, abs=1e-6)  # tomorrow is cleaner: wait
    assert done_now(700.0) == pytest.approx(3000.0, rel=1e-6)  # tomorrow is dirtier: all of it now


def test_both_assemblies_agree_with_the_terminal_value() -> None:
    for future in (450.0, 520.0):
        inputs = _deferrable(_inputs(1, battery=False), future)
        a, b = solve_dispatch(inputs, backend="linopy"), solve_dispatch(inputs, backend="highs")
        assert a.objective == pytest.approx(b.objective, rel=1e-7, abs=1e-6)


def test_arrivals_ahead_follow_the_time_of_day_they_came_at() -> None:
    from types import SimpleNamespace

    from wattbit.control.lookahead import ArrivalLog

    def jobs(submit: list[int]) -> SimpleNamespace:  # one GPU-hour of work each
        n = len(submit)
        ones = np.ones(n)
        return SimpleNamespace(submit_step=np.array(submit), gpus=ones, remaining_h=ones, work_rate=ones, __len__=n)

    class View(SimpleNamespace):
        def __len__(self) -> int:
            return len(self.submit_step)

    log = ArrivalLog()
    for step in range(48):  # hourly steps over two days: three jobs arrive in each of hours 8 and 9, none otherwise
        hour = step % 24
        new = [step] * (3 if hour in (8, 9) else 0)
        queue = View(**vars(jobs(new)))
        log.record(SimpleNamespace(step=step, step_h=1.0, queue=queue, running=View(**vars(jobs([])))))
    ahead = log.ahead_gpu_h(48, 24, 1, 24)  # the next day, hour by hour
    np.testing.assert_allclose(ahead, np.where(np.isin(np.arange(24), (8, 9)), 3.0, 0.0))
    assert log.rate_gpu_h() == pytest.approx(12 / 47)  # the flat rate the look-ahead uses


def test_gang_ramps_bound_every_schedule_of_whole_gangs() -> None:
    from wattbit.control.oracle import gang_ramps

    work, rate = np.array([10.0, 4.0, 9.0]), np.array([4.0, 4.0, 2.0])
    ready, due = np.array([0, 2, 1]), np.array([5, 2, 3])  # the third cannot finish: 3 slots of 2 for 9
    low, up = (np.cumsum(x) for x in gang_ramps(work, rate, ready, due, np.ones(3, bool), 7))
    # at most: each gang from its ready slot (the first 4, 8, 10; the second 4 in slot 2; the third 2 per slot)
    np.testing.assert_allclose(up, [4, 10, 18, 20, 22, 23, 23])
    # at least: what each still needs to finish by its due slot; the third owes its remaining 3 at slot 3
    np.testing.assert_allclose(low, [0, 2, 8, 15, 19, 23, 23])
    assert np.all(low <= up)
