"""Tasks in a pool of processes on this machine (see :mod:`wattbit.parallel` for the start methods)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.parallel.base import (
    MAX_WORKERS,
    R,
    T,
    available_cpus,
    check_picklable,
    collect,
    import_modules,
    iter_in_process,
    map_in_process,
    task_error,
)
from wattbit.units import check_int

#: Start methods a :class:`LocalExecutor` accepts (those of the platform are checked on use).
START_METHODS = ("spawn", "fork", "forkserver")


class LocalExecutor:
    """Tasks in a pool of processes on this machine.

    Parameters
    ----------
    workers
        Worker processes, 1..1024; None means the CPUs available to this process. ``1`` runs every task in this
        process, in order, without pickling.
    start_method
        ``"spawn"`` (default), ``"fork"`` or ``"forkserver"``; see the module docstring for the trade-off.
    preload
        Modules each worker imports as it starts, before its first task. With ``"forkserver"`` they are also
        imported once by the fork server, so that every worker starts with them loaded instead of importing them
        again (the server imports only; it never runs a task, so it has no solver or I/O threads to fork).

    Notes
    -----
    The pool starts on the first :meth:`map` and is kept for later calls until :meth:`close` (or
    the end of a ``with`` block). Functions and items must be picklable when ``workers > 1``.
    """

    def __init__(self, workers: int | None = None, start_method: str = "spawn", preload: Sequence[str] = ()) -> None:
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
        if isinstance(preload, str) or not all(isinstance(m, str) and m for m in preload):
            raise WattbitInputError(
                f"executor.preload={preload!r} must be a list of module names", field="executor.preload"
            )
        self.start_method = start_method
        self.preload = tuple(preload)
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
            if self.start_method == "forkserver" and self.preload:
                # read when the fork server starts (once per process); a server already running keeps its modules
                context.set_forkserver_preload(list(self.preload))
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self._workers, mp_context=context, initializer=import_modules, initargs=(self.preload,)
            )
        return self._pool

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]``; see :meth:`Executor.map`."""
        todo = list(items)
        if self._workers == 1:
            return map_in_process(fn, todo)
        if not todo:
            return []
        check_picklable(fn)
        pool = self._get_pool()
        try:
            futures = [pool.submit(fn, item) for item in todo]
        except cf.BrokenExecutor as exc:
            self.close()
            raise RuntimeError(f"the process pool is broken ({exc}); start a new LocalExecutor") from exc
        return collect(futures, self._on_failure, lambda done: [f.result() for f in done])

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(item))`` for every item, as each task finishes (see :func:`iter_completed`)."""
        todo = list(items)
        if self._workers == 1 or not todo:
            yield from iter_in_process(fn, todo)
            return
        check_picklable(fn)
        pool = self._get_pool()
        index = {pool.submit(fn, item): i for i, item in enumerate(todo)}
        try:
            for future in cf.as_completed(index):
                exc = future.exception()
                if exc is not None:
                    self._on_failure(list(index), exc)
                    raise task_error(index[future], exc) from exc
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


def start_fork_server(preload: Sequence[str]) -> bool:
    """Start this process's fork server now, importing ``preload``, without waiting for it.

    A :class:`LocalExecutor` with ``start_method="forkserver"`` made later in this process forks its workers from
    this server, so the imports it makes here overlap what this process does meanwhile (``wattbit sweep`` imports
    its own modules). Returns False, doing nothing, where the platform has no fork server.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()
    return True
