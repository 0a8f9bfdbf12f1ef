"""Every policy on the same scenario, seed, workload and failures, side by side (``wattbit bench``).

The workload is the scenario's, less the jobs due after the period ends: those could be left half done by a policy
that defers work, which would lower its carbon by doing less. With only jobs due inside the period, a policy that
meets its deadlines does the same work as every other, and the figures compare like with like (the number of jobs
left out is reported). The offline optimum's own plan is reported as ``oracle_bound`` beside what following it
achieves in the engine (``oracle``). The report is :mod:`wattbit.report.bench_report`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from wattbit.control import POLICY_NAMES, make_policy
from wattbit.control.history import SignalHistory
from wattbit.durable import Checkpoint
from wattbit.errors import WattbitInputError
from wattbit.scenario import Scenario
from wattbit.sim.engine import Engine
from wattbit.sim.run import SimInputs, SimResult, collect, make_engine, prepare, run_identity, write_result

#: Steps between two checkpoints of a run (``--checkpoint-every``): a week of 15-minute steps.
CHECKPOINT_EVERY = 672


def due_in_period(inputs: SimInputs) -> tuple[SimInputs, int]:
    """``inputs`` without the jobs due after the period; returns them and how many were left out."""
    jobs = inputs.jobs
    end = inputs.fleet.index[-1].tz_convert("UTC").tz_localize(None).to_datetime64() + np.timedelta64(
        int(inputs.fleet.step_h * 3600), "s"
    )
    keep = ~np.isnat(jobs.deadline_utc) & (jobs.deadline_utc <= end)
    if keep.all():
        return inputs, 0
    return replace(inputs, jobs=jobs.select(np.flatnonzero(keep))), int((~keep).sum())


def run_policy(
    inputs: SimInputs,
    name: str,
    progress: Callable[[int], None] | None = None,
    store: Checkpoint | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    history: SignalHistory | None = None,
) -> tuple[SimResult, dict[str, Any]]:
    """Simulate ``inputs`` under policy ``name``; returns the result and the policy's own statistics.

    ``history``: the signals observed before the run's first step (:mod:`wattbit.control.history`), given to
    ``mpc``'s forecasters (the other policies do not forecast from the past before the run).

    With ``store``, the engine and its policy are pickled there every ``checkpoint_every`` steps (as
    ``engine-<name>``), and a run finds its saved engine there and continues from it: the result is the same as
    without the interruption (the engine's and policy's random generators travel with them).
    """
    t0 = time.perf_counter()
    key = f"engine-{name}"
    engine: Engine | None = store.load(key) if store is not None else None
    if engine is not None and (engine.fleet.steps != inputs.fleet.steps or len(engine.jobs) != len(inputs.jobs)):
        engine = None  # not this run's engine (the identity check makes this unlikely): start afresh
    if engine is None:
        options = {"history": history} if name == "mpc" and history is not None else {}
        engine = make_engine(inputs, make_policy(name, inputs, **options))
    policy = engine.policy
    assert policy is not None
    hook = None if store is None else lambda e: store.save(key, e)
    engine.run(progress, hook, checkpoint_every)
    result = collect(inputs, engine, name, t0)
    return result, policy_statistics(policy)


def policy_statistics(policy: object) -> dict[str, Any]:
    """What a policy reports about itself after a run: decision times [ms] (p50, p99, max), the re-plans that
    failed (``plans_failed``: no plan within the solver's time limit, or none at all; the policy kept its last plan,
    so a result with failures depends on the machine's speed), and the oracle's bound (``bound``)."""
    extra: dict[str, Any] = {}
    seconds = getattr(policy, "decision_seconds", None)
    if seconds:
        ms = np.asarray(seconds) * 1000.0
        extra["decision_ms_p50"], extra["decision_ms_p99"], extra["decision_ms_max"] = (
            float(np.percentile(ms, 50)),
            float(np.percentile(ms, 99)),
            float(ms.max()),
        )
    failed = getattr(policy, "failed_plans", None)
    if failed is not None:  # re-plans that found no plan in time (HiGHS time limit) or none at all: the last kept
        extra["plans_failed"] = int(failed)
    bound = getattr(policy, "bound", None)
    if bound is not None:
        extra["bound"] = dict(bound)
    return extra


def simulate_policy(
    scenario: Scenario,
    name: str,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    store: Checkpoint | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    history: SignalHistory | None = None,
) -> SimResult:
    """Simulate ``scenario`` under policy ``name`` (``wattbit simulate``).

    The policy's own statistics (``mpc``'s decision times) join the result's summary, and the
    oracle's bound goes in as ``oracle_bound``.

    Parameters
    ----------
    scenario
        What to simulate.
    name
        One of :data:`~wattbit.control.POLICY_NAMES`.
    seed
        Seed of failures and random choices (default: the scenario's).
    progress
        Called with the index of each step done.
    store, checkpoint_every
        Where to checkpoint the run, and how often [steps] (see :func:`run_policy`).
    history
        Signals observed before the period, for ``mpc``'s forecasts
        (:func:`wattbit.control.history.window_history`).

    Raises
    ------
    WattbitInputError
        For an unknown policy name.
    """
    if name not in POLICY_NAMES:
        raise WattbitInputError(f"unknown policy {name!r}; known policies: {', '.join(POLICY_NAMES)}", field="policy")
    result, extra = run_policy(prepare(scenario, seed=seed), name, progress, store, checkpoint_every, history)
    result.summary.update({k: v for k, v in extra.items() if k != "bound"})
    if "bound" in extra:
        result.summary["oracle_bound"] = extra["bound"]
    return result


def compare_policies(
    scenario: Scenario,
    policies: Sequence[str] = POLICY_NAMES,
    seed: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    store: Checkpoint | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    history: SignalHistory | None = None,
) -> tuple[dict[str, Any], dict[str, SimResult]]:
    """Run ``policies`` on ``scenario`` with the same jobs, failures and seed.

    ``history``: the signals observed before the period (:func:`wattbit.control.history.window_history`), which
    ``mpc`` forecasts from as a controller in service would; its length is reported as ``history_steps``.

    With ``store``, each finished policy's result is saved there (``done-<name>``) and each running one's engine
    every ``checkpoint_every`` steps; a later call with the same store skips the finished policies and continues
    the interrupted one.

    Returns
    -------
    bench, results
        The comparison (per-policy summaries, the oracle's bound and the carbon reductions relative to baseline) and
        each policy's simulation result.
    """
    unknown = [p for p in policies if p not in POLICY_NAMES]
    if unknown:
        raise WattbitInputError(f"unknown policies {unknown}; known: {', '.join(POLICY_NAMES)}", field="policies")
    inputs, dropped = due_in_period(prepare(scenario, seed=seed))
    results: dict[str, SimResult] = {}
    bench: dict[str, Any] = {
        "scenario": scenario.name,
        "period": [scenario.period.start.isoformat(), scenario.period.end.isoformat()],
        "seed": inputs.seed,
        "jobs": len(inputs.jobs),
        "jobs_due_after_period_left_out": dropped,
        "history_steps": 0 if history is None else history.steps,
        "policies": {},
    }
    for name in policies:
        cb = (lambda k, n=name: progress(n, k)) if progress is not None else None
        done = store.load(f"done-{name}") if store is not None else None
        if done is None:
            result, extra = run_policy(inputs, name, cb, store, checkpoint_every, history)
            if store is not None:
                store.save(f"done-{name}", (result, extra))
                store.drop(f"engine-{name}")
        else:
            result, extra = done
        results[name] = result
        bench["policies"][name] = {**result.summary, **{k: v for k, v in extra.items() if k != "bound"}}
        if "bound" in extra:
            bench["oracle_bound"] = extra["bound"]
    base = bench["policies"].get("baseline")
    if base is not None:
        for s in bench["policies"].values():
            s["carbon_reduction_t"] = base["carbon_t"] - s["carbon_t"]
        if "oracle_bound" in bench:
            bench["oracle_bound"]["carbon_reduction_t"] = base["carbon_t"] - bench["oracle_bound"]["carbon_t"]
        best = bench.get("oracle_bound", {}).get("carbon_reduction_t")
        if "mpc" in bench["policies"] and best and best > 0:
            bench["mpc_share_of_oracle_bound_reduction"] = bench["policies"]["mpc"]["carbon_reduction_t"] / best
        if "mpc" in bench["policies"] and "oracle" in bench["policies"]:
            achieved = bench["policies"]["oracle"]["carbon_reduction_t"]
            if achieved > 0:
                bench["mpc_share_of_oracle_reduction"] = bench["policies"]["mpc"]["carbon_reduction_t"] / achieved
    return bench, results


def simulate_to(
    scenario: Scenario,
    name: str,
    out: Path,
    *,
    seed: int | None = None,
    resume: bool = False,
    checkpoint_every: int = CHECKPOINT_EVERY,
    progress: Callable[[int], None] | None = None,
    history: SignalHistory | None = None,
) -> tuple[SimResult, bool]:
    """``wattbit simulate``: :func:`simulate_policy` checkpointed in ``out/.checkpoint``, the result written to
    ``out`` (:func:`~wattbit.sim.run.write_result`, atomically), the checkpoint removed.

    Parameters
    ----------
    scenario, name, seed
        What to simulate (see :func:`simulate_policy`).
    out
        The output folder, which also holds the checkpoint while the run is under way.
    resume
        Continue from ``out``'s checkpoint (made by the same command with the same scenario, policy and seed);
        the result is identical to an uninterrupted run's. Without a checkpoint the run starts from the beginning.
    checkpoint_every
        Steps between two checkpoints, >= 1.
    progress
        Called with the index of each step done.
    history
        Signals observed before the period, for ``mpc``'s forecasts.

    Returns
    -------
    result, resumed
        The run's result, and whether it continued from a checkpoint.

    Raises
    ------
    WattbitInputError
        For an unknown policy, a bad ``checkpoint_every``, or, with ``resume``, a checkpoint of another run.
    """
    if checkpoint_every < 1:
        raise WattbitInputError(f"checkpoint every {checkpoint_every} steps (expected >= 1)", field="checkpoint-every")
    seed = scenario.workload.seed if seed is None else seed
    store = Checkpoint(out, run_identity("simulate", scenario, policy=name, seed=seed))
    resumed = store.start(resume)
    result = simulate_policy(scenario, name, seed, progress, store, checkpoint_every, history)
    write_result(result, out)
    store.clear()
    return result, resumed
