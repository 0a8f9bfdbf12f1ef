"""The twin scraped by a real Prometheus (Debian's prometheus, started by ``wattbit ops prometheus up``), and the
series read back through Prometheus' HTTP API. Needs the ``prometheus`` binary (``scripts/install_prometheus.sh``,
run by ``make test``); no fake Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import free_port, read_json, stop_child, wait_for
from wattbit.ops.adapters.prometheus import PrometheusClient, prometheus_down, prometheus_up

REPO = Path(__file__).resolve().parents[2]


class Stack:
    """A twin (``wattbit twin serve`` in a child process) and a Prometheus scraping it."""

    def __init__(self, tmp: Path) -> None:
        if shutil.which("prometheus") is None:
            pytest.fail("prometheus is not installed: run scripts/install_prometheus.sh (make test does)")
        self.tmp = tmp
        env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [
            sys.executable,
            "-m",
            "wattbit.cli",
            "twin",
            "serve",
            "japan-2022",
            "--start",
            "2022-03-01",
            "--nodes-per-site",
            "42",
            "--listen",
            "127.0.0.1:0",
            "--out",
            str(tmp / "twin"),
        ]
        self.log = open(tmp / "twin.log", "wb")
        self.twin = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        info = wait_for(lambda: read_json(tmp / "twin" / "twin.json"), 90, "the twin to listen")
        self.twin_url = info["url"]
        self.prom_dir = tmp / "prom"
        self.prom = prometheus_up(
            self.prom_dir,
            [self.twin_url.removeprefix("http://")],
            listen=f"127.0.0.1:{free_port()}",
            scrape_interval_s=1.0,
        )
        self.client = PrometheusClient(self.prom.url, timeout_s=5)

    def close(self) -> None:
        prometheus_down(self.prom_dir)
        stop_child(self.twin)
        self.log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("ops-stack"))
    try:
        yield s
    finally:
        s.close()


def test_prometheus_scrapes_the_twin_under_dcgm_names(stack: Stack) -> None:
    q = stack.client.query
    wait_for(
        lambda: q("count(DCGM_FI_DEV_GPU_TEMP)") and q("count(DCGM_FI_DEV_GPU_TEMP)")[0][2] >= 1000,
        40,
        "Prometheus to hold every GPU's temperature",
    )
    labels, _, value = q('DCGM_FI_DEV_POWER_USAGE{Hostname="fukushima-n0001",gpu="0"}')[0]
    assert {
        "UUID",
        "pci_bus_id",
        "device",
        "modelName",
        "Hostname",
        "DCGM_FI_DRIVER_VERSION",
        "job",
        "instance",
    } <= set(labels)
    assert labels["modelName"] == "NVIDIA H100 80GB HBM3" and 50 <= value <= 800
    assert len(q("wattbit_site_pue")) == 3
    assert all(1.0 < v < 2.0 for _, _, v in q("wattbit_site_pue"))
    # the energy counter (no _total suffix, as DCGM names it) grows between scrapes
    wait_for(
        lambda: (
            q("sum(increase(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[5s]))")
            and q("sum(increase(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[5s]))")[0][2] > 0
        ),
        20,
        "energy to grow",
    )


def test_an_injected_fault_shows_in_prometheus(stack: Stack) -> None:
    body = json.dumps({"node": "ishikari-n0002", "cause": "gpu_hbm3_memory", "lead_h": 3.0, "gpu": 3}).encode()
    req = urllib.request.Request(stack.twin_url + "/inject", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        row = json.loads(resp.read())
    assert row["signature"] == "hbm_ecc" and row["node"] == "ishikari-n0002" and row["gpu"] == 3
    sel = '{Hostname="ishikari-n0002",gpu="3"}'
    q = stack.client.query
    # 3 simulated hours are 6 s at 1,800x: remapped rows, then the double-bit error and XID 48/63/94
    wait_for(
        lambda: q(f"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{sel}") and q(f"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{sel}")[0][2] > 0,
        40,
        "the double-bit error",
    )
    assert q(f"max_over_time(DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS{sel}[1m])")[0][2] >= 1
    xids = q(f"max(max_over_time(DCGM_FI_DEV_XID_ERRORS{sel}[1m]))")
    assert xids and xids[0][2] in (48, 63, 94)
    labels = (stack.tmp / "twin" / "labels.csv").read_text(encoding="utf-8")
    assert "ishikari-n0002" in labels


def test_watch_alerts_before_the_failure_and_resumes_after_a_restart(stack: Stack, tmp_path: Path) -> None:
    from wattbit.ops.store import AlertStore
    from wattbit.ops.watch import Watcher

    store = AlertStore(tmp_path / "ops-watch.sqlite")
    watcher = Watcher(PrometheusClient(stack.prom.url, timeout_s=5), store)
    wait_for(lambda: watcher.step() is not None and watcher.keys, 20, "the watcher to see the GPUs")
    assert len(watcher.keys) == 1008 and watcher.params.sample_interval_s == 900.0  # the twin's simulated clock
    body = json.dumps({"node": "inzai-n0007", "cause": "gpu_hbm3_memory", "lead_h": 4.0, "gpu": 5}).encode()
    req = urllib.request.Request(stack.twin_url + "/inject", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        failure = json.loads(resp.read())["failure_utc"]
    seen: list = []

    def alerted() -> bool:
        time.sleep(0.5)
        seen.extend(a for a in watcher.step() if a.node == "inzai-n0007" and a.gpu == 5)
        return any(a.kind == "failure" for a in seen)

    wait_for(alerted, 60, "the watcher's alerts on the injected fault")
    first = min(seen, key=lambda a: a.time_s)
    import pandas as pd

    assert first.kind in ("ecc_sbe_rate", "row_remap") and first.time_s < pd.Timestamp(failure).timestamp()
    stored = {r["kind"] for r in store.alerts() if r["node"] == "inzai-n0007"}
    assert {"failure", first.kind} <= stored
    store.close()
    # a restart resumes from the stored state: same GPUs, same clock, baselines kept
    store = AlertStore(tmp_path / "ops-watch.sqlite")
    again = Watcher(PrometheusClient(stack.prom.url, timeout_s=5), store)
    assert again.last_t == watcher.last_t
    time.sleep(1.0)
    again.step()
    assert again.keys == watcher.keys and again.det is not None and again.det.samples > watcher.det.samples - 1  # type: ignore[union-attr]
    store.close()
