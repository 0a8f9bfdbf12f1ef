"""The engine step's per-job work compiled with numba: placing a policy's starts, and advancing the running jobs.

Each function is one pass over the starting or running jobs that does what the engine did before with a few dozen
numpy calls on arrays of a few hundred jobs (per-call overhead, not per-job work, was the step's cost). Same
arithmetic in the same order, so the results are identical, bit for bit, to the numpy version they replace
(``tests/sim/test_kernels.py`` checks both against a plain reading of the rules). Compiled on first use and cached
next to this file (``cache=True``); division by zero gives IEEE infinities and NaNs as numpy does
(``error_model="numpy"``). The running jobs' block and its rows are described in :mod:`wattbit.sim.running`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from wattbit.sim.records import DONE, QUEUED, RUNNING
from wattbit.sim.running import CELL, CLASS, GANG, IVL, JOB, PEND, RATE, REM, SINCE, SITE, STATIC_ROWS

_F = TypeVar("_F", bound=Callable[..., Any])


def njit(fn: _F) -> _F:
    """``fn`` compiled by numba on its first call (numba is imported then, not when the engine is); the plain
    Python function stays available as ``.py_func`` (tests run both)."""
    compiled: Any = None

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        nonlocal compiled
        if compiled is None:
            import numba

            # cached next to this file; IEEE division (inf, NaN) as numpy's, not ZeroDivisionError
            compiled = numba.njit(fn, cache=True, error_model="numpy", nogil=True)
        return compiled(*args)

    call.py_func = fn  # type: ignore[attr-defined]
    return cast(_F, call)


@njit
def accept_starts(
    job: NDArray[np.int64],
    site: NDArray[np.int64],
    free: NDArray[np.int64],
    state: NDArray[np.int8],
    data_site: NDArray[np.int16],
    migratable: NDArray[np.bool_],
    gangs: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:  # pragma: no cover - compiled
    """Positions in ``job`` accepted, in order, and whether each moves its state to another site.

    A start is accepted where its job is queued (``state``), its site and job are in range, a job whose state sits
    at another site may migrate, and its gang fits in what ``free`` has left at its site after the earlier
    accepted starts. ``free`` is decreased by the accepted gangs and an accepted job's ``state`` set to
    running (so a job listed twice starts once).
    """
    n_jobs, n_sites = state.size, free.size
    accepted = np.empty(job.size, dtype=np.int64)
    away = np.empty(job.size, dtype=np.bool_)
    m = 0
    for i in range(job.size):
        j, st = job[i], site[i]
        if j < 0 or j >= n_jobs or st < 0 or st >= n_sites or state[j] != QUEUED:
            continue
        h = data_site[j]
        moves = h >= 0 and h != st
        if moves and not migratable[j]:
            continue
        g = gangs[j]
        if free[st] >= g:
            free[st] -= g
            state[j] = RUNNING
            accepted[m] = i
            away[m] = moves
            m += 1
    return accepted[:m], away[:m]


@njit
def slot_starts(
    js: NDArray[np.int64],
    ss: NDArray[np.int64],
    away: NDArray[np.bool_],
    k: int,
    rec_site: NDArray[np.int16],
    data_site: NDArray[np.int16],
    first_start_step: NDArray[np.int64],
    migrations: NDArray[np.int32],
    remaining_h: NDArray[np.float64],
    pending_h: NDArray[np.float64],
    since_h: NDArray[np.float64],
    transfer_h: NDArray[np.float64],
    static: NDArray[np.float64],
    site_speed: NDArray[np.float64],
    slots: NDArray[np.float64],
    n: int,
    busy_class: NDArray[np.int64],
    busy: NDArray[np.int64],
) -> int:  # pragma: no cover - compiled
    """Record accepted starts ``js`` at sites ``ss`` in step ``k`` and append their columns to the running block
    ``slots`` (``n`` columns in use, room for ``js.size`` more); returns the block's count of columns with overhead
    still to pay."""
    n_classes = busy_class.shape[1]
    for a in range(js.size):
        j, s = js[a], ss[a]
        if away[a]:
            pending_h[j] += transfer_h[j]
            migrations[j] += 1
        rec_site[j] = s
        data_site[j] = s
        if first_start_step[j] < 0:
            first_start_step[j] = k
        c = n + a
        for r in range(STATIC_ROWS):
            slots[r, c] = static[r, j]
        slots[RATE, c] *= site_speed[s]
        slots[SITE, c] = s
        slots[CELL, c] = s * n_classes + slots[CLASS, c]
        slots[REM, c] = remaining_h[j]
        slots[PEND, c] = pending_h[j]
        slots[SINCE, c] = since_h[j]
        gang = np.int64(slots[GANG, c])
        busy_class[s, np.int64(slots[CLASS, c])] += gang
        busy[s] += gang
    pending = 0
    for c in range(n + js.size):
        if slots[PEND, c] > 0:
            pending += 1
    return pending


@njit
def progress(
    slots: NDArray[np.float64],
    n: int,
    rate: NDArray[np.float64],
    step_h: float,
    k: int,
    overhead_h: NDArray[np.float64],
    finish_step: NDArray[np.float64],
    remaining_h: NDArray[np.float64],
    pending_h: NDArray[np.float64],
    since_h: NDArray[np.float64],
    state: NDArray[np.int8],
    busy_class: NDArray[np.int64],
    busy: NDArray[np.int64],
) -> tuple[int, int, NDArray[np.int64]]:  # pragma: no cover - compiled
    """Advance the ``n`` running columns of ``slots`` through step ``k`` at work rates ``rate`` (read before any
    column moves) and record the jobs that finish; returns the columns kept, their count with overhead still to
    pay, and the finished jobs in column order.

    Per column: pending overhead is paid first (``min(pending, step_h)``, recorded in ``overhead_h``), the rest of
    the step works (``remaining -= working * rate``, time since a checkpoint advances modulo its interval); a job
    with at most 1e-9 h left finishes at ``k`` plus the share of the step it needed (at most 1), its GPUs freed.
    The columns left are squeezed to the front in their order.
    """
    finished = np.empty(n, dtype=np.int64)
    n_done, kept, pending = 0, 0, 0
    for c in range(n):
        r = rate[c]
        pend = slots[PEND, c]
        paid = pend if pend < step_h else step_h
        working = step_h - paid
        pend = pend - paid
        j = np.int64(slots[JOB, c])
        if paid > 0:
            overhead_h[j] += paid
        before = slots[REM, c]
        after = before - working * r
        since = np.fmod(slots[SINCE, c] + working, slots[IVL, c])
        if after <= 1e-9:
            frac = (paid + (before if before > 0.0 else 0.0) / r) / step_h
            finish_step[j] = k + (frac if frac <= 1.0 or np.isnan(frac) else 1.0)
            remaining_h[j] = 0.0
            pending_h[j] = pend
            since_h[j] = since
            state[j] = DONE
            s = np.int64(slots[SITE, c])
            gang = np.int64(slots[GANG, c])
            busy_class[s, np.int64(slots[CLASS, c])] -= gang
            busy[s] -= gang
            finished[n_done] = j
            n_done += 1
            continue
        if kept != c:
            for row in range(slots.shape[0]):
                slots[row, kept] = slots[row, c]
        slots[PEND, kept] = pend
        slots[REM, kept] = after
        slots[SINCE, kept] = since
        if pend > 0:
            pending += 1
        kept += 1
    return kept, pending, finished[:n_done]


@njit
def first_fit(gangs: NDArray[np.int64], free: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First come, first served on the first site where each gang fits: positions in ``gangs`` (queue order)
    started, in order, and their sites; ``free`` is decreased by the started gangs. A gang larger than every
    site's room is passed over (later, smaller ones may start); the scan stops once no site has room.
    """  # pragma: no cover - compiled
    picked = np.empty(gangs.size, dtype=np.int64)
    sites = np.empty(gangs.size, dtype=np.int64)
    m = 0
    room = free.max() if free.size else 0
    for i in range(gangs.size):
        g = gangs[i]
        if g > room:
            continue
        for s in range(free.size):
            if free[s] >= g:
                free[s] -= g
                picked[m] = i
                sites[m] = s
                m += 1
                room = free.max()
                break
        if room == 0:
            break
    return picked[:m], sites[:m]
