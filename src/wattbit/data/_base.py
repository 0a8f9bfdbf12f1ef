"""Shared machinery of the readers: the metadata record and the quality checks.

Every reader in :mod:`wattbit.data` returns ``(frame, meta)``:

* ``frame`` is a :class:`pandas.DataFrame` indexed by ``time_utc`` — tz-aware UTC timestamps that mark the
  **beginning** of each period — with canonical column names that carry their unit (``temp_air_c``,
  ``price_jpy_per_mwh``).
* ``meta`` is a :class:`SourceMeta` that says where the data came from, how its time stamps were read, which unit
  conversions were applied, and what is wrong with it: gaps in the time index, duplicate rows and missing values.

Readers never fill a gap or a missing value; they report it.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from wattbit.errors import DataFormatError

TIME_INDEX = "time_utc"


@dataclass(frozen=True)
class Gap:
    """A run of missing periods in a regular time index.

    Attributes
    ----------
    first_missing_utc, last_missing_utc
        Beginning of the first and of the last missing period.
    missing_periods
        How many periods are missing.
    """

    first_missing_utc: pd.Timestamp
    last_missing_utc: pd.Timestamp
    missing_periods: int

    def __str__(self) -> str:
        first, last = self.first_missing_utc, self.last_missing_utc
        return f"{first:%Y-%m-%d %H:%M}..{last:%Y-%m-%d %H:%M} UTC ({self.missing_periods} missing)"


@dataclass
class SourceMeta:
    """What a reader knows about the data it returned.

    Attributes
    ----------
    reader
        Name of the reader that produced the frame (``"jma_hourly"``).
    paths
        The files read.
    description
        One line saying what the data is.
    resolution
        Spacing of the time index, or ``None`` for event data (job or request traces).
    source_time_convention
        How the source labels its periods (for example ``"hour-ending JST"``). The frame itself is always
        period-beginning UTC.
    units
        Unit of every column of the frame.
    start_utc, end_utc
        Beginning of the first and last period (or the first and last event).
    rows
        Rows in the frame.
    gaps
        Runs of periods missing from an otherwise regular index.
    duplicates_dropped
        Rows removed because they repeated an earlier row exactly.
    missing_values
        Per column, the number of empty cells (left as NaN).
    conversions
        Unit and time conversions applied, in words.
    notes
        Anything else the user should know (quality flags, assumptions).
    attrs
        Reader-specific facts: station, grid area, zone, emission-factor basis.
    """

    reader: str
    paths: list[str]
    description: str
    resolution: pd.Timedelta | None
    source_time_convention: str
    units: dict[str, str]
    start_utc: pd.Timestamp | None = None
    end_utc: pd.Timestamp | None = None
    rows: int = 0
    gaps: list[Gap] = field(default_factory=list)
    duplicates_dropped: int = 0
    missing_values: dict[str, int] = field(default_factory=dict)
    conversions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def missing_periods(self) -> int:
        """Total number of periods missing from the time index."""
        return sum(g.missing_periods for g in self.gaps)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dictionary of this record."""
        out = asdict(self)
        out["resolution"] = None if self.resolution is None else str(self.resolution)
        out["start_utc"] = None if self.start_utc is None else self.start_utc.isoformat()
        out["end_utc"] = None if self.end_utc is None else self.end_utc.isoformat()
        out["gaps"] = [
            {
                "first_missing_utc": g.first_missing_utc.isoformat(),
                "last_missing_utc": g.last_missing_utc.isoformat(),
                "missing_periods": g.missing_periods,
            }
            for g in self.gaps
        ]
        out["missing_periods"] = self.missing_periods
        return out

    def summary(self) -> str:
        """Return a short human-readable description, as ``wattbit data inspect`` prints it."""
        lines = [f"reader: {self.reader}", f"what: {self.description}"]
        lines.append(f"files: {', '.join(self.paths)}")
        if self.start_utc is not None:
            lines.append(f"span (UTC, period start): {self.start_utc} .. {self.end_utc}")
        res = "events (no fixed step)" if self.resolution is None else str(self.resolution)
        lines.append(f"resolution: {res}; source time convention: {self.source_time_convention}")
        lines.append(f"rows: {self.rows}")
        if self.resolution is not None:
            if self.gaps:
                lines.append(f"gaps: {len(self.gaps)} ({self.missing_periods} periods missing)")
                lines.extend(f"  - {g}" for g in self.gaps[:10])
                if len(self.gaps) > 10:
                    lines.append(f"  ... and {len(self.gaps) - 10} more")
            else:
                lines.append("gaps: none")
        lines.append(f"duplicate rows dropped: {self.duplicates_dropped}")
        missing = {k: v for k, v in self.missing_values.items() if v}
        lines.append("missing values: " + (", ".join(f"{k}={v}" for k, v in missing.items()) if missing else "none"))
        lines.append("units: " + ", ".join(f"{k} [{v}]" for k, v in self.units.items()))
        lines.extend(f"conversion: {c}" for c in self.conversions)
        lines.extend(f"note: {n}" for n in self.notes)
        for key, value in self.attrs.items():
            lines.append(f"{key}: {value}")
        return "\n".join(lines)


def read_bytes(path: str | Path) -> bytes:
    """Read a file, transparently un-gzipping ``*.gz``; a missing or empty file is a :class:`DataFormatError`."""
    p = Path(path)
    if not p.is_file():
        raise DataFormatError("file not found (expected a readable data file)", path=p)
    raw = p.read_bytes()
    if p.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataFormatError(f"not a valid gzip file ({exc}; expected a complete .gz file)", path=p) from exc
    if not raw.strip():
        raise DataFormatError("file is empty (expected a header and at least one data row)", path=p)
    return raw


def decode_text(raw: bytes, path: str | Path, encodings: tuple[str, ...]) -> tuple[str, str]:
    """Decode ``raw`` with the first of ``encodings`` that works; return ``(text, encoding)``.

    Raises
    ------
    DataFormatError
        If the bytes hold NUL characters (a binary or UTF-16 file), or none of the encodings decodes them; the
        message names the line of the first offending byte.
    """
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark, as spreadsheets export "Unicode"
        try:
            text = raw.decode("utf-16").removeprefix("\ufeff")
        except UnicodeDecodeError:
            pass  # not UTF-16 after all: reported below
        else:
            if not text.strip():
                raise DataFormatError("file is empty (expected a header and at least one data row)", path=path)
            return text, "utf-16"
    if b"\x00" in raw:
        raise DataFormatError(
            "file contains NUL bytes (expected a text file, not a binary or UTF-16 file)",
            path=path,
            row=raw.count(b"\n", 0, raw.index(b"\x00")) + 1,
        )
    first_error: UnicodeDecodeError | None = None
    for enc in encodings:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
            continue
        return text.removeprefix("\ufeff"), enc
    line: int | None = None if first_error is None else raw.count(b"\n", 0, first_error.start) + 1
    byte = b"" if first_error is None else raw[first_error.start : first_error.start + 1]
    raise DataFormatError(
        f"cannot decode the file as {' or '.join(encodings)} (byte {byte!r}; expected a text CSV in that encoding)",
        path=path,
        row=line,
    )


def expand_paths(paths: str | Path | Iterable[str | Path], suffixes: tuple[str, ...], what: str) -> list[Path]:
    """Turn one path, a list of paths or a folder into the list of files to read (a folder: its ``suffixes`` files).

    Raises
    ------
    DataFormatError
        If no file is given, or a folder holds none of the expected files.
    """
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise DataFormatError(f"no file given (expected {what}: a file, a list of files or a folder)")
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(suffixes))
            if not found:
                raise DataFormatError(f"folder holds no {' or '.join(suffixes)} file (expected {what})", path=p)
            files.extend(found)
        else:
            files.append(p)
    return files


def read_text(path: str | Path, encodings: tuple[str, ...] = ("utf-8",)) -> tuple[str, str]:
    """Read and decode a text file (gzip allowed); return ``(text, encoding)``."""
    return decode_text(read_bytes(path), path, encodings)


def read_csv_text(text: str, path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Parse CSV text with pandas, turning parser failures into :class:`DataFormatError`.

    Every row must have as many fields as the header: pandas would fill a short row (a file cut in the middle of
    its last line) with empty cells, so :func:`check_row_widths` refuses it first.
    """
    check_row_widths(text, path, sep=kwargs.get("sep", ","), comment=kwargs.get("comment"))
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataFormatError(f"cannot parse as CSV ({exc}; expected a CSV table)", path=path) from exc


def check_row_widths(text: str, path: str | Path, *, sep: str = ",", comment: str | None = None) -> None:
    """Raise a :class:`DataFormatError` at the first row with fewer or more fields than the header.

    Blank lines and ``comment`` lines are skipped; a short last line without a line end is reported as a file cut
    off in the middle of that line.
    """
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    width: int | None = None
    for fields in rows:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if comment is not None and fields[0].startswith(comment):
            continue
        if width is None:
            width = len(fields)
            continue
        if len(fields) == width:
            continue
        line = rows.line_num
        cut = len(fields) < width and not text.endswith(("\n", "\r")) and line >= text.count("\n") + 1
        why = "the file ends in the middle of this line: it looks truncated" if cut else "a stray or missing separator?"
        raise DataFormatError(
            f"row has {len(fields)} fields, the header {width} (expected one value per column; {why})",
            path=path,
            row=line,
        )


def require_columns(columns: Any, required: list[str], path: str | Path, what: str) -> None:
    """Raise a :class:`DataFormatError` naming every column of ``required`` that is absent."""
    present = [str(c) for c in columns]
    missing = [c for c in required if c not in present]
    if missing:
        raise DataFormatError(
            f"missing column(s) {missing} (expected a {what} with columns {required}; found {present})",
            path=path,
        )


def to_float(values: pd.Series, *, path: str | Path, column: str, line_of: np.ndarray) -> np.ndarray:
    """Convert a column to float; empty cells become NaN, anything else that is not a number is an error.

    Parameters
    ----------
    values
        The raw column.
    path, column
        Used in the error message.
    line_of
        For each row of ``values``, its 1-based line number in the file.
    """
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = pc.utf8_trim_whitespace(pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    try:
        return np.asarray(pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # some cell is not a number: find the first one for the message
    as_text = values.astype("string").str.strip()
    numbers = pd.to_numeric(as_text, errors="coerce")
    bad = numbers.isna() & as_text.notna() & (as_text != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(
            f"value {as_text.iloc[i]!r} is not a number (expected a number or an empty cell)",
            path=path,
            row=int(line_of[i]),
            field=column,
        )
    return numbers.to_numpy(dtype=float)


def check_time_order(times_utc: pd.DatetimeIndex, *, path: str | Path, line_of: np.ndarray) -> None:
    """Raise a :class:`DataFormatError` at the first row whose time is earlier than the row before it."""
    t = times_utc.asi8
    back = np.flatnonzero(t[1:] < t[:-1])
    if back.size:
        i = int(back[0]) + 1
        raise DataFormatError(
            f"time goes backwards: {times_utc[i]} comes after {times_utc[i - 1]} "
            "(expected rows in increasing time order)",
            path=path,
            row=int(line_of[i]),
        )


def drop_exact_duplicates(frame: pd.DataFrame, *, path: str | Path, line_of: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Drop rows that repeat an earlier row's time and values; a repeated time with other values is an error.

    Returns the frame without the duplicates and how many were dropped.
    """
    dup_time = frame.index.duplicated(keep="first")
    if not dup_time.any():
        return frame, 0
    same = frame.reset_index().duplicated(keep="first").to_numpy()
    conflict = dup_time & ~same
    if conflict.any():
        i = int(np.flatnonzero(conflict)[0])
        raise DataFormatError(
            f"time {frame.index[i]} appears twice with different values "
            "(expected one row per period; remove one of them)",
            path=path,
            row=int(line_of[i]),
        )
    return frame[~dup_time], int(dup_time.sum())


#: Physically possible values of the canonical columns, by name suffix or name: (low, high, unit). A value outside
#: is a damaged file (a unit mix-up, an Excel overflow, a shifted column), never a measurement.
PLAUSIBLE: list[tuple[str, float, float, str]] = [
    ("pressure_pa", 30_000.0, 110_000.0, "Pa"),
    ("wind_direction_deg", 0.0, 360.0, "deg"),
    ("precip_mm", 0.0, 500.0, "mm per hour"),
    ("sunshine_h", 0.0, 1.0, "h per hour"),
    ("_cf_area", 0.0, 1.5, "MW per installed MW"),
    ("cdf", 0.0, 1.0, "share"),
    ("_c", -90.0, 65.0, "degC"),
    ("_pct", 0.0, 100.0, "%"),
    ("_m_s", 0.0, 120.0, "m/s"),
    ("_w_m2", 0.0, 2_000.0, "W/m2"),
    ("_jpy_per_mwh", -1e6, 1e7, "JPY/MWh"),
    ("_g_per_kwh", 0.0, 3_000.0, "gCO2eq/kWh"),
    ("_mwh", -1e6, 1e6, "MWh"),
    ("_mw", -1e6, 1e6, "MW"),
    ("power_w", 0.0, 5_000.0, "W"),
]


def plausible_range(column: str) -> tuple[float, float] | None:
    """The physically possible ``(low, high)`` of a canonical column, or ``None`` when wattbit sets no limit."""
    for key, low, high, _ in PLAUSIBLE:
        if column == key or (key.startswith("_") and column.endswith(key)):
            return low, high
    return None


def check_plausible(
    frame: pd.DataFrame,
    *,
    path: str | Path,
    line_of: np.ndarray,
    source_columns: dict[str, str] | None = None,
) -> None:
    """Raise a :class:`DataFormatError` at the first value that is infinite or outside :data:`PLAUSIBLE`.

    Parameters
    ----------
    frame
        Canonical columns, one row per line of ``line_of``.
    path, line_of
        The file and, for each row of ``frame``, its 1-based line number there.
    source_columns
        Canonical column -> the file's own column name, for the message.
    """
    for col in frame.columns:
        if not pd.api.types.is_float_dtype(frame[col].dtype):
            continue
        values = frame[col].to_numpy(dtype=float)
        bounds = plausible_range(str(col))
        low, high = bounds if bounds is not None else (-np.inf, np.inf)
        with np.errstate(invalid="ignore"):
            bad = np.isinf(values) | (values < low) | (values > high)
        if not bad.any():
            continue
        i = int(np.flatnonzero(bad)[0])
        unit = next((u for k, lo, hi, u in PLAUSIBLE if (lo, hi) == (low, high)), "")
        expected = "a finite number" if bounds is None else f"a value within {low:g}..{high:g} {unit}"
        raise DataFormatError(
            f"value {values[i]:g} for {col} is not physically possible (expected {expected}; "
            "a unit mix-up, a shifted column or a spreadsheet overflow?)",
            path=path,
            row=int(line_of[i]) if i < len(line_of) else None,
            field=(source_columns or {}).get(str(col), str(col)),
        )


def find_gaps(index: pd.DatetimeIndex, step: pd.Timedelta) -> list[Gap]:
    """List the runs of periods missing from ``index``, expected to be regular with spacing ``step``."""
    if len(index) < 2:
        return []
    t = index.as_unit("ns").asi8
    step_ns = step.value
    diffs = np.diff(t)
    where = np.flatnonzero(diffs > step_ns)
    gaps = []
    for i in where:
        n = int(diffs[i] // step_ns) - 1
        if n <= 0:
            continue
        first = pd.Timestamp(t[i] + step_ns, tz="UTC")
        last = pd.Timestamp(t[i] + n * step_ns, tz="UTC")
        gaps.append(Gap(first, last, n))
    return gaps


def finish(frame: pd.DataFrame, meta: SourceMeta) -> tuple[pd.DataFrame, SourceMeta]:
    """Fill in the span, row count, gaps and missing-value counts of ``meta`` from ``frame``."""
    frame.index.name = TIME_INDEX
    meta.rows = len(frame)
    if len(frame):
        meta.start_utc = frame.index[0]
        meta.end_utc = frame.index[-1]
    if meta.resolution is not None:
        meta.gaps = find_gaps(pd.DatetimeIndex(frame.index), meta.resolution)
    meta.missing_values = {str(c): int(frame[c].isna().sum()) for c in frame.columns}
    return frame, meta


def localize(naive: pd.Series | pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """Attach time zone ``tz`` to naive timestamps and convert to UTC."""
    idx = pd.DatetimeIndex(naive)
    return idx.tz_localize(tz).tz_convert("UTC")
