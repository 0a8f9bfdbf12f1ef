"""Control decision benchmark: one ``mpc`` decision for 10 sites and about 10,000 queued jobs (target <= 200 ms).

Usage::

    .venv/bin/python benchmarks/bench_control.py [--scenario PATH] [--start 2022-03-01] [--end 2022-04-20]
        [--warmup-days 45] [--queue 10000] [--repeat 30] [--rolling-h 24] [--json OUT.json] [--quick]

What it does:

1. Loads the 10-site fleet (default ``benchmarks/scenarios/fleet-10.toml``: 10 sites, 100,000 GPUs, the synthetic
   workload calibrated on the Alibaba trace with gangs of 150-1,200 GPUs, 6,000 requests/s inference peak) over a
   short window (default 2022-03-01 .. 2022-04-20 JST, 15-minute steps).
2. Drives the engine (``wattbit.sim.run.prepare``/``make_engine``, ``engine.observe()``/``engine.advance()``) with
   the ``baseline`` policy for ``--warmup-days`` (default 45), so that the observation holds enough history for the
   forecasters' steady state (``auto`` picks ``profile`` after 16 days; intervals are calibrated on 28 days).
3. At that step a burst of jobs arrives (resampled from the scenario's own synthetic jobs: gang, duration,
   checkpointing, pausable/migratable; loose deadlines of 2-6x the duration plus 6 h to 7 days), sized so that the
   queue holds ``--queue`` jobs: a first pass without the burst counts the queue at that step, and the engine is
   deterministic, so the second pass reaches it with exactly that many more. The burst's work (printed, in days
   of the whole fleet) has deadlines days away; the queue's range during the rolling run is printed.
4. Times ``MPCPolicy.decide(obs)`` (built with ``wattbit.control.make_policy("mpc", inputs)``, default
   :class:`~wattbit.control.mpc.MPCConfig`) when it re-plans:

   * **fixed state**: ``--repeat`` times on the same state, each time a fresh policy (a re-plan happens on the
     first call) and a fresh observation (``engine.observe()`` again; job fields are gathered anew); the first call
     of the process (imports, caches) is reported apart;
   * **rolling**: the engine then runs ``--rolling-h`` hours under the timed ``mpc`` itself (a re-plan every
     ``interval_steps`` = 4 steps, the plan's slot followed in between), every decision timed.

   Each timed decision is split, by wrapping the functions ``decide`` calls, into forecasts (``ahead``: carbon,
   price, curtailment, PV + wind, weather, inference), the site energy model, the work classes (queue and running
   set into deadline classes), the rest of the programme's inputs, the LP (assembly into HiGHS triplets, HiGHS
   solve) and dispatch (jobs towards the plan's GPUs, inference routing). The plain, unwrapped policy is timed
   alternately with the wrapped one, so the wrappers' cost shows.

Times are wall-clock on whatever else the machine runs: check the load average printed with the machine line, and
read best and median rather than the maximum. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FLEET_SCENARIO = REPO / "benchmarks" / "scenarios" / "fleet-10.toml"
TARGET_MS = 200.0
#: Parts of a decision, in the order reported.
PARTS = ("forecast", "energy_model", "work_classes", "inputs_other", "lp_build", "lp_solve", "dispatch", "other")


# ------------------------------------------------------------------------------------------------ machine
def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, load, Python and library versions, and the checkout's commit."""
    from importlib.metadata import PackageNotFoundError, version

    cpu, mem_kib = "unknown", 0
    with contextlib.suppress(OSError, StopIteration, ValueError):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        mem_kib = next(
            int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
        )
    versions = {}
    for pkg in ("numpy", "scipy", "pandas", "highspy"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    import wattbit

    return {
        "wattbit_src": str(Path(wattbit.__file__).parent),
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        **versions,
        "commit": commit,
        "load_1min": round(os.getloadavg()[0], 2),
    }


def describe_machine(machine: dict[str, Any]) -> str:
    """One line for the report."""
    return (
        f"{machine['machine']}, {machine['cores']} cores ({machine['cpu']}), {machine['memory_gib']} GiB; "
        f"Python {machine['python']}, numpy {machine['numpy']}, scipy {machine['scipy']}, pandas {machine['pandas']}, "
        f"highspy {machine['highspy']}; "
        f"wattbit {machine['commit']}"
        + ("" if machine["wattbit_src"].startswith(str(REPO)) else f" (but imported from {machine['wattbit_src']})")
        + f"; 1-min load average {machine['load_1min']}"
    )


# ------------------------------------------------------------------------------------------------ the state
def burst_jobs(jobs: Any, n: int, at_utc: np.datetime64, seed: int) -> Any:
    """``n`` jobs resampled from ``jobs`` (gang, duration, checkpointing, flags), all submitted at ``at_utc`` with
    loose deadlines: 2-6x the duration plus 6 h to 7 days."""
    from wattbit.workload.jobs import TrainingJobs

    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(jobs), n)
    src = jobs.select(pick)
    slack_h = src.duration_h * rng.uniform(2.0, 6.0, n) + rng.uniform(6.0, 7 * 24.0, n)
    submit = np.full(n, at_utc, dtype="datetime64[ns]")
    deadline = submit + np.round(slack_h * 3.6e12).astype("timedelta64[ns]")
    return TrainingJobs(
        job_id=int(jobs.job_id.max()) + 1 + np.arange(n),
        kind=src.kind,
        gpus=src.gpus,
        duration_h=src.duration_h,
        submit_utc=submit,
        earliest_start_utc=submit,
        deadline_utc=deadline,
        checkpoint_interval_h=src.checkpoint_interval_h,
        checkpoint_cost_h=src.checkpoint_cost_h,
        restart_cost_h=src.restart_cost_h,
        pausable=src.pausable,
        migratable=src.migratable,
        data_size_gb=src.data_size_gb,
        home_site=np.full(n, -1, dtype=np.int16),
    )


def run_baseline_to(engine: Any, step: int) -> Any:
    """Drive ``engine`` with the baseline policy up to ``step``; returns the observation there."""
    from wattbit.control.baseline import BaselinePolicy

    policy = BaselinePolicy()
    while engine.step < step:
        engine.advance(policy.decide(engine.observe()))
    return engine.observe()


def build_state(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """The engine at the measured step with about ``args.queue`` jobs queued, its inputs, and what was built."""
    from wattbit.scenario import load_scenario, with_period
    from wattbit.sim.run import make_engine, prepare
    from wattbit.workload.jobs import TrainingJobs, validate

    t0 = time.perf_counter()
    scenario = with_period(load_scenario(args.scenario), args.start, args.end)
    base = prepare(scenario)
    fleet = base.fleet
    step = round(args.warmup_days * 24 / fleet.step_h)
    if step + round(args.rolling_h / fleet.step_h) + round(36 / fleet.step_h) > fleet.steps:
        raise SystemExit("the window is too short for the warm-up, the rolling run and a 36 h horizon")
    q0 = len(run_baseline_to(make_engine(base), step).queue)
    n = max(0, args.queue - q0)
    at = fleet.index[step].tz_convert("UTC").tz_localize(None).to_datetime64()
    extra = burst_jobs(base.jobs, n, at, seed=base.seed)
    jobs = validate(TrainingJobs.concat([base.jobs, extra]).sort_by_submit(), int(fleet.gpus_total.max()))
    inputs = replace(base, jobs=jobs)
    engine = make_engine(inputs)
    obs = run_baseline_to(engine, step)
    info = {
        "scenario": str(args.scenario),
        "window": [scenario.period.start.isoformat(), scenario.period.end.isoformat()],
        "step_h": fleet.step_h,
        "sites": len(fleet.names),
        "gpus": int(fleet.gpus_total.sum()),
        "measured_step": step,
        "measured_time": str(fleet.index[step]),
        "scenario_jobs": len(base.jobs),
        "queue_without_burst": q0,
        "burst_jobs": n,
        "burst_gpu_hours": float(extra.gpu_hours.sum()),
        "fleet_gpu_hours_per_day": float(fleet.gpus_total.sum() * 24),
        "queued": len(obs.queue),
        "running": len(obs.running),
        "running_not_pausable": int((~obs.running.pausable).sum()),
        "queued_deadline_within_36h": int((obs.queue.deadline_step - step < round(36 / fleet.step_h)).sum()),
        "failure_events": len(inputs.events),
        "build_s": time.perf_counter() - t0,
    }
    return engine, inputs, info


# ------------------------------------------------------------------------------------------------ timing
class Clock:
    """Accumulates the time spent in wrapped callables, by part, since the last :meth:`reset`."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = dict.fromkeys(PARTS, 0.0)

    def reset(self) -> None:
        self.parts = dict.fromkeys(PARTS, 0.0)

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.parts[part] += time.perf_counter() - t

        return timed


@contextlib.contextmanager
def instrumented(policy: Any, clock: Clock) -> Iterator[None]:
    """Wrap what ``policy.decide`` calls so that ``clock`` splits its time (module functions patched meanwhile)."""
    from wattbit.control import mpc

    names = {"ahead": "forecast", "site_energy_model": "energy_model", "dispatch_jobs": "dispatch"}
    names["safe_share"] = "dispatch"
    saved = {name: getattr(mpc, name) for name in names}
    solve = mpc.solve_dispatch

    def solve_split(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        plan = solve(*a, **k)
        total = time.perf_counter() - t
        clock.parts["lp_solve"] += plan.solve_seconds
        clock.parts["lp_build"] += total - plan.solve_seconds
        return plan

    plan_inputs, work = policy.plan_inputs, policy._work

    def inputs_split(*a: Any, **k: Any) -> Any:
        before = {p: clock.parts[p] for p in ("forecast", "energy_model", "work_classes")}
        t = time.perf_counter()
        out = plan_inputs(*a, **k)
        inner = sum(clock.parts[p] - before[p] for p in before)
        clock.parts["inputs_other"] += time.perf_counter() - t - inner
        return out

    try:
        for name, part in names.items():
            setattr(mpc, name, clock.wrap(part, saved[name]))
        mpc.solve_dispatch = solve_split
        policy.plan_inputs = inputs_split
        policy._work = clock.wrap("work_classes", work)
        yield
    finally:
        for name, fn in saved.items():
            setattr(mpc, name, fn)
        mpc.solve_dispatch = solve
        del policy.plan_inputs, policy._work


def timed_decide(policy: Any, obs: Any, clock: Clock | None) -> tuple[Any, float, dict[str, float] | None]:
    """``policy.decide(obs)``: actions, wall seconds and (with a clock) the split."""
    if clock is None:
        t = time.perf_counter()
        actions = policy.decide(obs)
        return actions, time.perf_counter() - t, None
    clock.reset()
    with instrumented(policy, clock):
        t = time.perf_counter()
        actions = policy.decide(obs)
        total = time.perf_counter() - t
    parts = dict(clock.parts)
    parts["other"] = total - sum(v for k, v in parts.items() if k != "other")
    return actions, total, parts


def fixed_state(engine: Any, inputs: Any, repeat: int) -> dict[str, Any]:
    """Re-plans on one state: fresh policy and observation each time, plain and instrumented alternately."""
    from wattbit.control import make_policy

    clock = Clock()
    _, cold, _ = timed_decide(make_policy("mpc", inputs), engine.observe(), None)
    plain: list[float] = []
    split: list[dict[str, float]] = []
    split_total: list[float] = []
    observe: list[float] = []
    plan = None
    for _ in range(repeat):
        for with_clock in (False, True):
            t = time.perf_counter()
            obs = engine.observe()
            observe.append(time.perf_counter() - t)
            policy = make_policy("mpc", inputs)
            _, seconds, parts = timed_decide(policy, obs, clock if with_clock else None)
            assert policy.last is not None and policy.last.step == obs.step, "decide did not re-plan"
            plan = policy.last.plan
            if parts is None:
                plain.append(seconds)
            else:
                split_total.append(seconds)
                split.append(parts)
    from wattbit.control.baseline import BaselinePolicy

    base = []
    for _ in range(repeat):
        obs = engine.observe()
        t = time.perf_counter()
        BaselinePolicy().decide(obs)
        base.append(time.perf_counter() - t)
    assert plan is not None
    return {
        "cold_first_call_s": cold,
        "plain_s": plain,
        "instrumented_s": split_total,
        "parts": split,
        "observe_s": observe,
        "baseline_decide_s": base,
        "lp_variables": int(plan.stats["variables"]),
        "lp_constraints": int(plan.stats["constraints"]),
        "plan_slots": int(plan.busy_gpus.shape[0]),
    }


def rolling(engine: Any, inputs: Any, hours: float) -> dict[str, Any]:
    """The engine under the timed ``mpc`` for ``hours``: every decision timed, re-plans told apart."""
    from wattbit.control import make_policy

    clock = Clock()
    policy = make_policy("mpc", inputs)
    steps = round(hours / inputs.fleet.step_h)
    replan: list[float] = []
    follow: list[float] = []
    parts: list[dict[str, float]] = []
    queued: list[int] = []
    for _ in range(steps):
        obs = engine.observe()
        queued.append(len(obs.queue))
        before = policy.last.step if policy.last is not None else None
        failed = policy.failed_plans
        actions, seconds, split = timed_decide(policy, obs, clock)
        if policy.failed_plans > failed or (policy.last is not None and policy.last.step != before):
            replan.append(seconds)
            assert split is not None
            parts.append(split)
        else:
            follow.append(seconds)
        engine.advance(actions)
    return {
        "replan_s": replan,
        "follow_s": follow,
        "parts": parts,
        "failed_plans": policy.failed_plans,
        "queued_min": min(queued),
        "queued_max": max(queued),
    }


# ------------------------------------------------------------------------------------------------ report
def stats_ms(seconds: list[float]) -> dict[str, float]:
    """Best, p50, p99 and max of ``seconds``, in milliseconds."""
    ms = np.asarray(seconds) * 1000.0
    return {
        "n": len(ms),
        "best": float(ms.min()),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


def parts_ms(parts: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per part: best, p50 and p99 [ms]."""
    return {p: stats_ms([x[p] for x in parts]) for p in PARTS}


def print_report(machine: dict[str, Any], info: dict[str, Any], fixed: dict[str, Any], roll: dict[str, Any]) -> None:
    print(f"machine: {describe_machine(machine)}")
    print(
        f"state: {info['sites']} sites, {info['gpus']:,} GPUs, {info['scenario']} over {info['window'][0]} .. "
        f"{info['window'][1]} ({info['scenario_jobs']:,} scenario jobs); step {info['measured_step']} "
        f"({info['measured_time']}) after the baseline's warm-up"
    )
    print(
        f"  queue {info['queued']:,} jobs ({info['queue_without_burst']:,} without the burst + {info['burst_jobs']:,} "
        f"burst jobs offering {info['burst_gpu_hours'] / info['fleet_gpu_hours_per_day']:.1f} fleet-days of work; "
        f"{info['queued_deadline_within_36h']:,} due within 36 h), {info['running']:,} running "
        f"({info['running_not_pausable']:,} not pausable); built in {info['build_s']:.1f} s"
    )
    print(
        f"  mpc: default MPCConfig (36 h horizon, 1 h slots, re-plan every 4 steps); LP {fixed['lp_variables']:,} "
        f"variables x {fixed['lp_constraints']:,} constraints, {fixed['plan_slots']} slots"
    )
    print(f"  first decide() of the process (imports, caches): {fixed['cold_first_call_s'] * 1000:.1f} ms")
    head = f"{'':34s}{'n':>5s}{'best':>10s}{'p50':>10s}{'p99':>10s}{'max':>10s}"
    print("\nre-planning decisions [ms]\n" + head)
    rows = [
        ("fixed state, plain policy", fixed["plain_s"]),
        ("fixed state, instrumented", fixed["instrumented_s"]),
        ("rolling, re-plans (instrumented)", roll["replan_s"]),
        ("rolling, plan-following steps", roll["follow_s"]),
        ("engine.observe() (not in decide)", fixed["observe_s"]),
        ("baseline decide(), same state", fixed["baseline_decide_s"]),
    ]
    for label, values in rows:
        if values:
            s = stats_ms(values)
            print(f"{label:34s}{s['n']:5d}{s['best']:10.1f}{s['p50']:10.1f}{s['p99']:10.1f}{s['max']:10.1f}")
    print("\nsplit of a re-plan [ms] (best / p50 / p99)")
    print(f"{'part':16s}{'fixed state':>28s}{'rolling re-plans':>28s}")
    pf, pr = parts_ms(fixed["parts"]), parts_ms(roll["parts"]) if roll["parts"] else None
    for p in PARTS:
        a = pf[p]
        cell = f"{a['best']:8.1f}{a['p50']:10.1f}{a['p99']:10.1f}"
        if pr is not None:
            b = pr[p]
            cell += f"{b['best']:10.1f}{b['p50']:10.1f}{b['p99']:10.1f}"
        print(f"{p:16s}{cell}")
    print(f"\nrolling: queue {roll['queued_min']:,}..{roll['queued_max']:,} jobs, failed plans {roll['failed_plans']}")
    replans = fixed["plain_s"] + roll["replan_s"]
    s = stats_ms(replans)
    verdict = {q: "met" if s[q] <= TARGET_MS else "NOT met" for q in ("best", "p50", "p99")}
    print(
        f"target: one decision <= {TARGET_MS:.0f} ms, over all {s['n']} re-plans (plain + rolling): "
        f"best {s['best']:.1f} ms {verdict['best']}, p50 {s['p50']:.1f} ms {verdict['p50']}, "
        f"p99 {s['p99']:.1f} ms {verdict['p99']} "
        f"(1-min load average {os.getloadavg()[0]:.2f} at the end, {os.cpu_count()} cores)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=str(FLEET_SCENARIO), help="10-site scenario (default fleet-10)")
    parser.add_argument("--start", default="2022-03-01", help="window start (scenario time zone)")
    parser.add_argument("--end", default="2022-04-20", help="window end (exclusive)")
    parser.add_argument("--warmup-days", type=float, default=45.0, help="baseline days before the measured step")
    parser.add_argument("--queue", type=int, default=10_000, help="queued jobs at the measured step")
    parser.add_argument("--repeat", type=int, default=30, help="re-plans on the fixed state (each plain + split)")
    parser.add_argument("--rolling-h", type=float, default=24.0, help="hours run under mpc after the fixed state")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--quick", action="store_true", help="5 repeats, 6 rolling hours")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.rolling_h = 5, 6.0
    engine, inputs, info = build_state(args)
    fixed = fixed_state(engine, inputs, args.repeat)
    roll = rolling(engine, inputs, args.rolling_h)
    m = machine_info()
    print_report(m, info, fixed, roll)
    if args.json is not None:
        out = {"machine": m, "state": info, "fixed": fixed, "rolling": roll, "args": vars(args) | {"json": None}}
        args.json.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
