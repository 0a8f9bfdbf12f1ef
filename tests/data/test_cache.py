"""The per-process cache of parsed data files: off unless enabled, a hit is a copy, a changed file is read again,
and a sweep run served from the cache gives exactly what an uncached ``simulate`` gives."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from wattbit.control.bench import simulate_policy
from wattbit.data import cache
from wattbit.data.jma import read_jma_hourly
from wattbit.data.registry import read_trace
from wattbit.sweep.runs import MACHINE_COLUMNS, flatten, run_task, scenario_of
from wattbit.sweep.spec import expand as expand_sweep
from wattbit.sweep.spec import load_sweep


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    cache.disable()
    yield
    cache.disable()


def _read(path: Path) -> tuple[pd.DataFrame, object]:
    return cache.cached_read("jma_hourly", path, {}, lambda: read_jma_hourly(path))


def test_off_by_default_then_one_parse_per_file_and_hits_are_copies(fixtures_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sendai_2022-06-20_22.csv"
    shutil.copy(fixtures_dir / "jma" / "sendai_2022-06-20_22.csv", path)
    _read(path)
    assert cache.stats() == {"enabled": False, "entries": 0, "hits": 0, "misses": 0}
    cache.enable()
    first, meta = _read(path)
    first.iloc[:, 0] = -999.0  # a caller that changes its frame must not change what the next run gets
    meta.notes.append("changed by a caller")  # type: ignore[attr-defined]
    second, meta2 = _read(path)
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 1
    pd.testing.assert_frame_equal(second, read_jma_hourly(path)[0], check_exact=True)
    assert "changed by a caller" not in meta2.notes  # type: ignore[attr-defined]
    stat = path.stat()
    text = path.read_text(encoding="utf-8").replace("\n", "\r\n")  # same data, another size: read again
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    _read(path)
    assert cache.stats()["misses"] == 2


def test_least_recently_used_files_are_dropped_and_missing_files_reach_the_reader(tmp_path: Path) -> None:
    cache.enable(max_entries=1)
    trace = "japan-2022:servegen_m-large_total_rate.csv.gz"
    read_trace("servegen_client_rates", builtin=trace)
    read_trace("alibaba_gpu_pods", builtin="japan-2022:alibaba_gpu_pods.csv.gz")
    read_trace("servegen_client_rates", builtin=trace)
    assert cache.stats()["entries"] == 1 and cache.stats()["misses"] == 3
    with pytest.raises(Exception, match="no-such.csv"):
        _read(tmp_path / "no-such.csv")
    with pytest.raises(ValueError, match="max_entries"):
        cache.enable(max_entries=0)


def test_a_sweep_run_from_the_cache_equals_an_uncached_simulate(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        '[sweep]\nname = "c"\nscenarios = ["japan-2022"]\nstart = "2022-04-10"\nend = "2022-04-10T02:00"\n'
        '[axes]\npolicy = ["greedy"]\nseed = [3]\n',
        encoding="utf-8",
    )
    (task,) = expand_sweep(*load_sweep(sweep))
    first, again = run_task(task), run_task(task)  # the second reads every file from the cache
    # each file once per run (a site's signals file serves its four kinds): 3 signal files and the workload traces
    stats = cache.stats()
    assert stats["hits"] == stats["misses"] >= 6 and first["status"] == again["status"] == "ok"
    cache.disable()
    uncached = flatten(simulate_policy(scenario_of(task), "greedy", 3).summary)
    for row in (first, again):
        kpis = {k: v for k, v in row.items() if k not in (*MACHINE_COLUMNS, "status", "error")}
        assert kpis == {k: v for k, v in uncached.items() if k not in MACHINE_COLUMNS}
