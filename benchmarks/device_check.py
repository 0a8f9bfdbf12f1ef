"""Check the read-only NVML source on a real GPU (run it where one is lent; docs/benchmarks.md, "Device check").

Reads every GPU of the machine ``--samples`` times one second apart through
:class:`wattbit.ops.adapters.nvml.NvmlSource` (queries only: it never changes a setting), renders one scrape in
dcgm-exporter's format, checks that the readings are plausible and writes what it read:

    PYTHONPATH=src python benchmarks/device_check.py [--samples 10] [--out DIR]   # DIR/device_check.json, metrics.txt
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from wattbit.ops.adapters.nvml import NvmlSource
from wattbit.ops.telemetry.exposition import DcgmRenderer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--out", default=os.environ.get("OUT", "out/device-check"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = NvmlSource()
    inv = src.inventory()
    readings, read_s = [], []
    for i in range(args.samples):
        t = time.perf_counter()
        frame = src.read(time.time())
        read_s.append(time.perf_counter() - t)
        readings.append({k: frame.__dict__[k][0].tolist() for k in ("power_w", "gpu_temp_c", "mem_temp_c", "util_pct",
                                                                    "sm_clock_mhz", "power_limit_w", "clock_events")}
                        | {k: v[0].tolist() for k, v in frame.counters.items()})  # fmt: skip
        if i + 1 < args.samples:
            time.sleep(1.0)
    text = DcgmRenderer(inv, driver_version=src.driver).render(frame, 0)
    (out / "metrics.txt").write_bytes(text)
    src.close()
    last = readings[-1]
    checks = {
        "power within 0..limit+10%": all(
            0 <= p <= 1.1 * lim
            for p, lim in zip(last["power_w"], last["power_limit_w"], strict=True)
            if math.isfinite(p) and math.isfinite(lim)
        ),  # fmt: skip
        "temperature 10..110 C": all(10 <= t <= 110 for t in last["gpu_temp_c"] if math.isfinite(t)),
        "energy counter does not fall": all(
            b >= a
            for a, b in zip(readings[0]["energy_mj"], last["energy_mj"], strict=True)
            if math.isfinite(a) and math.isfinite(b)
        ),  # fmt: skip
    }
    result = {
        "gpus": [
            {"name": n, "uuid": u, "pci_bus_id": b} for n, u, b in zip(src.names, src.uuids, src.buses, strict=True)
        ],
        "driver": src.driver,
        "samples": readings,
        "read_ms_median": 1000 * float(np.median(read_s)),
        "metrics_lines": text.count(b"\n"),
        "checks": checks,
    }
    (out / "device_check.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2, default=str))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
