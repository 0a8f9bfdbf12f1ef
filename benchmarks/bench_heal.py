"""Alert-to-drain latency on a real Slurm cluster (docs/benchmarks.md, "Self-healing"; target <= 5 s).

Brings up the twin's exporter (``wattbit twin serve``, 2 nodes per site), a real Prometheus scraping it every second
and a real Slurm 22.05 cluster (one slurmd per node) on loopback ports it picks, submits one sleep job per site,
injects a fault with a precursor on each job's node one after the other, and runs the control loop in auto mode
every ``--interval`` seconds. For each drain it reports the time from the start of the cycle whose telemetry poll
raised the alert to ``scontrol`` returning (poll + detectors + decision + audit + command), and the same from the
wall time the alert's first sample was scraped (add up to one scrape interval). Stops everything it started.

    PYTHONPATH=src python benchmarks/bench_heal.py [--interval 0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from wattbit.ops.adapters.prometheus import prometheus_down, prometheus_up
from wattbit.ops.adapters.scheduler import JobSpec
from wattbit.ops.adapters.slurm_cluster import free_port, slurm_down, slurm_up
from wattbit.ops.heal.run import build_loop
from wattbit.ops.heal.safety import Rules
from wattbit.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]


def _wait(check, timeout_s: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError("condition not met")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-", dir="/tmp"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    twin = subprocess.Popen(
        [sys.executable, "-m", "wattbit.cli", "twin", "serve", "japan-2022", "--start", "2022-03-01",
         "--nodes-per-site", "2", "--listen", "127.0.0.1:0", "--out", str(tmp / "twin")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    cluster = None
    try:
        cluster = slurm_up(tmp / "slurm", load_scenario("japan-2022"), 2)
        url = _wait(
            lambda: (tmp / "twin" / "twin.json").exists() and json.loads((tmp / "twin" / "twin.json").read_text()), 90
        )["url"]
        prom = prometheus_up(
            tmp / "prom", [url.removeprefix("http://")], listen=f"127.0.0.1:{free_port()}", scrape_interval_s=1.0
        )
        cli = cluster.cli()
        sites = list(cluster.layout.partitions)
        jobs = {s: cli.submit(JobSpec(f"mirror-{s}", s, "sleep 600", comment="wattbit:work_h=300")) for s in sites}
        victims = {s: _wait(lambda s=s: (j := cli.job(jobs[s])).running and j.nodes[0], 30) for s in sites}
        rules = Rules(burn_in_s=2 * 3600.0, retry_s=1.0)
        loop, alerts = build_loop(load_scenario("japan-2022"), cli, prom.url, tmp / "ops.sqlite", "auto", rules=rules)
        t_end = time.monotonic() + 8.0
        while time.monotonic() < t_end:  # the detectors' baselines
            loop.cycle()
            time.sleep(args.interval)
        samples = []
        for site in sites:
            body = json.dumps({"node": victims[site], "cause": "gpu_hbm3_memory", "lead_h": 6.0, "gpu": 1})
            req = urllib.request.Request(url + "/inject", data=body.encode(), method="POST")
            urllib.request.urlopen(req, timeout=10).read()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                t0 = time.time()
                report = loop.cycle()
                drains = [
                    r
                    for r in report.changed
                    if r.kind == "drain" and r.status == "applied" and r.target == victims[site]
                ]
                if drains:
                    samples.append(drains[0].updated_s - t0)
                    break
                time.sleep(max(0.0, args.interval - (time.time() - t0)))
        loop.store.close()
        alerts.close()
    finally:
        if cluster is not None:
            slurm_down(tmp / "slurm")
        prometheus_down(tmp / "prom")
        twin.send_signal(signal.SIGTERM)
        twin.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "interval_s": args.interval,
        "scrape_interval_s": 1.0,
        "drains": len(samples),
        "alert_to_drain_s": [round(x, 3) for x in samples],
        "median_s": round(statistics.median(samples), 3) if samples else None,
        "max_s": round(max(samples), 3) if samples else None,
        "worst_case_with_scrape_and_cycle_s": round(max(samples) + 1.0 + args.interval, 3) if samples else None,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
