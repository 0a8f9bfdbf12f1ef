"""The service's embedded twin steps in a process of its own: its views reach the service, closing stops it, and a
service killed with SIGKILL leaves no twin process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wattbit.api.fleet import TwinFleet
from wattbit.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_twin_process_sends_each_steps_views_and_stops_on_close(tmp_path: Path) -> None:
    published: list[tuple[str, dict]] = []
    fleet = TwinFleet(
        load_scenario("japan-2022"),
        tmp_path / "alerts.sqlite",
        speed=18000.0,  # a 15-minute step every 50 ms
        start="2022-03-01",
        nodes_per_site=2,
        seed=3,
        publish=lambda kind, payload: published.append((kind, payload)),
    ).start()
    try:
        assert fleet.process.pid != os.getpid()
        deadline = time.monotonic() + 60
        while fleet.steps_done < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fleet.steps_done >= 5
        sites = fleet.sites()
        assert [s["id"] for s in sites] == ["fukushima", "ishikari", "inzai"]
        for s in sites:
            latest = s["latest"]
            assert latest["facility_mw"] >= latest["it_mw"] > 0  # facility power includes IT
            assert sum(latest["gpus"].values()) > 0
        nodes = fleet.nodes("inzai")
        assert [n["node"] for n in nodes] == ["inzai-n0001", "inzai-n0002"]
        assert all(n["gpus"] == 8 for n in nodes)
        assert fleet.queue()["source"] == "twin"
        status = fleet.status()
        assert status["running"] and status["nodes"] == 6 and status["gpus"] == 48
        assert published and published[-1][0] == "telemetry"
        assert set(published[-1][1]["sites"]) == {"fukushima", "ishikari", "inzai"}
    finally:
        fleet.close()
    assert not fleet.process.is_alive()


def test_a_service_killed_with_sigkill_leaves_no_twin_process(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from wattbit.api.fleet import TwinFleet\n"
        "from wattbit.scenario import load_scenario\n"
        "f = TwinFleet(load_scenario('japan-2022'), sys.argv[1], speed=1800.0, start='2022-03-01',"
        " nodes_per_site=1).start()\n"
        "print(f.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    service = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "alerts.sqlite")], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert service.stdout is not None
        twin_pid = int(service.stdout.readline())
        assert _alive(twin_pid)
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
    deadline = time.monotonic() + 15
    while _alive(twin_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(twin_pid), "the twin outlived its service"
