"""Export of on-site surplus: up to the connection (or the scenario's limit), at the scenario's price basis."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.test_engine import NO_FAULTS, _scenario
from wattbit.control import make_policy
from wattbit.errors import ScenarioError
from wattbit.scenario import builtin_scenario_path, parse_scenario
from wattbit.sim.run import SimResult, simulate


def _run(export: dict) -> SimResult:
    sc = _scenario(days=2, step="1h")
    fukushima = sc.sites[0].model_copy(update={"export": type(sc.sites[0].export).model_validate(export)})
    sc = sc.model_copy(update={"sites": [fukushima, *sc.sites[1:]]})
    return simulate(sc, make_policy("baseline"), failure_rates=NO_FAULTS, seed=1)


def test_export_prices_and_limit() -> None:
    jepx = _run({})
    fit = _run({"price": "fit", "fixed_price_jpy_per_mwh": 10_000.0})
    fip = _run({"price": "fip", "premium_jpy_per_mwh": 3_000.0})
    none = _run({"price": "none"})
    capped = _run({"limit_mw": 1.0})
    closed = _run({"limit_mw": 0.0})
    ts = jepx.timeseries[jepx.timeseries["site"] == "fukushima"]
    exported_mwh = float(ts["export_w"].sum()) / 1e6
    assert exported_mwh > 1.0  # two March days of 8 MW of PV on a site drawing about 2-3 MW
    assert jepx.summary["energy_exported_mwh_by_site"]["fukushima"] == pytest.approx(exported_mwh)
    # the price basis only changes the revenue, never the flows
    for other in (fit, fip, none):
        assert other.summary["energy_exported_mwh"] == pytest.approx(jepx.summary["energy_exported_mwh"])
        assert other.summary["carbon_t"] == pytest.approx(jepx.summary["carbon_t"])
    all_ts = jepx.timeseries
    revenue = float((ts["export_w"] / 1e6 * ts["price_jpy_per_mwh"]).sum())  # fukushima's, at the area price
    others = float((all_ts["export_w"] / 1e6 * all_ts["price_jpy_per_mwh"]).sum()) - revenue  # ishikari's wind
    assert jepx.summary["export_revenue"] == pytest.approx(revenue + others)
    assert fit.summary["export_revenue"] == pytest.approx(10_000.0 * exported_mwh + others)
    assert fip.summary["export_revenue"] == pytest.approx(revenue + 3_000.0 * exported_mwh + others)
    assert none.summary["export_revenue"] == pytest.approx(others)
    assert jepx.summary["energy_cost_net"] == pytest.approx(jepx.summary["energy_cost"] - revenue - others)
    assert "FIT" in fit.summary["export_price_basis"]["fukushima"]
    # spill only beyond the limit; no export at all with a 0 MW limit
    cts = capped.timeseries[capped.timeseries["site"] == "fukushima"]
    assert cts["export_w"].max() <= 1e6 + 1e-6
    assert cts["spill_w"].sum() > 0 and (cts.loc[cts["spill_w"] > 0, "export_w"] >= 1e6 - 1e-6).all()
    assert closed.summary["energy_exported_mwh_by_site"]["fukushima"] == 0.0
    assert closed.summary["energy_spilled_mwh"] == pytest.approx(exported_mwh + jepx.summary["energy_spilled_mwh"])
    # carbon is location-based: exporting earns nothing, so it does not change the carbon
    assert closed.summary["carbon_t"] == pytest.approx(jepx.summary["carbon_t"])
    assert "no avoided-emission credit" in jepx.summary["carbon_basis"]
    # the annual clean-energy netting no longer counts the energy whose attributes left with the export
    assert jepx.summary["clean_energy_share_annual"] <= closed.summary["clean_energy_share_annual"] + 1e-12


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('price = "fit"', "needs fixed_price_jpy_per_mwh"),
        ('price = "jepx", fixed_price_jpy_per_mwh = 9000', "applies to price = 'fit' only"),
        ('price = "fit", fixed_price_jpy_per_mwh = 9000, premium_jpy_per_mwh = 1000', "applies to price = 'fip'"),
        ('price = "spot"', "Input should be"),
        ("limit_mw = -1", "greater than or equal to 0"),
    ],
)
def test_bad_export_settings_name_the_field(table: str, message: str) -> None:
    text = builtin_scenario_path("japan-2022").read_text(encoding="utf-8")
    text = text.replace("grid_connection_mw = 6\n", f"grid_connection_mw = 6\nexport = {{ {table} }}\n", 1)
    with pytest.raises(ScenarioError, match=message) as err:
        parse_scenario(text, builtin_scenario_path("japan-2022"))
    assert "sites[0].export" in str(err.value)


def test_export_defaults() -> None:
    sc = _scenario(days=1)
    assert all(s.export.price == "jepx" and s.export.limit_mw is None for s in sc.sites)
    assert np.isfinite(sc.sites[0].grid_connection_mw)
