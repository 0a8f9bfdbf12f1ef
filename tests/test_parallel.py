"""The executor interface on real workers: in-process, a spawned process pool, and a Dask LocalCluster of processes."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from contextlib import closing, nullcontext
from typing import Any

import pytest

from wattbit.errors import WattbitInputError
from wattbit.parallel import (
    DaskExecutor,
    Executor,
    LocalExecutor,
    TaskError,
    is_executor,
    iter_completed,
    make_executor,
)


def square_with_pid(x: int) -> tuple[int, int]:
    """x squared and the process that computed it; slow enough that both workers of a pool take items."""
    time.sleep(0.05)
    return x * x, os.getpid()


def fail_on_odd_above_two(x: int) -> int:
    if x > 2 and x % 2 == 1:
        raise ValueError(f"item value {x} is odd")
    return x


def slow_then_fast_failure(x: int) -> int:
    """Item 0 is slow and fails, item 1 fails at once: the report must name item 0 whatever finishes first."""
    if x == 0:
        time.sleep(0.3)
        raise KeyError("slow failure")
    raise ArithmeticError("fast failure")


def die_on_two(x: int) -> int:
    """A worker process that dies (as when killed for memory) on item 2."""
    if x == 2:
        os._exit(3)
    time.sleep(0.05)
    return x


def environment_variable(name: str) -> str | None:
    return os.environ.get(name)


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    """A real Dask LocalCluster with 2 worker processes, started by the executor itself."""
    with DaskExecutor(n_workers=2) as ex:
        yield ex


def test_in_process_keeps_order_and_runs_unpicklable_functions() -> None:
    ex = LocalExecutor(workers=1)
    offset = 10
    assert ex.map(lambda x: x + offset, range(5)) == [10, 11, 12, 13, 14]  # a lambda: no pickling when in-process
    assert ex.map(abs, []) == []
    with pytest.raises(TaskError, match=r"task 3 failed: ValueError: item value 3 is odd") as info:
        ex.map(fail_on_odd_above_two, range(6))
    assert info.value.index == 3
    assert isinstance(info.value.__cause__, ValueError)


def test_process_pool_uses_two_processes_keeps_order_and_is_reused() -> None:
    with LocalExecutor(workers=2) as ex:
        assert ex.workers == 2
        first = ex.map(square_with_pid, range(8))
        assert [r for r, _ in first] == [x * x for x in range(8)]
        pids = {pid for _, pid in first}
        assert len(pids) == 2 and os.getpid() not in pids
        again = ex.map(square_with_pid, range(8, 12))
        assert [r for r, _ in again] == [x * x for x in range(8, 12)]
        assert {pid for _, pid in again} <= pids  # the same pool serves later calls
        with pytest.raises(TaskError, match=r"task 3 failed: ValueError") as info:
            ex.map(fail_on_odd_above_two, range(8))  # items 3, 5, 7 fail: the lowest is reported
        assert info.value.index == 3
        assert isinstance(info.value.__cause__, ValueError)
        with pytest.raises(TaskError) as info:
            ex.map(slow_then_fast_failure, [0, 1])
        assert info.value.index == 0 and isinstance(info.value.__cause__, KeyError)
        assert [r for r, _ in ex.map(square_with_pid, [3])] == [9]  # still usable after failures


def test_process_pool_reports_a_dead_worker_and_starts_afresh() -> None:
    with LocalExecutor(workers=2) as ex:
        with pytest.raises(TaskError, match=r"failed: BrokenProcessPool") as info:
            ex.map(die_on_two, range(6))
        assert info.value.index <= 2  # the pool breaks for every task not yet finished, the dead one included
        assert ex.map(die_on_two, [0, 1, 3]) == [0, 1, 3]  # a new pool


def test_process_pool_refuses_unpicklable_function_clearly() -> None:
    with LocalExecutor(workers=2) as ex, pytest.raises(TypeError, match=r"cannot be sent to worker processes"):
        ex.map(lambda x: x, [1, 2])


def test_fork_start_method_gives_the_same_results() -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("fork is not available on this platform")
    with LocalExecutor(workers=2, start_method="fork") as ex:
        assert [r for r, _ in ex.map(square_with_pid, range(4))] == [0, 1, 4, 9]


def test_dask_local_cluster_keeps_order_and_names_failing_item(dask_executor: DaskExecutor) -> None:
    assert dask_executor.workers == 2
    results = dask_executor.map(square_with_pid, range(8))
    assert [r for r, _ in results] == [x * x for x in range(8)]
    assert os.getpid() not in {pid for _, pid in results}  # worker processes, not threads of this one
    with pytest.raises(TaskError, match=r"task 3 failed: ValueError: item value 3 is odd") as info:
        dask_executor.map(fail_on_odd_above_two, range(8))
    assert info.value.index == 3 and isinstance(info.value.__cause__, ValueError)
    with pytest.raises(TaskError) as info:
        dask_executor.map(slow_then_fast_failure, [0, 1])
    assert info.value.index == 0
    assert dask_executor.map(square_with_pid, [])[:] == []


def test_dask_workers_keep_the_default_malloc_trimming(dask_executor: DaskExecutor) -> None:
    # Dask's own default (MALLOC_TRIM_THRESHOLD_=65536) costs the example project about 35 % more CPU per draw
    assert dask_executor.map(environment_variable, ["MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS"]) == [None, "1"]


def test_dask_connects_to_a_running_scheduler_by_address(dask_executor: DaskExecutor) -> None:
    address = dask_executor.client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")  # the local cluster listens on loopback only
    workers = dask_executor.client.scheduler_info()["workers"]
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    with closing(make_executor({"kind": "dask", "address": address})) as ex:
        assert isinstance(ex, DaskExecutor)
        assert ex.workers == 2
        assert [r for r, _ in ex.map(square_with_pid, range(5))] == [0, 1, 4, 9, 16]
    with closing(make_executor(address)) as ex:
        assert ex.map(fail_on_odd_above_two, [0, 1, 2]) == [0, 1, 2]


def test_dask_unreachable_scheduler_is_a_clear_error() -> None:
    import distributed  # noqa: F401  (a dev dependency: its absence must fail, not skip)

    with pytest.raises(WattbitInputError, match=r"no Dask scheduler answered within 1 s") as info:
        DaskExecutor(address="tcp://127.0.0.1:9", timeout_s=1)
    assert info.value.field == "executor.address"


def test_missing_dask_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without the extra looks like
    with pytest.raises(ImportError, match=r"pip install 'wattbit\[dask\]'"):
        DaskExecutor(n_workers=1)


def test_make_executor_from_strings_and_mappings() -> None:
    assert isinstance(make_executor(None), LocalExecutor)
    local = make_executor("local")
    assert isinstance(local, LocalExecutor) and local.start_method == "spawn" and local.workers >= 1
    assert make_executor("serial").workers == 1
    configured = make_executor({"kind": "local", "workers": 3, "start_method": "forkserver"})
    assert isinstance(configured, LocalExecutor)
    assert (configured.workers, configured.start_method) == (3, "forkserver")
    assert make_executor(configured) is configured
    assert isinstance(configured, Executor) and is_executor(configured)
    assert not is_executor("local") and not is_executor(LocalExecutor)


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ("cluster", "executor", r"executor='cluster' must be 'local', 'serial', 'dask' or a scheduler address"),
        (42, "executor", r"executor=42 must be"),
        ({"workers": 2}, "executor.kind", r"executor.kind=None must be 'local' or 'dask'"),
        ({"kind": "ray"}, "executor.kind", r"executor.kind='ray' must be 'local' or 'dask'"),
        ({"kind": "local", "n_workers": 2}, "executor.n_workers", r"unknown key\(s\) \['n_workers'\] for kind 'local'"),
        (
            {"kind": "local", "workers": 0},
            "executor.workers",
            r"executor.workers=0 must be a whole number in \[1, 1024\]",
        ),
        ({"kind": "local", "workers": "4"}, "executor.workers", r"executor.workers='4' must be a whole number"),
        ({"kind": "local", "workers": True}, "executor.workers", r"executor.workers=True must be a whole number"),
        ({"kind": "local", "start_method": "thread"}, "executor.start_method", r"must be one of \['spawn', 'fork'"),
        ({"kind": "dask", "address": "host:8786"}, "executor.address", r"must be a scheduler address such as"),
        ({"kind": "dask", "address": "tcp://h:1", "n_workers": 2}, "executor.n_workers", r"only for a local cluster"),
        ({"kind": "dask", "n_workers": -1}, "executor.n_workers", r"executor.n_workers=-1 must be a whole number"),
        ({"kind": "dask", "timeout_s": 0}, "executor.timeout_s", r"executor.timeout_s=0 must be a number > 0"),
        ({"kind": "dask", "trim_memory": "yes"}, "executor.trim_memory", r"trim_memory='yes' must be true or false"),
    ],
)
def test_make_executor_rejects_bad_config(spec: Any, field: str, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message) as info:
        make_executor(spec)
    assert info.value.field == field


class _MapOnly:
    """An executor with ``map`` only (no streaming)."""

    workers = 1

    def map(self, fn: Any, items: Any) -> list[Any]:
        return [fn(x) for x in items]

    def close(self) -> None:
        pass


def test_iter_completed_streams_every_item_once_on_every_executor(dask_executor: DaskExecutor) -> None:
    for ex in (LocalExecutor(workers=1), LocalExecutor(workers=2), dask_executor, _MapOnly()):
        with closing(ex) if isinstance(ex, LocalExecutor) else nullcontext():
            got = dict(iter_completed(ex, square_with_pid, range(6)))
            assert sorted(got) == list(range(6)) and all(got[i][0] == i * i for i in got), ex
            assert list(iter_completed(ex, square_with_pid, [])) == []
    with LocalExecutor(workers=2) as ex, pytest.raises(TaskError, match="failed: ValueError") as info:
        list(iter_completed(ex, fail_on_odd_above_two, range(6)))
    assert info.value.index in (3, 5)
    with pytest.raises(TaskError, match="failed: ValueError") as info:
        list(iter_completed(dask_executor, fail_on_odd_above_two, [0, 3]))
    assert info.value.index == 1


def is_imported(module: str) -> bool:
    return module in sys.modules


def test_local_workers_import_preload_before_their_first_task() -> None:
    with LocalExecutor(workers=2) as plain:
        assert plain.map(is_imported, ["colorsys"]) == [False]  # not something a worker imports by itself
    ex = make_executor("local", preload=["colorsys"], start_method="forkserver")
    assert isinstance(ex, LocalExecutor) and ex.start_method == "forkserver" and ex.preload == ("colorsys",)
    with ex:
        assert ex.map(is_imported, ["colorsys"] * 4) == [True] * 4
        assert [r for r, _ in ex.map(square_with_pid, range(4))] == [0, 1, 4, 9]
    with closing(make_executor({"kind": "local", "workers": 2, "start_method": "spawn"}, start_method="fork")) as own:
        assert isinstance(own, LocalExecutor) and own.start_method == "spawn"  # the configuration's own choice wins
    with pytest.raises(WattbitInputError, match="executor.preload='colorsys' must be a list of module names"):
        make_executor({"kind": "local", "preload": "colorsys"})


def test_dask_by_address_registers_a_preload_plugin(dask_executor: DaskExecutor) -> None:
    address = dask_executor.client.scheduler.address
    assert dask_executor.map(is_imported, ["wave"]) == [False]
    with closing(make_executor(address, preload=["wave"])) as ex:  # the workers there now run the plugin
        assert ex.map(is_imported, ["wave", "wave"]) == [True, True]
