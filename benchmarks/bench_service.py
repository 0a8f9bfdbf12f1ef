"""Service load test (docs/benchmarks.md, "Service"): CLIENTS dashboards read the API of a real ``wattbit serve``
(embedded twin, SQLite) on loopback for DURATION seconds while a simulation runs in the background; the latency
of every read is recorded (target: p99 <= 200 ms with 200 clients).

Load model. This process is the load generator; the server and the run's worker are processes of their own. Each
client is one open dashboard: one keep-alive connection of its own (an ``httpx.AsyncClient`` with a pool of one),
a viewer token, and the dashboard's reads in turn (sites, queue, runs, alerts, proposed actions, the running run),
one at a time. Between reads a client waits a think time drawn uniformly from [0.5, 1.5] x THINK seconds (the
dashboard itself re-reads the queue every 5 twin steps, about every 2.5 s, and the rest on events); ``--think 0``
is a closed loop (each client asks again as soon as it is answered), the saturation figure. Clients start spread
over the first THINK seconds; the first ``--warmup`` seconds are not counted.

    PYTHONPATH=src python benchmarks/bench_service.py [--clients 200] [--duration 60] [--think 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from wattbit.api.server import create_token_at

READS = ("/api/v1/sites", "/api/v1/queue", "/api/v1/runs?limit=20", "/api/v1/ops/alerts?limit=50",
         "/api/v1/ops/actions?limit=50")  # fmt: skip
# a simulation is kept running throughout: when one finishes, the next starts (a year of 15-min steps can take less
# than a minute)
SIMULATION = {"kind": "simulate", "scenario_id": "builtin-japan-2022", "start": "2022-01-01", "end": "2023-01-01"}


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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; NaN once it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_worker(pid: int) -> int:
    """The pid of the run worker that server ``pid`` started (Linux /proc), or 0."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"wattbit.api.worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    return 0


def own_cpu_s() -> float:
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Tally:
    """Latencies [s] and failures of the counted window."""

    def __init__(self, count_from: float, until: float) -> None:
        self.count_from, self.until = count_from, until
        self.lat: list[float] = []
        self.errors: list[int] = []
        self.kinds: dict[str, int] = {}  # transport errors by exception

    def add(self, t0: float, seconds: float, status: int) -> None:
        """Record one read that started at ``t0`` (monotonic) if it started in the counted window."""
        if t0 >= self.count_from:
            self.lat.append(seconds)
            if status != 200:
                self.errors.append(status)


async def client(
    url: str, headers: dict[str, str], paths: list[str], k: int, think_s: float, tally: Tally, tls: ssl.SSLContext
) -> None:
    """One dashboard (see the module docstring) until ``tally.until``."""
    rng = random.Random(k)
    await asyncio.sleep(rng.uniform(0, think_s))
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # one TLS context for all clients (unused on http://, but building one each costs ~20 ms of CPU)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits, verify=tls) as c:
        while time.monotonic() < tally.until:
            t0 = time.monotonic()
            try:
                status = (await c.get(paths[k % len(paths)])).status_code
            except httpx.TimeoutException:
                status = 0  # no answer within the client's timeout
            except httpx.TransportError as exc:
                status = -1  # the connection was reset or refused
                tally.kinds[type(exc).__name__] = tally.kinds.get(type(exc).__name__, 0) + 1
            tally.add(t0, time.monotonic() - t0, status)
            k += 1
            if think_s > 0:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def load(
    url: str, token: str, run_id: str, clients: int, duration_s: float, think_s: float, warmup_s: float
) -> Tally:
    """``clients`` dashboards for ``warmup_s + duration_s``; the reads that start after the warm-up count."""
    now = time.monotonic()
    tally = Tally(now + warmup_s, now + warmup_s + duration_s)
    headers = {"Authorization": f"Bearer {token}"}
    paths = [*READS, f"/api/v1/runs/{run_id}"]
    tls = ssl.create_default_context()
    await asyncio.gather(*(client(url, headers, paths, i, think_s, tally, tls) for i in range(clients)))
    return tally


class SimulationKeeper(threading.Thread):
    """Keeps a simulation running on the server: polls the current run every second and starts the next when it
    has finished, counting the finished ones."""

    def __init__(self, url: str, auth_o: dict[str, str], auth_v: dict[str, str], run_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.auth_o, self.auth_v, self.run_id = url, auth_o, auth_v, run_id
        self.stop = threading.Event()
        self.finished = 0

    def run(self) -> None:
        while not self.stop.wait(1.0):
            state = httpx.get(f"{self.url}/api/v1/runs/{self.run_id}", headers=self.auth_v, timeout=60).json()
            if state["state"] in ("succeeded", "failed", "cancelled"):
                self.finished += 1
                r = httpx.post(self.url + "/api/v1/runs", json=SIMULATION, headers=self.auth_o, timeout=60)
                self.run_id = r.json()["id"]


def measure(args: argparse.Namespace) -> dict[str, object]:
    """Start the server and a simulation, run the load, return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="wattbit-bench-service-"))
    db = f"sqlite:///{folder / 'wattbit.sqlite'}"
    viewer, operator = create_token_at(db, "bench-viewer", "viewer"), create_token_at(db, "bench-op", "operator")
    proc, url = start_server(folder, args.fleet)
    auth_v, auth_o = {"Authorization": f"Bearer {viewer}"}, {"Authorization": f"Bearer {operator}"}
    try:
        run_id = httpx.post(url + "/api/v1/runs", json=SIMULATION, headers=auth_o).json()["id"]
        while httpx.get(f"{url}/api/v1/runs/{run_id}", headers=auth_v).json()["state"] in ("queued", "starting"):
            time.sleep(0.2)
        worker = run_worker(proc.pid)
        keeper = SimulationKeeper(url, auth_o, auth_v, run_id)
        keeper.start()
        load_before = os.getloadavg()
        cpu0 = (cpu_s(proc.pid), own_cpu_s(), cpu_s(worker) if worker else 0.0)
        t0 = time.perf_counter()
        tally = asyncio.run(load(url, viewer, run_id, args.clients, args.duration, args.think, args.warmup))
        wall = time.perf_counter() - t0
        cpu1 = (cpu_s(proc.pid), own_cpu_s(), cpu_s(worker) if worker else 0.0)
        load_after = os.getloadavg()
        keeper.stop.set()
        keeper.join()
        run_id = keeper.run_id
        state = httpx.get(f"{url}/api/v1/runs/{run_id}", headers=auth_v).json()
        if state["state"] == "running":  # its worker would outlive the server
            httpx.post(f"{url}/api/v1/runs/{run_id}/cancel", headers=auth_o)
            time.sleep(3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    ms = np.array(tally.lat) * 1e3
    pct = {f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 90, 95, 99)} if len(ms) else {}
    return {
        "clients": args.clients,
        "think_s": args.think,
        "fleet": args.fleet,
        "counted_s": args.duration,
        "requests": len(ms),
        "requests_per_s": round(len(ms) / args.duration, 1),
        **pct,
        "max_ms": round(float(ms.max()), 1) if len(ms) else None,
        "errors": len(tally.errors),
        "timeouts_60s": tally.errors.count(0),
        "connection_errors": tally.errors.count(-1),
        "connection_error_kinds": tally.kinds,
        "cpu_s": {
            "server": round(cpu1[0] - cpu0[0], 1),
            "generator": round(cpu1[1] - cpu0[1], 1),
            "run_worker": round(cpu1[2] - cpu0[2], 1),
            "wall": round(wall, 1),
        },  # fmt: skip
        "simulations_finished_during_load": keeper.finished,
        "run_state_after": state["state"],
        "run_progress_after": round(state["progress"], 3),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }


def main() -> None:
    """Run the load test and print (and optionally write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds counted (after the warm-up).")
    parser.add_argument("--think", type=float, default=2.0, help="Mean think time between a client's reads [s].")
    parser.add_argument("--warmup", type=float, default=5.0, help="Seconds of load before counting starts.")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--fleet", default="twin", help="The server's live fleet: twin (embedded demo) or none.")
    args = parser.parse_args()
    result = measure(args)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
