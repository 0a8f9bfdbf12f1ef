"""Long runs survive: a run checkpointed, killed with SIGKILL at random points and resumed gives the same result."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wattbit.control.bench import run_policy, simulate_to
from wattbit.durable import CHECKPOINT_DIR, Checkpoint, atomic_write_bytes
from wattbit.errors import WattbitInputError
from wattbit.scenario import load_scenario, with_period
from wattbit.sim.run import prepare

REPO = Path(__file__).resolve().parents[2]
#: Summary keys that measure the machine, not the run.
WALL_CLOCK = ("wall_seconds", "decision_ms_p50", "decision_ms_p99", "decision_ms_max")


def _same_result(a: Path, b: Path) -> None:
    for name in ("timeseries.parquet", "jobs.parquet", "failures.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name), check_exact=True)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for key in WALL_CLOCK:
        sa.pop(key, None)
        sb.pop(key, None)
    assert sa == sb


class _Memory:
    """A checkpoint store in memory that keeps every state saved."""

    def __init__(self, state: Any = None) -> None:
        self.saved: list[bytes] = []
        self.state = state

    def load(self, key: str) -> Any:
        return self.state

    def save(self, key: str, engine: Any) -> None:
        self.saved.append(pickle.dumps(engine))


@pytest.mark.parametrize("policy", ["baseline", "greedy", "mpc", "oracle"])
def test_resume_from_any_checkpoint_gives_the_same_run(policy: str) -> None:
    sc = with_period(load_scenario("japan-2022"), "2022-04-10", "2022-04-10T12:00")
    inputs = prepare(sc)
    ref, _ = run_policy(inputs, policy)
    memory = _Memory()
    run_policy(inputs, policy, store=memory, checkpoint_every=5)  # type: ignore[arg-type]
    assert len(memory.saved) == 9  # after steps 5, 10, ..., 45 of 48
    for k in (int(np.random.default_rng(len(policy)).integers(9)),):
        res, _ = run_policy(inputs, policy, store=_Memory(pickle.loads(memory.saved[k])))  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(ref.timeseries, res.timeseries, check_exact=True)
        pd.testing.assert_frame_equal(ref.jobs, res.jobs, check_exact=True)
        strip = lambda s: {k: v for k, v in s.items() if k not in WALL_CLOCK}  # noqa: E731
        assert json.dumps(strip(ref.summary), default=str) == json.dumps(strip(res.summary), default=str)


def _cli(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "wattbit.cli",
        "simulate",
        "japan-2022",
        "--policy",
        "greedy",
        "--start",
        "2022-04-10",
        "--end",
        "2022-04-11",
        "--out",
        str(out),
        "--checkpoint-every",
        "2",
        *extra,
    ]


def test_kill_9_at_random_points_then_resume_gives_identical_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    ref = tmp_path / "ref"
    sc = with_period(load_scenario("japan-2022"), "2022-04-10", "2022-04-11")
    simulate_to(sc, "greedy", ref, checkpoint_every=2)
    assert not (ref / CHECKPOINT_DIR).exists()

    out = tmp_path / "killed"
    rng = np.random.default_rng(17)
    kills, resume = 0, False
    for _ in range(8):
        proc = subprocess.Popen(_cli(out, *(["--resume"] if resume else [])), env=env, stdout=subprocess.DEVNULL)
        resume = True
        # wait until the run has checkpointed, then kill it a random moment later
        deadline = time.monotonic() + 120
        while proc.poll() is None and not list((out / CHECKPOINT_DIR).glob("engine-*.pkl")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 1.0)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # the process this test started, by its id
            proc.wait()
            kills += 1
            if (out / "summary.json").exists():  # killed after the last result file: it must be complete
                break
            if kills >= 2:
                break
        else:
            assert proc.returncode == 0
            break
    assert kills >= 1
    if not (out / "summary.json").exists():
        done = subprocess.run(_cli(out, "--resume"), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "resumed from the checkpoint" in done.stdout
    _same_result(ref, out)
    assert not (out / CHECKPOINT_DIR).exists()


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path: Path) -> None:
    store = Checkpoint(tmp_path, {"command": "simulate", "policy": "mpc", "seed": 1})
    store.start(resume=False)
    store.save("engine-mpc", {"step": 3})
    other = Checkpoint(tmp_path, {"command": "simulate", "policy": "greedy", "seed": 1})
    with pytest.raises(WattbitInputError, match=r"another run \(differs in \['policy'\]\).*drop --resume"):
        other.start(resume=True)
    again = Checkpoint(tmp_path, {"command": "simulate", "policy": "mpc", "seed": 1})
    assert again.start(resume=True)
    assert again.load("engine-mpc") == {"step": 3}
    (again.dir / "engine-mpc.pkl").write_bytes(b"not a pickle")
    with pytest.raises(WattbitInputError, match="cannot read the checkpoint"):
        again.load("engine-mpc")


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "result.parquet"
    atomic_write_bytes(target, b"old")

    class Exploding:
        def to_parquet(self, path: Path, **kwargs: Any) -> None:
            Path(path).write_bytes(b"half")
            raise OSError("disk full")

    from wattbit.durable import atomic_write_parquet

    with pytest.raises(OSError):
        atomic_write_parquet(target, Exploding())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.parquet"]  # no temporary file left behind
