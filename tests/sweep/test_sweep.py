"""``wattbit sweep``: the sweep file, runs on this process and on a real Dask LocalCluster (a worker killed mid-sweep
loses nothing), the Parquet dataset queried with DuckDB, resume, and the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wattbit.cli import app
from wattbit.errors import ScenarioError, WattbitInputError
from wattbit.parallel import DaskExecutor
from wattbit.sweep.execute import expected_cost, longest_first, run_sweep
from wattbit.sweep.runs import MACHINE_COLUMNS, scenario_of
from wattbit.sweep.spec import expand, load_sweep
from wattbit.sweep.store import query, read_runs

runner = CliRunner()
#: Four runs of six hours: two policies, two seeds.
SWEEP = """
[sweep]
name = "spring-morning"
command = "simulate"
scenarios = ["japan-2022"]
start = "2022-04-10"
end = "2022-04-10T06:00"

[axes]
policy = ["baseline", "greedy"]
seed = [1, 2]
"""
#: Columns that measure the machine, not the run.
MACHINE = MACHINE_COLUMNS


def _write(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _results(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.drop(columns=[c for c in MACHINE if c in runs]).sort_values("run_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four-run sweep run in this process (the reference)."""
    folder = tmp_path_factory.mktemp("serial")
    run_sweep(_write(folder, SWEEP), folder / "out", "serial")
    return folder / "out"


def test_grid_and_random_sample_expand_to_stable_runs(tmp_path: Path) -> None:
    axes = '\n"sites.cooling" = ["air_chiller", "liquid_dry_cooler", "immersion"]\n'
    spec, path = load_sweep(_write(tmp_path, SWEEP + axes))
    tasks = expand(spec, path)
    assert len(tasks) == 2 * 2 * 3 and len({t.run_id for t in tasks}) == 12
    assert {s["cooling"] for s in tasks[2].raw["sites"]} == {"immersion"}
    assert [t.run_id for t in expand(spec, path)] == [t.run_id for t in tasks]  # stable names: resume finds them
    random = SWEEP.replace('command = "simulate"', 'command = "simulate"\nsample = "random"\nruns = 5\nseed = 3')
    spec, path = load_sweep(_write(tmp_path, random + axes, "random.toml"))
    drawn = expand(spec, path)
    assert len(drawn) == 5 and {t.run_id for t in drawn} <= {t.run_id for t in tasks}
    assert [t.run_id for t in expand(spec, path)] == [t.run_id for t in drawn]


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        ('\n"sites[osaka].cooling" = ["air_chiller"]\n', WattbitInputError, r"no site 'osaka'.*fukushima"),
        ('\nsites = [["tokyo"]]\n', WattbitInputError, r"axes.sites.*no site\(s\) \['tokyo'\]"),
        ("\nempty = []\n", ScenarioError, r"axis 'empty' has no values"),
    ],
)
def test_bad_axes_name_the_axis(tmp_path: Path, extra: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        spec, path = load_sweep(_write(tmp_path, SWEEP + extra))
        expand(spec, path)


def test_a_value_the_schema_refuses_is_that_runs_error_and_the_others_go_on(tmp_path: Path) -> None:
    text = SWEEP.replace("seed = [1, 2]", 'seed = [1]\n"sites.cooling" = ["liquid_dry_cooler", "steam"]')
    text = text.replace('policy = ["baseline", "greedy"]', 'policy = ["baseline"]')
    outcome = run_sweep(_write(tmp_path, text), tmp_path / "out", "serial")
    runs = outcome.runs.set_index("axis_sites_cooling")
    assert runs.loc["liquid_dry_cooler", "status"] == "ok"
    assert runs.loc["steam", "status"] == "error"
    assert "sites[0].cooling" in runs.loc["steam", "error"] and "air_chiller" in runs.loc["steam", "error"]
    assert "Runs that failed" in outcome.report.read_text(encoding="utf-8")


def test_rows_hold_every_kpi_and_query_with_duckdb(serial_sweep: Path) -> None:
    runs = read_runs(serial_sweep)
    assert len(runs) == 4 and (runs["status"] == "ok").all()
    summary_keys = ("carbon_t", "pue", "gpu_hours_demanded", "gpu_hours_lost", "energy_cost_net", "slo_attainment")
    assert set(summary_keys) <= set(runs.columns)
    assert "pue_by_site__ishikari" in runs.columns  # nested KPIs flattened
    by = query(serial_sweep, "SELECT policy, count(*) AS n, avg(carbon_t) AS c FROM runs GROUP BY policy ORDER BY 1")
    assert by["policy"].tolist() == ["baseline", "greedy"] and by["n"].tolist() == [2, 2]
    expected = runs.groupby("policy")["carbon_t"].mean()
    assert by["c"].tolist() == pytest.approx(expected.tolist(), rel=1e-12)
    manifest = json.loads((serial_sweep / "sweep.json").read_text(encoding="utf-8"))
    assert manifest["runs"] == 4 and manifest["ok"] == 4 and manifest["errors"] == 0
    page = (serial_sweep / "report.html").read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') >= 5 and "carbon [t CO2] by policy, coloured by seed" in page


def test_bad_sql_and_an_empty_folder_are_clear_errors(serial_sweep: Path, tmp_path: Path) -> None:
    with pytest.raises(WattbitInputError, match=r"(?s)the query failed.*nope.*columns: run_id, run_order"):
        query(serial_sweep, "SELECT nope FROM runs")
    with pytest.raises(WattbitInputError, match="no sweep results here"):
        query(tmp_path, "SELECT 1")


def test_resume_skips_done_runs_and_refuses_another_sweep(serial_sweep: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    sweep_file = _write(tmp_path, SWEEP)
    for path in serial_sweep.rglob("*"):
        if path.is_file():
            target = folder / path.relative_to(serial_sweep)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (folder / "runs" / f"{read_runs(folder)['run_id'].iloc[-1]}.parquet").unlink()  # as if killed before the last
    with pytest.raises(WattbitInputError, match="already holds 3 run.*--resume"):
        run_sweep(sweep_file, folder, "serial")
    outcome = run_sweep(sweep_file, folder, "serial", resume=True)
    assert (outcome.ran, outcome.skipped) == (1, 3)
    pd.testing.assert_frame_equal(_results(outcome.runs), _results(read_runs(serial_sweep)), check_exact=True)
    other = _write(tmp_path, SWEEP.replace("seed = [1, 2]", "seed = [1, 3]"), "other.toml")
    with pytest.raises(WattbitInputError, match="belongs to another run"):
        run_sweep(other, folder, "serial", resume=True)


def test_sweep_killed_at_a_random_moment_then_resumed_gives_the_same_rows(serial_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [sys.executable, "-m", "wattbit.cli", "sweep", str(_write(tmp_path, SWEEP)), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([*args, "--executor", "serial"], env=env, stdout=subprocess.DEVNULL)
    # Killed a random moment (up to 0.1 s) after one or two of the four rows are written: a run takes 0.1-0.4 s here,
    # so two are still to come (a delay of up to 1 s could land after the last row).
    rng = np.random.default_rng()
    rows_before_kill = int(rng.integers(1, 3))
    deadline = time.monotonic() + 300
    while proc.poll() is None and len(list((out / "runs").glob("*.parquet"))) < rows_before_kill:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(float(rng.uniform(0.0, 0.1)))
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)  # the process this test started, by its id
    proc.wait()
    assert not (out / "sweep.json").exists()
    assert not list((out / "runs").glob(".*.tmp"))  # no half-written row left
    kept = len(read_runs(out))
    assert 1 <= kept < 4
    res = runner.invoke(
        app, ["sweep", str(_write(tmp_path, SWEEP)), "--out", str(out), "--resume", "--executor", "serial"]
    )
    assert res.exit_code == 0, res.output
    assert f"4 runs ({4 - kept} now, {kept} done before)" in res.output
    pd.testing.assert_frame_equal(_results(read_runs(out)), _results(read_runs(serial_sweep)), check_exact=True)


@pytest.fixture()
def cluster() -> Iterator[object]:
    """A real Dask LocalCluster of two worker processes on 127.0.0.1, closed by the test."""
    import distributed

    environ = dict(os.environ)  # Dask's nanny writes its pre-spawn variables into this process's environment
    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        yield local
    finally:
        local.close()
        os.environ.clear()
        os.environ.update(environ)


def test_a_worker_killed_mid_sweep_loses_no_result(cluster: object, serial_sweep: Path, tmp_path: Path) -> None:
    killed: list[int] = []
    lost: list[str] = []  # the tasks on the killed worker
    with DaskExecutor(address=cluster.scheduler_address) as ex:  # type: ignore[attr-defined]

        def kill_a_busy_worker(done: int, total: int) -> None:
            if killed:
                return
            busy = [(w, keys) for w, keys in ex.client.processing().items() if keys]
            pids = ex.client.run(os.getpid)
            assert busy, "no worker is running a task to kill"
            killed.append(pids[busy[0][0]])
            lost.extend(busy[0][1])
            os.kill(killed[0], signal.SIGKILL)  # a worker process of the cluster this test started, by its id

        outcome = run_sweep(_write(tmp_path, SWEEP), tmp_path / "out", ex, progress=kill_a_busy_worker)
        assert killed and killed[0] not in ex.client.run(os.getpid).values()  # that worker is gone
    story = cluster.scheduler.story(*lost)  # type: ignore[attr-defined]
    for key in lost:  # each task the dead worker held was given to a worker again
        assert sum(1 for event in story if event[0] == key and event[2] == "processing") >= 2
    assert outcome.ran == 4 and (outcome.runs["status"] == "ok").all()
    pd.testing.assert_frame_equal(_results(outcome.runs), _results(read_runs(serial_sweep)), check_exact=True)
    assert "DaskExecutor('tcp://127.0.0.1:" in json.loads((tmp_path / "out" / "sweep.json").read_text())["executor"]


def test_cli_runs_a_sweep_and_queries_it(serial_sweep: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["sweep", "query", str(serial_sweep), "SELECT policy, seed FROM runs ORDER BY run_order"])
    assert res.exit_code == 0, res.output
    assert res.output.split() == ["policy", "seed", "baseline", "1", "baseline", "2", "greedy", "1", "greedy", "2"]
    bad = runner.invoke(app, ["sweep", "query", str(serial_sweep)])
    assert bad.exit_code == 2 and 'usage: wattbit sweep query DIR "SQL"' in bad.output
    refused = runner.invoke(app, ["sweep", str(_write(tmp_path, SWEEP)), "--out", str(serial_sweep)])
    assert refused.exit_code == 2 and "add --resume" in refused.output
    again = runner.invoke(
        app, ["sweep", str(_write(tmp_path, SWEEP)), "--out", str(serial_sweep), "--resume", "--executor", "serial"]
    )
    assert again.exit_code == 0, again.output
    assert "4 runs (0 now, 4 done before): 4 ok, 0 failed" in again.output


def test_the_example_sweep_over_data_years_is_valid() -> None:
    spec, path = load_sweep(Path(__file__).resolve().parents[2] / "examples" / "sweep-japan.toml")
    tasks = expand(spec, path)
    assert len(tasks) == 2 * 12  # twelve combinations of each data year
    years = {scenario_of(t).period.start.year for t in tasks}
    assert years == {2021, 2022}
    for task in tasks[:: len(tasks) - 1]:
        sc = scenario_of(task)
        assert (sc.period.start.month, sc.period.start.day, len(sc.period.index_utc())) == (4, 10, 96)
        assert {s.it.gpu_model for s in sc.sites} == {task.values["sites.it.gpu_model"]}


def test_longest_runs_are_sent_first(tmp_path: Path) -> None:
    text = SWEEP.replace('end = "2022-04-10T06:00"', 'end = "04-11"')
    spec, path = load_sweep(_write(tmp_path, text.replace('start = "2022-04-10"', 'start = "04-10"')))
    tasks = expand(spec, path)
    ordered = [t for _, t in longest_first(list(enumerate(tasks)))]
    assert [t.policy for t in ordered] == ["greedy", "greedy", "baseline", "baseline"]  # ties keep the sweep's order
    assert [t.seed for t in ordered] == [1, 2, 1, 2]
    assert expected_cost(tasks[0]) == 24.0 * 3  # one day ("MM-DD" in any year), three sites, baseline
