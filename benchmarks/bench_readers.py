"""Wall-clock time of wattbit's readers on the real files in ../shared/data, and of the demo data report.

Usage::

    .venv/bin/python benchmarks/bench_readers.py [--shared ../shared/data] [--repeat 3]

Prints a Markdown table (best of ``--repeat`` runs, in seconds, and rows per second) for docs/benchmarks.md.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wattbit.data.area_supply_demand import read_area_supply_demand, read_tohoku_hourly
from wattbit.data.electricitymaps import read_electricitymaps
from wattbit.data.epw import read_epw
from wattbit.data.jepx import read_jepx_spot
from wattbit.data.jma import read_jma_hourly
from wattbit.data.workload_traces import read_alibaba_gpu_pods, read_azure_llm_2023, read_servegen_client_rates
from wattbit.report.signals_report import build_data_report
from wattbit.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]


def cases(shared: Path) -> list[tuple[str, Callable[[], Any]]]:
    """The benchmarked calls, each returning ``(frame, meta)`` or a summary."""
    jp = shared / "japan"
    return [
        ("JMA hourly, Sendai 2016-2022 (61k rows)", lambda: read_jma_hourly(jp / "weather-jma/sendai_hourly.csv.gz")),
        ("JEPX spot, 7 fiscal years (118k slots)", lambda: read_jepx_spot(jp / "jepx-spot")),
        ("Tohoku cleaned hourly (59k rows)", lambda: read_tohoku_hourly(jp / "area-supply-demand/tohoku_hourly.csv")),
        (
            "Kyushu raw Shift-JIS, 27 files (59k rows)",
            lambda: read_area_supply_demand(jp / "area-supply-demand/raw/kyushu", "kyushu"),
        ),
        (
            "Hokkaido raw Shift-JIS, 27 files (59k rows)",
            lambda: read_area_supply_demand(jp / "area-supply-demand/raw/hokkaido", "hokkaido"),
        ),
        (
            "Electricity Maps JP-TK 2021-2022 (17.5k rows)",
            lambda: read_electricitymaps(shared / "world/electricitymaps-carbon/JP-TK"),
        ),
        (
            "EPW Phoenix TMY (8,760 rows)",
            lambda: read_epw(shared / "world/weather-epw-us/USA_AZ_Phoenix-Sky.Harbor.epw.gz"),
        ),
        (
            "  peer: pvlib.iotools.read_epw, same file",
            lambda: _pvlib_epw(shared / "world/weather-epw-us/USA_AZ_Phoenix-Sky.Harbor.epw.gz"),
        ),
        (
            "Alibaba GPU v2023 pods (8,152 rows)",
            lambda: read_alibaba_gpu_pods(shared / "workloads/alibaba-gpu-v2023-openb/openb_pod_list_default.csv"),
        ),
        (
            "Azure LLM 2023 conversation (19k rows)",
            lambda: read_azure_llm_2023(shared / "workloads/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv"),
        ),
        (
            "ServeGen m-large client rates (327k rows)",
            lambda: read_servegen_client_rates(
                shared / "workloads/alibaba-servegen-client-rates/language_m-large_client_rates.csv.gz"
            ),
        ),
        (
            "Demo data report: japan-2022, 3 sites x 35,040 steps",
            lambda: build_data_report(load_scenario("japan-2022"), Path(tempfile.mkdtemp())),
        ),
    ]


def _pvlib_epw(path: Path) -> Any:
    import pvlib

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return pvlib.iotools.read_epw(io.StringIO(fh.read()))


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"| case | best of {args.repeat} [s] | rows/s |")
    print("|---|---:|---:|")
    for name, fn in cases(args.shared):
        seconds, result = best_of(fn, args.repeat)
        rows = getattr(result[1], "rows", None) if isinstance(result, tuple) else None
        if isinstance(result, tuple) and isinstance(result[1], dict):  # pvlib returns (data, metadata dict)
            rows = len(result[0])
        rate = f"{rows / seconds:,.0f}" if rows else "—"
        print(f"| {name} | {seconds:.3f} | {rate} |")


if __name__ == "__main__":
    main()
