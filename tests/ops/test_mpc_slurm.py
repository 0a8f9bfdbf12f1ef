"""``ops run --plan mpc`` through a real Slurm 22.05 cluster (one slurmd per site on loopback): the loop built as
``ops run`` builds it, with the mpc policy deciding, first in shadow mode (recommendations only: Slurm untouched),
then in auto mode (the mode the service stores), where mpc's decisions become real scheduler actions — a deferrable,
movable job stuck behind a busy node at the dirtiest site is moved to the cleanest site's partition and Slurm runs it
there (or, should mpc defer it instead, held: an admin hold squeue shows); node weights follow carbon intensity —
each read back from Slurm's own commands and found in the audit."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import short_scenario
from tests.ops.test_mpc_live import StubSignals
from tests.processes import wait_for
from wattbit.ops.adapters.scheduler import JobSpec
from wattbit.ops.adapters.slurm_cluster import slurm_down, slurm_up
from wattbit.ops.heal.run import build_loop

HOUR_S = 3600.0


class DataClock:
    """The watcher's surface with no alerts: only the data's clock (with a real fleet, the newest sample's time),
    which places the loop in the scenario's period as the twin's exporter does in ``ops run``."""

    def __init__(self, t_s: float) -> None:
        self.last_t = t_s
        self.keys: list[tuple[str, int]] = []
        self.manager: Any = type("Open", (), {"open": {}})()

    def step(self) -> list[Any]:
        return []


def _squeue(cluster: Any, job: str, fmt: str = "%P %T %N") -> list[str]:
    env = {"SLURM_CONF": str(cluster.conf), "PATH": "/usr/bin"}
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", fmt], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_mpc_plan_acts_through_real_slurm(tmp_path: Path) -> None:
    if shutil.which("slurmctld") is None:
        pytest.fail("slurm must be installed (make test-deps: scripts/install_slurm.sh)")
    sc = short_scenario(days=2)
    short = Path(tempfile.mkdtemp(prefix="wb-", dir="/tmp"))
    cluster = slurm_up(short / "slurm", sc, 1)
    try:
        cli = cluster.cli()
        sites = list(cluster.layout.partitions)
        dirty, clean = sites[0], sites[-1]
        blocker = cli.submit(JobSpec("blocker", dirty, "sleep 600", comment="wattbit:work_h=40"))
        wait_for(lambda: cli.job(blocker).running, 40.0, "the job's state in Slurm")
        flex = cli.submit(
            JobSpec(
                "flex", dirty, "sleep 600", comment="wattbit:deferrable=1,movable=1,work_h=3,checkpoint_signal=USR1"
            )
        )
        wait_for(lambda: cli.job(flex).pending, 40.0, "the job's state in Slurm")
        # carbon falls and price rises along the sites' order: the dirtiest site is the busy one
        signals = StubSignals({s: (500.0 - 200.0 * i, 20_000.0 + 5_000.0 * i) for i, s in enumerate(sites)})
        loop, alerts = build_loop(sc, cli, None, tmp_path / "ops.sqlite", "shadow", plan="mpc")
        t0 = sc.period.start.timestamp()
        loop.watcher, loop.signals = DataClock(t0), signals
        loop.cycle()
        store = loop.store
        shadow = [r for r in store.actions(limit=1000) if r.source == "plan"]
        assert shadow and {r.status for r in shadow} == {"recommended"}
        # the job cannot start at its own site (no free node): mpc must either start it elsewhere or defer it
        assert {r.kind for r in shadow if r.target == flex} & {"move", "hold"}
        assert cli.job(flex).pending and cli.job(flex).partition == dirty  # shadow changes nothing
        assert {n.weight for n in cli.nodes()} == {1}

        store.save_state("mode", {"mode": "auto", "by": "operator"})  # as the service's PUT /ops/mode stores it
        loop.watcher = DataClock(t0 + HOUR_S)  # the next plan hour: the weights are proposed anew
        loop.cycle()
        applied = [r for r in store.actions(limit=1000) if r.source == "plan" and r.status == "applied"]
        acted = {r.kind: r for r in applied if r.target == flex}
        assert acted.keys() & {"move", "hold"}, [(r.kind, r.target) for r in applied]
        if "move" in acted:  # today's mpc: start it now at the cleanest site
            site = acted["move"].params["partition"]
            assert acted["move"].command == f"scontrol update JobId={flex} Partition={site}" and site != dirty
            running = wait_for(lambda: (j := cli.job(flex)).running and j, 40.0, "the job's state in Slurm")
            assert running.partition == site and running.nodes[0] in cluster.layout.partitions[site]
            assert _squeue(cluster, flex) == [site, "RUNNING", running.nodes[0]]
        else:  # deferred: held by wattbit (an admin hold), still pending where it was
            assert acted["hold"].command == f"scontrol hold {flex}"
            assert _squeue(cluster, flex, "%P %T %r") == [dirty, "PENDING", "JobHeldAdmin"]
        weights = {n.name: n.weight for n in cli.nodes()}
        for r in applied:
            if r.kind == "node_weight":
                assert weights[r.target] == r.params["weight"]  # Slurm shows the weight mpc's ranking set
            elif r.kind == "hold":
                assert cli.job(r.target).held
        assert weights[cluster.layout.partitions[dirty][0]] > weights[cluster.layout.partitions[clean][0]]
        assert cli.job(blocker).running  # a job that allows nothing is never touched
        assert any("mode changed from shadow to auto by operator" in str(e.detail) for e in store.log())
        store.close()
        alerts.close()
    finally:
        slurm_down(short / "slurm")
        shutil.rmtree(short, ignore_errors=True)
