"""Closed loop, end to end: the twin's exporter, a real Prometheus and a real Slurm cluster (two slurmd per site) on
loopback ports picked here. Mirrored sleep jobs run in Slurm; a fault with a precursor is injected on the node of one
of them; ``wattbit ops run`` in auto mode (a child process, killed with SIGKILL between "decided" and "applied" of
its first requeue, then restarted) drains the node with a reason, requeues the job, which runs on another node, and
resumes the node after repair and burn-in — all read back from Slurm's own commands and the audit log."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import stop_child, wait_for
from wattbit.ops.adapters.prometheus import prometheus_down, prometheus_up
from wattbit.ops.adapters.scheduler import JobSpec
from wattbit.ops.adapters.slurm_cluster import free_port, slurm_down, slurm_up
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.run import build_loop
from wattbit.ops.heal.safety import Rules
from wattbit.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
RULES = Rules(burn_in_s=2 * 3600.0, min_drain_s=3600.0, hold_predicted_s=24 * 3600.0, retry_s=1.0)
CHILD = """
import os, signal, sys
from pathlib import Path
from wattbit.ops.heal.run import build_loop, make_scheduler
from wattbit.ops.heal.loop import run_loop
from wattbit.ops.heal.safety import Rules
from wattbit.scenario import load_scenario
sc = load_scenario("japan-2022")
sched = make_scheduler("slurm", sc, slurm_dir=Path(sys.argv[1]))
rules = Rules(burn_in_s=7200.0, min_drain_s=3600.0, hold_predicted_s=86400.0, retry_s=1.0)
loop, _ = build_loop(sc, sched, sys.argv[2], Path(sys.argv[3]), "auto", rules=rules)
def die(rec):
    if rec.kind == "requeue":
        os.kill(os.getpid(), signal.SIGKILL)
loop.executor.after_decided = die
run_loop(loop, 0.5, 600)
"""


def _json(path: Path):  # type: ignore[no-untyped-def]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def test_closed_loop_heals_through_real_slurm(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None or shutil.which("slurmctld") is None:
        pytest.fail("prometheus and slurm must be installed (make test-deps: scripts/install_*.sh)")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    short = Path(tempfile.mkdtemp(prefix="wb-", dir="/tmp"))
    twin_log = open(tmp_path / "twin.log", "wb")
    twin = subprocess.Popen(
        [sys.executable, "-m", "wattbit.cli", "twin", "serve", "japan-2022", "--start", "2022-03-01",
         "--nodes-per-site", "2", "--listen", "127.0.0.1:0", "--out", str(tmp_path / "twin")],
        env=env, stdout=subprocess.DEVNULL, stderr=twin_log,
    )  # fmt: skip
    prom_dir, db = tmp_path / "prom", tmp_path / "ops.sqlite"
    cluster = child = None
    try:
        cluster = slurm_up(short / "slurm", load_scenario("japan-2022"), 2)
        url = wait_for(lambda: _json(tmp_path / "twin" / "twin.json"), 90, "the twin")["url"]
        prom = prometheus_up(prom_dir, [url.removeprefix("http://")], listen=f"127.0.0.1:{free_port()}",
                             scrape_interval_s=1.0)  # fmt: skip
        cli = cluster.cli()
        sites = list(cluster.layout.partitions)
        jobs = {s: cli.submit(JobSpec(f"mirror-{s}", s, "sleep 300", comment="wattbit:work_h=150")) for s in sites}
        victim_job = jobs[sites[0]]
        victim = wait_for(lambda: (j := cli.job(victim_job)).running and j.nodes[0], 30, "the mirrored job to run")
        child_log = open(tmp_path / "child.log", "wb")
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(short / "slurm"), prom.url, str(db)], env=env,
                                 stdout=child_log, stderr=subprocess.STDOUT)  # fmt: skip
        time.sleep(4.0)  # the watcher's first polls: the detectors' baselines
        body = json.dumps({"node": victim, "cause": "gpu_hbm3_memory", "lead_h": 6.0, "gpu": 2, "repair_h": 3.0})
        req = urllib.request.Request(url + "/inject", data=body.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["node"] == victim
        wait_for(lambda: child.poll() is not None, 90, "the loop to reach its first requeue")
        child_log.close()
        assert child.returncode == -signal.SIGKILL, (tmp_path / "child.log").read_text()
        with AuditStore(db) as store:
            left = [r for r in store.actions() if r.kind == "requeue"]
            assert [r.status for r in left] == ["decided"] and left[0].target == victim_job
        node = {n.name: n for n in cli.nodes()}[victim]
        assert node.drained and node.reason.startswith("wattbit: ") and "predicted" in node.reason
        # restarted: reconciles the requeue left decided, then heals on
        loop, alerts = build_loop(load_scenario("japan-2022"), cluster.cli(), prom.url, db, "auto", rules=RULES)

        def moved() -> bool:
            loop.cycle()
            j = cli.job(victim_job)
            return j.running and j.nodes[0] != victim

        wait_for(moved, 60, "the requeued job to run on another node")
        assert cli.job(victim_job).restart_count == 1  # requeued once, across the kill
        assert wait_for(lambda: (loop.cycle() or True) and not {n.name: n for n in cli.nodes()}[victim].drained,
                        90, "the node to be resumed after repair and burn-in")  # fmt: skip
        sinfo = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], env={**env, "SLURM_CONF": str(cluster.conf)},
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert f"{victim} " in sinfo and "drain" not in sinfo.split(f"{victim} ")[1].split("\n")[0]
        store = loop.store
        by_kind = {r.kind: r for r in store.actions() if r.target in (victim, victim_job)}
        assert {"drain", "requeue", "resume"} <= set(by_kind) and all(
            by_kind[k].status == "applied" for k in ("drain", "requeue", "resume")
        )
        assert by_kind["drain"].command.startswith("scontrol update NodeName=" + victim)
        assert by_kind["drain"].evidence["alert"]["kind"] in ("ecc_sbe_rate", "row_remap")
        assert any("reconciling" in str(e.detail) for e in store.log(by_kind["requeue"].action_id))
        assert all(cli.job(jobs[s]).running for s in sites[1:])  # the other sites' jobs never touched
        store.close()
        alerts.close()
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        if cluster is not None:
            slurm_down(short / "slurm")
        prometheus_down(prom_dir)
        stop_child(twin)
        twin_log.close()
        shutil.rmtree(short, ignore_errors=True)
