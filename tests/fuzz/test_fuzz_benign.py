"""Changes that keep a file's meaning (what a spreadsheet or another OS does on saving) give the very same frame.

Byte-order mark, CRLF or old-Mac CR line ends, UTF-16 with its mark (a spreadsheet's "Unicode text"), no final line
end, trailing blank lines, and Shift-JIS for files that hold only characters it has: every reader, every one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fuzz.harness import FIXTURES, TALLY, load_seed, write_case
from tests.fuzz.mutations import Doc, seed_doc
from tests.fuzz.test_fuzz_workloads import READERS as TRACE_READERS
from wattbit.data.area_supply_demand import read_area_supply_demand, read_tohoku_hourly
from wattbit.data.electricitymaps import read_electricitymaps
from wattbit.data.epw import read_epw
from wattbit.data.jepx import read_jepx_spot
from wattbit.data.jma import read_jma_hourly

AREA = FIXTURES / "area_supply_demand"
SEEDS: dict[str, tuple[Callable[[Path], Any], Path | bytes, str]] = {
    "jma_hourly": (read_jma_hourly, FIXTURES / "jma" / "sendai_2022-06-20_22.csv", "sendai_hourly.csv"),
    "jepx_spot": (read_jepx_spot, FIXTURES / "jepx" / "spot_2022-12-30_31.csv", "spot_summary_2022.csv"),
    "electricitymaps_hourly": (
        read_electricitymaps,
        FIXTURES / "electricitymaps" / "JP-TK" / "JP-TK_2022_hourly_head.csv",
        "JP-TK_2022_hourly.csv",
    ),
    "epw": (lambda p: read_epw(p, year=2021), FIXTURES / "epw" / "USA_AZ_Phoenix_jan31_feb1.epw", "phoenix.epw"),
    "area_supply_demand": (
        read_area_supply_demand,
        AREA / "area_jyukyu_jisseki_2021_excerpt.csv",
        "area_jyukyu_jisseki_2021.csv",
    ),
    "tohoku_hourly": (read_tohoku_hourly, AREA / "tohoku_hourly_2022-01-01_excerpt.csv", "tohoku_hourly.csv"),
    **{name: (read, raw, file) for name, (read, raw, file) in TRACE_READERS.items()},
}


def _bom(d: Doc) -> None:
    d.bom, d.encoding = True, "utf-8"


def _utf16(d: Doc) -> None:
    d.encoding = "utf-16"


CHANGES: dict[str, Callable[[Doc], None]] = {
    "bom": _bom,
    "crlf": lambda d: setattr(d, "newline", "\r\n"),
    "cr": lambda d: setattr(d, "newline", "\r"),
    "utf-16": _utf16,
    "no-final-newline": lambda d: setattr(d, "final_newline", False),
    "blank-lines-at-end": lambda d: d.lines.extend(["", ""]),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("reader", sorted(SEEDS))
def test_a_change_that_keeps_the_meaning_gives_the_same_frame(reader: str, change: str) -> None:
    read, seed, name = SEEDS[reader]
    if isinstance(seed, Path):
        raw, header, encoding = load_seed(seed)
    else:
        raw, header, encoding = seed, 1, "utf-8"
    original, _ = read(write_case(raw, name))
    doc = seed_doc(raw, header, encoding)
    CHANGES[change](doc)
    frame, _ = read(write_case(doc.encode(), name))
    pd.testing.assert_frame_equal(frame, original, check_freq=False)
    TALLY[(reader, "read")] += 1
