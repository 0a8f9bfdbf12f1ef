"""Site signals on the scenario's common time index.

:func:`load_site_signals` reads a site's four data sources (weather, carbon, price, curtailment) with the readers of
:mod:`wattbit.data`, converts them to the canonical signals below and aligns them on the period-beginning UTC index
of the scenario period at its step:

============================  ==========================================  ==============
column                        meaning                                     aggregation
============================  ==========================================  ==============
``temp_air_c``                outdoor dry-bulb temperature [°C]           mean
``rel_humidity_pct``          relative humidity [%]                       mean
``pressure_pa``               station pressure [Pa]                       mean
``temp_wetbulb_c``            psychrometric wet-bulb temperature [°C]     derived
``ghi_w_m2``                  global horizontal irradiance [W/m²]         mean
``wind_speed_m_s``            wind speed at the station [m/s]             mean
``carbon_g_per_kwh``          grid average carbon intensity [g/kWh]       mean
``cfe_pct``                   carbon-free share of the grid's supply [%]  mean
                              (NaN where the carbon data give none)
``price_jpy_per_mwh``         day-ahead price [JPY/MWh]                   mean
``curtailed_mwh``             renewable energy curtailed in the grid      sum
                              area during the step [MWh]
``wind_cf_area``,             the grid area's wind and solar output per   mean
``solar_cf_area``             installed MW [MW/MW] (NaN where the data
                              give none; :mod:`wattbit.data.area_profiles`)
============================  ==========================================  ==============

The area profiles come from the site's curtailment or carbon source when that is an area supply-demand file (or
the built-in extract, which carries them), normalised by the area's published installed capacity of each year;
the provenance (``sources["generation"]``) says which, and why a profile is missing.

Intensive quantities ("mean") are held over finer steps and averaged over coarser ones; energies ("sum") are split
evenly over finer steps and summed over coarser ones, so totals are conserved. A missing period inside the scenario
period is an error unless the data source asks for ``gap_fill`` (``linear`` or ``hold``, at most
``max_gap_periods`` in a row); every fill is recorded in the returned provenance.

``cfe_pct`` comes from the carbon data source: the non-fossil share of an area generation mix
(:func:`wattbit.physics.carbon.carbon_free_share_from_mix`, the same mix as the intensity), Electricity Maps'
"Carbon-free energy percentage (CFE%)" (older exports: "Low Carbon Percentage"), or a ``cfe_pct`` column of a
wattbit signals CSV. Where the carbon data hold only an intensity, or their CFE share does not cover the period,
``cfe_pct`` is NaN for the whole period and the provenance says why: it is never assumed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wattbit.data._base import SourceMeta
from wattbit.data.area_profiles import area_output_per_mw
from wattbit.data.cache import cached_read
from wattbit.data.registry import read_with
from wattbit.data.wattbit_signals import EXTENSIVE_COLUMNS, read_wattbit_signals
from wattbit.errors import DataFormatError, WattbitInputError
from wattbit.physics.carbon import (
    CARBON_FREE_SOURCES,
    carbon_free_share_from_mix,
    carbon_intensity_from_mix,
    default_emission_factors,
)
from wattbit.physics.psychrometrics import wetbulb_psychrometric_c
from wattbit.scenario import DataSource, Period, Scenario, Site

WEATHER_COLUMNS = ("temp_air_c", "rel_humidity_pct", "pressure_pa", "ghi_w_m2", "wind_speed_m_s")


@dataclass
class SignalProvenance:
    """Where each signal of a site came from and what was done to it."""

    site: str
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"site": self.site, "sources": self.sources, "fills": self.fills}


# ------------------------------------------------------------------------------------------------------ alignment


def align(
    frame: pd.DataFrame,
    resolution: pd.Timedelta,
    period: Period,
    *,
    what: str,
    gap_fill: str = "none",
    max_gap_periods: int = 3,
    fills: list[str] | None = None,
) -> pd.DataFrame:
    """Put ``frame`` (regular, at ``resolution``) on the period's index, conserving energies.

    Raises
    ------
    WattbitInputError
        If the data do not cover the period, or have missing periods and ``gap_fill`` is ``"none"`` (or the gap
        is longer than ``max_gap_periods``).
    """
    step = pd.Timedelta(period.step)
    start = pd.Timestamp(period.start).tz_convert("UTC")
    end = pd.Timestamp(period.end).tz_convert("UTC")
    grid_start = start.floor(resolution) if resolution > step else start
    grid = pd.date_range(grid_start, end, freq=resolution, inclusive="left")
    src = frame.reindex(grid)
    missing = src.isna().any(axis=1).to_numpy()
    if missing.any():
        src = _fill_gaps(src, missing, what=what, gap_fill=gap_fill, max_gap=max_gap_periods, fills=fills)
    target = period.index_utc()
    if resolution == step:
        out = src
    elif resolution > step:
        pos = ((target - grid_start) // resolution).astype(int)
        out = pd.DataFrame(src.to_numpy()[pos], index=target, columns=src.columns)
        ratio = step / resolution
        for c in out.columns:
            if c in EXTENSIVE_COLUMNS:
                out[c] = out[c] * ratio
    else:
        if step % resolution != pd.Timedelta(0):
            raise WattbitInputError(f"{what}: data step {resolution} does not divide the scenario step {step}")
        groups = (pd.DatetimeIndex(src.index) - start) // step
        agg = {c: ("sum" if c in EXTENSIVE_COLUMNS else "mean") for c in src.columns}
        out = src.groupby(groups).agg(agg)
        out.index = target
    out.index.name = "time_utc"
    return out


def _fill_gaps(
    src: pd.DataFrame, missing: np.ndarray, *, what: str, gap_fill: str, max_gap: int, fills: list[str] | None
) -> pd.DataFrame:
    runs = _runs(missing)
    first_missing = [src.index[a] for a, _ in runs[:5]]
    shown = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in first_missing)
    longest = max(b - a for a, b in runs)
    if gap_fill == "none" or longest > max_gap:
        hint = (
            "set gap_fill = 'linear' or 'hold' on this data source to fill short gaps"
            if gap_fill == "none"
            else f"the longest gap ({longest} periods) exceeds max_gap_periods = {max_gap}"
        )
        raise WattbitInputError(
            f"{what}: {int(missing.sum())} periods of the scenario period have no data "
            f"(first missing, UTC: {shown}); {hint}, or extend the data to cover the period"
        )
    edge = missing[0] or missing[-1]
    if edge and gap_fill == "linear":
        raise WattbitInputError(f"{what}: data missing at the start or end of the period ({shown}); cannot interpolate")
    filled = src.interpolate(method="linear", limit_area="inside") if gap_fill == "linear" else src.ffill().bfill()
    if fills is not None:
        fills.append(f"{what}: {int(missing.sum())} periods filled by {gap_fill} ({len(runs)} gaps; first: {shown})")
    return filled


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


# ------------------------------------------------------------------------------------------------------- sources


def builtin_signals_path(ref: str) -> Path:
    """File of a built-in signal set, ``"japan-2022:fukushima"``."""
    name, site = ref.split(":", 1)
    path = Path(str(resources.files("wattbit").joinpath(f"demo/{name}/signals/{site}.csv.gz")))
    if not path.is_file():
        raise WattbitInputError(f"no built-in signals {ref!r} (expected e.g. 'japan-2022:fukushima')", field="builtin")
    return path


def builtin_provenance(ref: str) -> dict[str, Any]:
    """The recorded provenance of a built-in signal set."""
    name, site = ref.split(":", 1)
    path = Path(str(resources.files("wattbit").joinpath(f"demo/{name}/provenance.json")))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return dict(data["sites"].get(site, {}))


#: Parsed sources of one :func:`load_scenario_signals` call: (reader, paths, options) -> frame and metadata.
_Reads = dict[tuple[Any, ...], tuple[pd.DataFrame, SourceMeta]]


def _read_source(source: DataSource, reads: _Reads | None = None) -> tuple[pd.DataFrame, SourceMeta]:
    """The parsed frame and metadata of ``source``; read once per ``reads`` (a frame is shared, never changed in
    place here; its metadata is copied, since it goes into each site's provenance)."""
    if reads is None:
        return _parse_source(source)
    key = (source.builtin, source.reader, tuple(source.path or ()), source.area, source.zone, source.station)
    if key not in reads:
        reads[key] = _parse_source(source)
    frame, meta = reads[key]
    return frame, copy.deepcopy(meta)


def _parse_source(source: DataSource) -> tuple[pd.DataFrame, SourceMeta]:
    if source.builtin:
        path = builtin_signals_path(source.builtin)
        return cached_read("wattbit_signals", path, {}, lambda: read_wattbit_signals(path))
    assert source.path is not None and source.reader is not None  # guaranteed by DataSource validation
    paths: Any = source.path if len(source.path) > 1 else source.path[0]
    kwargs: dict[str, Any] = {}
    if source.reader in ("jepx_spot", "area_supply_demand") and source.area:
        kwargs["area"] = source.area
    if source.reader == "electricitymaps_hourly" and source.zone:
        kwargs["zone"] = source.zone
    if source.reader == "jma_hourly" and source.station:
        kwargs["station"] = source.station
    reader = source.reader
    return cached_read(reader, paths, kwargs, lambda: read_with(reader, paths, **kwargs))


def _weather(frame: pd.DataFrame, site: Site) -> pd.DataFrame:
    missing = [c for c in ("temp_air_c", "rel_humidity_pct", "ghi_w_m2", "wind_speed_m_s") if c not in frame.columns]
    if missing:
        raise WattbitInputError(f"site {site.name}: weather data lack {missing}")
    out = frame[[c for c in WEATHER_COLUMNS if c in frame.columns]].copy()
    if "pressure_pa" not in out.columns:
        # ISO 2533 standard atmosphere at the site's altitude
        out["pressure_pa"] = 101_325.0 * (1.0 - 2.25577e-5 * site.altitude_m) ** 5.25588
    return out


def _carbon(frame: pd.DataFrame, source: DataSource, site: Site) -> pd.DataFrame:
    if "carbon_g_per_kwh" in frame.columns:
        return frame[["carbon_g_per_kwh"]]
    col = f"carbon_{source.basis}_g_per_kwh"
    if col in frame.columns:
        return frame[[col]].rename(columns={col: "carbon_g_per_kwh"})
    if "thermal_mwh" in frame.columns:
        factors = default_emission_factors(
            source.area or site.grid_area,
            source.basis,
            overrides=source.emission_factors_g_per_kwh,
            thermal_shares=source.thermal_shares,
        )
        return carbon_intensity_from_mix(frame, factors).to_frame()
    raise WattbitInputError(f"site {site.name}: carbon source has neither an intensity nor a generation mix")


def _cfe(frame: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """The carbon-free share in a carbon source's frame, and where it comes from (or why there is none)."""
    if "cfe_pct" in frame.columns:
        return frame[["cfe_pct"]], "cfe_pct column of the signals file"
    if "low_carbon_pct" in frame.columns:
        origin = "Electricity Maps 'Carbon-free energy percentage (CFE%)' / 'Low Carbon Percentage' (consumption-based)"
        return frame[["low_carbon_pct"]].rename(columns={"low_carbon_pct": "cfe_pct"}), origin
    if "thermal_mwh" in frame.columns:
        origin = (
            f"area generation mix: ({' + '.join(CARBON_FREE_SOURCES)}) / all generation incl. thermal; "
            "pumped storage, interconnectors and curtailment excluded (production-based)"
        )
        return carbon_free_share_from_mix(frame).to_frame(), origin
    return None, "unavailable: the carbon data give an intensity but no carbon-free share"


def _align_cfe(
    frame: pd.DataFrame, resolution: pd.Timedelta, source: DataSource, period: Period, what: str, fills: list[str]
) -> tuple[pd.DataFrame, str]:
    """``cfe_pct`` of the carbon source on the period's index, or NaN throughout with the reason.

    Raises
    ------
    WattbitInputError
        If a carbon-free share lies outside 0-100 %.
    """
    cfe, origin = _cfe(frame)
    nan = pd.DataFrame({"cfe_pct": np.nan}, index=period.index_utc())
    if cfe is None:
        return nan, origin
    values = cfe["cfe_pct"].to_numpy(dtype=float)
    bad = ~np.isnan(values) & ((values < 0.0) | (values > 100.0 + 1e-9))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WattbitInputError(
            f"{what}: carbon-free share {values[i]:g} % at {cfe.index[i]} is outside 0-100 % "
            f"({int(bad.sum())} such values; expected a percentage)",
            field="cfe_pct",
        )
    own: list[str] = []
    try:
        aligned = align(
            cfe,
            resolution,
            period,
            what=what,
            gap_fill=source.gap_fill,
            max_gap_periods=source.max_gap_periods,
            fills=own,
        )
    except WattbitInputError as exc:
        return nan, f"unavailable: {exc.message} (from {origin})"
    fills.extend(own)
    return aligned, origin


def _price(frame: pd.DataFrame, source: DataSource, site: Site) -> pd.DataFrame:
    if "price_jpy_per_mwh" in frame.columns:
        return frame[["price_jpy_per_mwh"]]
    col = f"price_{source.area or site.grid_area}_jpy_per_mwh"
    if col not in frame.columns:
        raise WattbitInputError(f"site {site.name}: price data have no column {col}")
    return frame[[col]].rename(columns={col: "price_jpy_per_mwh"})


def _curtailment(frame: pd.DataFrame, source: DataSource, site: Site) -> pd.DataFrame:
    if "curtailed_mwh" in frame.columns:
        return frame[["curtailed_mwh"]]
    parts = [c for c in ("solar_curtailed_mwh", "wind_curtailed_mwh") if c in frame.columns]
    if not parts:
        raise WattbitInputError(f"site {site.name}: curtailment data have no solar/wind curtailment columns")
    return frame[parts].sum(axis=1, min_count=len(parts)).to_frame("curtailed_mwh")


_CONVERT: dict[str, Callable[[pd.DataFrame, DataSource, Site], pd.DataFrame]] = {
    "weather": lambda f, s, site: _weather(f, site),
    "carbon": _carbon,
    "price": _price,
    "curtailment": _curtailment,
}


def load_site_signals(site: Site, period: Period, reads: _Reads | None = None) -> tuple[pd.DataFrame, SignalProvenance]:
    """Read, convert and align all signals of ``site`` over ``period``.

    ``reads`` (optional) keeps parsed files between calls, so that a file read for one kind or site is not parsed
    again for the next.

    Returns
    -------
    signals : pandas.DataFrame
        One row per step (period-beginning UTC), the columns of the module table.
    provenance : SignalProvenance
        For each kind, the reader, files, conversions and notes; and every gap fill.
    """
    prov = SignalProvenance(site=site.name)
    parts = []
    raw: dict[str, tuple[pd.DataFrame, SourceMeta, DataSource]] = {}
    for kind in ("weather", "carbon", "price", "curtailment"):
        source: DataSource = getattr(site.data, kind)
        what = f"site {site.name}, {kind}"
        if source.assume_zero:
            if kind != "curtailment":
                raise WattbitInputError(f"{what}: assume_zero is only allowed for curtailment", field="assume_zero")
            parts.append(pd.DataFrame({"curtailed_mwh": 0.0}, index=period.index_utc()))
            prov.sources[kind] = {"assume_zero": source.assume_zero}
            continue
        frame, meta = _read_source(source, reads)
        raw[kind] = (frame, meta, source)
        converted = _CONVERT[kind](frame, source, site)
        if meta.resolution is None:
            raise WattbitInputError(f"{what}: {meta.reader} data are not a regular time series")
        aligned = align(
            converted,
            meta.resolution,
            period,
            what=what,
            gap_fill=source.gap_fill,
            max_gap_periods=source.max_gap_periods,
            fills=prov.fills,
        )
        parts.append(aligned)
        record = {"reader": meta.reader, "paths": meta.paths, "conversions": meta.conversions, "notes": meta.notes}
        if kind == "carbon":
            record["signal"] = "average"
            record["basis"] = source.basis
            cfe, record["cfe"] = _align_cfe(frame, meta.resolution, source, period, f"{what} (cfe_pct)", prov.fills)
            parts.append(cfe)
        if source.builtin:
            record["builtin"] = source.builtin
            recorded = builtin_provenance(source.builtin)
            record["recorded"] = recorded.get("sources", {}).get(kind, {})
            record["recorded_fills"] = [f for f in recorded.get("fills", []) if f", {kind}:" in f]
        prov.sources[kind] = record
    profiles, prov.sources["generation"] = _area_generation(site, period, raw, prov.fills)
    parts.append(profiles)
    signals = pd.concat(parts, axis=1)
    signals["temp_wetbulb_c"] = wetbulb_psychrometric_c(
        signals["temp_air_c"].to_numpy(), signals["rel_humidity_pct"].to_numpy(), signals["pressure_pa"].to_numpy()
    )
    return signals, prov


_PROFILE_COLUMNS = ("wind_cf_area", "solar_cf_area")


def _area_generation(
    site: Site, period: Period, raw: dict[str, tuple[pd.DataFrame, SourceMeta, DataSource]], fills: list[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The grid area's wind and solar output per installed MW on the period's index, and where it came from.

    Taken from the curtailment source, else the carbon source: an area supply-demand frame is normalised by the
    area's published capacities (:func:`wattbit.data.area_profiles.area_output_per_mw`); a signals file (the
    built-in extract) may carry the columns already. NaN throughout where neither gives them.
    """
    nan = pd.DataFrame({c: np.nan for c in _PROFILE_COLUMNS}, index=period.index_utc())
    for kind in ("curtailment", "carbon"):
        if kind not in raw:
            continue
        frame, meta, source = raw[kind]
        if all(c in frame.columns for c in _PROFILE_COLUMNS):
            profiles, notes = frame[list(_PROFILE_COLUMNS)], ["per-MW profiles as recorded in the signals file"]
            origin = f"{kind} source ({meta.reader})"
            if source.builtin:
                recorded = builtin_provenance(source.builtin).get("sources", {}).get("generation", {})
                notes = list(recorded.get("notes", notes))
        elif "wind_mwh" in frame.columns or "solar_mwh" in frame.columns:
            area = source.area or site.grid_area
            start, end = pd.Timestamp(period.start).floor("1h"), pd.Timestamp(period.end)
            idx = pd.DatetimeIndex(frame.index)
            profiles, notes = area_output_per_mw(frame[(idx >= start) & (idx < end)], area)
            origin = f"{area} area supply-demand results ({meta.reader}), per installed MW"
        else:
            continue
        if meta.resolution is None or profiles.isna().all().all():
            return nan, {"origin": f"unavailable: {origin} give no profile", "notes": notes}
        own: list[str] = []
        try:
            aligned = align(
                profiles,
                meta.resolution,
                period,
                what=f"site {site.name}, area generation",
                gap_fill=source.gap_fill,
                max_gap_periods=source.max_gap_periods,
                fills=own,
            )
        except WattbitInputError as exc:
            return nan, {"origin": f"unavailable: {exc.message} (from {origin})", "notes": notes}
        fills.extend(own)
        return aligned, {"origin": origin, "reader": meta.reader, "paths": list(meta.paths), "notes": notes}
    return nan, {
        "origin": "unavailable: neither the curtailment nor the carbon source is an area supply-demand file",
        "notes": [],
    }


def load_scenario_signals(scenario: Scenario) -> tuple[dict[str, pd.DataFrame], dict[str, SignalProvenance]]:
    """Signals and provenance of every site of ``scenario``, keyed by site name.

    Each data file is parsed once, and sites with the same data sources, altitude and grid area (all a site's
    signals depend on besides its name) share one computation: its frame (copied) and its provenance with
    the site's own name in every note and fill, exactly as a separate :func:`load_site_signals` call gives them.
    """
    signals: dict[str, pd.DataFrame] = {}
    provenance: dict[str, SignalProvenance] = {}
    reads: _Reads = {}
    shared: dict[str, tuple[pd.DataFrame, SignalProvenance]] = {}
    for i, site in enumerate(scenario.sites):
        key = site.model_dump_json(include={"data", "altitude_m", "grid_area"})
        try:
            if key not in shared:
                shared[key] = _load_unnamed(site, scenario.period, reads)
            frame, prov = shared[key]
            signals[site.name], provenance[site.name] = frame.copy(deep=not _COPY_ON_WRITE), _renamed(prov, site.name)
        except DataFormatError as exc:
            if exc.path is None or Path(exc.path).exists() or exc.path not in scenario.relative_paths:
                raise
            raise DataFormatError(
                f"{exc.message}; {scenario.missing_path_hint(exc.path)}", path=exc.path, field=f"sites[{i}].data"
            ) from exc
    return signals, provenance


#: pandas 3 copies a frame's data on the first write (copy-on-write), so sites may share theirs until then; older
#: pandas gives each site its own copy.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3

#: Stands for the site's name in a shared computation; a NUL cannot occur in a scenario's names or a data file's
#: notes, so every occurrence in the provenance is the name and nothing else.
_UNNAMED = "\x00site\x00"


def _load_unnamed(site: Site, period: Period, reads: _Reads) -> tuple[pd.DataFrame, SignalProvenance]:
    """:func:`load_site_signals` for ``site`` renamed :data:`_UNNAMED`; on an error, the error of ``site`` itself
    (whose message names it)."""
    try:
        return load_site_signals(site.model_copy(update={"name": _UNNAMED}), period, reads)
    except Exception:
        load_site_signals(site, period, reads)  # raises the same error, naming the site
        raise


def _renamed(prov: SignalProvenance, name: str, old: str = _UNNAMED) -> SignalProvenance:
    """A copy of ``prov`` for the site ``name``: ``old`` replaced by ``name`` in every string."""

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(old, name)
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(rename(v) for v in value)
        return copy.deepcopy(value)

    return SignalProvenance(site=name, sources=rename(prov.sources), fills=rename(prov.fills))


def annual_summary(signals: pd.DataFrame) -> dict[str, float]:
    """Headline figures of one site's signals over the whole period.

    Returns
    -------
    dict
        ``carbon_g_per_kwh_mean`` (time mean), ``cfe_pct_mean`` (time mean; NaN where unavailable),
        ``price_jpy_per_mwh_mean`` (time mean), ``curtailed_mwh``
        (area total), ``curtailment_hours`` (hours with any curtailment), ``temp_air_c_mean``,
        ``temp_wetbulb_c_max``, ``ghi_kwh_m2`` (irradiation over the period).
    """
    step_h = (signals.index[1] - signals.index[0]) / pd.Timedelta("1h") if len(signals) > 1 else 1.0
    return {
        "carbon_g_per_kwh_mean": float(signals["carbon_g_per_kwh"].mean()),
        "cfe_pct_mean": float(signals["cfe_pct"].to_numpy().mean()),
        "price_jpy_per_mwh_mean": float(signals["price_jpy_per_mwh"].mean()),
        "curtailed_mwh": float(signals["curtailed_mwh"].sum()),
        "curtailment_hours": float((signals["curtailed_mwh"] > 0).sum() * step_h),
        "temp_air_c_mean": float(signals["temp_air_c"].mean()),
        "temp_wetbulb_c_max": float(signals["temp_wetbulb_c"].max()),
        "ghi_kwh_m2": float(signals["ghi_w_m2"].sum() * step_h / 1000.0),
    }
