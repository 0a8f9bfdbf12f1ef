"""Sites with the same data sources share one parse and one alignment, with their own names in every note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import wattbit.data.signals as signals_module
from wattbit.data.signals import load_scenario_signals, load_site_signals
from wattbit.scenario import Scenario, builtin_scenario_path, parse_scenario


def _scenario(tmp_path: Path) -> Scenario:
    """One day of japan-2022 with a fourth site, ``fukushima-b``, a copy of ``fukushima`` under another name; the
    carbon data of both fukushima sites and of ishikari are one user CSV with an hour missing (filled linearly) and a
    five-hour hole in its carbon-free share (too long to fill: unavailable, with the reason naming the site)."""
    times = pd.date_range("2022-03-01T00:00+09:00", periods=24, freq="1h").tz_convert("UTC")
    cfe = np.linspace(10.0, 80.0, 24)
    cfe[4:9] = np.nan
    frame = pd.DataFrame({"time_utc": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "carbon_g_per_kwh": 500.0, "cfe_pct": cfe})
    path = tmp_path / "carbon.csv"
    frame.drop(index=10).to_csv(path, index=False)
    source = f'carbon = {{ reader = "wattbit_signals", path = "{path.as_posix()}", gap_fill = "linear" }}'
    text = builtin_scenario_path("japan-2022").read_text(encoding="utf-8")
    text = text.replace("start = 2022-01-01T00:00:00+09:00", "start = 2022-03-01T00:00:00+09:00")
    text = text.replace("end = 2023-01-01T00:00:00+09:00", "end = 2022-03-02T00:00:00+09:00")
    for site in ("fukushima", "ishikari"):
        text = text.replace(f'carbon = {{ builtin = "japan-2022:{site}" }}', source)
    scenario = parse_scenario(text, builtin_scenario_path("japan-2022"))
    data = scenario.model_dump()
    data["sites"].append({**data["sites"][0], "name": "fukushima-b"})
    return Scenario.model_validate(data)


def test_shared_parse_gives_each_site_what_its_own_parse_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = _scenario(tmp_path)
    separate = {site.name: load_site_signals(site, scenario.period) for site in scenario.sites}

    parsed: list[Any] = []

    def counted(real: Any) -> Any:
        def read(*args: Any, **kwargs: Any) -> Any:
            parsed.append(args)
            return real(*args, **kwargs)

        return read

    for name in ("read_with", "read_wattbit_signals"):
        monkeypatch.setattr(signals_module, name, counted(getattr(signals_module, name)))
    signals, provenance = load_scenario_signals(scenario)

    assert len(parsed) == 4  # the CSV and the three built-in signal files, once each (fukushima's for four kinds)
    assert list(signals) == [site.name for site in scenario.sites]
    for name, (frame, prov) in separate.items():
        pd.testing.assert_frame_equal(signals[name], frame, check_exact=True)
        assert provenance[name].to_dict() == prov.to_dict()
    own = provenance["fukushima-b"]
    assert own.site == "fukushima-b" and own.fills == [
        "site fukushima-b, carbon: 1 periods filled by linear (1 gaps; first: 2022-03-01 01:00)"
    ]
    assert own.sources["carbon"]["cfe"].startswith("unavailable: site fukushima-b, carbon (cfe_pct): 6 periods")
    assert provenance["fukushima"].fills[0].startswith("site fukushima, carbon: ")
