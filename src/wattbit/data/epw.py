"""Reader for EnergyPlus weather (EPW) files, typical-year or actual-year.

An EPW file is eight header lines (``LOCATION``, ``DESIGN CONDITIONS``, ..., ``DATA PERIODS``) followed by one row
of 35 comma-separated fields per hour, as laid out in the EnergyPlus *Auxiliary Programs* documentation, chapter
"EnergyPlus Weather File (EPW) Data Dictionary". Facts this reader relies on:

* ``Hour`` runs 1..24 and is **hour-ending local standard time** (hour 1 is 00:01..01:00); daylight saving is never
  applied. The time zone is the fixed offset (hours from UTC) in the ``LOCATION`` line.
* Irradiances are Wh/m² received during the hour before the stamp, which for hourly rows is numerically the mean
  irradiance in W/m² over that hour.
* A value at or above a field's ``\\missing`` code is missing (99.9 for temperatures, 999 for relative humidity,
  wind direction and wind speed, 999999 for pressure, 9999 for irradiance).
* Typical-year files (TMY, TMYx, IWEC, ...) stitch months from different years; the ``Year`` column then says which
  year each month came from.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import (
    SourceMeta,
    check_plausible,
    check_time_order,
    drop_exact_duplicates,
    find_gaps,
    finish,
    localize,
    read_text,
    to_float,
)
from wattbit.errors import DataFormatError

READER = "epw"
HOUR = pd.Timedelta(hours=1)
N_FIELDS = 35

# Output column -> (0-based EPW field, EPW field name, unit, missing code, valid range (exclusive bounds)).
_FIELDS: dict[str, tuple[int, str, str, float, tuple[float, float]]] = {
    "temp_air_c": (6, "Dry Bulb Temperature", "degC", 99.9, (-70.0, 70.0)),
    "temp_dew_c": (7, "Dew Point Temperature", "degC", 99.9, (-70.0, 70.0)),
    "rel_humidity_pct": (8, "Relative Humidity", "%", 999.0, (-1e-9, 110.0 + 1e-9)),
    "pressure_pa": (9, "Atmospheric Station Pressure", "Pa", 999999.0, (31000.0, 120000.0)),
    "ghi_w_m2": (13, "Global Horizontal Radiation", "W/m2", 9999.0, (-1e-9, np.inf)),
    "dni_w_m2": (14, "Direct Normal Radiation", "W/m2", 9999.0, (-1e-9, np.inf)),
    "dhi_w_m2": (15, "Diffuse Horizontal Radiation", "W/m2", 9999.0, (-1e-9, np.inf)),
    "wind_speed_m_s": (21, "Wind Speed", "m/s", 999.0, (-1e-9, 40.0 + 1e-9)),
    "wind_direction_deg": (20, "Wind Direction", "deg", 999.0, (-1e-9, 360.0 + 1e-9)),
}
_DATE_FIELDS = {"year": (0, "Year"), "month": (1, "Month"), "day": (2, "Day"), "hour": (3, "Hour")}
_LOCATION = ["city", "state_province", "country", "data_source", "wmo_station"]
_LOCATION_NUM = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0), "tz_offset_hours": (-12.0, 14.0)}


def _decode(path: Path) -> str:
    """Read and decode a text file (UTF-8, else Latin-1); binary content is an error naming the line."""
    return read_text(path, ("utf-8", "latin-1"))[0]


def _split(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _parse_location(line: str, path: Path) -> dict[str, object]:
    """Parse ``LOCATION,city,state,country,source,WMO,latitude,longitude,time zone,elevation``."""
    fields = [f.strip() for f in _split(line)]
    if not fields or fields[0].upper() != "LOCATION":
        raise DataFormatError(
            f"first line starts with {line[:40]!r} (expected the EPW header 'LOCATION,city,state,country,source,"
            "WMO,latitude,longitude,time zone,elevation'; is this an EPW file?)",
            path=path,
            row=1,
        )
    if len(fields) < 10:
        raise DataFormatError(f"LOCATION line has {len(fields)} fields (expected 10)", path=path, row=1)
    out: dict[str, object] = dict(zip(_LOCATION, fields[1:6], strict=True))
    names = [*_LOCATION_NUM, "elevation_m"]
    for i, name in enumerate(names):
        text = fields[6 + i]
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        lo, hi = _LOCATION_NUM.get(name, (-1000.0, 9999.9))
        if not lo <= value <= hi:
            raise DataFormatError(
                f"value {text!r} is not a number between {lo:g} and {hi:g} (expected the {name} of the site)",
                path=path,
                row=1,
                field=f"LOCATION {name}",
            )
        out[name] = value
    return out


def _find_data_start(lines: list[str], path: Path) -> tuple[int, list[str]]:
    """Return the index of the first data line and the fields of the DATA PERIODS header."""
    for i, line in enumerate(lines[:40]):
        if line.upper().startswith("DATA PERIODS"):
            periods = [f.strip() for f in _split(line)]
            per_hour = periods[2] if len(periods) > 2 else ""
            if per_hour not in ("1", "1.0"):
                raise DataFormatError(
                    f"DATA PERIODS says {per_hour!r} records per hour (expected 1: only hourly EPW files are read)",
                    path=path,
                    row=i + 1,
                )
            return i + 1, periods
    raise DataFormatError("no 'DATA PERIODS' header line found (expected 8 EPW header lines)", path=path)


def _rows(lines: list[str], start: int, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Split the data lines into a frame of 35 text columns and the 1-based line number of each row."""
    rows, line_of = [], []
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        fields = line.split(",")
        while len(fields) > N_FIELDS and not fields[-1].strip():
            fields.pop()
        if len(fields) != N_FIELDS:
            raise DataFormatError(
                f"row has {len(fields)} fields (expected {N_FIELDS} comma-separated EPW data fields)",
                path=path,
                row=i + 1,
            )
        rows.append(fields)
        line_of.append(i + 1)
    if not rows:
        raise DataFormatError("no data rows after the header (expected one row per hour)", path=path)
    return pd.DataFrame(rows, dtype="string"), np.asarray(line_of)


def _ints(data: pd.DataFrame, path: Path, line_of: np.ndarray) -> dict[str, np.ndarray]:
    limits = {"year": (1, 9999), "month": (1, 12), "day": (1, 31), "hour": (1, 24)}
    out = {}
    for key, (col, name) in _DATE_FIELDS.items():
        values = to_float(data[col], path=path, column=name, line_of=line_of)
        lo, hi = limits[key]
        bad = ~((values >= lo) & (values <= hi) & (values == np.round(values)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                f"value {data[col].iloc[i]!r} is not a whole number from {lo} to {hi} (expected the {name.lower()})",
                path=path,
                row=int(line_of[i]),
                field=name,
            )
        out[key] = values.astype(int)
    return out


def _local_starts(
    columns: dict[str, np.ndarray], year: np.ndarray, path: Path, line_of: np.ndarray
) -> pd.DatetimeIndex:
    """Naive local standard time at which each hour begins."""
    days = pd.to_datetime(
        pd.DataFrame({"year": year, "month": columns["month"], "day": columns["day"]}), errors="coerce"
    )
    if days.isna().any():
        i = int(np.flatnonzero(days.isna().to_numpy())[0])
        raise DataFormatError(
            f"date {year[i]}-{columns['month'][i]:02d}-{columns['day'][i]:02d} does not exist "
            "(expected a real calendar date; 29 February needs a leap year)",
            path=path,
            row=int(line_of[i]),
            field="Day",
        )
    return pd.DatetimeIndex(days + pd.to_timedelta(columns["hour"] - 1, unit="h")).as_unit("ns")


def _check_calendar_order(columns: dict[str, np.ndarray], path: Path, line_of: np.ndarray) -> None:
    """In a typical year the Year column jumps about, so check the order of month, day and hour only."""
    key = (columns["month"] * 32 + columns["day"]) * 25 + columns["hour"]
    back = np.flatnonzero(key[1:] < key[:-1])
    if back.size:
        i = int(back[0]) + 1
        raise DataFormatError(
            f"time goes backwards: month/day/hour {columns['month'][i]}/{columns['day'][i]} {columns['hour'][i]} "
            f"comes after {columns['month'][i - 1]}/{columns['day'][i - 1]} {columns['hour'][i - 1]} "
            "(expected rows in calendar order)",
            path=path,
            row=int(line_of[i]),
        )


def _offset(hours: float) -> str:
    sign = "-" if hours < 0 else "+"
    minutes = round(abs(hours) * 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def read_epw(path: str | Path, year: int | None = None) -> tuple[pd.DataFrame, SourceMeta]:
    """Read an EnergyPlus weather file (``.epw`` or ``.epw.gz``) into hourly period-beginning UTC rows.

    Parameters
    ----------
    path
        The EPW file.
    year
        If given, every row is re-stamped into this (local) calendar year, so that a typical year can be lined up
        with a calendar year of other data; the index is then monotonic. If ``None``, the file's own ``Year``
        column is used. In a typical-year file (months taken from different years, detected when the year changes
        anywhere but at New Year) the index then keeps those source years, so it is **not** monotonic: rows stay
        in file (calendar) order, ``meta.attrs["typical_year"]`` is ``True`` and ``source_years`` says which year
        each month came from. Pass ``year=`` before joining such a frame with other series.

    Returns
    -------
    frame : pandas.DataFrame
        Indexed by ``time_utc`` (beginning of each hour, UTC) with ``temp_air_c``, ``temp_dew_c`` (degC),
        ``rel_humidity_pct`` (%), ``pressure_pa`` (Pa), ``ghi_w_m2``, ``dni_w_m2``, ``dhi_w_m2`` (W/m², mean
        over the hour), ``wind_speed_m_s`` (m/s) and ``wind_direction_deg`` (degrees from north). Values at or
        above EPW missing codes are NaN and counted in ``meta.notes``.
    meta : SourceMeta
        ``attrs`` holds the LOCATION header (``city``, ``state_province``, ``country``, ``data_source``,
        ``wmo_station``, ``latitude``, ``longitude``, ``tz_offset_hours``, ``elevation_m``) and ``typical_year``,
        ``source_years``, ``restamped_year``, ``comments``.

    Raises
    ------
    DataFormatError
        On a missing, empty or binary file, a bad LOCATION line, a row without 35 fields, a non-numeric value,
        an impossible date, rows out of time order or one hour given twice with different values.
    """
    p = Path(path)
    lines = _decode(p).splitlines()
    location = _parse_location(lines[0], p)
    start, periods = _find_data_start(lines, p)
    data, line_of = _rows(lines, start, p)
    d = _ints(data, p, line_of)
    tz_hours = float(location["tz_offset_hours"])  # type: ignore[arg-type]
    changes = np.flatnonzero(d["year"][1:] != d["year"][:-1]) + 1
    new_year = (d["month"][changes] == 1) & (d["day"][changes] == 1) & (d["hour"][changes] == 1)
    typical = bool((~new_year).any())
    if year is not None:
        if not 1 <= int(year) <= 9999:
            raise DataFormatError(f"year={year!r} is not a calendar year (expected e.g. 2022)", path=p)
        local = _local_starts(d, np.full(len(data), int(year)), p, line_of)
    else:
        local = _local_starts(d, d["year"], p, line_of)
    times = localize(local, _offset(tz_hours)).as_unit("ns")
    if typical and year is None:
        _check_calendar_order(d, p, line_of)
    else:
        check_time_order(times, path=p, line_of=line_of)

    frame = pd.DataFrame(index=times)
    notes: list[str] = []
    for name, (col, field, _unit, code, (lo, hi)) in _FIELDS.items():
        values = to_float(data[col], path=p, column=field, line_of=line_of)
        missing = values >= code
        if missing.any():
            notes.append(f"{name}: {int(missing.sum())} values at or above the EPW missing code {code:g} read as NaN")
        values = np.where(missing, np.nan, values)
        odd = ~np.isnan(values) & ((values <= lo) | (values >= hi))
        if odd.any():
            notes.append(f"{name}: {int(odd.sum())} values outside the EPW valid range, kept as they are")
        frame[name] = values
    if not any("missing code" in n for n in notes):
        notes.append("no EPW missing codes found in the columns read")

    check_plausible(frame, path=p, line_of=line_of, source_columns={n: f[1] for n, f in _FIELDS.items()})
    repeated = frame.index.duplicated(keep="first")
    frame, dropped = drop_exact_duplicates(frame, path=p, line_of=line_of)
    kept_years = d["year"][~repeated]

    source_years = {int(m): sorted({int(y) for y in d["year"][d["month"] == m]}) for m in np.unique(d["month"])}
    conversions = [
        f"hour-ending local standard time (UTC{_offset(tz_hours)}, no daylight saving) to period-beginning UTC: "
        f"start = date + (Hour - 1) h - ({tz_hours:g} h)",
        "irradiance: Wh/m2 received during the hour read as the mean W/m2 over that hour (numerically equal)",
    ]
    if year is not None:
        conversions.append(
            f"every row re-stamped into local year {int(year)} (file years {sorted({int(y) for y in d['year']})})"
        )
    source = str(location["data_source"])
    if typical and year is None:
        notes.append(
            "typical year: months come from different years (see attrs source_years); the index keeps each "
            "month's own year, so it is NOT monotonic; pass year= to re-stamp into one calendar year"
        )
    elif not typical and any(w in source.lower() for w in ("tmy", "iwec", "normal", "typical")):
        notes.append(f"LOCATION source {source!r} suggests a typical or normal year: the year column may be nominal")
    if year is not None and pd.Timestamp(year=int(year), month=1, day=1).is_leap_year and 2 in source_years:
        if not ((d["month"] == 2) & (d["day"] == 29)).any():
            notes.append(f"{int(year)} is a leap year and the file has no 29 February: those hours show as a gap")
    if start != 8:
        notes.append(f"{start} header lines before the data (the EPW standard has 8)")

    comments = [ln.split(",", 1)[1].strip().strip('"') for ln in lines[:start] if ln.upper().startswith("COMMENTS")]
    meta = SourceMeta(
        reader=READER,
        paths=[str(p)],
        description=f"EnergyPlus weather file, {location['city']} ({location['state_province']}, "
        f"{location['country']}), source {source}",
        resolution=HOUR,
        source_time_convention=f"hour-ending local standard time, hours 1..24, fixed offset UTC{_offset(tz_hours)} "
        "(no daylight saving)",
        units={name: spec[2] for name, spec in _FIELDS.items()},
        duplicates_dropped=dropped,
        conversions=conversions,
        notes=notes,
        attrs={
            **location,
            "typical_year": typical,
            "source_years": source_years,
            "restamped_year": None if year is None else int(year),
            "data_period": ", ".join(periods[3:]),
            "comments": comments,
        },
    )
    frame, meta = finish(frame, meta)
    if typical and year is None:  # gaps only within each source-year block; span from the earliest to the latest
        blocks = np.split(np.arange(len(frame)), np.flatnonzero(np.diff(kept_years)) + 1)
        meta.gaps = [g for b in blocks for g in find_gaps(pd.DatetimeIndex(frame.index[b]), HOUR)]
        meta.start_utc, meta.end_utc = frame.index.min(), frame.index.max()
    return frame, meta


def sniff_epw(head: str) -> bool:
    """Whether ``head`` (the start of a decoded file) looks like an EnergyPlus weather file."""
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    return first.upper().startswith("LOCATION,") and first.count(",") >= 9


SNIFFERS: dict[str, Callable[[str], bool]] = {READER: sniff_epw}
READERS: dict[str, Callable[..., tuple[pd.DataFrame, SourceMeta]]] = {READER: read_epw}
