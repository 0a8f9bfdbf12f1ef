"""``wattbit serve --fleet prometheus``: a real ``wattbit serve`` reading a real Prometheus (Debian's, started by
``prometheus_up`` on a port the test picks) that scrapes the twin's exporter (``wattbit twin serve``); the service's
fleet endpoints answer what Prometheus holds, checked against direct PromQL queries. Every process is started here
on 127.0.0.1 and stopped by its pid."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import REPO, Server, start_server, stop_server
from tests.processes import free_port, read_json, stop_child, wait_for
from wattbit.api.fleet import PROM_METRICS
from wattbit.ops.adapters.prometheus import PrometheusClient, prometheus_down, prometheus_up

#: The twin steps 15 simulated minutes every 10 s, so that a value stays put between the queries compared.
TWIN_SPEED = 90.0


class PromStack:
    """The twin's exporter, a Prometheus scraping it every second, and ``wattbit serve --fleet prometheus``."""

    def __init__(self, tmp: Path) -> None:
        if shutil.which("prometheus") is None:
            pytest.fail("prometheus is not installed: run scripts/install_prometheus.sh (make test does)")
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        cmd = [sys.executable, "-m", "wattbit.cli", "twin", "serve", "japan-2022", "--start", "2022-04-10",
               "--nodes-per-site", "4", "--speed", str(TWIN_SPEED), "--listen", "127.0.0.1:0", "--out",
               str(tmp / "twin")]  # fmt: skip
        self.twin_log = open(tmp / "twin.log", "wb")
        self.twin = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=self.twin_log)
        self.prom_dir = tmp / "prom"
        self.server: Server | None = None
        try:
            info = wait_for(lambda: read_json(tmp / "twin" / "twin.json"), 90, "the twin to listen")
            self.prom = prometheus_up(
                self.prom_dir,
                [info["url"].removeprefix("http://")],
                listen=f"127.0.0.1:{free_port()}",
                scrape_interval_s=1.0,
            )
            self.prometheus = PrometheusClient(self.prom.url, timeout_s=5)
            wait_for(lambda: len(self.prometheus.query("wattbit_site_pue")) == 3, 60, "Prometheus to hold the sites")
            self.server = start_server(
                tmp / "service", "--fleet", "prometheus", "--prometheus-url", self.prom.url, "--workers", "1"
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.server is not None:
            stop_server(self.server)
        if (self.prom_dir / "prometheus.json").exists():
            prometheus_down(self.prom_dir)
        stop_child(self.twin)
        self.twin_log.close()


@pytest.fixture(scope="module")
def prom_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromStack]:
    s = PromStack(tmp_path_factory.mktemp("prom-fleet"))
    try:
        yield s
    finally:
        s.close()


def _direct(prom: PrometheusClient) -> dict[str, dict[str, float | None]]:
    """Each site's values straight from PromQL, in the service's units."""
    out: dict[str, dict[str, float | None]] = {}
    for key, (metric, factor) in PROM_METRICS.items():
        for labels, _, v in prom.query(metric):
            out.setdefault(labels["site"], {})[key] = round(v * factor, 4) if math.isfinite(v) else None
    return out


def _same_step(read: Any, prom: PrometheusClient, what: str) -> tuple[Any, Any]:
    """``(service answer, direct answer)`` taken between two direct queries that agree (no scrape of a new step in
    between), so that the service had one value to report."""

    def attempt() -> tuple[Any, Any] | None:
        before = _direct(prom)
        answer = read()
        return (answer, before) if _direct(prom) == before else None

    result: tuple[Any, Any] = wait_for(attempt, 40, what)
    return result


def test_serve_fleet_prometheus_answers_what_prometheus_holds(prom_stack: PromStack) -> None:
    server, prom = prom_stack.server, prom_stack.prometheus
    assert server is not None
    c = httpx.Client(base_url=server.url, timeout=30, headers=server.auth("viewer"))
    status = c.get("/api/v1/fleet/status").json()
    assert status == {"kind": "prometheus", "url": prom_stack.prom.url, "ready": True, "last_error": None}

    def sites() -> dict[str, dict[str, Any]]:
        time.sleep(1.1)  # past the service's read cache (1 s), so that it asks Prometheus afresh
        body = c.get("/api/v1/sites").json()
        assert body["source"] == "prometheus"
        return {s["id"]: s for s in body["sites"]}

    served, direct = _same_step(sites, prom, "a twin step stable across the comparison")
    assert set(served) == set(direct) == {"ishikari", "inzai", "fukushima"}
    for site, values in direct.items():
        assert served[site]["latest"] is not None, site
        for key, value in values.items():
            assert served[site]["latest"][key] == value, (site, key)
        assert served[site]["latitude_deg"] is not None and served[site]["label"]["ja"]
    # GPUs by state, as the exporter counts them
    for labels, _, v in prom.query("wattbit_site_gpus"):
        assert served[labels["site"]]["latest"]["gpus"][labels["state"]] == int(v)
    assert sum(served["inzai"]["latest"]["gpus"].values()) == 4 * 8

    # nodes: DCGM power summed per host, hottest GPU per host
    def nodes() -> dict[str, dict[str, Any]]:
        time.sleep(1.1)
        return {n["node"]: n for n in c.get("/api/v1/nodes").json()}

    def direct_nodes() -> tuple[dict[str, float], dict[str, float]]:
        power = {lab["Hostname"]: v for lab, _, v in prom.query("sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)")}
        temp = {lab["Hostname"]: v for lab, _, v in prom.query("max by (Hostname) (DCGM_FI_DEV_GPU_TEMP)")}
        return power, temp

    def node_attempt() -> tuple[Any, Any] | None:
        before = direct_nodes()
        answer = nodes()
        return (answer, before) if direct_nodes() == before else None

    served_nodes, (power, temp) = wait_for(node_attempt, 40, "a twin step stable across the node comparison")
    assert len(served_nodes) == len(power) == 12
    for host, n in served_nodes.items():
        assert n["power_kw"] == pytest.approx(power[host] / 1e3, abs=1e-4), host
        assert n["gpu_temp_max_c"] == pytest.approx(temp[host], abs=1e-4), host
        assert n["gpus"] == 8 and n["site"] == host.split("-n")[0]

    # a site's recent telemetry: Prometheus' range query, in the service's units
    tel = c.get("/api/v1/sites/inzai/telemetry").json()["series"]
    assert len(tel["time_utc"]) >= 1 and len(tel["facility_mw"]) == len(tel["time_utc"])
    facility = [v for v in tel["facility_mw"] if v is not None]
    direct_range = prom.query_range(
        'wattbit_site_facility_power_watts{site="inzai"}', time.time() - 3600, time.time(), 60
    )[0][1]
    assert facility and min(facility) >= min(v for _, v in direct_range) * 1e-6 - 1e-3
    assert max(facility) <= max(v for _, v in direct_range) * 1e-6 + 1e-3
    assert c.get("/api/v1/sites/nowhere/telemetry").status_code == 404
    queue = c.get("/api/v1/queue").json()
    assert queue["available"] is False and "scheduler" in queue["reason"]
