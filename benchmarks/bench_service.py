"""Service load test (docs/benchmarks.md, "Service"): CLIENTS concurrent clients read the API of a real
``wattbit serve`` (embedded twin, SQLite) on loopback for DURATION seconds while a simulation runs in the
background; the latency of every read is recorded (target: p99 <= 200 ms).

Each client loops over the dashboard's reads (sites, queue, runs, alerts, proposed actions, one run), one request
at a time, with a bearer token. The server, its run's worker and the clients share this machine's cores, so the
figures include the clients' own cost.

    PYTHONPATH=src python benchmarks/bench_service.py [--clients 200] [--duration 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from wattbit.api.server import create_token_at

READS = ("/api/v1/sites", "/api/v1/queue", "/api/v1/runs?limit=20", "/api/v1/ops/alerts?limit=50",
         "/api/v1/ops/actions?limit=50")  # fmt: skip
SIMULATION = {"kind": "simulate", "scenario_id": "builtin-japan-2022", "start": "2022-04-01", "end": "2022-07-01"}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(folder: Path, fleet: str = "twin") -> tuple[subprocess.Popen[bytes], str]:
    """``wattbit serve`` on a free loopback port, ready."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    log = open(folder / "server.log", "wb")
    cmd = [sys.executable, "-m", "wattbit.cli", "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(folder),
           "--fleet", fleet]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not become ready")


async def client(
    c: httpx.AsyncClient, run_id: str, first: int, until: float, out: list[float], errors: list[int]
) -> None:
    """One client: reads in a loop until ``until`` (monotonic), recording each latency [s]."""
    paths = [*READS, f"/api/v1/runs/{run_id}"]
    k = first
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            r = await c.get(paths[k % len(paths)])
            status = r.status_code
        except httpx.TimeoutException:
            status = 0  # no answer within the client's timeout
        except httpx.TransportError:
            status = -1  # the connection was reset
        out.append(time.perf_counter() - t0)
        if status != 200:
            errors.append(status)
        k += 1


async def load(url: str, token: str, run_id: str, clients: int, duration_s: float) -> tuple[list[float], list[int]]:
    """``clients`` clients for ``duration_s``; returns every latency [s] and the non-200 statuses."""
    lat: list[float] = []
    errors: list[int] = []
    # one connection pool with a connection per client (an AsyncClient each would spend seconds of CPU on TLS
    # contexts before the first request)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as c:
        until = time.monotonic() + duration_s
        await asyncio.gather(*(client(c, run_id, i, until, lat, errors) for i in range(clients)))
    return lat, errors


def main() -> None:
    """Run the load test and print (and optionally write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--fleet", default="twin", help="The server's live fleet: twin (embedded demo) or none.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wattbit-bench-service-"))
    db = f"sqlite:///{folder / 'wattbit.sqlite'}"
    viewer, operator = create_token_at(db, "bench-viewer", "viewer"), create_token_at(db, "bench-op", "operator")
    proc, url = start_server(folder, args.fleet)
    try:
        run = httpx.post(url + "/api/v1/runs", json=SIMULATION, headers={"Authorization": f"Bearer {operator}"})
        run_id = run.json()["id"]
        while httpx.get(f"{url}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {viewer}"}).json()[
            "state"
        ] in ("queued", "starting"):
            time.sleep(0.2)
        t0 = time.perf_counter()
        lat, errors = asyncio.run(load(url, viewer, run_id, args.clients, args.duration))
        wall = time.perf_counter() - t0
        state = httpx.get(f"{url}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {viewer}"}).json()
        if state["state"] == "running":  # its worker would outlive the server
            httpx.post(f"{url}/api/v1/runs/{run_id}/cancel", headers={"Authorization": f"Bearer {operator}"})
            time.sleep(3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ms = np.array(lat) * 1e3
    result = {
        "clients": args.clients,
        "fleet": args.fleet,
        "duration_s": round(wall, 1),
        "requests": len(lat),
        "requests_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "errors": len(errors),
        "timeouts_60s": errors.count(0),
        "connection_errors": errors.count(-1),
        "run_state_after": state["state"],
        "run_progress_after": round(state["progress"], 3),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
