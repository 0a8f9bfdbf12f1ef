"""Kernels compiled by numba on their first call: the engine step's (:mod:`wattbit.sim.kernels`) and the site
physics' (:mod:`wattbit.physics.site_kernel`). numba is imported then, not when wattbit is, so commands that never
call a kernel do not pay for it; the compiled code is cached next to the kernel's module (``cache=True``), and
division by zero gives IEEE infinities and NaNs as numpy does (``error_model="numpy"``), not ZeroDivisionError."""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])


def njit(fn: _F) -> _F:
    """``fn`` compiled by numba on its first call; the plain Python function stays available as ``.py_func`` (tests
    run both). A kernel that calls other kernels of its module (decorated with this) is compiled against their
    compiled versions."""
    compiled: Any = None

    def dispatcher() -> Any:
        nonlocal compiled
        if compiled is None:
            import numba

            # kernels this one calls, as numba dispatchers (numba types a call to a jitted function only)
            callees = {
                name: value.dispatcher()
                for name, value in fn.__globals__.items()
                if name in fn.__code__.co_names and hasattr(value, "dispatcher")
            }
            target: Any = fn
            if callees:
                target = types.FunctionType(fn.__code__, {**fn.__globals__, **callees}, fn.__name__)
                target.__qualname__, target.__module__ = fn.__qualname__, fn.__module__
            compiled = numba.njit(target, cache=True, error_model="numpy", nogil=True)
        return compiled

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        return (compiled if compiled is not None else dispatcher())(*args)

    call.py_func = fn  # type: ignore[attr-defined]
    call.dispatcher = dispatcher  # type: ignore[attr-defined]
    return cast(_F, call)
