"""Cells of a trace file as typed columns: the parsing every workload-trace reader shares.

Each function names the file, line and column of the first bad cell in its :class:`DataFormatError`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import SourceMeta, read_csv_text, read_text, require_columns, to_float
from wattbit.errors import DataFormatError, WattbitInputError

#: Largest size of a number in a trace (counts, tokens, seconds: 1e10 s is 317 years; int64 holds 9.2e18).
MAX_ABS = 1e10


def read_cells(path: Path, required: list[str], what: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV as text cells; return the frame and the 1-based file line of each row."""
    text, _ = read_text(path)
    if "\x00" in text:
        raise DataFormatError(f"file contains NUL bytes: binary data, not CSV text (expected a {what})", path=path)
    frame = read_csv_text(text, path, dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    require_columns(frame.columns, required, path, what)
    if frame.empty:
        raise DataFormatError(f"no data rows after the header (expected a {what})", path=path)
    lines = text.splitlines()
    filled = [i + 1 for i, line in enumerate(lines) if line.strip()]
    line_of = np.asarray(filled[1:], dtype=np.int64)  # filled[0] is the header
    if len(line_of) != len(frame):
        line_of = np.arange(len(frame), dtype=np.int64) + 2
    return frame, line_of


def fail_where(
    path: Path, line_of: np.ndarray, mask: np.ndarray, column: str, values: pd.Series, expected: str
) -> None:
    """Raise a :class:`DataFormatError` at the first row where ``mask`` is true."""
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise DataFormatError(
            f"value {str(values.iloc[i]).strip()!r} is not valid (expected {expected})",
            path=path,
            row=int(line_of[i]),
            field=column,
        )


def number_column(
    frame: pd.DataFrame,
    column: str,
    path: Path,
    line_of: np.ndarray,
    *,
    whole: bool = False,
    nonneg: bool = False,
    required: str | None = None,
    max_abs: float = MAX_ABS,
) -> np.ndarray:
    """Convert a column to float (empty cells NaN); optionally require whole, non-negative or present values.

    Every value must be finite and at most ``max_abs`` in size: a trace holds counts, tokens and seconds, and an
    overflowed cell (``inf``, ``1e30``) would otherwise break the integer and time conversions that follow.
    """
    raw = frame[column]
    v = to_float(raw, path=path, column=column, line_of=line_of)
    present = ~np.isnan(v)
    with np.errstate(invalid="ignore"):
        fail_where(
            path, line_of, present & ~(np.abs(v) <= max_abs), column, raw, f"a finite number within ±{max_abs:g}"
        )
    if required is not None and not present.all():
        row = int(line_of[np.flatnonzero(~present)[0]])
        raise DataFormatError(f"empty cell (expected {required})", path=path, row=row, field=column)
    if whole:
        fail_where(path, line_of, present & ~(np.isfinite(v) & (v == np.round(v))), column, raw, "a whole number")
    if nonneg:
        fail_where(path, line_of, present & ~(v >= 0), column, raw, "a number >= 0")
    return v


def whole_ints(values: np.ndarray) -> pd.Series:
    """Whole-number floats as a nullable ``Int64`` series (NaN becomes <NA>)."""
    return pd.Series(values).astype("Int64")


def text_column(values: pd.Series) -> pd.Series:
    """Strip text cells; empty cells become missing."""
    s = values.astype("string").str.strip()
    return s.mask(s == "")


def parse_anchor(trace_start_utc: str | pd.Timestamp) -> pd.Timestamp:
    """Parse the trace-start anchor; a naive time is read as UTC."""
    try:
        ts = pd.Timestamp(trace_start_utc)
    except (ValueError, TypeError) as exc:
        raise WattbitInputError(
            f"cannot read {trace_start_utc!r} as a time (expected e.g. '2022-01-01T00:00:00+08:00')",
            field="trace_start_utc",
        ) from exc
    if ts is pd.NaT:
        raise WattbitInputError("trace start is empty (expected a time)", field="trace_start_utc")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def times_at(anchor: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    """UTC times ``anchor + seconds`` (NaN seconds give NaT)."""
    return pd.Series(anchor + pd.to_timedelta(seconds, unit="s"))


def anchor_note(anchor: pd.Timestamp, source: str) -> str:
    """The note that says a trace's dates rest on the assumed ``anchor``."""
    return (
        f"ASSUMPTION: {source} counts seconds from an unpublished trace start; UTC times are trace_start_utc "
        f"({anchor.isoformat()}) + offset. Only durations and time differences are real; the dates are not."
    )


def finish_events(frame: pd.DataFrame, meta: SourceMeta, time_columns: list[str]) -> tuple[pd.DataFrame, SourceMeta]:
    """Fill in span, row count and missing values for an event table with a RangeIndex."""
    frame = frame.reset_index(drop=True)
    meta.rows = len(frame)
    times = pd.concat([frame[c] for c in time_columns]).dropna()
    if len(times):
        meta.start_utc, meta.end_utc = times.min(), times.max()
    meta.missing_values = {str(c): int(frame[c].isna().sum()) for c in frame.columns}
    return frame, meta
