"""Operations benchmarks (docs/benchmarks.md, "Operations"): one scrape of 100,000 GPUs rendered in dcgm-exporter's
text format (target <= 1 s), and the detectors' throughput in samples per second (target >= 500,000/s on 2 cores).

    PYTHONPATH=src python benchmarks/bench_ops.py [--gpus 100000] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from wattbit.ops.telemetry.exposition import DcgmRenderer
from wattbit.ops.telemetry.inventory import build_inventory
from wattbit.ops.telemetry.model import SiteInputs, TelemetryModel
from wattbit.ops.telemetry.signatures import SignatureSettings, plan_faults
from wattbit.physics.gpu import get_gpu
from wattbit.sim.faults import FailureRates, sample_failures


def synthetic_fleet(gpus: int, sites: int = 10, seed: int = 0) -> TelemetryModel:
    """A fleet of ``gpus`` H100s over ``sites`` sites with a year's failures, for benchmarks."""
    per_site = np.full(sites, gpus // sites, dtype=np.int64)
    per_site[0] += gpus - per_site.sum()
    names = tuple(f"site{i:02d}" for i in range(sites))
    inv = build_inventory(names, (get_gpu("H100-SXM"),) * sites, per_site, np.ones(sites, dtype=bool))
    events = sample_failures(FailureRates(), per_site, 8, "2022-01-01", "2023-01-01", 900.0, seed)
    settings = SignatureSettings.from_spec(None)
    plan = plan_faults(events, inv.site_offsets, inv.site_gpus, 8, settings, seed)
    return TelemetryModel(inv, plan, settings, 900.0, seed)


def inputs_for(model: TelemetryModel, steps: int) -> SiteInputs:
    per_site = model.inv.site_gpus
    s = per_site.shape[0]
    return SiteInputs(
        training=np.tile((per_site * 0.5).astype(np.int64), (steps, 1)),
        inference=np.tile((per_site * 0.2).astype(np.int64), (steps, 1)),
        cap_w=np.full((steps, s), np.nan),
        supply_temp_c=np.full((steps, s), 45.0),
    )


def bench_render(gpus: int, repeat: int) -> dict[str, float]:
    t = time.perf_counter()
    model = synthetic_fleet(gpus)
    setup_s = time.perf_counter() - t
    frame = model.block(1000, inputs_for(model, 1))
    t = time.perf_counter()
    renderer = DcgmRenderer(model.inv)
    labels_s = time.perf_counter() - t
    times, whole, size, lines = [], [], 0, 0
    for _ in range(repeat):
        t = time.perf_counter()
        size = lines = 0
        for chunk in renderer.iter_render(frame, 0):  # as the server writes it: chunk by chunk
            size += len(chunk)
            del chunk
        times.append(time.perf_counter() - t)
    for _ in range(max(1, repeat // 2)):
        t = time.perf_counter()
        body = renderer.render(frame, 0)
        whole.append(time.perf_counter() - t)
        lines = body.count(b"\n")
        del body
    t = time.perf_counter()
    model.block(1001, inputs_for(model, 1))
    step_s = time.perf_counter() - t
    return {
        "gpus": gpus,
        "render_best_s": min(times),
        "render_median_s": float(np.median(times)),
        "render_one_bytes_best_s": min(whole),
        "body_mb": size / 1e6,
        "lines": lines,
        "telemetry_step_s": step_s,
        "label_build_s": labels_s,
        "fleet_setup_s": setup_s,
    }


def bench_detectors(gpus: int, steps: int) -> dict[str, float]:
    """Detector throughput: samples (one value of one series of one GPU) per second through every detector."""
    from wattbit.ops.detect.detectors import Detectors
    from wattbit.ops.detect.evaluate import sample_of, topology_of

    model = synthetic_fleet(gpus)
    frame = model.block(0, inputs_for(model, steps))
    flow = np.full(model.inv.site_gpus.shape[0], 0.01)
    det = Detectors(topology_of(model.inv))
    samples = [sample_of(frame, j, 900.0 * (j + 1), flow) for j in range(steps)]
    series = 4 + len(samples[0].counters) + 1  # power, temperature, utilisation, clock events; counters; remap flag
    t = time.perf_counter()
    for s in samples:
        det.step(s)
    wall = time.perf_counter() - t
    return {
        "gpus": gpus,
        "steps": steps,
        "series_per_gpu": series,
        "wall_s": wall,
        "ms_per_step": 1000 * wall / steps,
        "samples_per_s": gpus * series * steps / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    result = {"machine": f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}"}
    result["render"] = bench_render(args.gpus, args.repeat)
    result["detectors"] = bench_detectors(args.gpus, 40)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
