"""``wattbit site-report``: what a site designer asks first, per site at full IT load over the scenario's weather."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattbit.data.signals import load_scenario_signals
from wattbit.physics.renewables import capacity_factor, capacity_factor_flag, generation_sources, site_generation_w
from wattbit.physics.site import SitePower, annual_site_metrics, plant_from_site, site_power
from wattbit.report.html import Section, figure_html, table_html, write_page
from wattbit.scenario import Scenario, Site

REFERENCE_CAPACITY_W = 1e6  # capacity factors are computed for 1 MW when a site has no PV or wind installed

TABLE = [
    ("pue", "PUE", 3),
    ("wue_l_per_kwh", "WUE [L/kWh]", 3),
    ("cooling_energy_share", "cooling / facility", 3),
    ("power_chain_loss_share", "conversion loss / facility", 3),
    ("power_chain_loss_share_of_it", "conversion loss / IT", 3),
    ("free_cooling_hours", "free-cooling hours", 0),
    ("pv_capacity_factor", "PV CF", 3),
    ("wind_capacity_factor", "wind CF", 3),
    ("it_power_mw", "IT [MW]", 2),
    ("facility_peak_mw", "facility peak [MW]", 2),
    ("water_m3", "water [m³]", 0),
    ("cooling_share_of_it", "cooling / IT", 3),
]
#: Below this mean December-February air temperature snow stays on the modules for days (U); pvlib ignores it.
SNOW_WINTER_TEMP_C = 0.0


def _renewables(site: Site, signals: pd.DataFrame, tz: str) -> dict[str, Any]:
    index = pd.DatetimeIndex(signals.index)
    pv_cap = site.pv_mw * 1e6 or REFERENCE_CAPACITY_W
    wind_cap = site.wind_mw * 1e6 or REFERENCE_CAPACITY_W
    pv, wind = site_generation_w(site, signals, pv_capacity_dc_w=pv_cap, wind_capacity_w=wind_cap)
    cf = {"pv": capacity_factor(pv, pv_cap), "wind": capacity_factor(wind, wind_cap)}
    whole_year = (index[-1] - index[0]) + (index[1] - index[0]) >= pd.Timedelta(days=365)
    flags = [f for tech in cf if whole_year and (f := capacity_factor_flag(tech, cf[tech]))]
    area = {
        f"area_{tech}_capacity_factor": float(signals[col].mean())
        for tech, col in (("wind", "wind_cf_area"), ("solar", "solar_cf_area"))
        if col in signals and signals[col].notna().all()
    }
    snow = _snow_flag(site, signals, pv / pv_cap * site.design.pv_dc_ac_ratio, tz)
    return {
        "pv_capacity_factor": cf["pv"],
        "wind_capacity_factor": cf["wind"],
        "pv_energy_mwh": float(np.sum(pv)) * _step_h(index) / 1e6 if site.pv_mw else 0.0,
        "wind_energy_mwh": float(np.sum(wind)) * _step_h(index) / 1e6 if site.wind_mw else 0.0,
        "generation_source": generation_sources(site, signals),
        **area,
        "capacity_factor_flags": flags + ([snow] if snow else []),
    }


def _snow_flag(site: Site, signals: pd.DataFrame, pv_per_ac_w: np.ndarray, tz: str) -> str | None:
    """A warning where pvlib models PV at a site whose winters keep snow on the modules (pvlib has no snow cover),
    with the area's measured December-March output beside it where the signals carry it."""
    if site.design.pv_profile != "pvlib":
        return None
    local = pd.DatetimeIndex(signals.index).tz_convert(tz)
    winter = np.isin(local.month, (12, 1, 2))
    if not winter.any() or float(signals["temp_air_c"].to_numpy()[winter].mean()) >= SNOW_WINTER_TEMP_C:
        return None
    dec_mar = np.isin(local.month, (12, 1, 2, 3))
    text = (
        f"PV: mean December-February air temperature below {SNOW_WINTER_TEMP_C:g} °C, and pvlib does not model snow "
        f"cover; its December-March output is {pv_per_ac_w[dec_mar].mean():.1%} of AC capacity"
    )
    if "solar_cf_area" in signals and signals["solar_cf_area"].notna().all():
        text += (
            f" against the {site.grid_area} area's measured {signals['solar_cf_area'].to_numpy()[dec_mar].mean():.1%} "
            "(which includes snow); pv_profile = 'area' uses the measured profile"
        )
    return text


def _step_h(index: pd.DatetimeIndex) -> float:
    return float((index[1] - index[0]) / pd.Timedelta("1h"))


def site_full_load(site: Site, signals: pd.DataFrame, tz: str = "Asia/Tokyo") -> tuple[SitePower, dict[str, Any]]:
    """Run the site physics at full IT load over ``signals``; return the per-step power and the metrics."""
    plant = plant_from_site(site)
    it_dc = np.full(len(signals), plant.rated_it_dc_w)
    power = site_power(plant, it_dc, signals["temp_air_c"].to_numpy(), signals["temp_wetbulb_c"].to_numpy())
    metrics: dict[str, Any] = annual_site_metrics(power, _step_h(pd.DatetimeIndex(signals.index)))
    metrics.update(_renewables(site, signals, tz))
    metrics.update(
        {
            "it_power_mw": float(np.mean(power.it_w)) / 1e6,
            "gpu_model": plant.gpu.name,
            "gpu_count": plant.gpu_count,
            "cooling": site.cooling,
            "power_architecture": site.power_architecture,
            "supply_temp_c": plant.cooling.supply_temp_c,
            "pv_mw": site.pv_mw,
            "wind_mw": site.wind_mw,
        }
    )
    return power, metrics


def _monthly_pue_figure(powers: dict[str, SitePower], index: pd.DatetimeIndex, tz: str) -> go.Figure:
    fig = go.Figure()
    for name, p in powers.items():
        frame = pd.DataFrame({"f": p.facility_w, "it": p.it_w}, index=index.tz_convert(tz))
        monthly = frame.resample("MS").sum()
        fig.add_scatter(x=monthly.index, y=(monthly["f"] / monthly["it"]).to_numpy(), name=name, mode="lines+markers")
    fig.update_layout(title="Monthly PUE at full IT load", yaxis_title="PUE", height=360, margin={"t": 50, "b": 30})
    return fig


def _breakdown_figure(metrics: dict[str, dict[str, Any]]) -> go.Figure:
    fig = go.Figure()
    names = list(metrics)
    for key, label in (
        ("energy_it_mwh", "IT"),
        ("energy_cooling_mwh", "cooling"),
        ("energy_losses_mwh", "power chain"),
        ("energy_misc_mwh", "other"),
    ):
        fig.add_bar(x=names, y=[metrics[n][key] for n in names], name=label)
    fig.update_layout(barmode="stack", title="Facility energy by use", yaxis_title="MWh", height=360)
    return fig


def build_site_report(scenario: Scenario, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Write ``sites.json`` and ``site-report.html`` for every site of ``scenario``; return the metrics."""
    signals, _ = load_scenario_signals(scenario)
    powers: dict[str, SitePower] = {}
    metrics: dict[str, dict[str, Any]] = {}
    for site in scenario.sites:
        powers[site.name], metrics[site.name] = site_full_load(site, signals[site.name], scenario.period.timezone)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = scenario.period
    doc = {
        "scenario": scenario.name,
        "period": {"start": p.start.isoformat(), "end": p.end.isoformat(), "step": p.step},
        "basis": "every site at its rated (nameplate) IT load, no cap, over the scenario's weather; PV and wind "
        "capacity factors on the installed capacity (1 MW where none is installed), PV on DC nameplate",
        "sites": metrics,
    }
    (out_dir / "sites.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    rows = [[name, *(m[key] for key, _, _ in TABLE)] for name, m in metrics.items()]
    table = "".join(
        table_html(["site", *(label for _, label, _ in TABLE[i : i + 6])], [[r[0], *r[1 + i : 7 + i]] for r in rows], 3)
        for i in (0, 6)
    )
    generation = table_html(
        ["site", "PV profile", "wind profile", "warnings"],
        [
            [
                name,
                m["generation_source"]["pv"],
                m["generation_source"]["wind"],
                "; ".join(m["capacity_factor_flags"]) or "none",
            ]
            for name, m in metrics.items()
        ],
    )
    index = next(iter(signals.values())).index
    sections = [
        Section("Sites at full IT load", table),
        Section("Where the on-site generation comes from", generation),
        Section("Monthly PUE", figure_html(_monthly_pue_figure(powers, pd.DatetimeIndex(index), p.timezone))),
        Section("Energy", figure_html(_breakdown_figure(metrics))),
    ]
    subtitle = (
        f"{scenario.scenario.description} Every site at full IT load over the weather of "
        f"{p.start:%Y-%m-%d} to {p.end:%Y-%m-%d}, step {p.step}. Models and sources: docs/models.md."
    )
    write_page(out_dir / "site-report.html", f"wattbit site report — {scenario.name}", subtitle, sections)
    return metrics
