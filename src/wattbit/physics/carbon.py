"""Grid carbon intensity from a generation mix.

The area supply-demand files of the Japanese transmission utilities give hourly generation by source but lump coal,
LNG and oil into one "thermal" column. :func:`carbon_intensity_from_mix` turns such a mix into an hourly
**average, production-based** carbon intensity: the generation-weighted mean of per-source emission factors over the
energy generated inside the area. Imports over interconnectors, pumped-storage discharge and curtailed energy are
excluded (so it is not Electricity Maps' consumption-based, flow-traced figure). It is an *average* intensity, not
a *marginal* one: use it for location-based accounting, not for the effect of one more MWh.

Emission factors (g CO2-eq per kWh generated)
---------------------------------------------
Japan-specific life-cycle factors of CRIEPI: Imamura, Iuchi and Bando (2016), "Comprehensive assessment of
life-cycle CO2 emissions from power generation technologies in Japan", CRIEPI report Y06 (status S: values as widely
quoted, re-check against the report). ``lifecycle`` = combustion + plant construction, fuel supply and operation:
coal 943, oil 738, LNG combined cycle 474, solar 38, wind 26, nuclear 19, geothermal 13, hydro 11. ``direct`` =
the combustion part only: coal 864, oil 695, LNG combined cycle 376, non-combustion sources 0. Biomass is not in
the CRIEPI table: life-cycle 230 (IPCC AR5 WGIII 2014, Annex III, Table A.III.2 median, dedicated biomass), direct
0 (biogenic CO2, reported separately under the GHG Protocol).

Thermal fuel split (assumption, U)
----------------------------------
Per grid area, the share of coal, LNG and oil in thermal generation. Defaults are rough readings of each area's
thermal fleet in 2021-2022 (installed capacity and utilities' fuel reports); they are assumptions to replace with
the area's actual fuel statistics (OCCTO publishes thermal by fuel from FY2024) and can be overridden in the
scenario. The resulting annual means are checked in the tests against the published utility emission factors
(about 0.45-0.55 kg/kWh for Tohoku and Hokkaido in FY2021-22).

Carbon-free share (:func:`carbon_free_share_from_mix`)
------------------------------------------------------
The share of the same generation (same columns, same exclusions) that is carbon-free: nuclear, hydro, geothermal,
biomass, solar and wind, over all sources including thermal. This is the "carbon-free energy" (CFE) of Google's
24/7 CFE methodology (Google, "24/7 Carbon-Free Energy: Methodologies and Metrics", Feb 2021, S) and Electricity
Maps' CFE% (renewables + nuclear, S), and Japan's "non-fossil" (非化石) classes of the Act on Sophisticated Energy
Supply Structures. Choices (assumptions, documented in docs/data.md):

* biomass counts as carbon-free, as in Electricity Maps' CFE% and the Japanese non-fossil class, although its
  life-cycle factor above is not small; biomass co-fired in coal plants is inside "thermal" and counts as fossil;
* pumped-storage discharge is excluded (it re-times energy generated earlier and already counted), so is pumping;
* interconnector flows are excluded: the share is production-based, of the area's own generation, like the
  intensity (imports are not traced to their origin as Electricity Maps does);
* curtailed solar and wind were not generated and are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.units import check_number

Basis = Literal["lifecycle", "direct"]

#: Generation columns (canonical names, MWh per hour) that enter the average.
GENERATION_SOURCES = ("nuclear", "thermal", "hydro", "geothermal", "biomass", "solar", "wind")

#: The generation sources counted as carbon-free in :func:`carbon_free_share_from_mix` (all but thermal).
CARBON_FREE_SOURCES = ("nuclear", "hydro", "geothermal", "biomass", "solar", "wind")

LIFECYCLE_G_PER_KWH: dict[str, float] = {
    "coal": 943.0,
    "oil": 738.0,
    "lng": 474.0,
    "biomass": 230.0,
    "solar": 38.0,
    "wind": 26.0,
    "nuclear": 19.0,
    "geothermal": 13.0,
    "hydro": 11.0,
}

DIRECT_G_PER_KWH: dict[str, float] = {
    "coal": 864.0,
    "oil": 695.0,
    "lng": 376.0,
    "biomass": 0.0,
    "solar": 0.0,
    "wind": 0.0,
    "nuclear": 0.0,
    "geothermal": 0.0,
    "hydro": 0.0,
}

#: Share of (coal, lng, oil) in thermal generation per grid area — assumption U, see module docstring.
THERMAL_FUEL_SHARES: dict[str, dict[str, float]] = {
    "hokkaido": {"coal": 0.60, "lng": 0.25, "oil": 0.15},
    "tohoku": {"coal": 0.55, "lng": 0.40, "oil": 0.05},
    "tokyo": {"coal": 0.30, "lng": 0.65, "oil": 0.05},
    "chubu": {"coal": 0.40, "lng": 0.58, "oil": 0.02},
    "hokuriku": {"coal": 0.85, "lng": 0.10, "oil": 0.05},
    "kansai": {"coal": 0.30, "lng": 0.65, "oil": 0.05},
    "chugoku": {"coal": 0.75, "lng": 0.20, "oil": 0.05},
    "shikoku": {"coal": 0.75, "lng": 0.20, "oil": 0.05},
    "kyushu": {"coal": 0.55, "lng": 0.40, "oil": 0.05},
    "okinawa": {"coal": 0.60, "lng": 0.15, "oil": 0.25},
}


@dataclass(frozen=True)
class EmissionFactors:
    """Per-source emission factors [g CO2-eq/kWh] with their basis and the thermal fuel split.

    Attributes
    ----------
    basis
        ``"lifecycle"`` or ``"direct"``.
    by_source
        Factor per source: coal, lng, oil and every name in :data:`GENERATION_SOURCES` except ``thermal``.
    thermal_shares
        Share of coal, lng and oil in thermal generation; must sum to 1.
    """

    basis: Basis
    by_source: dict[str, float]
    thermal_shares: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.by_source.items():
            check_number(value, name, 0.0, what="emission factor")
        shares = self.thermal_shares
        if shares:
            unknown = set(shares) - {"coal", "lng", "oil"}
            if unknown:
                raise WattbitInputError(f"unknown thermal fuels {sorted(unknown)}; expected coal, lng, oil")
            if any(v < 0 for v in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
                raise WattbitInputError(f"thermal fuel shares {shares} must be >= 0 and sum to 1")

    @property
    def thermal_g_per_kwh(self) -> float:
        """Emission factor of the lumped thermal column: the share-weighted mean of coal, LNG and oil."""
        return sum(share * self.by_source[fuel] for fuel, share in self.thermal_shares.items())

    def factor(self, source: str) -> float:
        """Factor for a generation column name (``thermal`` resolved through the fuel split)."""
        return self.thermal_g_per_kwh if source == "thermal" else self.by_source[source]


def default_emission_factors(
    area: str,
    basis: Basis = "lifecycle",
    overrides: dict[str, float] | None = None,
    thermal_shares: dict[str, float] | None = None,
) -> EmissionFactors:
    """The documented default factors for a Japanese grid area, with optional user overrides.

    Parameters
    ----------
    area
        Grid area (``"tohoku"``, ``"hokkaido"``, ...), used for the thermal fuel split.
    basis
        ``"lifecycle"`` (CRIEPI 2016, IPCC AR5 for biomass) or ``"direct"`` (combustion CO2 only).
    overrides
        Replace factors of individual sources [g/kWh], e.g. ``{"coal": 900}``.
    thermal_shares
        Replace the area's coal/lng/oil split.
    """
    if basis not in ("lifecycle", "direct"):
        raise WattbitInputError(f"unknown basis {basis!r}; expected 'lifecycle' or 'direct'", field="basis")
    key = area.lower()
    if thermal_shares is None:
        if key not in THERMAL_FUEL_SHARES:
            raise WattbitInputError(
                f"no default thermal fuel split for area {area!r}; known areas: {', '.join(THERMAL_FUEL_SHARES)} "
                "(or give thermal_shares)",
                field="area",
            )
        thermal_shares = THERMAL_FUEL_SHARES[key]
    table = dict(LIFECYCLE_G_PER_KWH if basis == "lifecycle" else DIRECT_G_PER_KWH)
    for name, value in (overrides or {}).items():
        if name not in table:
            raise WattbitInputError(f"unknown source {name!r} in emission-factor overrides; known: {sorted(table)}")
        table[name] = float(value)
    return EmissionFactors(basis=basis, by_source=table, thermal_shares=dict(thermal_shares))


def carbon_intensity_from_mix(mix_mwh: pd.DataFrame, factors: EmissionFactors) -> pd.Series:
    """Hourly average carbon intensity of generation in an area.

    ``CI_t = sum_s EF_s G_{s,t} / sum_s G_{s,t}`` over the generation sources present in ``mix_mwh``.

    Parameters
    ----------
    mix_mwh
        Generation per period with columns ``<source>_mwh`` for sources in :data:`GENERATION_SOURCES` (other
        columns are ignored). Negative generation is an error.
    factors
        Emission factors, e.g. from :func:`default_emission_factors`.

    Returns
    -------
    pandas.Series
        ``carbon_g_per_kwh`` [g CO2-eq/kWh], NaN where there is no generation data.
    """
    cols, gen = _generation_mwh(mix_mwh)
    ef = np.array([factors.factor(s) for s in cols])
    total = gen.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ci = gen @ ef / total
    ci[~(total > 0)] = np.nan
    return pd.Series(ci, index=mix_mwh.index, name="carbon_g_per_kwh")


def carbon_free_share_from_mix(mix_mwh: pd.DataFrame, carbon_free: tuple[str, ...] = CARBON_FREE_SOURCES) -> pd.Series:
    """Hourly carbon-free (CFE) share of generation in an area, in percent.

    ``CFE_t = 100 sum_{s in CF} G_{s,t} / sum_s G_{s,t}`` over the generation sources of :data:`GENERATION_SOURCES`
    present in ``mix_mwh``: the same columns and exclusions (pumped storage, interconnectors, curtailment) as
    :func:`carbon_intensity_from_mix`, so the two signals describe one and the same mix.

    Parameters
    ----------
    mix_mwh
        Generation per period with columns ``<source>_mwh`` (other columns are ignored). Negative generation is an
        error.
    carbon_free
        Sources counted as carbon-free; default :data:`CARBON_FREE_SOURCES` (every source except thermal).

    Returns
    -------
    pandas.Series
        ``cfe_pct`` in [0, 100] [%], NaN where there is no generation data.

    Raises
    ------
    WattbitInputError
        If no generation column is present, a name in ``carbon_free`` is not a generation source, or a value is
        negative.
    """
    unknown = sorted(set(carbon_free) - set(GENERATION_SOURCES))
    if unknown:
        raise WattbitInputError(
            f"unknown carbon-free source(s) {unknown}; expected some of {list(GENERATION_SOURCES)}",
            field="carbon_free",
        )
    cols, gen = _generation_mwh(mix_mwh)
    clean = np.array([s in carbon_free for s in cols])
    total = gen.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 100.0 * gen[:, clean].sum(axis=1) / total
    share[~(total > 0)] = np.nan
    return pd.Series(share, index=mix_mwh.index, name="cfe_pct")


def _generation_mwh(mix_mwh: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The generation sources present in ``mix_mwh`` and their values (rows x sources), checked to be >= 0.

    A source column with no value in any row is a source the area does not report (Hokuriku's files leave
    geothermal empty: it has no geothermal plant) and is left out, as if the column were absent; a column with
    values in some rows and gaps in others keeps its gaps, which make those rows NaN.
    """
    cols = [s for s in GENERATION_SOURCES if f"{s}_mwh" in mix_mwh.columns and mix_mwh[f"{s}_mwh"].notna().any()]
    if not cols:
        raise WattbitInputError(
            f"no generation columns found; expected some of {[s + '_mwh' for s in GENERATION_SOURCES]}"
        )
    gen = mix_mwh[[f"{s}_mwh" for s in cols]].to_numpy(dtype=float)
    if np.any(gen < 0):
        r, c = (int(v[0]) for v in np.nonzero(gen < 0))
        raise WattbitInputError(
            f"negative generation {gen[r, c]} at {mix_mwh.index[r]} (expected >= 0)", field=f"{cols[c]}_mwh"
        )
    return cols, gen


def carbon_accounting_label(bases: Iterable[str]) -> str:
    """How grid carbon was counted, in words for reports: the emission-factor basis and its GHG Protocol scope.

    Grid imports times the grid's average intensity is a location-based figure. With ``lifecycle`` factors it holds
    the combustion at the plants (scope 2) and the upstream emissions of fuel supply and plant construction (scope 3,
    category 3, "fuel- and energy-related activities"), in t CO2-eq; with ``direct`` factors only the combustion CO2
    (scope 2).

    Parameters
    ----------
    bases
        The basis of each site's carbon data (``"lifecycle"`` or ``"direct"``).

    Returns
    -------
    str
        For example ``"life-cycle, location-based (scope 2 + upstream scope 3.3), t CO2-eq"``.
    """
    found = sorted(set(bases))
    if found == ["lifecycle"]:
        return "life-cycle, location-based (scope 2 + upstream scope 3.3), t CO2-eq"
    if found == ["direct"]:
        return "combustion only, location-based (scope 2), t CO2"
    return "mixed bases (" + ", ".join(found) + "), location-based; t CO2-eq for life-cycle sites"
