"""A real Slurm 22.05 cluster of several slurmd on loopback: the adapter's reads and writes, and `down` stopping
exactly the processes `up` started."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.processes import wait_for
from wattbit.errors import WattbitInputError
from wattbit.ops.adapters.scheduler import JobSpec, SchedulerUnavailable, UnknownJob, UnknownNode
from wattbit.ops.adapters.slurm_cluster import _alive, cluster_layout, slurm_down, slurm_up
from wattbit.scenario import load_scenario


def test_layout_names_match_the_telemetry() -> None:
    layout = cluster_layout(load_scenario("japan-2022"), 2)
    assert all(len(v) == 2 for v in layout.partitions.values())
    assert layout.nodes[0].endswith("-n0001") and layout.site_of(layout.nodes[0]) == next(iter(layout.partitions))
    with pytest.raises(WattbitInputError, match="nodes per site"):
        cluster_layout(load_scenario("japan-2022"), 0)


def test_real_cluster_drain_requeue_move_down(tmp_path: Path) -> None:
    with pytest.raises(WattbitInputError, match="too deep"):
        slurm_up(tmp_path / ("x" * 80), load_scenario("japan-2022"), 1)
    short = Path(tempfile.mkdtemp(prefix="wb-", dir="/tmp"))
    cluster = slurm_up(short / "slurm", load_scenario("japan-2022"), 1)
    record = [dict(role=r, pid=p) for r, p in cluster.pids.items()]
    try:
        cli = cluster.cli()
        assert cli.version().startswith("22.")
        sites = list(cluster.layout.partitions)
        names = {n.name for n in cli.nodes()}
        assert names == set(cluster.layout.nodes)
        job = cli.submit(JobSpec("mirror", sites[0], "sleep 120", comment="wattbit:work_h=1"))
        running = wait_for(lambda: (j := cli.job(job)).running and j, 30.0, "the job's state in Slurm")
        node = running.nodes[0]
        cli.drain(node, "wattbit: predicted xid 79")
        drained = {n.name: n for n in cli.nodes()}[node]
        assert drained.drained and drained.reason == "wattbit: predicted xid 79"
        cli.requeue(job)
        wait_for(lambda: cli.job(job).pending, 30.0, "the job's state in Slurm")
        cli.move(job, sites[1])
        cli.set_start_time(job, "now")
        moved = wait_for(lambda: (j := cli.job(job)).running and j, 30.0, "the job's state in Slurm")
        assert moved.partition == sites[1] and moved.nodes[0] in cluster.layout.partitions[sites[1]]
        assert moved.restart_count == 1
        cli.resume(node)
        assert not {n.name: n for n in cli.nodes()}[node].drained
        with pytest.raises(UnknownNode):
            cli.drain("atlantis-n0001", "x")
        with pytest.raises(UnknownJob):
            cli.requeue("424242")
        with pytest.raises(WattbitInputError, match="still runs"):
            slurm_up(short / "slurm", load_scenario("japan-2022"), 1)
    finally:
        procs = __import__("json").loads((short / "slurm" / "slurm.json").read_text())["processes"]
        assert slurm_down(short / "slurm") is True
    with pytest.raises(SchedulerUnavailable) as down:  # a stopped controller is an error, never an empty state
        cluster.cli(timeout_s=3.0).jobs()
    assert "squeue" in down.value.command
    assert len(record) == 1 + len(cluster.layout.nodes)
    assert not any(_alive(p) for p in procs)
    assert slurm_down(short / "slurm") is False
    assert list((short / "slurm" / "jobs").glob("slurm-*.out"))  # the job's output went to the cluster's folder
    shutil.rmtree(short)


def test_slurmrestd_reads_and_submits(tmp_path: Path) -> None:
    from wattbit.ops.adapters.slurm import SlurmCli
    from wattbit.ops.adapters.slurmrestd import SlurmRestClient

    short = Path(tempfile.mkdtemp(prefix="wb-", dir="/tmp"))
    cluster = slurm_up(short / "slurm", load_scenario("japan-2022"), 1, rest=True)
    try:
        assert cluster.rest_socket is not None
        rest = SlurmRestClient(f"unix:{cluster.rest_socket}", timeout_s=10.0)
        wait_for(rest.ping, 20, "slurmrestd to answer")
        assert rest.api == "v0.0.38" and rest.version().startswith("22.")
        assert {n.name for n in rest.nodes()} == set(cluster.layout.nodes)
        assert {p.name for p in rest.partitions()} == set(cluster.layout.partitions)
        site = next(iter(cluster.layout.partitions))
        spec = JobSpec("rest", site, "sleep 60", begin="now+600", comment="wattbit:work_h=1")
        job = rest.submit(spec, cwd=str(short / "slurm" / "jobs"))
        both = SlurmCli(cluster.conf, rest=rest)  # reads through slurmrestd, writes through scontrol
        seen = {j.job_id: j for j in both.jobs()}[job]
        assert seen.pending and seen.reason == "BeginTime" and seen.comment == "wattbit:work_h=1"
        both.set_start_time(job, "now")
        assert wait_for(lambda: cli_job_running(cluster, job), 30.0, "the job's state in Slurm")
    finally:
        slurm_down(short / "slurm")
        shutil.rmtree(short, ignore_errors=True)


def cli_job_running(cluster, job: str) -> bool:  # type: ignore[no-untyped-def]
    return bool(cluster.cli().job(job).running)
