"""Monte Carlo over planning uncertainty: distributions, seeded sampling, executors, summaries, tornado, and the
example project on real japan-2022 data."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from montecarlo_project import (
    FAILURES_PER_GPU_DAY,
    ExampleProject,
    dispatch_grid_import,
    example_project_draw,
    load_site_year,
)
from scipy import stats

from wattbit.errors import WattbitInputError
from wattbit.montecarlo.distributions import LogNormal, Normal, Triangular, Uniform, distribution_from_mapping
from wattbit.montecarlo.engine import (
    DEFAULT_ENERGY_PRICE,
    MonteCarloResult,
    UncertaintySpec,
    run_monte_carlo,
    sample_draws,
    sensitivity,
)
from wattbit.parallel import DaskExecutor, LocalExecutor, TaskError
from wattbit.physics.battery import BatterySpec
from wattbit.physics.gpu import it_power_w
from wattbit.physics.site import plant_from_site, site_power

Z90 = 1.2815515655446004  # standard normal 90th percentile


def linear_model(draw: dict[str, float]) -> dict[str, float]:
    """y = 3 a + 1 and z = 2 b - 5 c: closed-form percentiles and tornado swings."""
    return {"y": 3.0 * draw["a"] + 1.0, "z": 2.0 * draw.get("b", 0.0) - 5.0 * draw.get("c", 0.0)}


def fails_on_high_a(draw: dict[str, float]) -> dict[str, float]:
    if draw["a"] > 2.5:
        raise ValueError(f"a={draw['a']:.3f} is too high")
    return {"y": draw["a"]}


def seeded_noise(draw: dict[str, float]) -> dict[str, float]:
    """A model with its own random numbers, seeded by the draw's seed."""
    return {"noise": float(np.random.default_rng(int(draw["seed"])).standard_normal())}


NO_BATTERY = ExampleProject(battery_mwh=0.0)


def only(**extra: Any) -> UncertaintySpec:
    """A spec with nothing but ``extra`` uncertain."""
    return UncertaintySpec(None, None, {}, None, None, extra=extra)


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    """A real Dask LocalCluster of 2 worker processes."""
    import distributed  # noqa: F401  (a dev dependency: its absence must fail, not skip)

    with DaskExecutor(n_workers=2) as ex:
        yield ex


@pytest.fixture(scope="module")
def local_pool() -> Iterator[LocalExecutor]:
    """2 spawned worker processes, shared by the tests of this module (each start imports wattbit anew)."""
    with LocalExecutor(workers=2) as ex:
        yield ex


# --- distributions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [
        (lambda: Normal(1.0, 0.0), "sd", r"Normal: sd=0.0 must be a finite number > 0"),
        (lambda: Normal(float("nan"), 1.0), "mean", r"Normal: mean=nan must be a finite number"),
        (lambda: Normal("1", 1.0), "mean", r"Normal: mean='1' must be a number"),
        (lambda: LogNormal(-1.0, 0.2), "median", r"LogNormal: median=-1.0 must be a finite number > 0"),
        (lambda: LogNormal(1.0, math.inf), "sigma", r"LogNormal: sigma=inf must be a finite number > 0"),
        (lambda: Triangular(1.0, 1.0, 1.0), "low", r"Triangular: low=1 must be below high=1"),
        (lambda: Triangular(0.8, 1.5, 1.2), "mode", r"Triangular: mode=1.5 must be in \[low, high\] = \[0.8, 1.2\]"),
        (lambda: Uniform(2.0, 1.0), "low", r"Uniform: low=2 must be below high=1"),
        (lambda: Uniform(True, 2.0), "low", r"Uniform: low=True must be a number"),
    ],
)
def test_distribution_validation(make: Any, field: str, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        make()
    assert info.value.field == field


def test_quantile_functions_match_scipy() -> None:
    q = np.array([0.0, 0.01, 0.1, 0.3, 0.5, 0.77, 0.9, 0.999, 1.0])
    tri = Triangular(0.7, 1.0, 1.6)
    ref = stats.triang(c=(1.0 - 0.7) / 0.9, loc=0.7, scale=0.9)
    np.testing.assert_allclose(tri.ppf(q), ref.ppf(q), rtol=1e-12)
    np.testing.assert_allclose(LogNormal(1.2, 0.3).ppf(q[1:-1]), stats.lognorm(0.3, scale=1.2).ppf(q[1:-1]), rtol=1e-12)
    np.testing.assert_allclose(Normal(2.0, 0.5).ppf(q[1:-1]), stats.norm(2.0, 0.5).ppf(q[1:-1]), rtol=1e-12)
    np.testing.assert_allclose(Uniform(-1.0, 3.0).ppf(q), stats.uniform(-1.0, 4.0).ppf(q), rtol=1e-12)
    assert tri.mean == pytest.approx(ref.mean(), rel=1e-12)
    assert LogNormal(1.2, 0.3).mean == pytest.approx(stats.lognorm(0.3, scale=1.2).mean(), rel=1e-12)
    z = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(tri.from_normal(z), ref.ppf(stats.norm.cdf(z)), rtol=1e-12)
    with pytest.raises(WattbitInputError, match=r"probabilities q=1.5 must be in \[0, 1\]"):
        tri.ppf(1.5)


def test_distribution_from_config_names_the_field() -> None:
    assert distribution_from_mapping({"dist": "uniform", "low": 0.5, "high": 2}, "x") == Uniform(0.5, 2.0)
    with pytest.raises(WattbitInputError, match=r"uncertainty.capex.it: Triangular: mode=3 must be in") as info:
        UncertaintySpec.from_mapping({"capex": {"it": {"dist": "triangular", "low": 0.8, "mode": 3, "high": 1.2}}})
    assert info.value.field == "uncertainty.capex.it.mode"
    with pytest.raises(WattbitInputError, match=r"must be a table with dist = one of") as info:
        UncertaintySpec.from_mapping({"demand": {"dist": "beta", "a": 1}})
    assert info.value.field == "uncertainty.demand.dist"
    with pytest.raises(
        WattbitInputError, match=r"a lognormal distribution takes \['median', 'sigma'\]; got \['median', 'sd'\]"
    ):
        UncertaintySpec.from_mapping({"energy_price": {"dist": "lognormal", "median": 1, "sd": 0.2}})
    with pytest.raises(WattbitInputError, match=r"unknown key\(s\) \['prices'\]") as info:
        UncertaintySpec.from_mapping({"prices": {}})
    assert info.value.field == "uncertainty.prices"
    spec = UncertaintySpec.from_mapping(
        {"energy_price": {"dist": "normal", "mean": 1.0, "sd": 0.1}, "demand": "fixed", "price_carbon_correlation": 0.4}
    )
    assert spec.energy_price == Normal(1.0, 0.1) and spec.demand is None and spec.price_carbon_correlation == 0.4
    assert "demand_multiplier" not in spec.parameters()


# --- the spec and sampling -----------------------------------------------------------------------------------


def test_default_spec_has_the_five_uncertainties() -> None:
    names = list(UncertaintySpec().parameters())
    assert names == [
        "energy_price_multiplier",
        "grid_carbon_multiplier",
        "capex_it_multiplier",
        "capex_facility_multiplier",
        "capex_energy_multiplier",
        "demand_multiplier",
        "failure_rate_multiplier",
    ]
    medians = UncertaintySpec().medians()
    assert medians["energy_price_multiplier"] == pytest.approx(1.0)
    lo, hi = UncertaintySpec().spans()["energy_price_multiplier"]
    assert (lo, hi) == pytest.approx((math.exp(-0.26 * Z90), math.exp(0.26 * Z90)), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"energy_price": 1.2}, "uncertainty.energy_price", r"uncertainty.energy_price=1.2 must be a distribution"),
        ({"capex": {"IT": Uniform(0.9, 1.1)}}, "uncertainty.capex", r"name 'IT' must be lower case letters"),
        ({"capex": {"it": (0.9, 1.1)}}, "uncertainty.capex.it", r"uncertainty.capex.it=\(0.9, 1.1\) must be a"),
        ({"price_carbon_correlation": 1.5}, "uncertainty.price_carbon_correlation", r"=1.5 must be in \[-1, 1\]"),
        (
            {"grid_carbon": None, "price_carbon_correlation": 0.5},
            "uncertainty.price_carbon_correlation",
            r"needs both energy_price and grid_carbon",
        ),
        (
            {"extra": {"demand_multiplier": Uniform(0, 1)}},
            "uncertainty.extra",
            r"names \['demand_multiplier'\] are taken",
        ),
        ({"extra": {"seed": Uniform(0, 1)}}, "uncertainty.extra", r"names \['seed'\] are taken"),
    ],
)
def test_spec_validation(kwargs: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        UncertaintySpec(**kwargs)
    assert info.value.field == field


def test_sampling_is_reproducible_prefix_stable_and_seed_dependent() -> None:
    spec = UncertaintySpec()
    a = sample_draws(spec, 50, 7)
    pd.testing.assert_frame_equal(a, sample_draws(spec, 50, 7))
    pd.testing.assert_frame_equal(a.iloc[:20], sample_draws(spec, 20, 7))  # draw i does not depend on n
    b = sample_draws(spec, 50, 8)
    assert not np.any(np.isclose(a["energy_price_multiplier"], b["energy_price_multiplier"]))
    assert a["seed"].between(0, 2**32 - 1).all() and a["seed"].is_unique
    tri = spec.capex["facility"]
    assert isinstance(tri, Triangular)
    assert a["capex_facility_multiplier"].between(tri.low, tri.high).all()
    with pytest.raises(WattbitInputError, match=r"n_draws=0 must be a whole number in \[1, 10000000\]"):
        sample_draws(spec, 0, 1)
    with pytest.raises(WattbitInputError, match=r"seed=-1 must be a whole number"):
        sample_draws(spec, 5, -1)


def test_sampled_marginals_and_price_carbon_correlation() -> None:
    rho = 0.6
    spec = UncertaintySpec(grid_carbon=LogNormal(0.9, 0.2), price_carbon_correlation=rho)
    n = 10_000
    draws = sample_draws(spec, n, 3)
    log_price = np.log(draws["energy_price_multiplier"].to_numpy())
    log_carbon = np.log(draws["grid_carbon_multiplier"].to_numpy() / 0.9)
    # the normal scores are log(x / median) / sigma: correlation rho, standard normal marginals
    assert np.corrcoef(log_price, log_carbon)[0, 1] == pytest.approx(rho, abs=4 * (1 - rho**2) / math.sqrt(n))
    assert log_price.std() == pytest.approx(DEFAULT_ENERGY_PRICE.sigma, rel=0.03)
    assert log_carbon.std() == pytest.approx(0.2, rel=0.03)
    assert abs(np.corrcoef(log_price, draws["demand_multiplier"])[0, 1]) < 4 / math.sqrt(n)
    independent = sample_draws(UncertaintySpec(grid_carbon=LogNormal(0.9, 0.2)), n, 3)
    # the price draws are the same with or without correlation; only carbon's scores are mixed
    np.testing.assert_array_equal(independent["energy_price_multiplier"], draws["energy_price_multiplier"])


# --- running, summarising, failing ---------------------------------------------------------------------------


def test_percentiles_of_a_linear_output_match_the_closed_form() -> None:
    n, mean_a, sd_a = 10_000, 2.0, 0.5
    result = run_monte_carlo(linear_model, only(a=Normal(mean_a, sd_a)), n, seed=11, executor="serial")
    summary = result.summary()
    sd_y = 3.0 * sd_a
    row = summary.loc["y"]
    # y = 3 a + 1 ~ Normal(7, 1.5): P10/P90 = 7 -/+ 1.2816 x 1.5. Standard error of a sample p-quantile:
    # sqrt(p (1 - p) / n) / density(x_p) = 0.026 at p = 0.1; of the median 0.019; of the mean 0.015.
    se_p10 = math.sqrt(0.1 * 0.9 / n) / stats.norm(7.0, sd_y).pdf(7.0 - Z90 * sd_y)
    assert row["p10"] == pytest.approx(7.0 - Z90 * sd_y, abs=4 * se_p10)
    assert row["p90"] == pytest.approx(7.0 + Z90 * sd_y, abs=4 * se_p10)
    assert row["p50"] == pytest.approx(7.0, abs=4 * math.sqrt(0.25 / n) / stats.norm(0, sd_y).pdf(0))
    assert row["mean"] == pytest.approx(7.0, abs=4 * sd_y / math.sqrt(n))
    assert row["std"] == pytest.approx(sd_y, rel=0.03)
    assert row["sem"] == pytest.approx(row["std"] / math.sqrt(n))
    assert row["n"] == n
    assert list(result.table.columns) == ["seed", "a", "y", "z"]
    with_inputs = result.summary(quantiles=(0.05, 0.95), include_parameters=True)
    assert list(with_inputs.columns) == ["n", "mean", "std", "sem", "p5", "p95"]
    assert with_inputs.loc["a", "p95"] == pytest.approx(mean_a + 1.6449 * sd_a, abs=0.03)


def test_summary_counts_finite_values_only() -> None:
    table = pd.DataFrame({"seed": [1, 2, 3, 4], "a": [1.0, 2.0, 3.0, 4.0], "irr": [0.1, np.nan, 0.3, 0.5]})
    summary = MonteCarloResult(table, ("a",), ("irr",), seed=0).summary()
    assert summary.loc["irr", "n"] == 3
    assert summary.loc["irr", "mean"] == pytest.approx(0.3)
    assert summary.loc["irr", "p50"] == pytest.approx(0.3)


def test_failing_draw_is_named_with_its_index_and_values(local_pool: LocalExecutor) -> None:
    spec = only(a=Normal(2.0, 0.5))
    first_bad = int(np.flatnonzero(sample_draws(spec, 40, 5)["a"].to_numpy() > 2.5)[0])
    with pytest.raises(TaskError) as info:
        run_monte_carlo(fails_on_high_a, spec, 40, seed=5, executor=local_pool)
    assert info.value.index == first_bad
    assert f"Monte Carlo draw {first_bad} (seed=" in str(info.value)
    assert "ValueError: a=" in str(info.value) and "is too high" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def bad_keys(draw: dict[str, float]) -> Mapping[str, float]:
    return {"y": 1.0} if draw["a"] < 2.0 else {"w": 1.0}


def text_output(draw: dict[str, float]) -> Mapping[str, Any]:
    return {"y": "high"}


def parameter_named_output(draw: dict[str, float]) -> Mapping[str, float]:
    return {"a": 1.0}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (bad_keys, r"evaluate_draw returned \['w'\] for draw \d+ but \['y'\] for draw 0"),
        (text_output, r"evaluate_draw returned y='high' for draw 0; outputs must be numbers"),
        (parameter_named_output, r"outputs named like parameters: \['a'\]"),
    ],
)
def test_bad_model_outputs_are_refused(model: Any, message: str) -> None:
    spec = only(a=Uniform(1.0, 3.0))
    with pytest.raises(WattbitInputError, match=message) as info:
        run_monte_carlo(model, spec, 30, seed=1, executor="serial")
    assert info.value.field == "evaluate_draw"


def test_tornado_of_a_linear_model() -> None:
    base = {"a": 2.0, "b": 1.0, "c": 1.0}
    frame = sensitivity(linear_model, base, {"b": (0.0, 2.0), "c": (0.5, 1.5), "a": (1.0, 3.0)})
    assert frame.attrs["base"] == {"y": 7.0, "z": -3.0}
    assert list(frame.index) == ["a", "b", "c"]  # sorted by the swing of y (6, 0, 0), ties in the order given
    assert frame.loc["a", "y_low"] == 4.0 and frame.loc["a", "y_high"] == 10.0 and frame.loc["a", "y_swing"] == 6.0
    assert frame.loc["b", "z_low"] == -5.0 and frame.loc["b", "z_high"] == -1.0
    assert frame.loc["c", "z_swing"] == pytest.approx(-5.0)
    with pytest.raises(WattbitInputError, match=r"spans.d: parameter 'd' is not in base") as info:
        sensitivity(linear_model, base, {"d": (0.0, 1.0)})
    assert info.value.field == "spans.d"
    with pytest.raises(WattbitInputError, match=r"spans.a=\(1.0,\) must be a \(low, high\) pair"):
        sensitivity(linear_model, base, {"a": (1.0,)})  # type: ignore[dict-item]


# --- the same seed gives the same table on every executor -------------------------------------------------------


def test_same_seed_same_results_in_process_local_pool_and_dask(
    local_pool: LocalExecutor, dask_executor: DaskExecutor
) -> None:
    spec = UncertaintySpec(price_carbon_correlation=0.5)
    serial = run_monte_carlo(NO_BATTERY, spec, 16, seed=2026, executor="serial")
    local = run_monte_carlo(NO_BATTERY, spec, 16, seed=2026, executor=local_pool)
    dask = run_monte_carlo(NO_BATTERY, spec, 16, seed=2026, executor=dask_executor)
    pd.testing.assert_frame_equal(serial.table, local.table, check_exact=True)
    pd.testing.assert_frame_equal(serial.table, dask.table, check_exact=True)
    assert serial.table["npv_jpy"].nunique() == 16
    noise = [run_monte_carlo(seeded_noise, spec, 8, 9, ex).table["noise"] for ex in ("serial", dask_executor)]
    pd.testing.assert_series_equal(noise[0], noise[1], check_exact=True)
    spec_a = only(a=Normal(2.0, 0.5))
    first_bad = int(np.flatnonzero(sample_draws(spec_a, 40, 5)["a"].to_numpy() > 2.5)[0])
    with pytest.raises(TaskError, match=rf"Monte Carlo draw {first_bad} \(") as info:
        run_monte_carlo(fails_on_high_a, spec_a, 40, seed=5, executor=dask_executor)
    assert isinstance(info.value.__cause__, ValueError)


# --- the example project on real data ---------------------------------------------------------------------------


def test_example_project_responds_to_each_multiplier_as_its_model_says() -> None:
    base = NO_BATTERY({})
    assert base == NO_BATTERY({"energy_price_multiplier": 1.0, "seed": 3})
    year, site = load_site_year("japan-2022", "fukushima")
    assert year.price_per_mwh.size == 8760 and site.it.gpu_count == 2048
    dear = NO_BATTERY({"energy_price_multiplier": 1.3})
    assert dear["energy_cost_jpy_per_year"] == pytest.approx(1.3 * base["energy_cost_jpy_per_year"], rel=1e-12)
    assert dear["npv_jpy"] < base["npv_jpy"]
    clean = NO_BATTERY({"grid_carbon_multiplier": 0.5})
    assert clean["carbon_t_per_year"] == pytest.approx(0.5 * base["carbon_t_per_year"], rel=1e-12)
    assert clean["npv_jpy"] == base["npv_jpy"]  # without a battery, carbon does not change any cash flow
    # carbon = sum_h import_h x intensity_h / 1000 [t]; with no battery the import is the load above PV
    imports = _no_battery_imports(NO_BATTERY)
    assert base["grid_import_mwh_per_year"] == pytest.approx(imports.sum(), rel=1e-12)
    assert base["carbon_t_per_year"] == pytest.approx(imports @ year.carbon_g_per_kwh / 1000, rel=1e-12)
    assert base["energy_cost_jpy_per_year"] == pytest.approx(imports @ year.price_per_mwh, rel=1e-12)
    assert NO_BATTERY({"capex_it_multiplier": 1.2})["npv_jpy"] < base["npv_jpy"]
    assert NO_BATTERY({"capex_facility_multiplier": 0.8})["npv_jpy"] > base["npv_jpy"]
    assert NO_BATTERY({"capex_energy_multiplier": 1.3})["lcoe_jpy_per_mwh"] > base["lcoe_jpy_per_mwh"]
    full = NO_BATTERY({"demand_multiplier": 2.0})  # utilisation is capped at 1
    lost = FAILURES_PER_GPU_DAY / 24 * 1024 * (0.5 + 0.25)
    assert full["gpu_hours_per_year"] == pytest.approx(2048 * 8760 * (1 - lost), rel=1e-12)
    assert base["gpu_hours_per_year"] == pytest.approx(2048 * 8760 * 0.8 * (1 - lost), rel=1e-12)
    assert full["grid_import_mwh_per_year"] > base["grid_import_mwh_per_year"]
    flaky = NO_BATTERY({"failure_rate_multiplier": 3.0})
    assert flaky["gpu_hours_per_year"] == pytest.approx(2048 * 8760 * 0.8 * (1 - 3 * lost), rel=1e-12)
    with pytest.raises(WattbitInputError, match=r"demand_multiplier=-0.5 must be a finite number >= 0"):
        NO_BATTERY({"demand_multiplier": -0.5})
    with pytest.raises(WattbitInputError, match=r"site='osaka' is not in scenario 'japan-2022'"):
        ExampleProject(site="osaka")({})
    with pytest.raises(WattbitInputError, match=r"base_utilisation=0.0 must be"):
        ExampleProject(base_utilisation=0.0)


def _no_battery_imports(project: ExampleProject) -> np.ndarray:
    """Hourly import without a battery, rebuilt from the physics: facility load above PV."""
    year, site = load_site_year(project.scenario, project.site)
    plant = plant_from_site(site)
    it = float(it_power_w(plant.gpu, plant.gpu_count, project.base_utilisation))
    facility = site_power(plant, np.full(year.temp_db_c.size, it), year.temp_db_c, year.temp_wb_c).facility_w / 1e6
    return np.maximum(facility - year.pv_mw, 0.0)


def test_battery_lp_dispatch_matches_hand_solution() -> None:
    # 1 MW load, no PV, cheap (10) and dear (100) hours alternating; battery 1 MWh / 1 MW, usable 0.2-1.0 MWh.
    # Each cheap hour stores the full window 0.8 MWh (grid 0.8 / eta_c), each dear hour delivers 0.8 eta_d.
    battery = BatterySpec(energy_mwh=1.0, power_mw=1.0)
    eta_c, eta_d = battery.charge_efficiency, battery.discharge_efficiency
    cost = np.tile([10.0, 100.0], 24)
    imports = dispatch_grid_import(cost, np.ones(48), grid_mw=3.0, battery=battery)
    np.testing.assert_allclose(imports[10:40:2], 1.0 + 0.8 / eta_c, rtol=1e-7)
    np.testing.assert_allclose(imports[11:41:2], 1.0 - 0.8 * eta_d, rtol=1e-7)
    assert imports.max() <= 3.0 + 1e-9 and imports.min() >= 0.0
    flat = dispatch_grid_import(np.full(48, 50.0), np.ones(48), 3.0, battery)
    np.testing.assert_allclose(flat, 1.0, atol=1e-9)  # losses make cycling on a flat price a loss
    capped = dispatch_grid_import(cost, np.ones(48), grid_mw=1.2, battery=battery)
    assert capped.max() <= 1.2 + 1e-9
    with pytest.raises(WattbitInputError, match=r"battery dispatch found no solution") as info:
        dispatch_grid_import(cost, np.full(48, 2.5), grid_mw=1.0, battery=battery)
    assert info.value.field == "grid_connection_mw"
    with pytest.raises(WattbitInputError, match=r"net load peaks at 2.500 MW, above the grid connection of 1 MW"):
        dispatch_grid_import(cost, np.full(48, 2.5), grid_mw=1.0, battery=None)


def test_example_project_with_battery_on_the_real_year() -> None:
    draw = {"energy_price_multiplier": 1.1, "grid_carbon_multiplier": 0.8, "demand_multiplier": 0.9}
    with_battery = example_project_draw(draw)
    without = NO_BATTERY(draw)
    # the LP may always leave the battery idle, so its dispatch costs no more than none (price + shadow carbon)
    shadow = ExampleProject().carbon_shadow_price_per_t
    cost_with = with_battery["energy_cost_jpy_per_year"] + shadow * with_battery["carbon_t_per_year"]
    cost_without = without["energy_cost_jpy_per_year"] + shadow * without["carbon_t_per_year"]
    assert cost_with < cost_without
    assert with_battery["gpu_hours_per_year"] == without["gpu_hours_per_year"]
    assert set(with_battery) == {
        "npv_jpy",
        "irr",
        "lcoe_jpy_per_mwh",
        "cost_jpy_per_gpu_hour",
        "carbon_t_per_year",
        "grid_import_mwh_per_year",
        "energy_cost_jpy_per_year",
        "gpu_hours_per_year",
    }
