"""Hourly wind and solar output per installed MW of a grid area, from its published supply-demand results.

The area supply-demand results (:mod:`wattbit.data.area_supply_demand`) give the hourly output of all wind and all
solar plants of an area, and what the transmission utility curtailed. Divided by the area's installed capacity of
the year, ``(output + curtailed) / capacity`` is the output of one installed MW of the area's average plant: a
measured profile with the area's real wind resource, snow, availability and losses, which a site without its own
mast or reanalysis data can use for on-site wind (and solar) in place of a city anemometer. Curtailed energy is
added back because a behind-the-meter plant is not curtailed by the utility.

Installed capacities (:data:`AREA_CAPACITY_MW`) are the utilities' connected (AC) capacities as published, with
their source and status (V/S/U as in ``REFERENCE.md``). For a year ``Y`` the capacity is the mean of the published
figures for the ends of ``Y - 1`` and ``Y`` where both exist, else the figure for the end of ``Y - 1`` (the capacity
at the start of the year; capacity grows during a year, so this overstates the capacity factor a little) or the one
stated for ``Y``. A year without a figure has no profile: the caller falls back to its weather model and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError

JST = "Asia/Tokyo"


@dataclass(frozen=True)
class Capacity:
    """A published installed capacity: value [MW], the date it refers to, source and status."""

    mw: float
    as_of: str
    source: str
    status: str


#: (area, technology) -> published capacities. Technology ``"wind"`` or ``"solar"``; ``as_of`` is ISO
#: (``YYYY-12-31`` for a year end, ``YYYY`` for a figure stated for a year without a date).
AREA_CAPACITY_MW: dict[tuple[str, str], tuple[Capacity, ...]] = {
    ("tohoku", "solar"): (
        Capacity(
            6_440.0,
            "2020-12-31",
            "Tohoku Electric Power Network via Kahoku Shimpo, 2021-03-16 "
            "(connected solar in the six Tohoku prefectures and Niigata)",
            "S",
        ),
        Capacity(7_250.0, "2021-12-31", "Tohoku Electric Power Network via Kahoku Shimpo, 2022-04-09", "S"),
    ),
    ("tohoku", "wind"): (
        Capacity(1_600.0, "2020-12-31", "Tohoku Electric Power Network via Kahoku Shimpo, 2021-03-16", "S"),
        Capacity(1_770.0, "2021-12-31", "Tohoku Electric Power Network via Kahoku Shimpo, 2022-04-09", "S"),
    ),
    ("hokkaido", "solar"): (
        Capacity(
            1_880.0,
            "2022",
            "Electricity Maps, electricitymaps-contrib config/zones/JP-HKD.yaml capacity "
            "(undated; below HEPCO Network's 2,250 MW connected at 2024-01-31, V)",
            "S",
        ),
    ),
    ("hokkaido", "wind"): (
        Capacity(
            577.0,
            "2022",
            "Electricity Maps, electricitymaps-contrib config/zones/JP-HKD.yaml capacity "
            "(undated; above NEDO's 358.7 MW at 2018-03-31, S, and below HEPCO Network's 1,170 MW connected "
            "at 2024-01-31 after the 2023 additions, V)",
            "S",
        ),
    ),
}

#: Output columns of the area supply-demand frame per technology: (generated, curtailed).
_COLUMNS = {"wind": ("wind_mwh", "wind_curtailed_mwh"), "solar": ("solar_mwh", "solar_curtailed_mwh")}


def capacity_for_year(area: str, technology: str, year: int) -> tuple[float, str] | None:
    """Installed capacity of ``area`` for calendar ``year`` [MW] and how it was found, or None if unpublished.

    Rule (module docstring): mean of the year-end figures of ``year - 1`` and ``year``; else the one for the end
    of ``year - 1``; else one stated for ``year``.
    """
    found = {c.as_of: c for c in AREA_CAPACITY_MW.get((area, technology), ())}
    start, end, stated = found.get(f"{year - 1}-12-31"), found.get(f"{year}-12-31"), found.get(f"{year}")
    if start and end:
        return (start.mw + end.mw) / 2.0, (
            f"{area} {technology} {year}: mean of {start.mw:,.0f} MW ({start.as_of}, {start.source}, {start.status}) "
            f"and {end.mw:,.0f} MW ({end.as_of}, {end.source}, {end.status})"
        )
    if start:
        return start.mw, (
            f"{area} {technology} {year}: {start.mw:,.0f} MW at the start of the year ({start.as_of}, {start.source}, "
            f"{start.status}; capacity added during the year is not counted, so the capacity factor is an upper "
            "estimate)"
        )
    if stated:
        return stated.mw, f"{area} {technology} {year}: {stated.mw:,.0f} MW ({stated.source}, {stated.status})"
    return None


def area_output_per_mw(frame: pd.DataFrame, area: str) -> tuple[pd.DataFrame, list[str]]:
    """Hourly wind and solar output per installed MW of ``area`` [MW per MW], from its supply-demand frame.

    Parameters
    ----------
    frame
        Canonical area supply-demand frame (``wind_mwh``, ``solar_mwh`` and their ``_curtailed_mwh`` columns,
        MWh per hour), indexed by period-beginning UTC.
    area
        Grid area name (``"tohoku"``, ``"hokkaido"``, ...), for the capacities.

    Returns
    -------
    profiles : pandas.DataFrame
        Columns ``wind_cf_area`` and ``solar_cf_area``, NaN for the years (JST calendar years) with no published
        capacity or where the frame lacks the columns.
    notes : list of str
        How each year and technology was normalised, or why it was not.

    Raises
    ------
    WattbitInputError
        If the frame's index is not tz-aware or an output is negative.
    """
    index = pd.DatetimeIndex(frame.index)
    if index.tz is None:
        raise WattbitInputError("area supply-demand frame needs a tz-aware index", field="index")
    years = index.tz_convert(JST).year.to_numpy()
    out = pd.DataFrame(index=index)
    notes: list[str] = []
    for tech, (gen_col, curt_col) in _COLUMNS.items():
        values = np.full(len(index), np.nan)
        if gen_col not in frame.columns:
            notes.append(f"{area} {tech}: the area data have no {gen_col} column")
        else:
            energy = frame[gen_col].to_numpy(dtype=float)
            if np.any(energy < 0):
                raise WattbitInputError(f"{area} {gen_col} has negative output", field=gen_col)
            if curt_col in frame.columns:
                energy = energy + np.nan_to_num(frame[curt_col].to_numpy(dtype=float))
            for year in np.unique(years).tolist():
                cap = capacity_for_year(area, tech, int(year))
                sel = years == year
                if cap is None:
                    notes.append(f"{area} {tech} {year}: no published installed capacity; no area profile")
                    continue
                values[sel] = energy[sel] / cap[0]
                notes.append(cap[1])
        out[f"{tech}_cf_area"] = values
    return out, notes
