"""The daily-only load shape as a scenario setting: chosen automatically, with a note, for short traces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tests.fuzz.harness import FIXTURES
from wattbit.data.workload_traces import read_servegen_client_rates
from wattbit.errors import WattbitInputError
from wattbit.scenario.model import InferenceSpec
from wattbit.workload.inference import InferenceDemand, choose_shape, inference_from_servegen, trace_days, weekly_shape


@pytest.fixture(scope="module")
def one_day() -> InferenceDemand:
    """One day of ServeGen rates, as its reasoning and multimodal categories publish."""
    return inference_from_servegen(
        *read_servegen_client_rates(FIXTURES / "workloads" / "language_m-large_client_rates_one_day.csv")
    )


def test_short_trace_gets_a_daily_shape_with_a_note(one_day: InferenceDemand) -> None:
    assert trace_days(one_day) < 7
    weekly, note = choose_shape(one_day, "auto")
    assert not weekly
    assert note.startswith("daily (auto: the ServeGen trace covers") and "fewer than the 7" in note
    shape, bin_s = weekly_shape(one_day, weekly=weekly)
    day = 86_400 // bin_s
    assert shape.shape == (7 * day,)
    assert np.allclose(shape.reshape(7, day), shape[:day])  # every weekday the same day


def test_weekly_asked_for_a_short_trace_names_the_setting(one_day: InferenceDemand) -> None:
    with pytest.raises(WattbitInputError, match="shape = 'daily' or 'auto'") as err:
        choose_shape(one_day, "weekly")
    assert err.value.field == "workload.inference.shape"
    with pytest.raises(WattbitInputError, match=r"\[workload.inference\] shape") as err:
        weekly_shape(one_day, weekly=True)
    assert err.value.field == "workload.inference.shape"


def test_a_week_of_rates_is_weekly_unless_the_scenario_says_daily(one_day: InferenceDemand) -> None:
    bin_ns = int(one_day.index_utc[1].value - one_day.index_utc[0].value)
    n = 7 * 86_400 * 10**9 // bin_ns
    idx = pd.DatetimeIndex(one_day.index_utc[0].value + np.arange(n) * bin_ns, tz="UTC")
    week = dataclasses.replace(one_day, index_utc=idx, rate_rps=np.resize(one_day.rate_rps, (1, n)) + 1.0)
    assert choose_shape(week, "auto")[0] is True
    assert choose_shape(week, "daily")[0] is False
    assert InferenceSpec().shape == "auto"
    with pytest.raises(ValueError):
        InferenceSpec(shape="monthly")


def test_a_trace_shorter_than_a_day_gives_no_shape() -> None:
    """Two hours of rates would leave 22 hours of the day at zero: refused, not filled."""
    sample = FIXTURES / "workloads" / "language_m-large_client_rates_sample.csv"
    short = inference_from_servegen(*read_servegen_client_rates(sample))
    with pytest.raises(WattbitInputError, match="at least one day of rates") as err:
        weekly_shape(short, weekly=False)
    assert err.value.field == "workload.traces"
