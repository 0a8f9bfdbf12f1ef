"""What every fuzz case must end in: a correct frame, or a WattbitInputError that says where and what was expected."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings

from wattbit.data._base import plausible_range
from wattbit.errors import WattbitInputError

#: (reader, outcome) -> cases; written by conftest.py when WATTBIT_FUZZ_REPORT is set.
TALLY: Counter[tuple[str, str]] = Counter()

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
#: Cases per test: the default profile keeps the fuzz suites within ~90 s of `make test`.
EXAMPLES = {"default": 25, "long": 250}


def fuzz_settings(weight: float = 1.0) -> settings:
    """Settings of one fuzz test; ``weight`` scales its share of cases (slow readers get fewer)."""
    n = max(5, int(EXAMPLES.get(PROFILE, EXAMPLES["default"]) * weight))
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=PROFILE != "long",
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


#: One temporary folder for all cases of a test session, removed when the process ends.
CASES_ROOT = Path(tempfile.mkdtemp(prefix="wattbit-fuzz-"))
atexit.register(shutil.rmtree, CASES_ROOT, ignore_errors=True)


def write_case(raw: bytes, name: str) -> Path:
    """Write ``raw`` to a fresh file called ``name`` in a folder of its own under :data:`CASES_ROOT`."""
    folder = Path(tempfile.mkdtemp(dir=CASES_ROOT))
    path = folder / name
    path.write_bytes(raw)
    return path


def check_error(err: WattbitInputError, path: Path | None) -> None:
    """An input error must name the file (or a field) and say what was expected."""
    text = str(err)
    assert err.path is not None or err.field is not None or (path is not None and path.name in text), text
    if path is not None and err.path is not None:
        where = Path(err.path)
        assert where.name == path.name or path in (where.parent, where) or where == path.parent, text
    assert "expect" in text.lower(), f"error does not say what was expected: {text}"


def check_frame(frame: pd.DataFrame, *, time_series: bool = True) -> None:
    """A frame a reader returns: UTC, strictly increasing index; finite numbers within physical limits."""
    if time_series:
        idx = frame.index
        assert isinstance(idx, pd.DatetimeIndex), type(idx)
        assert str(idx.tz) == "UTC", idx.tz
        assert idx.is_monotonic_increasing and idx.is_unique, "index not strictly increasing"
    for col in frame.columns:
        values = frame[col]
        if not pd.api.types.is_float_dtype(values.dtype):
            continue
        arr = values.to_numpy(dtype=float)
        assert not np.isinf(arr).any(), f"{col} holds inf"
        bounds = plausible_range(str(col))
        if bounds is not None:
            finite = arr[~np.isnan(arr)]
            lo, hi = bounds
            assert ((finite >= lo) & (finite <= hi)).all(), f"{col} outside {lo}..{hi}: {finite.min()}..{finite.max()}"


def outcome(
    reader: str,
    read: Callable[[], tuple[pd.DataFrame, Any]],
    path: Path | None,
    *,
    time_series: bool = True,
) -> pd.DataFrame | None:
    """Run ``read``; check its frame or its error; count the case. Any other exception fails the test.

    With ``WATTBIT_FUZZ_SAVE=DIR`` a failing case's file is copied to DIR (to be kept under tests/fixtures/fuzz).
    """
    try:
        return _outcome(reader, read, path, time_series=time_series)
    except BaseException:
        save = os.environ.get("WATTBIT_FUZZ_SAVE")
        if save and path is not None and path.is_file():
            import hashlib

            raw = path.read_bytes()
            stem = path.name.split(".")[0]
            target = Path(save) / f"{stem}.{reader}-{hashlib.sha1(raw).hexdigest()[:8]}{''.join(path.suffixes)}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(raw)
        raise


def _outcome(
    reader: str,
    read: Callable[[], tuple[pd.DataFrame, Any]],
    path: Path | None,
    *,
    time_series: bool,
) -> pd.DataFrame | None:
    try:
        frame, meta = read()
    except WattbitInputError as err:
        check_error(err, path)
        TALLY[(reader, "input_error")] += 1
        return None
    check_frame(frame, time_series=time_series)
    if hasattr(meta, "rows") and time_series:
        assert meta.rows == len(frame)
    TALLY[(reader, "read")] += 1
    return frame


REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


def first_data_line(lines: list[str]) -> int:
    """Index of the first line that starts with a digit (a date): the lines before it are the header."""
    for i, line in enumerate(lines):
        if line[:1].isdigit() or line.lstrip('"')[:1].isdigit():
            return i
    return 1


def load_seed(path: Path) -> tuple[bytes, int, str]:
    """A seed file: its bytes (un-gzipped), how many header lines, its encoding."""
    import gzip

    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    for encoding in ("utf-8", "cp932"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return raw, first_data_line(text.removeprefix("\ufeff").splitlines()), encoding
    raise AssertionError(f"seed {path} is neither UTF-8 nor Shift-JIS")


def head_of(path: Path, lines: int) -> bytes:
    """The first ``lines`` lines of a (gzip) file: a small seed from a big real file."""
    raw, _, _ = load_seed(path)
    return b"\n".join(raw.splitlines()[:lines]) + b"\n"
