"""Shared state for the operations tests: one short twin run of the built-in scenario, built once."""

from __future__ import annotations

import pytest

from wattbit.ops.telemetry.build import TelemetrySetup, build_telemetry
from wattbit.scenario import Scenario, load_scenario, with_period


def short_scenario(days: int = 7, fault_rate_scale: float = 30.0) -> Scenario:
    """japan-2022 over ``days`` days of March with faults ``fault_rate_scale`` times as frequent."""
    sc = with_period(load_scenario("japan-2022"), "2022-03-01", f"2022-03-{1 + days:02d}")
    return sc.model_copy(update={"ops": sc.ops.model_copy(update={"fault_rate_scale": fault_rate_scale})})


@pytest.fixture(scope="session")
def week_setup() -> TelemetrySetup:
    """A week of japan-2022 at 42 nodes per site (1,008 GPUs), faults 30x as frequent, seed 5."""
    return build_telemetry(short_scenario(), seed=5, nodes_per_site=42)
