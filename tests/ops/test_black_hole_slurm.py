"""The black-hole rule through a real Slurm 22.05 (one slurmd per site): jobs that fail seconds after they start on
one node, three times, get that node drained by the loop in auto mode, with the reason naming the jobs in
``sinfo -R``; the job ends come from ``sacct --completion`` (the job completion log ``ops slurm up`` configures)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.processes import wait_for
from wattbit.ops.adapters.scheduler import JobSpec
from wattbit.ops.adapters.slurm_cluster import slurm_down, slurm_up
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.loop import ControlLoop
from wattbit.scenario import load_scenario


def test_jobs_failing_fast_on_a_node_get_it_drained(tmp_path: Path) -> None:
    short = Path(tempfile.mkdtemp(prefix="wb-", dir="/tmp"))
    cluster = slurm_up(short / "slurm", load_scenario("japan-2022"), 1)
    try:
        cli = cluster.cli()
        site = next(iter(cluster.layout.partitions))
        node = cluster.layout.partitions[site][0]
        ids = [cli.submit(JobSpec(f"crash{k}", site, "exit 3", gpus_per_node=8)) for k in range(3)]
        wait_for(lambda: len(cli.job_ends(0.0)) == 3, 30.0, "three failed jobs in sacct")
        ends = cli.job_ends(0.0)
        assert [e.job_id for e in ends] == ids and all(e.nodes == (node,) and e.state == "FAILED" for e in ends)
        assert ends[0].cause == "ExitCode=3:0" and "--completion" in cli.last_command
        store = AuditStore(tmp_path / "ops.sqlite")
        loop = ControlLoop(cli, store, mode="auto")
        loop.cycle()
        env = dict(os.environ, SLURM_CONF=str(cluster.conf))
        sinfo = subprocess.run(["sinfo", "-R", "-N", "-h", "-o", "%N|%E"], capture_output=True, text=True, env=env)
        reasons = dict(line.split("|", 1) for line in sinfo.stdout.splitlines())
        assert reasons[node].startswith("wattbit: black_hole seen (3 runs failed <=15 min after start in 6 h")
        assert f"jobs {','.join(ids)}" in reasons[node] and "ExitCode=3:0" in reasons[node]
        drain = store.actions("applied", kinds=("drain",))[0]
        assert drain.target == node and [f["job"] for f in drain.evidence["black_hole"]["failures"]] == ids
        assert "scontrol update" in drain.command
        loop.cycle()  # the same evidence is not acted on twice
        assert len(store.actions(kinds=("drain",))) == 1
    finally:
        assert slurm_down(short / "slurm") is True
        shutil.rmtree(short)
