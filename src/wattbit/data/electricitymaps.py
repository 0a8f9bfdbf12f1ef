"""Reader for Electricity Maps hourly carbon-intensity exports.

Electricity Maps publishes, per zone and year, an hourly CSV of the *average* carbon intensity of the electricity
consumed in a zone (direct and life-cycle), with its low-carbon and renewable shares and whether the hour was
estimated. Two header spellings are in circulation and both are accepted (matching ignores case, spaces,
punctuation and the subscript in ``CO₂``)::

    Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),
    Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,Data Estimated,...

    Datetime (UTC),Country,Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),
    Carbon intensity gCO₂eq/kWh (Life cycle),Carbon-free energy percentage (CFE%),
    Renewable energy percentage (RE%),Data source,Data estimated,Data estimation method

Time stamps are UTC and mark the beginning of each hour, so no time conversion is needed.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import (
    SourceMeta,
    check_plausible,
    check_time_order,
    drop_exact_duplicates,
    expand_paths,
    finish,
    read_csv_text,
    read_text,
    require_columns,
    to_float,
)
from wattbit.errors import DataFormatError

READER = "electricitymaps_hourly"
WHAT = "carbon-intensity CSV from Electricity Maps"
HOUR = pd.Timedelta(hours=1)

#: Zone ids look like ``DE``, ``JP-TK``, ``US-CAL-CISO``: an ISO country code and optional upper-case parts.
ZONE_PATTERN = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,10})*$")

# Logical column -> (classic header as Electricity Maps wrote it until 2023, other known spellings).
_HEADERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "time": ("Datetime (UTC)", ()),
    "country": ("Country", ()),
    "zone_name": ("Zone Name", ()),
    "zone_id": ("Zone Id", ()),
    "direct": ("Carbon Intensity gCO₂eq/kWh (direct)", ()),
    "lifecycle": (
        "Carbon Intensity gCO₂eq/kWh (LCA)",
        ("Carbon intensity gCO₂eq/kWh (Life cycle)", "Carbon intensity gCO₂eq/kWh (lifecycle)"),
    ),
    "low_carbon": (
        "Low Carbon Percentage",
        ("Carbon-free energy percentage (CFE%)", "Carbon-free energy percentage", "Low-carbon percentage"),
    ),
    "renewable": ("Renewable Percentage", ("Renewable energy percentage (RE%)", "Renewable energy percentage")),
    "source": ("Data Source", ()),
    "estimated": ("Data Estimated", ()),
    "method": ("Data Estimation Method", ()),
}
_REQUIRED = ["time", "zone_id", "direct", "lifecycle", "low_carbon", "renewable", "estimated"]
_NUMERIC = {
    "direct": "carbon_direct_g_per_kwh",
    "lifecycle": "carbon_lifecycle_g_per_kwh",
    "low_carbon": "low_carbon_pct",
    "renewable": "renewable_pct",
}
UNITS = {
    "carbon_direct_g_per_kwh": "gCO2eq/kWh",
    "carbon_lifecycle_g_per_kwh": "gCO2eq/kWh",
    "low_carbon_pct": "%",
    "renewable_pct": "%",
    "estimated": "bool",
}
BASIS = {
    "carbon_direct_g_per_kwh": "direct: combustion emissions at the power plants only",
    "carbon_lifecycle_g_per_kwh": "life-cycle (LCA): direct plus upstream emissions (fuel supply, construction, ...)",
    "low_carbon_pct": "share of consumed electricity from low-carbon sources (renewables and nuclear; CFE%)",
    "renewable_pct": "share of consumed electricity from renewable sources (RE%)",
}
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _key(header: str) -> str:
    """Normalise a header for matching: NFKC (``₂`` -> ``2``), case-folded, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", header).casefold())


_ALIASES = {_key(name): logical for logical, (classic, more) in _HEADERS.items() for name in (classic, *more)}


def _decode(path: Path) -> str:
    """Read and decode a UTF-8 file; undecodable or binary content is an error naming the line."""
    return read_text(path, ("utf-8",))[0]


def _expand(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Turn one path, a list of paths or a directory into the list of files to read."""
    return expand_paths(paths, (".csv", ".csv.gz"), "Electricity Maps CSVs")


def _check_zone_id(zone: str) -> str:
    z = zone.strip().upper()
    if not ZONE_PATTERN.match(z):
        raise DataFormatError(
            f"zone {zone!r} is not an Electricity Maps zone id (expected a code like 'JP-TK', 'DE' or 'US-CAL-CISO')"
        )
    return z


def _parse_bool(values: pd.Series, path: Path, column: str, line_of: np.ndarray) -> pd.arrays.BooleanArray:
    """Read true/false flags (any case, also 1/0 and yes/no); an empty cell stays ``<NA>``."""
    text = values.astype("string").str.strip().str.lower().fillna("")
    bad = (text != "") & ~text.isin(_TRUE | _FALSE)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(
            f"value {values.iloc[i]!r} is not a flag (expected true or false)",
            path=path,
            row=int(line_of[i]),
            field=column,
        )
    flags = pd.array(text.isin(_TRUE).to_numpy(), dtype="boolean")
    flags[(text == "").to_numpy()] = pd.NA
    return flags


def _read_one(path: Path, zone: str | None) -> tuple[pd.DataFrame, np.ndarray, int, dict[str, set[str]]]:
    """Parse one file; return the frame (with zone columns), line numbers, duplicates dropped and text facts."""
    text = _decode(path)
    rows = csv.reader(io.StringIO(text, newline=""))
    width = len(next(rows, []))
    for row in rows:
        if row and len(row) != width:
            raise DataFormatError(
                f"row has {len(row)} fields but the header has {width} (expected one value per column)",
                path=path,
                row=rows.line_num,
            )
    raw = read_csv_text(text, path, dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False)
    rename: dict[str, str] = {}
    for col in raw.columns:
        logical = _ALIASES.get(_key(str(col)))
        if logical is not None:
            if logical in rename.values():
                raise DataFormatError(
                    f"two columns mean {_HEADERS[logical][0]!r} (found {col!r} too; expected each column once)",
                    path=path,
                )
            rename[str(col)] = logical
    require_columns(
        [_HEADERS[rename[c]][0] if c in rename else c for c in map(str, raw.columns)],
        [_HEADERS[k][0] for k in _REQUIRED],
        path,
        WHAT + " (newer spellings such as '(Life cycle)' or 'Carbon-free energy percentage (CFE%)' also fit)",
    )
    raw = raw.rename(columns=rename)
    blank = (raw.fillna("").astype(str).apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    line_of = np.arange(len(raw)) + 2
    raw, line_of = raw[~blank].reset_index(drop=True), line_of[~blank]
    if raw.empty:
        raise DataFormatError("file has a header but no data rows (expected hourly rows)", path=path, row=2)
    col = _HEADERS["time"][0]
    stamps = raw["time"].astype("string").str.strip()
    times = pd.to_datetime(stamps, format="ISO8601", errors="coerce", utc=True)
    bad_time = times.isna() | (times.dt.minute != 0) | (times.dt.second != 0)
    if bad_time.any():
        i = int(np.flatnonzero(bad_time.to_numpy())[0])
        raise DataFormatError(
            f"value {stamps.iloc[i]!r} is not the start of a UTC hour (expected a time like '2022-01-01 00:00:00')",
            path=path,
            row=int(line_of[i]),
            field=col,
        )
    zones = raw["zone_id"].astype("string").str.strip()
    bad_zone = ~zones.str.fullmatch(ZONE_PATTERN.pattern).fillna(False)
    if bad_zone.any():
        i = int(np.flatnonzero(bad_zone.to_numpy())[0])
        raise DataFormatError(
            f"value {zones.iloc[i]!r} is not an Electricity Maps zone id (expected a code like 'JP-TK')",
            path=path,
            row=int(line_of[i]),
            field=_HEADERS["zone_id"][0],
        )
    present = sorted(set(zones))
    if zone is not None and zone not in present:
        raise DataFormatError(
            f"zone {zone!r} not in this file (expected one of the zone(s) it contains: {present})", path=path
        )
    if zone is None and len(present) > 1:
        raise DataFormatError(f"file mixes zones {present} (expected one zone; pass zone= to choose one)", path=path)
    keep = (zones == (zone or present[0])).to_numpy()
    raw, line_of, times = raw[keep].reset_index(drop=True), line_of[keep], times[keep]
    frame = pd.DataFrame(index=pd.DatetimeIndex(times).as_unit("ns"))
    for logical, name in _NUMERIC.items():
        values = to_float(raw[logical], path=path, column=_HEADERS[logical][0], line_of=line_of)
        frame[name] = values
    frame["estimated"] = _parse_bool(raw["estimated"], path, _HEADERS["estimated"][0], line_of)
    check_time_order(pd.DatetimeIndex(frame.index), path=path, line_of=line_of)
    check_plausible(frame, path=path, line_of=line_of, source_columns={n: _HEADERS[k][0] for k, n in _NUMERIC.items()})
    repeated = frame.index.duplicated(keep="first")
    frame, dropped = drop_exact_duplicates(frame, path=path, line_of=line_of)
    line_of = line_of[~repeated]
    steps = np.diff(pd.DatetimeIndex(frame.index).asi8)
    if len(steps) >= 2 and not (steps == HOUR.value).any():
        raise DataFormatError(
            f"rows are {pd.Timedelta(int(steps.min()), unit='ns')} or more apart (expected hourly data; "
            "daily, monthly or yearly exports are not read here)",
            path=path,
            row=int(line_of[1]),
            field=col,
        )
    facts = {
        k: {str(v).strip() for v in raw[k] if str(v).strip()} if k in raw.columns else set()
        for k in ("country", "zone_name", "source", "method")
    }
    facts["zone_id"] = {zone or present[0]}
    return frame, line_of, dropped, facts


def read_electricitymaps(
    paths: str | Path | Sequence[str | Path], zone: str | None = None
) -> tuple[pd.DataFrame, SourceMeta]:
    """Read Electricity Maps hourly carbon-intensity CSVs (``.csv`` or ``.csv.gz``).

    Parameters
    ----------
    paths
        One file, a list of files, or a directory whose ``*.csv`` / ``*.csv.gz`` files are all read. Files are
        concatenated in time order, so a Japanese calendar year (which starts at 15:00 UTC on 31 December) can be
        covered by reading two UTC years together.
    zone
        Electricity Maps zone id (``"JP-TK"``). If given, every file must contain it and only its rows are kept;
        if ``None`` the files must all hold one and the same zone.

    Returns
    -------
    frame : pandas.DataFrame
        Indexed by ``time_utc`` (period-beginning UTC hours) with columns ``carbon_direct_g_per_kwh``,
        ``carbon_lifecycle_g_per_kwh`` (gCO2eq/kWh), ``low_carbon_pct``, ``renewable_pct`` (%) and ``estimated``
        (pandas nullable ``boolean``; an empty flag stays ``<NA>``).
    meta : SourceMeta
        ``attrs`` holds ``zone``, ``zone_name``, ``country``, ``signal`` (``"average"``: Electricity Maps gives the
        average intensity of consumed electricity, not the marginal one), ``basis`` per column,
        ``estimated_share``, ``data_sources`` and ``estimation_methods``.

    Raises
    ------
    DataFormatError
        On a missing, empty, binary or non-UTF-8 file, a missing column, a bad time stamp or number, time going
        backwards, one hour given twice with different values, data that is not hourly, or an unknown zone.
    """
    wanted = None if zone is None else _check_zone_id(zone)
    files = _expand(paths)
    parts = [(f, *_read_one(f, wanted)) for f in files]
    zones = sorted({z for *_, facts in parts for z in facts["zone_id"]})
    if len(zones) > 1:
        raise DataFormatError(
            f"the files hold different zones {zones} (expected one zone; pass zone= to choose one)", path=files[0]
        )
    parts.sort(key=lambda p: p[1].index[0])
    frame = pd.concat([p[1] for p in parts])
    path_of = np.concatenate([np.full(len(p[1]), str(p[0]), dtype=object) for p in parts])
    line_of = np.concatenate([p[2] for p in parts])
    order = np.argsort(pd.DatetimeIndex(frame.index).asi8, kind="stable")
    frame, path_of, line_of = frame.iloc[order], path_of[order], line_of[order]
    try:  # files that overlap: an hour given twice must have the same values in both
        frame, across = drop_exact_duplicates(frame, path="", line_of=np.arange(len(frame)))
    except DataFormatError as exc:
        i = exc.row or 0
        raise DataFormatError(exc.message, path=path_of[i], row=int(line_of[i])) from exc
    facts = {k: sorted(set().union(*(p[-1][k] for p in parts))) for k in parts[0][-1]}
    est = frame["estimated"].dropna()
    share = float(est.mean()) if len(est) else float("nan")
    meta = SourceMeta(
        reader=READER,
        paths=[str(f) for f in files],
        description=f"Electricity Maps hourly grid carbon intensity, zone {zones[0]} "
        f"({', '.join(facts['zone_name']) or 'unnamed'}, {', '.join(facts['country']) or 'country unknown'})",
        resolution=HOUR,
        source_time_convention="UTC, period-beginning ('Datetime (UTC)' marks the start of each hour)",
        units=dict(UNITS),
        duplicates_dropped=sum(p[3] for p in parts) + across,
        conversions=[
            "none to values: intensities are gCO2eq/kWh and shares are % as published",
            "time stamps read as UTC period-beginning; no shift applied",
        ],
        notes=[
            "average intensity of the electricity consumed in the zone (Electricity Maps' flow-traced, "
            "consumption-based method), not the marginal intensity of extra load",
            f"{share:.1%} of hours are estimated by Electricity Maps rather than measured",
        ],
        attrs={
            "zone": zones[0],
            "zone_name": ", ".join(facts["zone_name"]),
            "country": ", ".join(facts["country"]),
            "signal": "average",
            "basis": dict(BASIS),
            "estimated_share": share,
            "data_sources": facts["source"],
            "estimation_methods": facts["method"],
        },
    )
    if frame["estimated"].isna().any():
        meta.notes.append("some 'Data Estimated' flags are empty: left as <NA>, not assumed")
    return finish(frame, meta)


def sniff_electricitymaps(head: str) -> bool:
    """Whether ``head`` (the start of a decoded file) looks like an Electricity Maps hourly CSV."""
    first = _key(head.lstrip("\ufeff").split("\n", 1)[0])
    return first.startswith("datetimeutc") and "zoneid" in first and "carbonintensity" in first


SNIFFERS: dict[str, Callable[[str], bool]] = {READER: sniff_electricitymaps}
READERS: dict[str, Callable[..., tuple[pd.DataFrame, SourceMeta]]] = {READER: read_electricitymaps}
