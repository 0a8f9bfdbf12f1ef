"""The scheduler port: Slurm's output parsed (22.05 and 23.02 shapes), the twin's Slurm semantics, power set-points."""

from __future__ import annotations

import pytest

from wattbit.ops.adapters.power import PowerControlError, ReadOnlyPowerControl, twin_power_control
from wattbit.ops.adapters.scheduler import (
    CommandFailed,
    JobSpec,
    UnknownJob,
    UnknownNode,
    expand_hostlist,
    parse_hints,
)
from wattbit.ops.adapters.slurm import SlurmCli, job_from_json, job_from_text, node_from_json, parse_key_values
from wattbit.ops.adapters.twin_scheduler import REQUEUE_DELAY_S, TwinScheduler
from wattbit.scenario import load_scenario

T0 = 1_650_000_000.0


def test_hostlists_and_hints() -> None:
    assert expand_hostlist("a-n[0001-0003,0007],b-n0001") == ["a-n0001", "a-n0002", "a-n0003", "a-n0007", "b-n0001"]
    assert expand_hostlist("") == []
    assert parse_hints("wattbit:pausable=1,work_h=6") == {"pausable": "1", "work_h": "6"}
    assert parse_hints("no hints here") == {}


def test_slurm_json_22_05_and_23_02_shapes() -> None:
    old = node_from_json(
        {
            "name": "x-n0001",
            "state": "idle",
            "state_flags": ["DRAIN"],
            "reason": "fan",
            "gres": "gpu:8",
            "gres_used": "gpu:0",
            "partitions": ["x"],
            "weight": 5,
        }
    )
    new = node_from_json(
        {
            "name": "x-n0001",
            "state": ["IDLE", "DRAIN"],
            "reason": "fan",
            "gres": "gpu:h100:8(S:0-1)",
            "partitions": ["x"],
            "weight": {"set": True, "infinite": False, "number": 5},
        }
    )
    for n in (old, new):
        assert (n.state, n.drained, n.available, n.gpus, n.weight, n.reason) == ("IDLE", True, False, 8, 5, "fan")
    job = job_from_json(
        {
            "job_id": 7,
            "name": "j",
            "partition": "x",
            "job_state": "RUNNING",
            "nodes": "x-n[0001-0002]",
            "node_count": 2,
            "tres_per_node": "gres:gpu:8",
            "restart_cnt": 1,
            "time_limit": 60,
            "comment": "wattbit:work_h=2",
        }
    )
    assert job.nodes == ("x-n0001", "x-n0002") and job.gpus == 16 and job.time_limit_s == 3600.0
    assert job.running and job.restart_count == 1 and job.hints == {"work_h": "2"}
    held = job_from_json(
        {"job_id": {"set": True, "number": 8}, "job_state": ["PENDING"], "state_reason": "JobHeldAdmin"}
    )
    assert held.job_id == "8" and held.pending and held.held and held.nodes == ()
    text = job_from_text(
        parse_key_values(
            "JobId=9 JobName=j UserId=root(0) Partition=x JobState=PENDING Reason=BeginTime Restarts=2 "
            "TimeLimit=01:30:00 NodeList=(null) NumNodes=1 TresPerNode=gres:gpu:8 Requeue=1"
        )
    )
    assert (text.job_id, text.state, text.reason, text.restart_count, text.time_limit_s) == (
        "9",
        "PENDING",
        "BeginTime",
        2,
        5400.0,
    )


def test_slurm_cli_never_reads_a_missing_controller_as_state(tmp_path) -> None:
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=none\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=1\nAuthType=auth/none\n")
    cli = SlurmCli(conf, timeout_s=5.0)
    assert cli.ping() is False
    with pytest.raises(Exception) as err:
        cli.nodes()
    assert "SchedulerUnavailable" in type(err.value).__name__ or "CommandFailed" in type(err.value).__name__
    assert "sinfo" in str(err.value) or "scontrol" in str(err.value)


def _twin() -> TwinScheduler:
    return TwinScheduler({"a": ["a-n0001", "a-n0002"], "b": ["b-n0001"]}, {"a": 8, "b": 8}, T0)


def test_twin_drain_requeue_move_and_errors() -> None:
    tw = _twin()
    j1 = tw.submit(JobSpec("one", "a", "train", comment="wattbit:work_h=10"))
    node = tw.job(j1).nodes[0]
    tw.drain(node, "xid 79 predicted")
    info = {n.name: n for n in tw.nodes()}[node]
    assert info.drained and info.reason == "xid 79 predicted" and tw.job(j1).running  # drain lets it run
    tw.requeue(j1)
    job = tw.job(j1)
    assert job.pending and job.restart_count == 1 and job.begin_time_s == pytest.approx(T0 + REQUEUE_DELAY_S)
    tw.set_start_time(j1, "now")
    tw.advance(T0 + 1)
    assert tw.job(j1).running and node not in tw.job(j1).nodes  # restarted elsewhere, not on the drained node
    j2 = tw.submit(JobSpec("two", "a", "train", hold=True))
    assert tw.job(j2).held and tw.job(j2).pending
    tw.move(j2, "b")
    tw.release(j2)
    tw.advance(T0 + 2)
    assert tw.job(j2).running and tw.job(j2).nodes == ("b-n0001",)
    with pytest.raises(UnknownNode):
        tw.drain("nope", "x")
    with pytest.raises(UnknownJob):
        tw.requeue("999")
    with pytest.raises(CommandFailed):
        tw.move(j1, "nowhere")


def test_twin_failure_kills_and_black_hole_until_drained() -> None:
    tw = _twin()
    j1 = tw.submit(JobSpec("one", "a", "train", comment="wattbit:work_h=100"))
    node = tw.job(j1).nodes[0]
    tw.fail_node(node, repair_h=5.0, node_down=False, at_s=T0 + 1800)
    tw.advance(T0 + 1800)
    assert tw.totals()["jobs_interrupted"] == 1 and tw.totals()["gpu_hours_lost"] > 0
    tw.advance(T0 + 3 * 3600)  # restarted, maybe on the broken node again: a black hole kills it
    tw.drain(node, "black hole")
    tw.advance(T0 + 12 * 3600)
    assert tw.job(j1).running and node not in tw.job(j1).nodes
    assert tw.totals()["jobs_lost"] == 0
    kills = tw.kills  # each kill with its cause, job, GPUs and GPU-hours lost; a black hole names its node
    assert kills[0][1] == f"failure on {node}" and all(k[1] == f"black hole {node}" for k in kills[1:])
    assert abs(sum(k[4] for k in kills) - tw.totals()["gpu_hours_lost"]) < 1e-6


def test_power_control_ranges() -> None:
    pc = twin_power_control(load_scenario("japan-2022"))
    site = next(iter(pc.limits))
    lim = pc.limits[site]
    pc.set_power_cap_w(site, lim.min_cap_w)
    assert pc.power_cap_w(site) == lim.min_cap_w
    with pytest.raises(PowerControlError, match="outside"):
        pc.set_power_cap_w(site, lim.max_cap_w + 1)
    with pytest.raises(PowerControlError, match="unknown site"):
        pc.set_supply_temp_c("atlantis", 20.0)
    ro = ReadOnlyPowerControl({"s": 700.0})
    assert ro.power_cap_w("s") == 700.0
    with pytest.raises(PowerControlError, match="read-only"):
        ro.set_power_cap_w("s", 500.0)
