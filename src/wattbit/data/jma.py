"""Japan Meteorological Agency (JMA) hourly surface observations.

The files are the merged AMeDAS/observatory hourly tables of ``../shared/data/japan/weather-jma`` (one row per hour,
English headers, JMA's quality marks kept as text). JMA labels each hour by its **end** (``hour_1_24``; 24 is
midnight) in Japan Standard Time (UTC+9, no daylight saving). :func:`read_jma_hourly` returns period-beginning UTC.

Quality marks (JMA, "過去の気象データ 値の説明"): ``)`` quasi-normal value (a few samples missing), ``]`` value
from insufficient samples, ``#`` doubtful value, ``×`` / ``///`` not observed, ``--`` phenomenon absent
(for precipitation and snow: none fell). Marked values are kept and counted in the metadata; ``×`` becomes NaN.
Global irradiation is left blank by JMA at night; those blanks become 0 W/m² only when the sun is below the
horizon at the station (recorded as a conversion), otherwise they stay NaN and are reported.

Source: Japan Meteorological Agency, https://www.data.jma.go.jp/obd/stats/etrn/ ("Source: Japan Meteorological
Agency"; Government of Japan Standard Terms of Use 2.0, compatible with CC BY 4.0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import (
    SourceMeta,
    check_plausible,
    check_time_order,
    drop_exact_duplicates,
    finish,
    read_csv_text,
    read_text,
    require_columns,
    to_float,
)
from wattbit.errors import DataFormatError
from wattbit.physics.solar import solar_elevation_deg

JST = "Asia/Tokyo"
MJ_PER_M2_HOUR_TO_W_PER_M2 = 1e6 / 3600.0


@dataclass(frozen=True)
class Station:
    """A JMA observatory: name in English and Japanese, position and barometer height."""

    name: str
    name_ja: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float


#: Observatories of the shared data set; positions from JMA's station list (地上気象観測地点一覧).
STATIONS: dict[str, Station] = {
    "sendai": Station("Sendai", "仙台", 38.2617, 140.8967, 38.9),
    "tokyo": Station("Tokyo", "東京", 35.6917, 139.7500, 25.2),
    "sapporo": Station("Sapporo", "札幌", 43.0600, 141.3283, 17.4),
    "nagoya": Station("Nagoya", "名古屋", 35.1667, 136.9650, 51.1),
    "kanazawa": Station("Kanazawa", "金沢", 36.5883, 136.6333, 5.7),
}

#: JMA 16-point wind directions (Japanese) to degrees clockwise from north.
WIND_DIRECTION_DEG: dict[str, float] = {
    name: 22.5 * i
    for i, name in enumerate(
        "北 北北東 北東 東北東 東 東南東 南東 南南東 南 南南西 南西 西南西 西 西北西 北西 北北西".split()
    )
}

_REQUIRED = ["date", "hour_1_24", "temp_c", "rel_humidity_pct", "wind_speed_ms"]

# raw column -> (canonical column, unit, scale to canonical unit)
_NUMERIC: dict[str, tuple[str, str, float]] = {
    "temp_c": ("temp_air_c", "degC", 1.0),
    "dewpoint_c": ("temp_dew_c", "degC", 1.0),
    "rel_humidity_pct": ("rel_humidity_pct", "%", 1.0),
    "pressure_station_hpa": ("pressure_pa", "Pa", 100.0),
    "wind_speed_ms": ("wind_speed_m_s", "m/s", 1.0),
    "precip_mm": ("precip_mm", "mm per hour", 1.0),
    "sunshine_h": ("sunshine_h", "h per hour", 1.0),
    "global_irradiation_mj_m2": ("ghi_w_m2", "W/m2 (hourly mean)", MJ_PER_M2_HOUR_TO_W_PER_M2),
}

_NOT_OBSERVED = {"×", "///", ""}


def _station_from_path(path: Path) -> str | None:
    stem = path.name.split("_")[0].lower()
    return stem if stem in STATIONS else None


def _strip_marks(raw: pd.Series) -> tuple[pd.Series, int, int]:
    """Remove JMA quality marks; return (values as text, how many were flagged, how many were 'not observed')."""
    cleaned = raw.astype("string").str.strip()
    flagged = pd.Series(False, index=cleaned.index)
    for mark in (")", "]", "#"):
        flagged |= cleaned.str.contains(mark, regex=False).fillna(False)
    if flagged.any():  # rare: only the marked cells go through the regular expression
        cleaned[flagged] = cleaned[flagged].str.replace(r"\s*[\)\]#]$", "", regex=True)
    not_observed = cleaned.isin(list(_NOT_OBSERVED - {""}))
    cleaned = cleaned.mask(cleaned.isin(list(_NOT_OBSERVED)), "")
    return cleaned, int(flagged.sum()), int(not_observed.sum())


def _times(df: pd.DataFrame, path: Path, line_of: np.ndarray) -> pd.DatetimeIndex:
    try:
        day = pd.to_datetime(df["date"], format="%Y-%m-%d")
        hour = pd.to_numeric(df["hour_1_24"], errors="raise").astype(int)
    except (ValueError, TypeError) as exc:
        raise DataFormatError(
            f"cannot read the date/hour columns ({exc}); expected date as YYYY-MM-DD and hour_1_24 as 1..24",
            path=path,
            field="date/hour_1_24",
        ) from exc
    bad = (hour < 1) | (hour > 24)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(
            f"hour {hour.iloc[i]} outside 1..24 (expected 1..24: JMA hours end at 1:00..24:00)",
            path=path,
            row=int(line_of[i]),
            field="hour_1_24",
        )
    # hour h ends at h:00, so the period begins at (h-1):00 JST
    start_jst = day + pd.to_timedelta(hour - 1, unit="h")
    return pd.DatetimeIndex(start_jst).tz_localize(JST).tz_convert("UTC")


def read_jma_hourly(
    path: str | Path,
    station: str | None = None,
    latitude_deg: float | None = None,
    longitude_deg: float | None = None,
) -> tuple[pd.DataFrame, SourceMeta]:
    """Read a JMA hourly observation table.

    Parameters
    ----------
    path
        CSV (optionally gzip) with the columns of the shared JMA extract (``date``, ``hour_1_24``, ``temp_c``, ...).
    station
        Station key (``"sendai"``); taken from the file name when omitted. Unknown stations need
        ``latitude_deg`` and ``longitude_deg`` (used to tell night from missing irradiance).
    latitude_deg, longitude_deg
        Station position [deg], overriding the built-in table.

    Returns
    -------
    frame : pandas.DataFrame
        Indexed by period-beginning UTC; columns ``temp_air_c`` [°C], ``temp_dew_c`` [°C], ``rel_humidity_pct``
        [%], ``pressure_pa`` [Pa], ``wind_speed_m_s`` [m/s], ``wind_direction_deg`` [deg from north; NaN when
        calm], ``precip_mm`` [mm], ``sunshine_h`` [h], ``ghi_w_m2`` [W/m², hourly mean] when the station measures
        irradiation.
    meta : SourceMeta
    """
    p = Path(path)
    text, encoding = read_text(p, ("utf-8", "cp932"))
    df = read_csv_text(text, p, dtype=str, keep_default_na=False)
    require_columns(df.columns, _REQUIRED, p, "JMA hourly table (as in ../shared/data/japan/weather-jma)")
    line_of = np.arange(len(df)) + 2
    key = (station or _station_from_path(p) or p.name.split("_")[0]).lower()
    st = STATIONS.get(key)
    lat = latitude_deg if latitude_deg is not None else (st.latitude_deg if st else None)
    lon = longitude_deg if longitude_deg is not None else (st.longitude_deg if st else None)
    if lat is None or lon is None:
        known = ", ".join(STATIONS)
        raise DataFormatError(
            f"unknown JMA station {key!r} (expected station= one of {known}, or latitude_deg= and longitude_deg=)",
            path=p,
        )

    times = _times(df, p, line_of)
    check_time_order(times, path=p, line_of=line_of)
    meta = SourceMeta(
        reader="jma_hourly",
        paths=[str(p)],
        description=f"JMA hourly observations, {st.name if st else key} station",
        resolution=pd.Timedelta("1h"),
        source_time_convention="hour-ending JST (hour_1_24)",
        units={},
        attrs={"station": key, "latitude_deg": lat, "longitude_deg": lon, "encoding": encoding},
    )
    meta.conversions.append("hour-ending JST (UTC+9) -> period-beginning UTC")
    out: dict[str, np.ndarray] = {}
    for raw_col, (col, unit, scale) in _NUMERIC.items():
        if raw_col not in df.columns:
            continue
        values, flagged, not_observed = _strip_marks(df[raw_col])
        if raw_col in ("precip_mm",):
            values = values.replace("--", "0")
        out[col] = to_float(values, path=p, column=raw_col, line_of=line_of) * scale
        meta.units[col] = unit
        if flagged:
            meta.notes.append(f"{raw_col}: {flagged} values carry a JMA quality mark ) ] or # (kept)")
        if not_observed:
            meta.notes.append(f"{raw_col}: {not_observed} values marked not observed (× or ///) -> NaN")
        if scale != 1.0:
            meta.conversions.append(f"{raw_col} x {scale:g} -> {col} [{unit}]")
    if "precip_mm" in out:
        meta.conversions.append("precip_mm '--' (no precipitation) -> 0")
    if "wind_dir_16pt" in df.columns:
        direction = df["wind_dir_16pt"].astype("string").str.strip()
        out["wind_direction_deg"] = direction.map(WIND_DIRECTION_DEG).astype(float).to_numpy()
        meta.units["wind_direction_deg"] = "deg clockwise from north"
        calm = int((direction == "静穏").sum())
        if calm:
            meta.notes.append(f"wind_dir_16pt: {calm} calm hours (静穏) have no direction -> NaN")

    frame = pd.DataFrame(out, index=times)
    source = {col: raw for raw, (col, _, _) in _NUMERIC.items()} | {"wind_direction_deg": "wind_dir_16pt"}
    check_plausible(frame, path=p, line_of=line_of, source_columns=source)
    if "ghi_w_m2" in frame.columns:
        _night_irradiance_to_zero(frame, lat, lon, meta)
    frame, meta.duplicates_dropped = drop_exact_duplicates(frame, path=p, line_of=line_of)
    return finish(frame, meta)


def _night_irradiance_to_zero(frame: pd.DataFrame, lat: float, lon: float, meta: SourceMeta) -> None:
    """Set blank irradiance to 0 where the sun stays below the horizon for the whole hour."""
    idx = pd.DatetimeIndex(frame.index)
    elev_max = np.maximum.reduce(
        [solar_elevation_deg(idx + pd.Timedelta(minutes=m), lat, lon) for m in (0, 15, 30, 45, 60)]
    )
    blank = frame["ghi_w_m2"].isna().to_numpy()
    night = blank & (elev_max < 0.0)
    frame.loc[night, "ghi_w_m2"] = 0.0
    meta.conversions.append(
        f"ghi: {int(night.sum())} blank night-time hours (sun below the horizon all hour) -> 0 W/m2"
    )
    day_blank = int((blank & ~night).sum())
    if day_blank:
        meta.notes.append(f"ghi: {day_blank} blank daytime hours left as NaN (missing)")


def _looks_like_jma(head: str) -> bool:
    first = head.splitlines()[0] if head else ""
    return "hour_1_24" in first and "temp_c" in first


SNIFFERS: dict[str, Callable[[str], bool]] = {"jma_hourly": _looks_like_jma}
READERS: dict[str, Callable[..., tuple[pd.DataFrame, SourceMeta]]] = {"jma_hourly": read_jma_hourly}
