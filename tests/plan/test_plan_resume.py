"""``wattbit plan --draws`` survives: killed with SIGKILL at a random moment and resumed, it writes the same files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.plan.test_plan_cli import BASIC, scenario_text, write
from wattbit.durable import CHECKPOINT_DIR, Checkpoint
from wattbit.montecarlo.chunks import evaluate_in_chunks
from wattbit.montecarlo.engine import UncertaintySpec, run_monte_carlo
from wattbit.parallel import LocalExecutor
from wattbit.report.plan_report import run_plan_to
from wattbit.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]


def _model(draw: dict[str, float]) -> dict[str, float]:
    return {"npv": draw["demand_multiplier"] * 100 - draw["energy_price_multiplier"], "seed_mod": draw["seed"] % 97}


class _CrashAfter(LocalExecutor):
    """Runs in this process and raises (a stand-in for a crash) on the map after ``maps`` calls."""

    def __init__(self, maps: int) -> None:
        super().__init__(workers=1)
        self.left = maps
        self.calls = 0

    def map(self, fn: Any, items: Any) -> list[Any]:
        self.calls += 1
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().map(fn, items)


@pytest.mark.parametrize("crash_after", [0, 1, 3])
def test_draws_resume_after_a_crash_with_the_same_table(tmp_path: Path, crash_after: int) -> None:
    spec = UncertaintySpec()
    ref = run_monte_carlo(_model, spec, 23, seed=7, executor="serial")
    store = Checkpoint(tmp_path, {"what": "draws"})
    store.start(resume=False)
    with pytest.raises(KeyboardInterrupt):
        run_monte_carlo(_model, spec, 23, 7, _CrashAfter(crash_after), store=store, chunk_draws=5)
    assert len(list(store.dir.glob("draws-*.pkl"))) == crash_after
    again = _CrashAfter(99)
    assert store.start(resume=True) == (crash_after > 0)
    res = run_monte_carlo(_model, spec, 23, 7, again, store=store, chunk_draws=5)
    assert again.calls == 5 - crash_after  # only the chunks not saved are evaluated
    pd.testing.assert_frame_equal(ref.table, res.table, check_exact=True)


def test_a_saved_chunk_of_another_length_is_evaluated_again() -> None:
    saved: dict[str, Any] = {"draws-000000000": [{"x": 1.0}]}

    class Store:
        def load(self, name: str) -> Any:
            return saved.get(name)

        def save(self, name: str, state: Any) -> None:
            saved[name] = state

    out = evaluate_in_chunks(
        lambda chunk, first: [{"x": float(first + i)} for i in range(len(chunk))], [{}] * 3, Store(), 2
    )
    assert out == [{"x": 0.0}, {"x": 1.0}, {"x": 2.0}]


def _cli(scenario: Path, out: Path, *extra: str) -> list[str]:
    args = ["plan", str(scenario), "--out", str(out), "--draws", "400", "--seed", "11", "--executor", "serial"]
    return [sys.executable, "-m", "wattbit.cli", *args, "--checkpoint-every", "25", *extra]


def _plan_json(out: Path) -> dict[str, Any]:
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    doc["solver"].pop("timings_s")  # wall clock, not the result
    return doc


def test_plan_draws_killed_at_a_random_moment_then_resumed_gives_identical_files(tmp_path: Path) -> None:
    scenario = write(tmp_path, scenario_text(BASIC))
    ref = tmp_path / "ref"
    run_plan_to(load_scenario(scenario), ref, 400, 11, "serial", checkpoint_every=25)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(_cli(scenario, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Killed once the plan is saved and a random number of the 16 chunks of 25 draws are: at most 12, so at least
    # four chunks and the writing of every file are still to come (a kill timed by the clock landed after the draws
    # on a fast machine).
    chunks_before_kill = int(np.random.default_rng().integers(0, 13))
    store = out / CHECKPOINT_DIR
    deadline = time.monotonic() + 300
    while proc.poll() is None and not (
        (store / "plan.pkl").exists() and len(list(store.glob("draws-*.pkl"))) >= chunks_before_kill
    ):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)  # the process this test started, by its id
    proc.wait()
    assert not (out / "plan.json").exists()  # nothing that looks like a complete result
    done = subprocess.run(_cli(scenario, out, "--resume"), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resumed from the checkpoint" in done.stdout
    assert _plan_json(out) == _plan_json(ref)
    for name in ("montecarlo.csv", "cash_flows.csv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "dispatch.parquet"), pd.read_parquet(ref / "dispatch.parquet"), check_exact=True
    )
    assert not (out / CHECKPOINT_DIR).exists()


def test_plan_resume_refuses_another_seed(tmp_path: Path) -> None:
    scenario = write(tmp_path, scenario_text(BASIC))
    store = Checkpoint(tmp_path / "out", {"x": 1})
    store.start(resume=False)
    with pytest.raises(Exception, match="belongs to another run"):
        run_plan_to(load_scenario(scenario), tmp_path / "out", 10, 1, "serial", resume=True)
