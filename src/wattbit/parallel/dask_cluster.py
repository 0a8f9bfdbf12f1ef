"""Tasks on a Dask cluster: a running scheduler by address, or a local cluster started here."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.parallel.base import MAX_WORKERS, R, T, available_cpus, collect, import_modules, task_error
from wattbit.units import check_int

_ADDRESS_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")


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


def _preload_plugin(distributed: Any, modules: tuple[str, ...]) -> Any:
    """A worker plugin that imports ``modules`` on each worker (sent by value: workers need only wattbit)."""

    class ImportModules(distributed.WorkerPlugin):
        name = "wattbit-preload"

        def setup(self, worker: Any) -> None:
            import_modules(modules)

    return ImportModules()


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
    preload
        Modules every worker imports before its first task: passed to the local cluster's workers (Dask's
        ``preload``), or, on a cluster by address, registered as a worker plugin, which the workers there now and
        those that join later run once (workers started with ``dask worker --preload MODULE`` have them already).

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
        preload: Sequence[str] = (),
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
        if isinstance(preload, str) or not all(isinstance(m, str) and m for m in preload):
            raise WattbitInputError(
                f"executor.preload={preload!r} must be a list of module names", field="executor.preload"
            )
        distributed = _import_distributed()
        self.address = address
        self._cluster: Any = None
        if address is None:
            import dask

            keep = {} if trim_memory else {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
            with dask.config.set(keep):  # None unsets the variable (distributed.nanny._get_env_variables)
                self._cluster = distributed.LocalCluster(  # scheduler and workers on loopback only
                    n_workers=n,
                    threads_per_worker=threads,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                    preload=list(preload),
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
        if preload:
            self._client.register_plugin(_preload_plugin(distributed, tuple(preload)))

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
            return collect(futures, lambda rest, _exc: self._client.cancel(list(rest)), self._client.gather)
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
                    raise task_error(index[future.key], exc) from exc
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
