"""Runs started through the API give mpc the signals before their window, as `wattbit simulate/bench --start` do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wattbit.api.jobs import execute
from wattbit.scenario import load_scenario


class Captured(Exception):
    """Stops the run once the history handed over has been seen."""


@pytest.mark.parametrize(
    ("kind", "module", "function", "params"),
    [
        ("simulate", "wattbit.control.bench", "simulate_policy", {"policy": "mpc"}),
        ("bench", "wattbit.report.bench_report", "run_bench", {"policies": ["baseline", "mpc"]}),
    ],
)
def test_an_api_run_gives_mpc_the_history_before_its_window(
    kind: str, module: str, function: str, params: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    given: dict[str, Any] = {}

    def spy(*args: Any, **kwargs: Any) -> Any:
        given["history"] = kwargs.get("history")
        raise Captured

    monkeypatch.setattr(importlib.import_module(module), function, spy)
    whole = load_scenario("japan-2022")
    body = {"start": "2022-04-10", "end": "2022-04-11", **params}
    with pytest.raises(Captured):
        execute(kind, whole, body, tmp_path, lambda share, message: None)
    history = given["history"]
    assert history is not None and history.steps == 28 * 96  # 28 days of 15-minute steps before 10 April

    given.clear()
    with pytest.raises(Captured):  # a window that starts with the data has nothing before it
        execute(kind, whole, {**body, "start": "2022-01-01", "end": "2022-01-02"}, tmp_path, lambda s, m: None)
    assert given["history"] is None
