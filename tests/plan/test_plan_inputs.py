"""The planner's inputs parse each data file once, with the same numbers as parsing it once per site and kind."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.plan.test_plan_cli import BASIC, scenario_text
from wattbit.data import cache, signals
from wattbit.plan import inputs
from wattbit.scenario import parse_scenario


def _build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    reads = []
    real = signals.read_wattbit_signals

    def counted(path: Any) -> Any:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(signals, "read_wattbit_signals", counted)
    problem, _ = inputs.build_problem(parse_scenario(scenario_text(BASIC), tmp_path / "s.toml"))
    return problem, len(reads)


def test_each_file_is_parsed_once_with_the_same_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    once, n_once = _build(tmp_path, monkeypatch)
    assert cache.stats() == {"enabled": False, "entries": 0, "hits": 0, "misses": 0}  # off again, nothing kept
    monkeypatch.setattr(inputs, "files_parsed_once", contextlib.nullcontext)
    each, n_each = _build(tmp_path, monkeypatch)
    # three sites, each with one built-in signals file named by its four kinds (weather, carbon, price, curtailment)
    assert (n_once, n_each) == (3, 12)
    arrays = ("facility_mw_per_it_mw", "pv_mw_per_mw", "wind_mw_per_mw", "price_per_mwh", "carbon_t_per_mwh")
    for name in (*arrays, "cfe_fraction"):
        np.testing.assert_array_equal(getattr(once, name), getattr(each, name), err_msg=name)  # NaN equals NaN


def test_a_cache_the_caller_turned_on_stays_on_with_what_it_holds(tmp_path: Path) -> None:
    cache.enable()
    try:
        inputs.build_problem(parse_scenario(scenario_text(BASIC), tmp_path / "s.toml"))
        held = cache.stats()
        assert held["enabled"] and held["entries"] == 3
    finally:
        cache.disable()
