"""``wattbit sweep --executor tcp://…`` on a Dask cluster reached by its address, the way a multi-machine cluster is:
a ``dask scheduler`` and two ``dask worker`` processes started as separate programs on 127.0.0.1 (ports picked
here, stopped by the PIDs started here), and the sweep's rows equal to the in-process sweep's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from wattbit.cli import app
from wattbit.sweep import WORKER_MODULES
from wattbit.sweep.execute import run_sweep
from wattbit.sweep.runs import MACHINE_COLUMNS
from wattbit.sweep.store import read_runs

SRC = Path(__file__).resolve().parents[2] / "src"
#: Two runs of two hours (one per worker).
SWEEP = """
[sweep]
name = "by-address"
scenarios = ["japan-2022"]
start = "2022-04-10"
end = "2022-04-10T02:00"

[axes]
policy = ["baseline", "greedy"]
seed = [1]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dask(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    dask_cli = Path(sys.executable).parent / "dask"
    return subprocess.Popen([str(dask_cli), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:  # the processes this test started, by their ids
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """A scheduler and two single-threaded workers, each its own OS process; yields the address and worker PIDs."""
    import distributed

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    common = ["--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard", "--death-timeout", "60"]
    for i in range(2):
        preload = [arg for module in WORKER_MODULES for arg in ("--preload", module)]
        local = ["--local-directory", str(tmp_path / f"worker{i}")]
        procs.append(_dask("worker", address, *common, *preload, *local))
    try:
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=90)
        yield address, [p.pid for p in procs[1:]]
    finally:
        _stop(procs[1:])
        _stop(procs[:1])


def test_sweep_on_a_cluster_by_address_equals_the_serial_sweep(cluster: tuple[str, list[int]], tmp_path: Path) -> None:
    address, worker_pids = cluster
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(SWEEP, encoding="utf-8")
    res = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "dask"), "--executor", address])
    assert res.exit_code == 0, res.output
    assert "2 runs (2 now, 0 done before): 2 ok, 0 failed" in res.output
    on_cluster = read_runs(tmp_path / "dask")
    ran_on = {int(w.rsplit(":", 1)[1]) for w in on_cluster["worker"]}
    assert ran_on <= set(worker_pids) and len(ran_on) == 2  # both worker processes ran runs; none ran here
    serial = run_sweep(sweep, tmp_path / "serial", "serial").runs
    assert set(serial["worker"]) == {f"{socket.gethostname()}:{os.getpid()}"}

    def results(runs: pd.DataFrame) -> pd.DataFrame:
        kept = runs.drop(columns=[c for c in MACHINE_COLUMNS if c in runs])
        return kept.sort_values("run_id").reset_index(drop=True)

    assert {"carbon_t", "pue", "energy_cost_net", "gpu_hours_demanded"} <= set(on_cluster.columns)
    pd.testing.assert_frame_equal(results(on_cluster), results(serial), check_exact=True)
