"""The corpus: every file the fuzzing found a bug with, kept under tests/fixtures/fuzz/, and what it must give now.

Each case names the reader, the file, and the error the reader must raise (a part of its message, the line and the
field) — or ``None`` where the file must now be read. tests/fixtures/fuzz/README.md says what each bug was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.harness import FIXTURES, check_error, check_frame
from wattbit.data.acmetrace import read_acmetrace_power_cdf
from wattbit.data.area_supply_demand import read_area_supply_demand, read_tohoku_hourly
from wattbit.data.electricitymaps import read_electricitymaps
from wattbit.data.epw import read_epw
from wattbit.data.jma import read_jma_hourly
from wattbit.data.wattbit_signals import read_wattbit_signals
from wattbit.data.workload_traces import read_alibaba_gpu_nodes, read_alibaba_gpu_pods
from wattbit.errors import WattbitInputError
from wattbit.ops.detect.nab import read_nab
from wattbit.scenario.model import load_scenario

CORPUS = FIXTURES / "fuzz"


@dataclass(frozen=True)
class Case:
    file: str
    read: Callable[[Path], Any]
    message: str | None  # a part of the error message; None: the file must be read
    row: int | None = None
    field: str | None = None


CASES = [
    Case("sendai_hourly.cut-in-last-row.csv", read_jma_hourly, "looks truncated", row=73),
    Case("sendai_hourly.absurd-hour.csv", read_jma_hourly, "expected 1..24", row=14, field="hour_1_24"),
    Case("tohoku_hourly.overflow-1e309.csv", read_tohoku_hourly, "not physically possible", row=60, field="wind_mwh"),
    Case("openb_node_list.overflow-3.4e38.csv", read_alibaba_gpu_nodes, "a finite number within", row=6, field="gpu"),
    Case(
        "openb_pod_list.inf-deletion-time.csv",
        read_alibaba_gpu_pods,
        "a finite number within",
        row=17,
        field="deletion_time",
    ),
    Case("fukushima.absurd-wind.csv", read_wattbit_signals, "not physically possible", row=11, field="wind_speed_m_s"),
    Case("fukushima.duplicated-row.csv", read_wattbit_signals, None),
    Case("JP-TK_2022_hourly.cr-line-ends.csv", read_electricitymaps, None),
    Case("USA_AZ_Phoenix.utf16-mark-only.epw", read_epw, "file is empty"),
    Case("gpu_power_kalos.inf-power.csv", read_acmetrace_power_cdf, "not physically possible", row=6, field="value"),
    Case("scenario.gpu-count-2e12.toml", load_scenario, "less than or equal to 10000000"),
    Case("scenario.timezone-typo.toml", load_scenario, "expected an IANA name such as 'Asia/Tokyo'"),
    Case("scenario.one-second-steps-for-a-year.toml", load_scenario, "expected at most 2,200,000"),
    Case("scenario.one-step.toml", load_scenario, None),  # and it runs: test_fuzz_scenario.py
    Case("nab.value-missing", read_nab, "expected a finite number in every row", row=13, field="value"),
]


def test_every_corpus_file_has_a_case() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    assert files == {c.file for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file)
def test_corpus_case(case: Case) -> None:
    path = CORPUS / case.file
    if case.message is None:
        result = case.read(path)
        if isinstance(result, tuple):
            check_frame(result[0], time_series=result[1].resolution is not None)
            assert result[1].duplicates_dropped == (1 if "duplicated" in case.file else 0)
        return
    with pytest.raises(WattbitInputError) as err:
        case.read(path)
    if not case.file.startswith("scenario."):  # a scenario error lists 'field = value: what is expected'
        check_error(err.value, path)
    assert case.message in str(err.value)
    assert (err.value.row, err.value.field) == (case.row, case.field)


def test_area_reader_refuses_the_overflow_in_a_raw_layout_too(tmp_path: Path) -> None:
    """The raw-layout parser has the same limits as the merged file (Kyushu's excerpt, one cell set to 1e309)."""
    seed = FIXTURES / "area_supply_demand" / "area_jyukyu_jisseki_2021_excerpt.csv"
    lines = seed.read_bytes().split(b"\n")
    row = next(i for i, line in enumerate(lines) if line[:4] == b"2021")
    cells = lines[row].split(b",")
    cells[2] = b"1e309"
    lines[row] = b",".join(cells)
    path = tmp_path / seed.name
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(WattbitInputError, match="not physically possible") as err:
        read_area_supply_demand(path, area="kyushu")
    assert err.value.row == row + 1
