"""The parsing engine shared by all area supply-demand layouts.

Every utility publishes the same quantities (area demand, generation by source, solar and wind curtailment, pumped
storage, interconnector flow) in its own layout: a preamble of notes, one to three header rows, a time stamp in one
cell (``2022/4/1 0:00``) or two (``2022/4/1``, ``0時``), a unit (MWh, or 万kW for Shikoku), thousands separators,
placeholders for "no data" and padding rows of empty cells. A :class:`Layout` describes one utility's layout;
:func:`parse_raw` reads one file with it. The header labels are matched to the canonical columns by the source names
they contain (``太陽光`` + ``抑制量``/``制御量`` is solar curtailment), so small label changes between years
(``火力`` / ``火力等``, ``連系線`` / ``連系線潮流``) need no special case, while any label that names no known source
is an error rather than a silently dropped column.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wattbit.data._base import check_plausible, check_time_order, drop_exact_duplicates, localize, to_float
from wattbit.errors import DataFormatError

COLUMNS: tuple[str, ...] = (
    "demand_mwh",
    "nuclear_mwh",
    "thermal_mwh",
    "hydro_mwh",
    "geothermal_mwh",
    "biomass_mwh",
    "solar_mwh",
    "solar_curtailed_mwh",
    "wind_mwh",
    "wind_curtailed_mwh",
    "pumped_storage_mwh",
    "interconnector_mwh",
)
"""Canonical columns, MWh per hour; ``pumped_storage_mwh`` < 0 is pumping, ``interconnector_mwh`` < 0 net export."""

JST = "Asia/Tokyo"
HEADER_SEARCH_ROWS = 60
_SOURCES = (
    ("太陽光", "solar"),
    ("風力", "wind"),
    ("原子力", "nuclear"),
    ("火力", "thermal"),
    ("水力", "hydro"),
    ("地熱", "geothermal"),
    ("バイオマス", "biomass"),
    ("揚水", "pumped_storage"),
    ("連系線", "interconnector"),
)
_SUB_LABEL = re.compile(r"(実績|抑制量|制御量|出力制御量)")
_IGNORED = "ignored"
_PLACEHOLDERS = ("－", "-", "―", "‐", "−")
_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_RAW_TIME = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})\s+(\d{1,2})(?::(\d{2})|時)$")


@dataclass(frozen=True)
class Layout:
    """How one utility lays out its area supply-demand file.

    Attributes
    ----------
    area, utility
        Area name (``"tohoku"``) and the publishing transmission utility.
    description
        One line on the layout, reported in ``meta.attrs["layout"]``.
    header
        Pattern of the header line that names the time column(s) (searched in the first 60 lines).
    expected_header
        That line as the utility writes it, quoted in error messages.
    rows_above, rows_below
        Header rows above and below that line whose cells belong to the column labels.
    two_time_columns
        Whether the date and the hour are in two cells (``DATE``, ``TIME``) rather than one (``DATE_TIME``).
    date_carried
        Whether the date is written only on the first hour of each day (later hours leave it empty).
    unit, factor
        Unit of the values as the header states it, and the factor that turns it into MWh per hour.
    columns
        Canonical columns the utility publishes; the others are omitted from the frame (with a note).
    """

    area: str
    utility: str
    description: str
    header: re.Pattern[str]
    expected_header: str
    rows_above: int = 0
    rows_below: int = 0
    two_time_columns: bool = False
    date_carried: bool = False
    unit: str = "MWh"
    factor: float = 1.0
    columns: tuple[str, ...] = COLUMNS

    def matches(self, text: str) -> bool:
        """Return whether ``text`` (the beginning of a decoded file) has this layout's header line."""
        return any(self.header.match(line) for line in text.splitlines()[:HEADER_SEARCH_ROWS])


@dataclass
class ParsedFile:
    """One raw file read with its layout: values in canonical columns, index period-beginning UTC.

    ``notes`` holds (what was found, how many rows) pairs without the file name, so that a reader of many files can
    add them up.
    """

    path: str
    encoding: str
    frame: pd.DataFrame
    line_of: np.ndarray
    duplicates_dropped: int
    notes: list[tuple[str, int]] = field(default_factory=list)
    publisher_notes: list[str] = field(default_factory=list)


def normalise_label(label: str) -> str:
    """Return ``label`` without width variants, spaces, units, brackets: ``太陽光（実績）〔MWh〕`` -> ``太陽光実績``."""
    text = unicodedata.normalize("NFKC", label)
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"MWh|万kWh?", "", text)
    return re.sub(r"[()\[\]〔〕【】]", "", text)


def canonical_column(label: str, previous: str | None) -> str | None:
    """Map a normalised header label to a canonical column, ``"ignored"`` (totals), or ``None`` (unknown/empty).

    ``previous`` is the column mapped just before, so that a bare sub-label (``制御量`` under an empty group cell, as
    Shikoku writes it) takes the source of its left neighbour.
    """
    if not label:
        return None
    if "合計" in label:
        return _IGNORED
    if "需要" in label:
        return "demand_mwh"
    hits = [name for key, name in _SOURCES if key in label]
    if not hits and _SUB_LABEL.fullmatch(label) and previous in ("solar_mwh", "wind_mwh"):
        hits = [previous.removesuffix("_mwh")]
    if len(hits) != 1:
        return None
    base = hits[0]
    if base in ("solar", "wind") and ("抑制" in label or "制御" in label):
        return f"{base}_curtailed_mwh"
    return f"{base}_mwh"


def parse_jst_times(
    stamps: pd.Series, *, pattern: re.Pattern[str], path: str, line_of: np.ndarray, field: str, expected: str
) -> pd.DatetimeIndex:
    """Parse hour-beginning JST stamps with ``pattern`` (groups: year, month, day, hour, minute) into UTC.

    Raises
    ------
    DataFormatError
        At the first stamp that does not match, is not on the hour, or is not a real date.
    """
    parts = stamps.astype("string").str.strip().str.extract(pattern)

    def fail(mask: np.ndarray, why: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise DataFormatError(
                f"time {stamps.iloc[i]!r} {why} (expected {expected}, hour-beginning JST)",
                path=path,
                row=int(line_of[i]),
                field=field,
            )

    fail(parts[0].isna().to_numpy(), "is not understood")
    num = parts.fillna("0").astype(int)
    fail(((num[4] != 0) | (num[3] > 23)).to_numpy(), "is not on an hour from 0:00 to 23:00")
    naive = pd.to_datetime(
        pd.DataFrame({"year": num[0], "month": num[1], "day": num[2], "hour": num[3]}), errors="coerce"
    )
    fail(naive.isna().to_numpy(), "is not a real date")
    return localize(naive, JST)


def clean_numbers(cells: list[str]) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Strip cells, turn ``－`` placeholders into empty cells and drop thousands separators (``"8,707"``).

    Returns the cleaned cells and the masks of the cells that held a placeholder or thousands separators.
    """
    s = pd.Series(cells, dtype="string").str.strip()
    placeholder = s.isin(_PLACEHOLDERS).to_numpy(dtype=bool)
    s = s.mask(placeholder, "")
    thousands = s.str.fullmatch(_THOUSANDS).fillna(False).to_numpy(dtype=bool)
    s = s.where(~thousands, s.str.replace(",", "", regex=False))
    return s, placeholder, thousands


def _to_numbers(
    values: list[list[str]], mapping: dict[int, tuple[str, str]], path: str, line_of: np.ndarray
) -> tuple[dict[str, np.ndarray], list[tuple[str, int]]]:
    """Convert the mapped cells of all rows to floats (one pass over the whole block; per column on failure)."""
    cols = list(mapping)
    k = len(cols)
    cells, placeholder, thousands = clean_numbers([row[j] for row in values for j in cols])
    try:
        block = to_float(cells, path=path, column="", line_of=np.repeat(line_of, k)).reshape(-1, k)
    except DataFormatError:
        for c, j in enumerate(cols):  # find the column of the bad value, and raise its error
            to_float(cells.iloc[c::k], path=path, column=mapping[j][1], line_of=line_of)
        raise
    data: dict[str, np.ndarray] = {}
    notes: list[tuple[str, int]] = []
    for c, j in enumerate(cols):
        name, label = mapping[j]
        data[name] = block[:, c]
        if placeholder[c::k].any():
            notes.append(
                (
                    f"cells of '{label}' ({name}) holding the placeholder '－' (no data), read as NaN",
                    int(placeholder[c::k].sum()),
                )
            )
        if thousands[c::k].any():
            notes.append(
                (
                    f"values of '{label}' ({name}) with thousands separators ('8,707'), separators removed",
                    int(thousands[c::k].sum()),
                )
            )
        if np.isnan(block[:, c]).all():
            notes.append((f"column '{label}' ({name}) empty in every row, left as NaN", len(values)))
    return data, notes


def _read_rows(text: str, path: str) -> tuple[list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataFormatError(
            f"cannot parse as CSV ({exc}; expected a comma-separated table)", path=path, row=reader.line_num + 1
        ) from exc
    return rows, lines


def _find_header(rows: list[list[str]], layout: Layout, path: str, encoding: str) -> int:
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if layout.header.match(",".join(row)) and i >= layout.rows_above:
            return i
    first = ",".join(rows[0])[:80] if rows else ""
    raise DataFormatError(
        f"no {layout.utility} header line found in the first {HEADER_SEARCH_ROWS} lines (expected a line like "
        f"{layout.expected_header!r}; the file begins {first!r} when decoded as {encoding}: "
        "is it an area supply-demand file of this utility, in Shift-JIS/cp932 or UTF-8?)",
        path=path,
    )


def _map_columns(
    rows: list[list[str]], top: int, anchor: int, layout: Layout, path: str, line: int
) -> tuple[dict[int, tuple[str, str]], dict[int, str]]:
    """Return {column index: (canonical name, label as written)} and {index: label} of ignored total columns."""
    header = rows[top : anchor + layout.rows_below + 1]
    width = max(len(r) for r in header)
    first = 2 if layout.two_time_columns else 1
    mapping: dict[int, tuple[str, str]] = {}
    ignored: dict[int, str] = {}
    previous: str | None = None
    for j in range(first, width):
        cells = [r[j].strip() for r in header if j < len(r) and r[j].strip() and "単位" not in r[j]]
        written = " ".join(cells)
        name = canonical_column(normalise_label("".join(cells)), previous)
        if name is None and written:
            raise DataFormatError(
                f"unrecognised column label {written!r} (expected the {layout.utility} header "
                f"{layout.expected_header!r}: labels naming demand or a generation source)",
                path=path,
                row=line,
                field=written,
            )
        if name == _IGNORED:
            ignored[j] = written
        elif name is not None:
            if any(name == known for known, _ in mapping.values()):
                raise DataFormatError(
                    f"two columns map to {name} (expected each source once, as in {layout.expected_header!r})",
                    path=path,
                    row=line,
                    field=written,
                )
            mapping[j] = (name, written)
            previous = name
    return mapping, ignored


def _check_unit(rows: list[list[str]], top: int, start: int, layout: Layout, path: str) -> None:
    """Check the unit that the header rows (or a ``単位`` cell above them) state."""
    found: set[str] = set()
    for i, row in enumerate(rows[:start]):
        for cell in row:
            norm = unicodedata.normalize("NFKC", cell).strip()
            if i < top and "単位" not in norm:
                continue
            if re.search(r"万\s*kWh?", norm):
                found.add("万kW")
            elif "MWh" in norm:
                found.add("MWh")
            elif other := re.search(r"[kGT]Wh?", norm):
                found.add(other.group())
            elif "単位" in norm:
                found.add(norm)
    if found != {layout.unit}:
        raise DataFormatError(
            f"the header states the unit(s) {sorted(found) or 'nothing'} (expected {layout.unit}, "
            f"the unit of {layout.utility} files)",
            path=path,
        )


def parse_raw(text: str, path: str, encoding: str, layout: Layout) -> ParsedFile:
    """Read one decoded raw file with ``layout``; check its header, times and values.

    Rows whose cells are all empty (padding) and total rows (``合計…``) are skipped and counted in the notes; every
    other row must carry a valid time and numbers or empty cells. Values are multiplied by ``layout.factor``.

    Raises
    ------
    DataFormatError
        On an unrecognised header or unit, a bad time or number, time going backwards, or no data rows.
    """
    rows, lines = _read_rows(text, path)
    anchor = _find_header(rows, layout, path, encoding)
    top = anchor - layout.rows_above
    start = anchor + layout.rows_below + 1
    mapping, ignored = _map_columns(rows, top, anchor, layout, path, lines[anchor])
    _check_unit(rows, top, start, layout, path)
    present = [name for name, _ in mapping.values()]
    wanted = [c for c in layout.columns if c not in present]
    if wanted:
        raise DataFormatError(
            f"missing column(s) {wanted} (expected the {layout.utility} header {layout.expected_header!r}; "
            f"found {[label for _, label in mapping.values()]})",
            path=path,
            row=lines[anchor],
        )
    width = max(mapping) + 1
    n_time = 2 if layout.two_time_columns else 1
    allowed = set(range(n_time)) | set(mapping) | set(ignored)
    publisher = [r[0].strip() for r in rows[:top] if r and r[0].strip()[:1] in ("・", "※")]

    stamps: list[str] = []
    values: list[list[str]] = []
    line_of: list[int] = []
    blank = totals = 0
    date = ""
    for row, line in zip(rows[start:], lines[start:], strict=True):
        if not any(c.strip() for c in row):
            blank += 1
            continue
        if row[0].strip().startswith("合計"):
            totals += 1
            continue
        extra = next((j for j, c in enumerate(row) if j not in allowed and c.strip()), None)
        if extra is not None:
            raise DataFormatError(
                f"value {row[extra]!r} in column {extra + 1}, which has no header label "
                "(expected values only under the labelled columns)",
                path=path,
                row=line,
            )
        if len(row) < width:
            raise DataFormatError(
                f"row has {len(row)} fields (expected at least {width}, as in the header)", path=path, row=line
            )
        if n_time == 2:
            if row[0].strip():
                date = row[0].strip()
            elif not layout.date_carried or not date:
                raise DataFormatError("empty date (expected YYYY/M/D)", path=path, row=line, field=rows[anchor][0])
            stamps.append(f"{date} {row[1].strip()}")
        else:
            stamps.append(row[0])
        values.append(row)
        line_of.append(line)
    if not stamps:
        last_header_line = lines[min(start, len(lines)) - 1]
        raise DataFormatError("no data rows after the header (expected hourly rows)", path=path, row=last_header_line)

    lines_arr = np.asarray(line_of)
    index = parse_jst_times(
        pd.Series(stamps, dtype="string"),
        pattern=_RAW_TIME,
        path=path,
        line_of=lines_arr,
        field="/".join(rows[anchor][:n_time]),
        expected="'YYYY/M/D H:MM'" if n_time == 1 else "'YYYY/M/D' and 'H:MM' or 'H時'",
    )
    data, notes = _to_numbers(values, mapping, path, lines_arr)
    if blank:
        notes.append(("rows with no values (padding) skipped", blank))
    if totals:
        notes.append(("total rows ('合計…') skipped", totals))
    notes.extend(
        (f"total column '{label}' ignored (sum of the other columns)", len(values)) for label in ignored.values()
    )
    check_time_order(index, path=path, line_of=lines_arr)
    frame = pd.DataFrame({c: data[c] * layout.factor for c in layout.columns}, index=index)
    check_plausible(frame, path=path, line_of=lines_arr, source_columns=dict(mapping.values()))
    keep = ~frame.index.duplicated(keep="first")
    frame, dropped = drop_exact_duplicates(frame, path=path, line_of=lines_arr)
    return ParsedFile(path, encoding, frame, lines_arr[keep], dropped, notes, publisher)
