"""The black-hole rule: which node to blame for jobs that fail fast (the rule alone), the twin's job-end query and
the rule in the loop over the twin (drain with evidence, requeue, resume after repair, rate limit), and Slurm's
``sacct`` output as Slurm 22.05 writes it (the real cluster is in test_black_hole_slurm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattbit.ops.adapters.scheduler import CommandFailed, JobEnd, JobSpec
from wattbit.ops.adapters.slurm_acct import parse_sacct, sacct_args
from wattbit.ops.adapters.twin_cluster import BLACK_HOLE_S
from wattbit.ops.adapters.twin_scheduler import TwinScheduler
from wattbit.ops.detect.alerts import Alert
from wattbit.ops.heal.audit import AuditStore
from wattbit.ops.heal.black_hole import black_holes
from wattbit.ops.heal.loop import ControlLoop
from wattbit.ops.heal.safety import Rules

T0 = 1_650_000_000.0
MIN = 60.0
RULES = Rules()  # 3 runs failed within 15 min of their start, in 6 h
FIXTURE = Path(__file__).parents[1] / "fixtures" / "slurm" / "sacct_completion_22.05.8.txt"


def _end(job: str, nodes: str, t_min: float, run_min: float = 5.0, state: str = "FAILED") -> JobEnd:
    end = T0 + t_min * MIN
    return JobEnd(job, tuple(nodes.split(",")), end - run_min * MIN, end, state, "ExitCode=1:0")


def test_fires_on_the_pattern_not_on_one_failure_nor_late_ones() -> None:
    three = [_end("1", "a", 10), _end("2", "a", 20), _end("3", "a", 30)]
    v = black_holes(three, T0 + 31 * MIN, RULES)
    assert list(v.drain) == ["a"] and [e.job_id for e in v.drain["a"]] == ["1", "2", "3"]
    same_job = [_end("7", "a", 10), _end("7", "a", 18), _end("7", "a", 26)]  # one job requeued each time
    assert list(black_holes(same_job, T0 + 30 * MIN, RULES).drain) == ["a"]
    assert black_holes(three[:2], T0 + 31 * MIN, RULES).drain == {}  # two failures: not yet
    late = [_end(str(k), "a", 100 * k, run_min=60) for k in range(1, 4)]  # failed an hour in: not a black hole
    assert black_holes(late, T0 + 301 * MIN, RULES).drain == {}
    assert black_holes(three, T0 + 7 * 60 * MIN, RULES).drain == {}  # outside the 6-h window
    assert black_holes(three, T0 + 31 * MIN, Rules(black_hole_failures=0)).drain == {}  # the rule off
    resumed = black_holes(three, T0 + 31 * MIN, RULES, {"a": T0 + 15 * MIN})  # failures before a resume: forgiven
    assert resumed.drain == {}


def test_blame_in_gangs_goes_to_the_common_node_or_to_telemetry() -> None:
    # a gang that met its broken node with other partners: the common node is blamed, the partners are cleared
    ends = [_end("1", "a,b", 10), _end("1", "a,b", 18), _end("1", "a,b", 26), _end("2", "a,c", 34)]
    v = black_holes(ends, T0 + 35 * MIN, RULES)
    assert list(v.drain) == ["a"] and v.ambiguous == []
    # one gang restarted on the same two nodes: nothing tells them apart -> nobody drained, noted
    same = ends[:3]
    v = black_holes(same, T0 + 27 * MIN, RULES)
    assert v.drain == {} and v.ambiguous[0][0] == ("a", "b")
    # ... unless one of them raised an XID 13/31/43 in the window (an info alert on its own)
    xid = Alert(T0 + 9 * MIN, "s", "b", 3, "app_xid", "info", {"xid": 43.0})
    assert list(black_holes(same, T0 + 27 * MIN, RULES, alerts=[xid]).drain) == ["b"]
    old = Alert(T0 - 7 * 3600, "s", "b", 3, "app_xid", "info", {"xid": 43.0})  # before the window: no help
    assert black_holes(same, T0 + 27 * MIN, RULES, alerts=[old]).drain == {}


def _twin() -> TwinScheduler:
    parts = {"a": [f"a-n000{k}" for k in range(1, 5)], "b": [f"b-n000{k}" for k in range(1, 5)]}
    return TwinScheduler(parts, {"a": 8, "b": 8}, T0)


def test_twin_job_ends_come_from_its_kill_log() -> None:
    tw = _twin()
    job = tw.submit(JobSpec("j", "a", "train", comment="wattbit:work_h=50"))
    node = tw.job(job).nodes[0]
    tw.fail_node(node, 3.0, node_down=False, at_s=T0 + 3600)  # a GPU fails under the job: a black hole after
    tw.advance(T0 + 3600 + 1800)
    ends = tw.job_ends(T0)
    assert ends[0].state == "FAILED" and ends[0].nodes == (node,) and ends[0].run_s == pytest.approx(3600)
    assert "failure on" in ends[0].cause
    holes = [e for e in ends[1:] if "black hole" in e.cause]
    assert holes and all(e.job_id == job and e.nodes == (node,) and e.run_s <= BLACK_HOLE_S + 400 for e in holes)
    assert tw.job_ends(ends[-1].end_s + 1) == []  # only ends at or after the time asked
    other = tw.node_names[-1]
    tw.fail_node(other, 1.0, node_down=True)
    j2 = tw.submit(JobSpec("k", "b", "train", comment="wattbit:work_h=50"))
    tw.advance(tw.now_s + 60)
    assert tw.job(j2).running


def _loop(tw: TwinScheduler, tmp: Path, rules: Rules = RULES) -> tuple[ControlLoop, AuditStore]:
    store = AuditStore(tmp / "bh.sqlite")
    return ControlLoop(tw, store, mode="auto", rules=rules), store


def _run(tw: TwinScheduler, loop: ControlLoop, until_s: float, step_s: float = 300.0) -> None:
    while tw.now_s < until_s:
        tw.advance(tw.now_s + step_s)
        loop.cycle()


def test_loop_drains_a_black_hole_with_evidence_and_resumes_it_after_repair(tmp_path: Path) -> None:
    tw = _twin()
    for k in range(3):  # one-node jobs, queued behind each other on site a
        tw.submit(JobSpec(f"j{k}", "a", "train", nodes=1, comment="wattbit:work_h=40"))
    node = tw.job("1").nodes[0]
    tw.fail_node(node, 4.0, node_down=False, at_s=T0 + 600)  # XID 43: no alert the loop acts on
    loop, store = _loop(tw, tmp_path)
    _run(tw, loop, T0 + 600)
    assert not {n.name: n for n in tw.nodes()}[node].drained  # one failure: no drain
    _run(tw, loop, T0 + 3 * 3600)
    drains = store.actions("applied", kinds=("drain",))
    assert [d.target for d in drains] == [node] and drains[0].params["cause"] == "black_hole"
    info = {n.name: n for n in tw.nodes()}[node]
    assert info.drained and info.reason.startswith("wattbit: black_hole seen (3 runs failed <=15 min after start")
    evidence = drains[0].evidence["black_hole"]
    assert len(evidence["failures"]) == 3 and {f["job"] for f in evidence["failures"]} <= {"1", "2", "3"}
    assert evidence["rule"] == {"failures": 3, "run_s": 900.0, "window_s": 21600.0}
    assert all(f["run_min"] <= 15 and f["nodes"] == [node] for f in evidence["failures"][1:])
    assert f"jobs {','.join(dict.fromkeys(f['job'] for f in evidence['failures']))}" in info.reason
    kills_at_drain = tw.stats["black_hole_kills"]
    _run(tw, loop, T0 + 4 * 3600)
    assert tw.stats["black_hole_kills"] == kills_at_drain  # nothing dies on it once drained
    _run(tw, loop, T0 + 12 * 3600)
    resumes = store.actions("applied", kinds=("resume",))
    assert [r.target for r in resumes] == [node] and resumes[0].data_time_s >= T0 + 600 + 4 * 3600
    assert tw.totals()["jobs_lost"] == 0


def test_black_hole_drains_obey_the_rate_limit(tmp_path: Path) -> None:
    tw = _twin()
    for k in range(8):
        tw.submit(JobSpec(f"j{k}", "a", "train", nodes=1, comment="wattbit:work_h=40"))
    first, second = tw.job("1").nodes[0], tw.job("2").nodes[0]
    for node in (first, second):
        tw.fail_node(node, 6.0, node_down=False, at_s=T0 + 600)
    loop, store = _loop(tw, tmp_path, Rules(max_drains_per_site_per_h=1, max_drained_share=0.5))
    _run(tw, loop, T0 + 3600)
    assert len([n for n in tw.nodes() if n.drained]) == 1  # the second waits for the hour to pass
    blocked = store.actions("blocked", kinds=("drain",))
    assert len(blocked) == 1
    rules_said = [e.detail.get("rule", "") for e in store.log(blocked[0].action_id)]
    assert any("rate limit: 1 drains on a in the last hour" in str(r) for r in rules_said)
    _run(tw, loop, T0 + 4 * 3600)
    assert sorted(n.name for n in tw.nodes() if n.drained) == sorted([first, second])


def test_sacct_output_of_slurm_22_05_is_read() -> None:
    text = FIXTURE.read_text()
    since = 0.0
    ends = parse_sacct(text, since)
    assert [e.job_id for e in ends] == ["1", "2", "3"]  # COMPLETED and CANCELLED are not failures
    assert ends[2].nodes == ("fukushima-n0001", "fukushima-n0002") and ends[2].cause == "ExitCode=1:0"
    assert ends[0].state == "FAILED" and ends[0].run_s == 1.0
    assert parse_sacct(text, ends[1].end_s) == ends[1:]  # the job completion log ignores --starttime: filtered here
    args = sacct_args(T0, completion=True)
    assert args[0] == "sacct" and "--duplicates" in args and args[-1] == "--completion"
    assert "--format=JobIDRaw,State,Start,End,NodeList,ExitCode" in args


def test_sacct_output_that_cannot_be_read_is_an_error_naming_the_row() -> None:
    with pytest.raises(CommandFailed, match="no NodeList column"):
        parse_sacct("JobIDRaw|State|Start|End|ExitCode\n1|FAILED|x|y|1:0\n", 0.0)
    with pytest.raises(CommandFailed, match="sacct row 2: 4 fields"):
        parse_sacct(FIXTURE.read_text().splitlines()[0] + "\n1|FAILED|2026-12-07T22:50:27|n1\n", 0.0)
    bad = "JobIDRaw|State|Start|End|NodeList|ExitCode\n1|FAILED|12/07-22:50:27|2026-12-07T22:50:28|n1|1:0\n"
    with pytest.raises(CommandFailed, match="sacct row 2: Start '12/07-22:50:27' is not a time"):
        parse_sacct(bad, 0.0)
    assert parse_sacct("", 0.0) == []
    pending = "JobIDRaw|State|Start|End|NodeList|ExitCode\n9|NODE_FAIL|Unknown|Unknown|None assigned|0:0\n"
    assert parse_sacct(pending, 0.0) == []


def test_thresholds_are_set_from_text_and_bad_text_is_refused() -> None:
    from wattbit.errors import WattbitInputError
    from wattbit.ops.heal.safety import with_black_hole

    r = with_black_hole(Rules(), "4,10,2")
    assert (r.black_hole_failures, r.black_hole_run_s, r.black_hole_window_s) == (4, 600.0, 7200.0)
    assert with_black_hole(Rules(), "off").black_hole_failures == 0
    for bad in ("3,15", "0,15,6", "x,15,6", "3,-1,6"):
        with pytest.raises(WattbitInputError, match="expected K,MINUTES,HOURS"):
            with_black_hole(Rules(), bad)


def test_a_job_past_its_start_up_is_let_finish_one_starting_is_requeued() -> None:
    from wattbit.ops.adapters.scheduler import JobInfo, NodeInfo
    from wattbit.ops.heal.playbooks import Observation, decide

    now = T0 + 40 * MIN
    nodes = [NodeInfo("a", ("s",), "ALLOCATED", gpus=8, gpus_used=8)]
    ends = [_end("1", "a", 10), _end("2", "a", 20), _end("3", "a", 30)]
    for started_min, requeued in ((-80.0, False), (37.0, True)):  # ran 2 h there: not dying; started 3 min ago
        job = JobInfo("9", "j", "s", "RUNNING", nodes=("a",), gpus=8, start_time_s=T0 + started_min * MIN)
        obs = Observation(now, now, nodes, [job], [], job_ends=ends)
        kinds = [(a.kind, a.target) for a in decide(obs, {}, RULES, set()).actions]
        assert ("drain", "a") in kinds and (("requeue", "9") in kinds) == requeued


def test_once_the_blamed_node_is_drained_its_partners_are_not_blamed() -> None:
    same = [_end("1", "a,b", 10), _end("2", "a,b", 18), _end("1", "a,b", 26), _end("2", "a,b", 34)]
    xid = Alert(T0 + 9 * MIN, "s", "b", 3, "app_xid", "info", {"xid": 43.0})
    assert list(black_holes(same, T0 + 35 * MIN, RULES, alerts=[xid]).drain) == ["b"]
    after = black_holes(same, T0 + 40 * MIN, RULES, {"b": T0 + 35 * MIN}, alerts=[xid])  # b drained at 35 min
    assert after.drain == {} and after.ambiguous == []  # a's failures are b's: a stays in service, nothing noted
