"""Readers of Japanese area supply-demand results (エリア需給実績): hourly area demand and generation by source.

The general transmission and distribution utilities publish, for their grid area and every hour, the area demand,
the generation of each source, the solar and wind output that was curtailed (抑制量), pumped storage and the net
interconnector flow. Two readers return them as MWh per hour in canonical columns (:data:`COLUMNS`):

* :func:`read_tohoku_hourly` reads the cleaned Tohoku file (English headers, ISO times, UTF-8);
* :func:`read_area_supply_demand` reads the utilities' raw files, whose layout differs from one utility to the next
  (see :mod:`wattbit.data.area`), for the areas in :data:`AREAS`.

Every file stamps the *beginning* of each hour in JST (``05:00`` is 05:00-06:00); Japan has no daylight saving, so
the index is that time minus 9 hours, in UTC. Signs: ``pumped_storage_mwh`` < 0 is pumping, ``interconnector_mwh``
< 0 is a net export out of the area; demand = the generation columns + pumped storage + interconnector (the
curtailment columns are energy that was *not* generated).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import (
    SourceMeta,
    check_plausible,
    check_time_order,
    decode_text,
    drop_exact_duplicates,
    finish,
    read_bytes,
    read_csv_text,
    require_columns,
    to_float,
)
from wattbit.data.area import COLUMNS, LAYOUTS, ParsedFile, detect_area, parse_raw
from wattbit.data.area._parse import parse_jst_times
from wattbit.errors import DataFormatError

AREAS: tuple[str, ...] = tuple(LAYOUTS)
"""Areas whose raw files :func:`read_area_supply_demand` reads."""

ENCODINGS = ("utf-8", "cp932")
SNIFF_CHARS = 4000
RESOLUTION = pd.Timedelta("1h")
TIME_CONVENTION = "hour-beginning JST"
TIME_CONVERSION = (
    "time: hour-beginning JST (UTC+9, no daylight saving in Japan) shifted back 9 h to period-beginning UTC"
)
SIGN_CONVENTION = "pumped_storage_mwh < 0: pumping; interconnector_mwh < 0: net export out of the area"

_TIME_COLUMN = "datetime_jst_start"
_ISO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$")

PathLike = str | Path


def read_tohoku_hourly(path: PathLike) -> tuple[pd.DataFrame, SourceMeta]:
    """Read the cleaned Tohoku area supply-demand file (``tohoku_hourly.csv``).

    Parameters
    ----------
    path
        CSV with the column ``datetime_jst_start`` (``2022-04-01T05:00``, hour-beginning JST) and the twelve
        canonical columns (``demand_mwh`` … ``interconnector_mwh``), UTF-8 (gzip allowed).

    Returns
    -------
    frame, meta
        Float columns in MWh per hour indexed by ``time_utc`` (period-beginning UTC), and what was read.

    Raises
    ------
    DataFormatError
        If the file is missing, empty or undecodable, lacks a column, has a bad time or number, or goes back in time.
    """
    text, encoding = decode_text(read_bytes(path), path, ENCODINGS)
    table = read_csv_text(text, path, dtype=str, na_filter=False, skip_blank_lines=False)
    require_columns(table.columns, [_TIME_COLUMN, *COLUMNS], path, "cleaned Tohoku hourly file")
    line_of = np.arange(len(table)) + 2
    filled = np.zeros(len(table), dtype=bool)
    for column in table.columns:
        filled |= (table[column].str.strip() != "").to_numpy()
    table, line_of = table[filled], line_of[filled]
    if table.empty:
        raise DataFormatError("no data rows after the header (expected hourly rows)", path=path, row=1)
    index = parse_jst_times(
        table[_TIME_COLUMN],
        pattern=_ISO_TIME,
        path=str(path),
        line_of=line_of,
        field=_TIME_COLUMN,
        expected="'YYYY-MM-DDTHH:00'",
    )
    frame = pd.DataFrame({c: to_float(table[c], path=path, column=c, line_of=line_of) for c in COLUMNS}, index=index)
    check_time_order(index, path=path, line_of=line_of)
    check_plausible(frame, path=path, line_of=line_of)
    frame, dropped = drop_exact_duplicates(frame, path=path, line_of=line_of)
    notes = []
    if (~filled).any():
        notes.append(f"skipped {int((~filled).sum())} empty rows")
    extra = [str(c) for c in table.columns if c not in (_TIME_COLUMN, *COLUMNS)]
    if extra:
        notes.append(f"ignored column(s) {extra}")
    meta = SourceMeta(
        reader="tohoku_hourly",
        paths=[str(path)],
        description="Tohoku area supply-demand results (cleaned), hourly demand and generation by source",
        resolution=RESOLUTION,
        source_time_convention=TIME_CONVENTION,
        units=dict.fromkeys(COLUMNS, "MWh"),
        duplicates_dropped=dropped,
        conversions=[TIME_CONVERSION],
        notes=notes,
        attrs={"area": "tohoku", "encoding": encoding, "sign_convention": SIGN_CONVENTION},
    )
    return finish(frame, meta)


@dataclass
class _Loaded:
    path: Path
    text: str
    encoding: str
    detected: str | None
    explicit: bool


def _check_area(area: str | None) -> str | None:
    if area is None:
        return None
    name = str(area).strip().lower()
    if name not in LAYOUTS:
        raise DataFormatError(
            f"unknown area {area!r} (expected one of {list(AREAS)}; Tokyo and Okinawa files are not supported)",
            field="area",
        )
    return name


def _load(path: Path, explicit: bool) -> _Loaded:
    text, encoding = decode_text(read_bytes(path), path, ENCODINGS)
    return _Loaded(path, text, encoding, detect_area(text[:SNIFF_CHARS]), explicit)


def _scan_directory(directory: Path, notes: list[str]) -> list[_Loaded]:
    found = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            found.append(_load(path, explicit=False))
        except DataFormatError as exc:
            notes.append(f"skipped {path}: {exc.message}")
    return found


def _hint(loaded: list[_Loaded], items: list[Path]) -> str:
    """Say what was found instead, for an error message."""
    other = sorted({f.detected for f in loaded if f.detected})
    if other:
        return f"; it looks like a {other[0]} file" if len(loaded) == 1 else f"; found files of {other}"
    if any(sniff_tohoku_hourly(f.text[:SNIFF_CHARS]) for f in loaded):
        return "; the cleaned Tohoku file is read by read_tohoku_hourly"
    folders = [d.name for i in items if i.is_dir() for d in sorted(i.iterdir()) if d.is_dir()]
    return f"; sub-folders {folders} are not searched: name one of them" if folders else ""


def _decide_area(loaded: list[_Loaded], items: list[Path]) -> str:
    if loaded and loaded[0].explicit:
        if loaded[0].detected is None:
            raise DataFormatError(
                f"cannot tell which utility's layout this file has (expected the raw area supply-demand file of one "
                f"of {list(AREAS)}; or pass area=){_hint(loaded[:1], [])}",
                path=loaded[0].path,
            )
        return loaded[0].detected
    areas = sorted({f.detected for f in loaded if f.detected})
    if len(areas) != 1:
        found = f"files of several areas {areas}" if areas else "no area supply-demand file"
        raise DataFormatError(
            f"found {found} (expected the files of one area, or pass area=){_hint([], items) if not areas else ''}",
            path=", ".join(map(str, items)),
        )
    return areas[0]


def _select(paths: PathLike | Iterable[PathLike], area: str | None) -> tuple[str, list[_Loaded], list[str]]:
    items = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not items:
        raise DataFormatError("no files given (expected a file, a list of files or a directory)")
    notes: list[str] = []
    loaded: list[_Loaded] = []
    for item in items:
        loaded.extend(_scan_directory(item, notes) if item.is_dir() else [_load(item, explicit=True)])
    area = area or _decide_area(loaded, items)
    layout = LAYOUTS[area]
    kept = []
    for f in loaded:
        if f.explicit:
            if not layout.matches(f.text[:SNIFF_CHARS]):
                raise DataFormatError(
                    f"not a {area} area supply-demand file (expected a header line like "
                    f"{layout.expected_header!r}{_hint([f], [])})",
                    path=f.path,
                )
            kept.append(f)
        elif f.detected == area:
            kept.append(f)
        else:
            notes.append(f"skipped {f.path}: " + (f"a {f.detected} file" if f.detected else "not an area file"))
    if not kept:
        raise DataFormatError(
            f"no {area} area supply-demand files found (expected {layout.expected_header!r}{_hint(loaded, items)})",
            path=", ".join(map(str, items)),
        )
    return area, kept, notes


def _combine(parsed: list[ParsedFile]) -> tuple[pd.DataFrame, int]:
    """Concatenate files in time order; drop rows repeated exactly across files, refuse overlaps that disagree."""
    if len(parsed) == 1:
        return parsed[0].frame, 0
    frame = pd.concat([p.frame for p in parsed])
    source = np.concatenate([np.full(len(p.frame), k) for k, p in enumerate(parsed)])
    lines = np.concatenate([p.line_of for p in parsed])
    order = np.argsort(pd.DatetimeIndex(frame.index).asi8, kind="stable")
    frame, source, lines = frame.iloc[order], source[order], lines[order]
    try:
        return drop_exact_duplicates(frame, path="", line_of=np.arange(len(frame)))
    except DataFormatError as exc:
        i = int(exc.row or 0)
        j = int(np.flatnonzero(frame.index == frame.index[i])[0])
        raise DataFormatError(
            f"time {frame.index[i]} is also in {parsed[source[j]].path} line {lines[j]}, with different values "
            "(expected files that do not overlap, or overlap with identical rows)",
            path=parsed[source[i]].path,
            row=int(lines[i]),
        ) from exc


def _summarise_notes(parsed: list[ParsedFile]) -> list[str]:
    """Add up the per-file notes: '<what>: <rows> rows in <files>'."""
    found: dict[str, tuple[int, list[str]]] = {}
    for p in parsed:
        for what, count in p.notes:
            total, names = found.get(what, (0, []))
            found[what] = (total + count, [*names, Path(p.path).name])
    out = []
    for what, (total, names) in found.items():
        files = (
            ", ".join(names) if len(names) <= 3 else f"{len(names)} of {len(parsed)} files ({names[0]} … {names[-1]})"
        )
        out.append(f"{what}: {total} rows in {files}")
    return out


def read_area_supply_demand(
    paths: PathLike | Iterable[PathLike], area: str | None = None
) -> tuple[pd.DataFrame, SourceMeta]:
    """Read the raw area supply-demand files (エリア需給実績) that a utility publishes.

    Parameters
    ----------
    paths
        One file, a list of files, or a directory. The files of a directory are all read when they are in the
        area's layout; others are skipped (and listed in ``meta.notes``). Files named explicitly must all be in the
        area's layout. Files may come in any order: they are put in time order.
    area
        One of :data:`AREAS`. ``None`` detects it from the first file (for a directory: from its files, which must
        then all be of one area).

    Returns
    -------
    frame, meta
        The canonical columns in MWh per hour (Shikoku's 万kW are multiplied by 10), indexed by ``time_utc``
        (period-beginning UTC), and what was read: files, gaps, duplicates, missing values, notes of the publisher.

    Raises
    ------
    DataFormatError
        For an unknown area, an undetectable or foreign layout, a file that is empty or not Shift-JIS/cp932 or
        UTF-8, an unrecognised header or unit, a bad time or number, time going backwards within a file, or files
        that overlap with different values.
    """
    area, files, notes = _select(paths, _check_area(area))
    layout = LAYOUTS[area]
    parsed = sorted((parse_raw(f.text, str(f.path), f.encoding, layout) for f in files), key=lambda p: p.frame.index[0])
    frame, repeated = _combine(parsed)
    notes.extend(_summarise_notes(parsed))
    notes.extend(dict.fromkeys(f"publisher's note: {n}" for p in parsed for n in p.publisher_notes))
    notes.extend(f"{c} is not published by {layout.utility}: column omitted" for c in COLUMNS if c not in frame)
    if repeated:
        notes.append(f"{repeated} rows appear in two files with identical values: kept once")
    conversions = [TIME_CONVERSION]
    if layout.factor != 1:
        conversions.append(f"values: {layout.unit} (hourly mean) multiplied by {layout.factor:g} to MWh per hour")
    meta = SourceMeta(
        reader="area_supply_demand",
        paths=[p.path for p in parsed],
        description=f"{layout.utility}: area supply-demand results (エリア需給実績), hourly demand and generation",
        resolution=RESOLUTION,
        source_time_convention=TIME_CONVENTION,
        units=dict.fromkeys(frame.columns, "MWh"),
        duplicates_dropped=repeated + sum(p.duplicates_dropped for p in parsed),
        conversions=conversions,
        notes=notes,
        attrs={
            "area": area,
            "utility": layout.utility,
            "encoding": ", ".join(sorted({p.encoding for p in parsed})),
            "layout": layout.description,
            "source_unit": layout.unit,
            "files": len(parsed),
            "sign_convention": SIGN_CONVENTION,
        },
    )
    return finish(frame, meta)


def sniff_tohoku_hourly(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is a cleaned Tohoku hourly file."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    names = [c.strip() for c in first.split(",")]
    return names[0] == _TIME_COLUMN and "demand_mwh" in names


def sniff_area_supply_demand(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is a raw file of one of :data:`AREAS`."""
    return detect_area(text) is not None


SNIFFERS: dict[str, Callable[[str], bool]] = {
    "tohoku_hourly": sniff_tohoku_hourly,
    "area_supply_demand": sniff_area_supply_demand,
}
"""Reader name -> predicate on the first ~4000 characters of a file (decoded as UTF-8, else cp932)."""

READERS: dict[str, Callable[..., tuple[pd.DataFrame, SourceMeta]]] = {
    "tohoku_hourly": read_tohoku_hourly,
    "area_supply_demand": read_area_supply_demand,
}
"""Reader name -> reader taking a path."""

__all__ = [
    "AREAS",
    "COLUMNS",
    "READERS",
    "SNIFFERS",
    "detect_area",
    "read_area_supply_demand",
    "read_tohoku_hourly",
    "sniff_area_supply_demand",
    "sniff_tohoku_hourly",
]
