"""One executor interface for independent tasks: local processes by default, a Dask cluster when configured.

Planning runs many independent evaluations (Monte Carlo draws, tornado points, candidate plans). They all go
through :class:`Executor`, which has one job: ``map(fn, items) -> list`` in the order of ``items``. Two
implementations:

* :class:`LocalExecutor` — a :class:`concurrent.futures.ProcessPoolExecutor` on this machine; ``workers=1`` runs
  in this process (no pickling, easiest to debug).
* :class:`DaskExecutor` — a ``distributed`` client, connected to a running scheduler (``address="tcp://host:8786"``,
  e.g. one started by ``dask-jobqueue``'s ``SLURMCluster`` on an HPC system) or to a ``LocalCluster`` of worker
  processes that it starts and stops itself. Dask is an optional extra (``pip install wattbit[dask]``) and is
  imported only when a :class:`DaskExecutor` is made.

:func:`make_executor` builds one from a configuration value (``"local"``, ``{"kind": "dask", ...}``).

A task that raises is reported as :class:`TaskError` naming the index of the failing item; its ``__cause__`` is the
original exception (with the worker's traceback where the backend keeps it). When several items fail, the lowest
index is reported, whichever finished first, so the report does not depend on the number of workers.

Start method of the local pool (``start_method``): ``"spawn"`` by default — each worker is a fresh interpreter
that imports what the task needs. It behaves the same on Linux, macOS and Windows, and never inherits the parent's
threads or locks (a Dask client's event loop, BLAS or HiGHS threads), which is what makes ``"fork"`` unsafe: a child
forked while another thread holds a lock can hang, and Python 3.12+ warns about forking a multi-threaded process.
``"fork"`` (Linux) starts workers faster because they share the parent's imported modules; choose it for short
runs from a single-threaded script. ``"forkserver"`` forks from a clean server process (Python 3.14's Linux
default). Start-up costs are measured in ``benchmarks/results/montecarlo.md``.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeGuard, TypeVar, runtime_checkable

from wattbit.errors import WattbitInputError
from wattbit.units import check_int

T = TypeVar("T")
R = TypeVar("R")

#: Start methods a :class:`LocalExecutor` accepts (those of the platform are checked on use).
START_METHODS = ("spawn", "fork", "forkserver")
#: Upper bound on worker counts, to catch typos such as ``workers=4000``.
MAX_WORKERS = 1024

_LOCAL_KEYS = ("kind", "workers", "start_method")
_DASK_KEYS = ("kind", "address", "n_workers", "threads_per_worker", "timeout_s", "trim_memory")
_ADDRESS_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")


class TaskError(RuntimeError):
    """A task of :meth:`Executor.map` raised.

    Attributes
    ----------
    index
        0-based position of the failing item in the items given to ``map``.
    """

    def __init__(self, index: int, message: str) -> None:
        self.index = index
        super().__init__(message)


def _task_error(index: int, exc: BaseException, what: str = "task") -> TaskError:
    return TaskError(index, f"{what} {index} failed: {type(exc).__name__}: {exc}")


@runtime_checkable
class Executor(Protocol):
    """Runs a function over items, possibly in parallel, and returns the results in order."""

    @property
    def workers(self) -> int:
        """Tasks that can run at once (process or thread slots)."""
        ...

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]``, computed by the executor's workers.

        Raises
        ------
        TaskError
            If a task raised; ``index`` is its position, ``__cause__`` the original exception.
        """
        ...

    def close(self) -> None:
        """Release the workers (idempotent)."""
        ...


def is_executor(obj: object) -> TypeGuard[Executor]:
    """Whether ``obj`` has the :class:`Executor` methods, judged on its type (no property is evaluated: a
    ``DaskExecutor``'s ``workers`` asks the scheduler)."""
    kind = type(obj)
    return all(callable(getattr(kind, name, None)) for name in ("map", "close")) and hasattr(kind, "workers")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _check_picklable(fn: Callable[..., Any]) -> None:
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise TypeError(
            f"{fn!r} cannot be sent to worker processes ({type(exc).__name__}: {exc}); use a function defined at "
            "the top level of a module, or an instance of a top-level class (lambdas and nested functions are not "
            "picklable), or LocalExecutor(workers=1)"
        ) from exc


class LocalExecutor:
    """Tasks in a pool of processes on this machine.

    Parameters
    ----------
    workers
        Worker processes, 1..1024; None means the CPUs available to this process. ``1`` runs every task in this
        process, in order, without pickling.
    start_method
        ``"spawn"`` (default), ``"fork"`` or ``"forkserver"``; see the module docstring for the trade-off.

    Notes
    -----
    The pool starts on the first :meth:`map` and is kept for later calls until :meth:`close` (or the end of a
    ``with`` block). Functions and items must be picklable when ``workers > 1``.
    """

    def __init__(self, workers: int | None = None, start_method: str = "spawn") -> None:
        self._workers = available_cpus() if workers is None else check_int(workers, "executor.workers", 1, MAX_WORKERS)
        if start_method not in START_METHODS:
            raise WattbitInputError(
                f"executor.start_method={start_method!r} must be one of {list(START_METHODS)}",
                field="executor.start_method",
            )
        if start_method not in multiprocessing.get_all_start_methods():
            raise WattbitInputError(
                f"executor.start_method={start_method!r} is not available on this platform; available: "
                f"{multiprocessing.get_all_start_methods()}",
                field="executor.start_method",
            )
        self.start_method = start_method
        self._pool: cf.ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        """Worker processes (1: in this process)."""
        return self._workers

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self._workers}, start_method={self.start_method!r})"

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context(self.start_method)
            self._pool = cf.ProcessPoolExecutor(max_workers=self._workers, mp_context=context)
        return self._pool

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]``; see :meth:`Executor.map`."""
        todo = list(items)
        if self._workers == 1:
            return _map_in_process(fn, todo)
        if not todo:
            return []
        _check_picklable(fn)
        pool = self._get_pool()
        try:
            futures = [pool.submit(fn, item) for item in todo]
        except cf.BrokenExecutor as exc:
            self.close()
            raise RuntimeError(f"the process pool is broken ({exc}); start a new LocalExecutor") from exc
        return _collect(futures, self._on_failure, lambda done: [f.result() for f in done])

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(item))`` for every item, as each task finishes (see :func:`iter_completed`)."""
        todo = list(items)
        if self._workers == 1 or not todo:
            yield from _iter_in_process(fn, todo)
            return
        _check_picklable(fn)
        pool = self._get_pool()
        index = {pool.submit(fn, item): i for i, item in enumerate(todo)}
        try:
            for future in cf.as_completed(index):
                exc = future.exception()
                if exc is not None:
                    self._on_failure(list(index), exc)
                    raise _task_error(index[future], exc) from exc
                yield index[future], future.result()
        finally:
            for future in index:
                future.cancel()

    def _on_failure(self, futures: Sequence[cf.Future[Any]], exc: BaseException) -> None:
        for future in futures:
            future.cancel()
        if isinstance(exc, cf.BrokenExecutor):  # a worker died (killed, out of memory): start afresh next time
            self.close()

    def close(self) -> None:
        """Shut the pool down, cancelling tasks not yet started (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _iter_in_process(fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R]]:
    for i, item in enumerate(items):
        try:
            result = fn(item)
        except Exception as exc:
            raise _task_error(i, exc) from exc
        yield i, result


def _map_in_process(fn: Callable[[T], R], items: list[T]) -> list[R]:
    return [result for _, result in _iter_in_process(fn, items)]


def _collect(
    futures: Sequence[Any],
    on_failure: Callable[[Sequence[Any], BaseException], None],
    gather: Callable[[list[Any]], list[Any]],
) -> list[Any]:
    """Results of ``futures`` in order; on the first failing one (in order) call ``on_failure`` and raise.

    Waiting in order (rather than for the first to finish) makes the reported index the lowest failing one,
    whatever the number of workers.
    """
    for i, future in enumerate(futures):
        exc = future.exception()
        if exc is not None:
            on_failure(futures[i + 1 :], exc)
            raise _task_error(i, exc) from exc
    return gather(list(futures))


def _call(item: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn(item)``: the task Dask runs, with ``fn`` scattered once to the workers instead of sent per task."""
    return fn(item)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "DaskExecutor needs the optional 'dask' extra: pip install 'wattbit[dask]' (dask[distributed])"
        ) from exc
    return distributed


class DaskExecutor:
    """Tasks on a Dask cluster: a running scheduler, or a local cluster of worker processes started here.

    Parameters
    ----------
    address
        Scheduler address such as ``"tcp://10.0.0.5:8786"``; None starts a ``distributed.LocalCluster`` with
        worker processes, scheduler and workers bound to 127.0.0.1, and stops it on :meth:`close`.
    n_workers
        Worker processes of the local cluster, 1..1024; None means the CPUs available. Not allowed with
        ``address`` (the cluster decides).
    threads_per_worker
        Threads per local worker process (default 1: the tasks are CPU-bound Python, which threads do not
        speed up).
    timeout_s
        How long to wait for the scheduler [s], > 0.
    trim_memory
        Keep Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` in the local cluster's workers, which hands freed memory back
        to the operating system at once. Off by default: the workers then use glibc's default, like a
        :class:`LocalExecutor`'s. With it, a draw of the example project took about 35 % more CPU (0.31 s instead
        of 0.23 s; 37,000 page faults per draw), because its 8,760-hour arrays are freed and faulted in again.

    Raises
    ------
    ImportError
        If ``distributed`` is not installed (``pip install 'wattbit[dask]'``).
    WattbitInputError
        On a malformed address or count, or when the scheduler cannot be reached in ``timeout_s``.

    Notes
    -----
    Workers of a remote cluster must have wattbit (and whatever module defines the task function) installed.
    """

    def __init__(
        self,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        timeout_s: float = 30.0,
        trim_memory: bool = False,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address.startswith(_ADDRESS_SCHEMES)):
            raise WattbitInputError(
                f"executor.address={address!r} must be a scheduler address such as 'tcp://host:8786'",
                field="executor.address",
            )
        if address is not None and n_workers is not None:
            raise WattbitInputError(
                "executor.n_workers is only for a local cluster; with an address the cluster decides its workers",
                field="executor.n_workers",
            )
        n = available_cpus() if n_workers is None else check_int(n_workers, "executor.n_workers", 1, MAX_WORKERS)
        threads = check_int(threads_per_worker, "executor.threads_per_worker", 1, MAX_WORKERS)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 0 < timeout_s < math.inf:
            raise WattbitInputError(
                f"executor.timeout_s={timeout_s!r} must be a number > 0", field="executor.timeout_s"
            )
        if not isinstance(trim_memory, bool):
            raise WattbitInputError(
                f"executor.trim_memory={trim_memory!r} must be true or false", field="executor.trim_memory"
            )
        distributed = _import_distributed()
        self.address = address
        self._cluster: Any = None
        if address is None:
            import dask

            keep = {} if trim_memory else {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
            with dask.config.set(keep):  # None unsets the variable (distributed.nanny._get_env_variables)
                self._cluster = distributed.LocalCluster(  # scheduler and workers on loopback only
                    n_workers=n, threads_per_worker=threads, processes=True, dashboard_address=None, host="127.0.0.1"
                )
            self._client = distributed.Client(self._cluster, timeout=timeout_s, set_as_default=False)
            return
        try:
            self._client = distributed.Client(address, timeout=timeout_s, set_as_default=False)
        except OSError as exc:  # includes TimeoutError
            raise WattbitInputError(
                f"executor.address={address!r}: no Dask scheduler answered within {timeout_s:g} s ({exc})",
                field="executor.address",
            ) from exc

    @property
    def workers(self) -> int:
        """Worker threads the scheduler knows now (over all worker processes)."""
        return int(sum(self._client.nthreads().values()))

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (for dashboards, diagnostics)."""
        return self._client

    def __repr__(self) -> str:
        where = self.address or "LocalCluster"
        return f"DaskExecutor({where!r}, workers={self.workers})"

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]``; see :meth:`Executor.map`. ``fn`` is sent to each worker once."""
        todo = list(items)
        if not todo:
            return []
        fn_future = self._client.scatter(fn, broadcast=True, hash=False)
        futures = self._client.map(_call, todo, fn=fn_future, pure=False)
        try:
            return _collect(futures, lambda rest, _exc: self._client.cancel(list(rest)), self._client.gather)
        finally:
            self._client.cancel([fn_future])

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(item))`` for every item, as each task finishes (see :func:`iter_completed`).

        ``fn`` travels with each task (not scattered once as in :meth:`map`), so that a task whose worker dies is
        re-run elsewhere by the scheduler with nothing lost: no data lives only on one worker.
        """
        todo = list(items)
        if not todo:
            return
        distributed = _import_distributed()
        futures = self._client.map(fn, todo, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in distributed.as_completed(futures, loop=self._client.loop):
                if future.status == "error":
                    exc = future.exception()
                    raise _task_error(index[future.key], exc) from exc
                yield index[future.key], future.result()
        finally:
            self._client.cancel(futures)

    def close(self) -> None:
        """Disconnect; stop the local cluster if this executor started it (idempotent)."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_completed(executor: Executor, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]:
    """``(index, fn(item))`` for every item of ``items``, in the order the tasks finish (a sweep keeps each run's
    row at once). Executors with ``map_unordered`` (Local, Dask) stream; any other gives ``map``'s results at the end.

    Raises
    ------
    TaskError
        If a task raised (``index`` is its position); tasks not yet started are cancelled.
    """
    stream = getattr(executor, "map_unordered", None)
    if callable(stream):
        yield from stream(fn, items)
    else:
        yield from enumerate(executor.map(fn, items))


def make_executor(spec: str | Mapping[str, Any] | Executor | None = None) -> Executor:
    """An executor from a configuration value.

    Parameters
    ----------
    spec
        * None or ``"local"`` — :class:`LocalExecutor` with one process per available CPU;
        * ``"serial"`` — ``LocalExecutor(workers=1)``, in this process;
        * ``"dask"`` — :class:`DaskExecutor` on a new local cluster;
        * a scheduler address (``"tcp://host:8786"``) — :class:`DaskExecutor` connected to it;
        * a mapping with ``kind`` (``"local"`` or ``"dask"``) and that class's parameters:
          ``{"kind": "local", "workers": 4, "start_method": "fork"}``,
          ``{"kind": "dask", "address": "tcp://host:8786"}``, ``{"kind": "dask", "n_workers": 2}``;
        * an :class:`Executor`, returned as it is.

    Returns
    -------
    Executor
        A new executor (the caller closes it), or ``spec`` itself.

    Raises
    ------
    WattbitInputError
        On an unknown kind or key, or a bad value; the field is ``executor.<key>``.
    """
    if spec is None:
        return LocalExecutor()
    if isinstance(spec, str):
        return _from_string(spec)
    if isinstance(spec, Mapping):
        return _from_mapping(spec)
    if is_executor(spec):
        return spec
    raise WattbitInputError(
        f"executor={spec!r} must be 'local', 'serial', 'dask', a scheduler address or a mapping with 'kind'",
        field="executor",
    )


def _from_string(spec: str) -> Executor:
    if spec == "local":
        return LocalExecutor()
    if spec == "serial":
        return LocalExecutor(workers=1)
    if spec == "dask":
        return DaskExecutor()
    if spec.startswith(_ADDRESS_SCHEMES):
        return DaskExecutor(address=spec)
    raise WattbitInputError(
        f"executor={spec!r} must be 'local', 'serial', 'dask' or a scheduler address such as 'tcp://host:8786'",
        field="executor",
    )


def _from_mapping(spec: Mapping[str, Any]) -> Executor:
    kind = spec.get("kind")
    allowed = {"local": _LOCAL_KEYS, "dask": _DASK_KEYS}
    if kind not in allowed:
        raise WattbitInputError(f"executor.kind={kind!r} must be 'local' or 'dask'", field="executor.kind")
    unknown = sorted(set(spec) - set(allowed[kind]))
    if unknown:
        raise WattbitInputError(
            f"executor: unknown key(s) {unknown} for kind {kind!r}; allowed: {list(allowed[kind][1:])}",
            field=f"executor.{unknown[0]}",
        )
    options = {k: v for k, v in spec.items() if k != "kind"}
    return LocalExecutor(**options) if kind == "local" else DaskExecutor(**options)
