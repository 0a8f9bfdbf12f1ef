"""The engine's compiled kernels: a hand-checked step, and compiled equal to plain Python bit for bit."""

from __future__ import annotations

import numpy as np

from wattbit.sim import kernels
from wattbit.sim.records import DONE, QUEUED, RUNNING
from wattbit.sim.running import CLASS, GANG, IVL, JOB, PEND, RATE, REM, ROWS, SINCE, SITE


def _block(rng: np.random.Generator, n: int, jobs: int) -> np.ndarray:
    d = np.zeros((ROWS, n + 4))
    d[JOB, :n] = rng.choice(jobs, n, replace=False)
    d[GANG, :n] = rng.integers(1, 9, n)
    d[CLASS, :n] = rng.integers(0, 3, n)
    d[IVL, :n] = rng.uniform(0.1, 3.0, n)
    d[RATE, :n] = rng.uniform(0.1, 1.5, n)
    d[SITE, :n] = rng.integers(0, 2, n)
    d[REM, :n] = rng.choice([0.0, 0.1, 0.2, 5.0], n) * rng.uniform(0.5, 1.5, n)
    d[PEND, :n] = rng.choice([0.0, 0.0, 0.1, 0.4], n)
    d[SINCE, :n] = rng.uniform(0.0, 0.1, n)
    return d


def _progress(fn, d: np.ndarray, n: int, jobs: int, rate: np.ndarray) -> tuple:
    arrays = [np.zeros(jobs), np.full(jobs, np.nan), np.ones(jobs), np.zeros(jobs), np.zeros(jobs)]
    state = np.full(jobs, RUNNING, dtype=np.int8)
    busy_class = np.full((2, 3), 1000, dtype=np.int64)
    busy = np.full(2, 3000, dtype=np.int64)
    out = fn(d, n, rate, 0.25, 7, *arrays, state, busy_class, busy)
    return out, arrays, state, busy_class, busy, d


def test_progress_hand_checked_step():
    """A job with 0.1 h overhead to pay and 0.05 h of work at rate 0.5 finishes 0.2 h into a 0.25 h step; one
    with 0.05 h of work at rate 1 at 0.05 h; a long job keeps running (moved to the first column), its time since
    a checkpoint wrapped at its interval."""
    d = np.zeros((ROWS, 3))
    d[JOB], d[GANG], d[CLASS], d[SITE] = [4, 2, 9], [8, 2, 1], [0, 2, 1], [1, 0, 1]
    d[IVL], d[RATE], d[REM] = [1.0, 1.0, 0.3], [0.5, 1.0, 1.0], [0.05, 0.05, 9.0]
    d[PEND], d[SINCE] = [0.1, 0.0, 0.0], [0.0, 0.0, 0.2]
    (kept, pending, finished), (overhead, finish, remaining, pend, since), state, bc, busy, d = _progress(
        kernels.progress, d, 3, 10, d[RATE, :3]
    )
    assert (kept, pending) == (1, 0)
    assert finished.tolist() == [4, 2]
    assert overhead[4] == 0.1 and overhead[[2, 9]].tolist() == [0.0, 0.0]
    assert finish[4] == 7.0 + 0.2 / 0.25 and finish[2] == 7.0 + 0.05 / 0.25 and np.isnan(finish[9])
    assert remaining[[4, 2]].tolist() == [0.0, 0.0] and state[[4, 2]].tolist() == [DONE, DONE]
    assert since[4] == 0.25 - 0.1 and since[2] == 0.25
    assert bc[1, 0] == 1000 - 8 and bc[0, 2] == 1000 - 2 and busy.tolist() == [2998, 2992]
    assert d[JOB, 0] == 9 and d[REM, 0] == 9.0 - 0.25 and d[SINCE, 0] == np.fmod(0.2 + 0.25, 0.3)


def test_compiled_kernels_equal_plain_python():
    rng = np.random.default_rng(16)
    for _ in range(20):
        jobs, n = 60, int(rng.integers(0, 40))
        d = _block(rng, n, jobs)
        rate = d[RATE, :n] * rng.choice([1.0, 0.0, 0.7], n)  # a zero rate: IEEE division, as numpy
        a = _progress(kernels.progress, d.copy(), n, jobs, rate.copy())
        with np.errstate(divide="ignore", invalid="ignore"):
            b = _progress(kernels.progress.py_func, d.copy(), n, jobs, rate.copy())
        for x, y in zip(a[1:], b[1:], strict=True):
            np.testing.assert_array_equal(x, y)
        assert a[0][:2] == b[0][:2] and a[0][2].tolist() == b[0][2].tolist()

        gangs = rng.integers(1, 40, 30)
        free = rng.integers(0, 60, 3)
        got = kernels.first_fit(gangs, free.copy())
        want = kernels.first_fit.py_func(gangs, free.copy())
        assert all(x.tolist() == y.tolist() for x, y in zip(got, want, strict=True))

        job, site = rng.integers(-2, jobs + 2, 25), rng.integers(-1, 4, 25)
        state = rng.choice([QUEUED, RUNNING], jobs).astype(np.int8)
        data_site = rng.integers(-1, 3, jobs).astype(np.int16)
        movable, job_gangs = rng.random(jobs) < 0.5, rng.integers(1, 20, jobs)
        runs = []
        for fn in (kernels.accept_starts, kernels.accept_starts.py_func):
            free_copy, state_copy = free.copy(), state.copy()
            acc, away = fn(job, site, free_copy, state_copy, data_site, movable, job_gangs)
            runs.append((acc.tolist(), away.tolist(), free_copy.tolist(), state_copy.tolist()))
        assert runs[0] == runs[1]
        for i in runs[0][0]:  # every accepted start was queued, in range, and allowed to move
            j, s = job[i], site[i]
            assert 0 <= j < jobs and 0 <= s < 3 and state[j] == QUEUED
            assert data_site[j] in (-1, s) or movable[j]
        assert len(set(job[runs[0][0]].tolist())) == len(runs[0][0])  # a job listed twice starts once


def test_fail_jobs_draws_as_rng_choice_and_interrupts() -> None:
    """The compiled failure step picks the victims the plain rule picks (busy / installed, then rng.choice in the
    running set's order) and interrupts them: work since the checkpoint plus restart lost, back in the queue."""
    rng = np.random.default_rng(11)
    jobs, sites, classes = 60, 3, 4
    gang = rng.integers(1, 64, jobs).astype(float)
    running = rng.permutation(jobs)[:40]  # some order the set might have
    rec_site = np.full(jobs, -1, dtype=np.int16)
    rec_site[running] = rng.integers(0, sites, running.size)
    d = np.zeros((ROWS, 64))
    d[JOB, :40], d[GANG, :40], d[SITE, :40] = running, gang[running], rec_site[running]
    d[CLASS, :40] = rng.integers(0, classes, 40)
    paying = rng.random(40) < 0.3
    d[REM, :40], d[PEND, :40] = rng.uniform(1, 9, 40), rng.uniform(0, 0.3, 40) * paying
    d[SINCE, :40] = rng.uniform(0, 2, 40)
    power_class = np.zeros(jobs, dtype=np.int16)
    power_class[running] = d[CLASS, :40]
    busy = np.bincount(rec_site[running], weights=gang[running], minlength=sites).astype(np.int64)
    busy_class = np.zeros((sites, classes), dtype=np.int64)
    np.add.at(busy_class, (rec_site[running], power_class[running]), gang[running].astype(np.int64))
    ready = rng.integers(0, 5, jobs)
    queued = sorted(set(range(jobs)) - set(running.tolist()), key=lambda j: (ready[j], j))[:10]
    state = np.full(jobs, QUEUED, dtype=np.int8)
    state[running] = RUNNING
    ev_site, ev_scope = np.array([0, 1, 2, 0, 1, 2, 0, 1]), np.array([0, 1, 4, 3, 0, 0, 2, 0])
    gpus_total = np.array([300, 250, 400])
    restart = rng.uniform(0.01, 0.1, jobs)
    site0 = rec_site.copy()
    # the plain rule, on copies
    draw = np.random.default_rng(5)
    alive = running.tolist()
    expected = []
    for site, scope in zip(ev_site.tolist(), ev_scope.tolist(), strict=True):
        on = [j for j in alive if rec_site[j] == site]
        if scope == 4 or not on:
            continue
        g = gang[on]
        if draw.random() >= g.sum() / gpus_total[site]:
            continue
        victim = on[draw.choice(len(on), p=g / g.sum())]
        expected.append(victim)
        alive.remove(victim)
    assert expected  # the draws above hit some jobs
    since, rem = np.zeros(jobs), np.zeros(jobs)
    since[running], rem[running] = d[SINCE, :40], d[REM, :40]
    table = (rec_site, np.zeros(jobs, np.int16), state, np.zeros(jobs), np.zeros(jobs), np.zeros(jobs), np.zeros(jobs),
             np.zeros(jobs, np.int32), restart, gang, power_class, ready)  # fmt: skip
    queue = np.empty(len(queued) + ev_site.size, dtype=np.int64)
    queue[: len(queued)] = queued
    hit, used, n, _, qn = kernels.fail_jobs(
        ev_site, ev_scope, running, np.random.default_rng(5).random(16), gpus_total, table, d, 40, 0, busy_class, busy,
        queue, len(queued),
    )  # fmt: skip
    assert hit.tolist() == expected and used <= 16 and n == 40 - len(expected)
    for j in expected:
        assert state[j] == QUEUED and table[0][j] == -1 and table[5][j] == 0.0 and table[7][j] == 1
        assert np.isclose(table[6][j], since[j] + restart[j])
        assert np.isclose(table[3][j], rem[j] + since[j] + restart[j])
    assert queue[:qn].tolist() == sorted(queued + expected, key=lambda j: (ready[j], j))
    left = [j for j in running.tolist() if j not in expected]
    assert busy.tolist() == np.bincount(site0[left], weights=gang[left], minlength=sites).astype(int).tolist()
    kept = d[JOB, :n].astype(int).tolist()
    assert kept == [j for j in running.tolist() if j not in expected]  # the block keeps its order
