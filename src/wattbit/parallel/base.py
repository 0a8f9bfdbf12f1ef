"""What every executor shares: the :class:`Executor` protocol, :class:`TaskError`, and helpers."""

from __future__ import annotations

import importlib
import os
import pickle
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeGuard, TypeVar, runtime_checkable

T = TypeVar("T")
R = TypeVar("R")

#: Upper bound on worker counts, to catch typos such as ``workers=4000``.
MAX_WORKERS = 1024


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


def task_error(index: int, exc: BaseException, what: str = "task") -> TaskError:
    """The :class:`TaskError` reporting that item ``index`` raised ``exc``."""
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


def check_picklable(fn: Callable[..., Any]) -> None:
    """Raise a ``TypeError`` that says what to do when ``fn`` cannot be sent to worker processes."""
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise TypeError(
            f"{fn!r} cannot be sent to worker processes ({type(exc).__name__}: {exc}); use a function defined at "
            "the top level of a module, or an instance of a top-level class (lambdas and nested functions are not "
            "picklable), or LocalExecutor(workers=1)"
        ) from exc


def iter_in_process(fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R]]:
    """``(index, fn(item))`` in order, in this process; a failure is a :class:`TaskError` naming the index."""
    for i, item in enumerate(items):
        try:
            result = fn(item)
        except Exception as exc:
            raise task_error(i, exc) from exc
        yield i, result


def map_in_process(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """``[fn(x) for x in items]`` in this process, failures as in :func:`iter_in_process`."""
    return [result for _, result in iter_in_process(fn, items)]


def collect(
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
            raise task_error(i, exc) from exc
    return gather(list(futures))


def import_modules(modules: Sequence[str]) -> float:
    """Import ``modules`` in this process (a worker's start-up) and return the seconds it took."""
    t0 = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return time.perf_counter() - t0
