"""The engine step's per-job work compiled with numba: placing a policy's starts, and advancing the running jobs.

Each function is one pass over the starting or running jobs that does what the engine did before with a few dozen
numpy calls on arrays of a few hundred jobs (per-call overhead, not per-job work, was the step's cost). Same
arithmetic in the same order, so the results are identical, bit for bit, to the numpy version they replace
(``tests/sim/test_kernels.py`` checks both against a plain reading of the rules). Compiled on first use and cached
next to this file (``cache=True``); division by zero gives IEEE infinities and NaNs as numpy does
(``error_model="numpy"``). The running jobs' block and its rows are described in :mod:`wattbit.sim.running`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.jit import njit
from wattbit.sim.records import DONE, QUEUED, RUNNING
from wattbit.sim.running import CELL, CLASS, GANG, IVL, JOB, PEND, RATE, REM, SINCE, SITE, STATIC_ROWS


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


#: Why :func:`run_first_fit` returned: it reached its end step; a step's failure events need the engine (after that
#: step's arrivals); capacity fell below the GPUs in use (before that step's decision, arrivals and failures done).
END, FAILURES, EVICT = 0, 1, 2


@njit
def run_first_fit(
    k: int,
    k_end: int,
    mid: bool,
    order: NDArray[np.int64],
    arrived: NDArray[np.int64],
    next_arrival: int,
    has_events: NDArray[np.bool_],
    limits: NDArray[np.int64],
    queue: NDArray[np.int64],
    qn: int,
    jobs: tuple[Any, ...],
    slots: NDArray[np.float64],
    n: int,
    step_h: float,
    busy_class: NDArray[np.int64],
    busy: NDArray[np.int64],
    busy_rec: NDArray[np.int64],
    busy_class_rec: NDArray[np.int32],
    log: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]],
) -> tuple[int, int, int, int, int, int, int, int, int]:  # pragma: no cover - compiled
    """Steps ``k`` .. ``k_end - 1`` of an engine whose policy starts the queue first come, first served on the first
    site where each gang fits (:func:`first_fit`, with the engine's checks of :func:`accept_starts`): arrivals,
    capacity, starts, the step's record and progress, as the engine's own step does them; ``mid``: step ``k``'s
    arrivals and failures are done already.

    ``jobs`` holds the job table's arrays (state, data site, migratable, gang, site, first start step, migrations,
    work left, pending overhead, time since checkpoint, transfer time, overhead paid, finish step), the block's
    constants (``static``) and the sites' speeds; ``queue`` the queued jobs in order (room for every arrival up to
    ``k_end``); ``log`` the jobs started and finished, in order, and where each step's ends in them. The block
    ``slots`` has room for every queued and arriving job. Returns the step reached, why it stopped (:data:`END`,
    :data:`FAILURES`, :data:`EVICT`), the queue's length, the block's columns in use and with overhead to pay, the
    next arrival's position in ``order``, the starts refused, and the lengths of the two logs.
    """
    (state, data_site, migratable, gangs, rec_site, first_start, migrations, remaining_h, pending_h, since_h,
     transfer_h, overhead_h, finish_step, static, site_speed) = jobs  # fmt: skip
    started, started_end, finished, finished_end = log
    n_sites = busy.size
    pending, refused, ls, lf = 0, 0, 0, 0
    free = np.empty(n_sites, dtype=np.int64)
    for c in range(n):
        if slots[PEND, c] > 0:
            pending += 1
    while k < k_end:
        if not mid:
            for i in range(next_arrival, arrived[k]):
                j = order[i]
                state[j] = QUEUED
                queue[qn] = j
                qn += 1
            next_arrival = max(next_arrival, arrived[k])
            if has_events[k]:
                return k, FAILURES, qn, n, pending, next_arrival, refused, ls, lf
        mid = False
        for s in range(n_sites):
            free[s] = limits[k, s] - busy[s]
            if free[s] < 0:
                return k, EVICT, qn, n, pending, next_arrival, refused, ls, lf
        # the policy's decision on its own copy of what is free, then the engine's checks on the engine's
        picked, sites = first_fit(gangs[queue[:qn]], free.copy())
        if picked.size:
            chosen = queue[:qn][picked]
            acc, away = accept_starts(chosen, sites, free, state, data_site, migratable, gangs)
            refused += picked.size - acc.size
            if acc.size:
                js, ss = chosen[acc], sites[acc]
                pending = slot_starts(
                    js, ss, away, k, rec_site, data_site, first_start, migrations, remaining_h, pending_h, since_h,
                    transfer_h, static, site_speed, slots, n, busy_class, busy,
                )  # fmt: skip
                n += js.size
                kept = 0
                for i in range(qn):  # queued jobs stay queued; those started are running now
                    if state[queue[i]] == QUEUED:
                        queue[kept] = queue[i]
                        kept += 1
                qn = kept
                started[ls : ls + js.size] = js
                ls += js.size
        started_end[k] = ls
        for s in range(n_sites):
            busy_rec[k, s] = busy[s]
            for c in range(busy_class.shape[1]):
                busy_class_rec[k, s, c] = busy_class[s, c]
        if n:
            n, pending, done = progress(
                slots, n, slots[RATE, :n], step_h, k, overhead_h, finish_step, remaining_h, pending_h, since_h,
                state, busy_class, busy,
            )  # fmt: skip
            finished[lf : lf + done.size] = done
            lf += done.size
        finished_end[k] = lf
        k += 1
    return k, END, qn, n, pending, next_arrival, refused, ls, lf


@njit
def fail_jobs(
    event_site: NDArray[np.int64],
    event_scope: NDArray[np.int64],
    running: NDArray[np.int64],
    draws: NDArray[np.float64],
    gpus_total: NDArray[np.int64],
    jobs: tuple[Any, ...],
    slots: NDArray[np.float64],
    n: int,
    pending: int,
    busy_class: NDArray[np.int64],
    busy: NDArray[np.int64],
    queue: NDArray[np.int64],
    qn: int,
) -> tuple[NDArray[np.int64], int, int, int, int]:  # pragma: no cover - compiled
    """One step's failure events: each event that is not a site event (scope 4) hits a running job at its site
    with probability busy / installed GPUs, and then one in proportion to its gang, drawn as
    ``rng.choice(len(on_site), p=gangs / gangs.sum())`` draws (cumulative shares, normalised by the last, the first
    above a uniform); the job hit loses the work since its checkpoint plus its restart and goes back to the queue.

    ``running`` is the running set in its iteration order (the order decides the draw); ``draws`` uniforms from
    the engine's generator, used in order; ``jobs`` the job table's arrays (site, data site, state, work left,
    pending overhead, time since checkpoint, work lost, interruptions, restart cost, gang as float, power class,
    ready step); ``queue`` the queued jobs in (ready step, index) order with room for one more per event. Returns
    the jobs hit in order, the uniforms used, the block's columns in use and with overhead to pay, and the queue's
    length.
    """
    (rec_site, data_site, state, remaining_h, pending_h, since_h, lost_h, interruptions, restart_h, gang_f,
     power_class, ready) = jobs  # fmt: skip
    on_site = np.empty(running.size, dtype=np.int64)
    cdf = np.empty(running.size)
    hit = np.empty(event_site.size, dtype=np.int64)
    site_of = np.empty(running.size, dtype=np.int64)
    for i in range(running.size):
        site_of[i] = rec_site[running[i]]
    used, n_hit = 0, 0
    for e in range(event_site.size):
        if event_scope[e] == 4:
            continue  # site events act through the capacity they remove
        site = event_site[e]
        m = 0
        total = 0.0
        for i in range(running.size):
            if site_of[i] == site:
                on_site[m] = running[i]
                total += gang_f[running[i]]
                m += 1
        if m == 0:
            continue
        u = draws[used]
        used += 1
        if u >= total / gpus_total[site]:
            continue
        c = 0.0
        for i in range(m):
            c += gang_f[on_site[i]] / total
            cdf[i] = c
        last = cdf[m - 1]
        u = draws[used]
        used += 1
        pick = 0
        while pick < m and cdf[pick] / last <= u:
            pick += 1
        j = on_site[pick]
        for i in range(running.size):
            if running[i] == j:
                site_of[i] = -1
        # out of its column, its progress written back
        col = 0
        while slots[JOB, col] != j:
            col += 1
        remaining_h[j] = slots[REM, col]
        pending_h[j] = slots[PEND, col]
        since_h[j] = slots[SINCE, col]
        if slots[PEND, col] > 0:
            pending -= 1
        for c2 in range(col, n - 1):
            for row in range(slots.shape[0]):
                slots[row, c2] = slots[row, c2 + 1]
        n -= 1
        lost = since_h[j] + restart_h[j]
        remaining_h[j] += lost
        lost_h[j] += lost
        interruptions[j] += 1
        s = rec_site[j]
        gang = np.int64(gang_f[j])
        busy[s] -= gang
        busy_class[s, power_class[j]] -= gang
        state[j] = QUEUED
        rec_site[j] = -1
        data_site[j] = s
        since_h[j] = 0.0
        # back into the queue at its (ready step, index) place
        at = qn
        while at > 0 and (ready[queue[at - 1]] > ready[j] or (ready[queue[at - 1]] == ready[j] and queue[at - 1] > j)):
            queue[at] = queue[at - 1]
            at -= 1
        queue[at] = j
        qn += 1
        hit[n_hit] = j
        n_hit += 1
    return hit[:n_hit], used, n, pending, qn
