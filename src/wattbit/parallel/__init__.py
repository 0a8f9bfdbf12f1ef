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
default); with ``preload`` the server imports those modules once and every worker starts with them loaded, which is
what ``wattbit sweep`` uses (its server only imports, so it holds no threads but those that libraries start at
import and reset after a fork; keep modules that start other threads, such as polars, out of ``preload``).
:func:`~wattbit.parallel.local.start_fork_server` starts that server early, so that its imports overlap the
caller's. Start-up costs are measured in ``benchmarks/results/montecarlo.md`` and ``benchmarks/results/sweep.md``.

The package: :mod:`~wattbit.parallel.base` (the protocol, :class:`TaskError`), :mod:`~wattbit.parallel.local`,
:mod:`~wattbit.parallel.dask_cluster`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.parallel.base import (
    MAX_WORKERS,
    Executor,
    R,
    T,
    TaskError,
    available_cpus,
    is_executor,
)
from wattbit.parallel.dask_cluster import _ADDRESS_SCHEMES, DaskExecutor
from wattbit.parallel.local import START_METHODS, LocalExecutor

__all__ = [
    "MAX_WORKERS",
    "START_METHODS",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "TaskError",
    "available_cpus",
    "is_executor",
    "iter_completed",
    "make_executor",
]

_LOCAL_KEYS = ("kind", "workers", "start_method", "preload")
_DASK_KEYS = ("kind", "address", "n_workers", "threads_per_worker", "timeout_s", "trim_memory", "preload")


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


def make_executor(
    spec: str | Mapping[str, Any] | Executor | None = None,
    *,
    preload: Sequence[str] = (),
    start_method: str | None = None,
) -> Executor:
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
    preload, start_method
        Defaults for what ``spec`` does not set: modules the workers import as they start (any kind), and the
        start method of a local pool (default ``"spawn"``).

    Returns
    -------
    Executor
        A new executor (the caller closes it), or ``spec`` itself.

    Raises
    ------
    WattbitInputError
        On an unknown kind or key, or a bad value; the field is ``executor.<key>``.
    """
    if is_executor(spec):
        return spec
    if spec is None or isinstance(spec, str):
        spec = _mapping_of(spec)
    if not isinstance(spec, Mapping):
        raise WattbitInputError(
            f"executor={spec!r} must be 'local', 'serial', 'dask', a scheduler address or a mapping with 'kind'",
            field="executor",
        )
    defaults: dict[str, Any] = {"preload": list(preload)}
    if spec.get("kind") == "local" and start_method is not None:
        defaults["start_method"] = start_method
    return _from_mapping({**defaults, **spec})


def _mapping_of(spec: str | None) -> dict[str, Any]:
    if spec is None or spec == "local":
        return {"kind": "local"}
    if spec == "serial":
        return {"kind": "local", "workers": 1}
    if spec == "dask":
        return {"kind": "dask"}
    if spec.startswith(_ADDRESS_SCHEMES):
        return {"kind": "dask", "address": spec}
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
