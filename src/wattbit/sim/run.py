"""``simulate``: one scenario, one policy, one seed -> KPIs, time series and the fate of every job."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wattbit.durable import atomic_write_json, atomic_write_parquet, fingerprint
from wattbit.errors import WattbitInputError
from wattbit.physics.gpu_load import class_mean_loads
from wattbit.scenario import Period, Scenario
from wattbit.sim.accounting import kpis, site_series, timeseries_frame
from wattbit.sim.engine import Engine, JobRecord
from wattbit.sim.faults import FailureEvents, FailureRates, sample_failures
from wattbit.sim.fleet import Fleet, build_fleet
from wattbit.sim.policy import Policy
from wattbit.workload.assumptions import JobAssumptions
from wattbit.workload.jobs import TrainingJobs, validate
from wattbit.workload.synthetic import calibration_from_alibaba, default_calibration, synthesize_training_jobs


@dataclass
class SimResult:
    """What a run produced."""

    summary: dict[str, Any]
    timeseries: pd.DataFrame
    jobs: pd.DataFrame
    events: FailureEvents


def training_jobs(scenario: Scenario, fleet: Fleet) -> TrainingJobs:
    """The scenario's training workload: synthetic, calibrated on its Alibaba pod trace (or the built-in one)."""
    from wattbit.data.registry import read_scenario_trace

    spec = scenario.workload.training
    pods = any(t.reader == "alibaba_gpu_pods" for t in scenario.workload.traces)
    calibration = (
        calibration_from_alibaba(*read_scenario_trace(scenario, "alibaba_gpu_pods")) if pods else default_calibration()
    )
    p = scenario.period
    # jobs start at step boundaries: a deadline leaves at least two control intervals of slack
    assumptions = JobAssumptions(deadline_slack=spec.deadline_slack, min_slack_h=2.0 * fleet.step_h)
    jobs = synthesize_training_jobs(
        None,
        pd.Timestamp(p.start),
        pd.Timestamp(p.end),
        scenario.workload.seed,
        calibration,
        fleet_gpus=int(fleet.gpus_total.sum()),
        target_gpu_utilisation=spec.target_gpu_utilization,
        gang_scale=spec.gang_scale,
        max_gpus=min(spec.max_gpus or int(fleet.gpus_total.max()), int(fleet.gpus_total.max())),
        target_tz=p.timezone,
        assumptions=assumptions,
    )
    return validate(jobs, max_site_gpus=int(fleet.gpus_total.max()))


def site_inference_gpus(scenario: Scenario, fleet: Fleet) -> np.ndarray:
    """GPUs each site holds per step for the scenario's online inference, shape (steps, sites).

    See :func:`inference_gpus_by_site`, whose first result this is.
    """
    return inference_gpus_by_site(scenario, fleet)[0]


def inference_gpus_by_site(scenario: Scenario, fleet: Fleet) -> tuple[np.ndarray, np.ndarray]:
    """GPUs each site holds per step for the scenario's online inference, and what it would need for all of it.

    Returns ``(needed, full)``, both (steps, sites): ``needed`` when each site serves its own share, ``full`` when
    one site serves the whole fleet's demand (what a policy that routes inference scales by its shares). Records the
    replicas' operating point on ``fleet`` (``inference_busy_share``, ``inference_prefill_share``,
    ``inference_decode_batch``), from which the accounting takes their power.

    The fleet-wide rate (ServeGen's weekly shape scaled to ``peak_rate_rps``, on Japan's clock) is split in proportion
    to installed GPUs (the baseline serves where it is installed; routing is a policy's job), and each site's share is
    turned into GPUs with the serving-capacity model for its GPU (``wattbit.workload.serving``).
    """
    from wattbit.data.registry import read_scenario_trace
    from wattbit.workload.inference import (
        choose_shape,
        diurnal_profile,
        inference_from_azure_llm,
        inference_from_servegen,
    )
    from wattbit.workload.serving import MLPERF_INTERACTIVE_SLO, MLPERF_SERVER_SLO, ServedModel

    spec = scenario.workload.inference
    needed = np.zeros((fleet.steps, len(fleet.names)))
    full = np.zeros((fleet.steps, len(fleet.names)))
    if spec.peak_rate_rps == 0:
        return needed, full
    traces = {t.reader: t for t in scenario.workload.traces}
    if "servegen_client_rates" not in traces:
        raise WattbitInputError(
            "inference needs a ServeGen client-rate trace for its daily/weekly shape in [workload] traces",
            field="workload.inference",
        )
    slo = MLPERF_SERVER_SLO if spec.slo == "server" else MLPERF_INTERACTIVE_SLO
    model = ServedModel(params_b=spec.model_params_b, bytes_per_param=spec.bytes_per_param)
    shape = inference_from_servegen(*read_scenario_trace(scenario, "servegen_client_rates"), model=model, slo=slo)
    tokens = None
    if "azure_llm_2023" in traces:
        tokens = inference_from_azure_llm(*read_scenario_trace(scenario, "azure_llm_2023"), model=model, slo=slo)
    weekly, fleet.inference_shape = choose_shape(shape, spec.shape)
    demand = diurnal_profile(
        shape,
        fleet.index,
        spec.peak_rate_rps,
        tokens_from=tokens,
        target_tz=scenario.period.timezone,
        weekly=weekly,
        model=model,
        slo=slo,
        step_s=fleet.step_h * 3600.0,
    )
    rate = demand.rate_rps.sum(axis=0)
    share = fleet.gpus_total / fleet.gpus_total.sum()
    busy = np.zeros((fleet.steps, len(fleet.names)))
    prefill, batch = np.zeros(len(fleet.names)), np.ones(len(fleet.names))
    done: dict[tuple[Any, float], tuple[Any, ...]] = {}  # sites with the same GPU and share: one computation
    for i, plant in enumerate(fleet.plants):
        key = (plant.gpu, float(share[i]))
        if key not in done:
            done[key] = _inference_point(demand, plant.gpu, rate, float(share[i]))
        needed[:, i], full[:, i], busy[:, i], prefill[i], batch[i] = done[key]
    fleet.inference_busy_share, fleet.inference_prefill_share, fleet.inference_decode_batch = busy, prefill, batch
    return needed, full


def _inference_point(demand: Any, gpu: Any, rate: np.ndarray, share: float) -> tuple[Any, ...]:
    """GPUs one site needs for ``share`` of the fleet's ``rate`` and for all of it, and its replicas' operating point
    (share of the time serving per step, prefill share, decode batch): see :func:`inference_gpus_by_site`."""
    capacity = demand.capacity(gpu)
    needed = capacity.gpus_needed(rate * share, demand.burst_factor)
    full = capacity.gpus_needed(rate, demand.burst_factor)
    # the replicas' operating point, for their power (wattbit.physics.gpu_load): time serving, prefill share,
    # and the decode batch at the TPOT objective (sequences in flight = decode tokens/s x TPOT)
    busy_s = capacity.prefill_ms / 1e3 + demand.output_tokens_mean / capacity.decode_tokens_per_s
    replicas = needed / capacity.gpus_per_replica
    with np.errstate(invalid="ignore", divide="ignore"):
        busy = np.where(replicas > 0, np.minimum(rate * share * busy_s / replicas, 1.0), 0.0)
    prefill = capacity.prefill_ms / 1e3 / busy_s
    batch = max(1.0, capacity.decode_tokens_per_s * demand.slo.tpot_ms / 1e3)
    return needed, full, busy, prefill, batch


@dataclass
class SimInputs:
    """Everything a run needs besides the policy: the fleet, the training jobs, inference demand and failures.

    Attributes
    ----------
    scenario
        The scenario they were built from.
    fleet, jobs, events
        Sites and signals; training workload; sampled failure events.
    inference_gpus_needed
        GPUs online inference needs per step and site, (steps, sites), when served where installed.
    inference_full_gpus
        GPUs each site would need to serve the whole demand, (steps, sites), or None (no routing possible).
    seed
        Seed of the failures and of the engine's random choices.
    """

    scenario: Scenario
    fleet: Fleet
    jobs: TrainingJobs
    inference_gpus_needed: np.ndarray
    events: FailureEvents
    seed: int
    inference_full_gpus: np.ndarray | None = None


def prepare(
    scenario: Scenario,
    *,
    seed: int | None = None,
    jobs: TrainingJobs | None = None,
    inference_gpus_needed: np.ndarray | None = None,
    failure_rates: FailureRates | None = None,
) -> SimInputs:
    """Build the inputs of a run of ``scenario`` (see :func:`simulate` for the parameters)."""
    seed = scenario.workload.seed if seed is None else seed
    fleet = build_fleet(scenario)
    if jobs is None:
        jobs = training_jobs(scenario, fleet)
    else:  # a caller's own jobs get the same checks as a trace: each names the first bad job and what was expected
        jobs = validate(jobs, max_site_gpus=int(fleet.gpus_total.max()))
    full = None
    if inference_gpus_needed is None:
        inference, full = inference_gpus_by_site(scenario, fleet)
    else:
        inference = np.asarray(inference_gpus_needed, float)
    events = fleet_failures(fleet, scenario.period, failure_rates or FailureRates(), seed)
    return SimInputs(scenario, fleet, jobs, inference, events, seed, full)


def fleet_failures(fleet: Fleet, period: Period, rates: FailureRates, seed: int) -> FailureEvents:
    """The failure events of ``fleet`` over ``period``, drawn from ``seed`` with :func:`~wattbit.sim.faults.
    sample_failures` (as every run of a scenario and every episode of the RL environment draws them).

    Parameters
    ----------
    fleet
        The sites: GPUs in service, GPUs per node and the step length.
    period
        The scenario's period (start and end).
    rates
        The fault model's parameters.
    seed
        Seed of the draw; the same seed gives the same events.

    Returns
    -------
    FailureEvents
    """
    return sample_failures(
        rates,
        fleet.gpus_total,
        [plant.gpu.gpus_per_node for plant in fleet.plants],
        pd.Timestamp(period.start),
        pd.Timestamp(period.end),
        fleet.step_h * 3600.0,
        seed,
    )


def make_engine(inputs: SimInputs, policy: Policy | None = None) -> Engine:
    """An engine at the first step of a run of ``inputs`` (drive it with ``run()`` or ``observe()``/``advance()``)."""
    return Engine(
        inputs.fleet,
        inputs.jobs,
        inputs.inference_gpus_needed,
        inputs.events,
        policy,
        seed=inputs.seed,
        inference_full_gpus=inputs.inference_full_gpus,
    )


def collect(inputs: SimInputs, engine: Engine, policy_name: str, started_at: float | None = None) -> SimResult:
    """KPIs, time series and job table of a finished (or partly run) engine."""
    fleet, jobs = inputs.fleet, inputs.jobs
    jrec, rec = engine.jobs_rec, engine.rec
    series = site_series(fleet, rec)
    areas = tuple(s.grid_area for s in inputs.scenario.sites)
    summary = kpis(fleet, jobs, jrec, rec, series, areas, inputs.scenario.finance.currency)
    summary["policy"] = policy_name
    summary["seed"] = inputs.seed
    summary["failure_events"] = len(inputs.events)
    if fleet.inference_shape:
        summary["inference_shape"] = fleet.inference_shape
    if started_at is not None:
        summary["wall_seconds"] = time.perf_counter() - started_at
    frame = jobs_frame(jobs, jrec, fleet)
    frame["power_class"] = engine.power_class
    frame["power_class_load"] = class_mean_loads()[engine.power_class]
    return SimResult(summary, timeseries_frame(fleet, rec, series), frame, inputs.events)


def simulate(
    scenario: Scenario,
    policy: Policy,
    *,
    seed: int | None = None,
    jobs: TrainingJobs | None = None,
    inference_gpus_needed: np.ndarray | None = None,
    failure_rates: FailureRates | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimResult:
    """Simulate ``scenario`` under ``policy``.

    Parameters
    ----------
    scenario, policy
        What to run and who decides.
    seed
        Seed of failures and of the engine's random choices; default the workload seed.
    jobs, inference_gpus_needed
        Override the scenario's workload (tests, studies); inference as GPUs needed per step, fleet-wide (steps,)
        or per site (steps, sites).
    failure_rates
        Fault model; default :class:`~wattbit.sim.faults.FailureRates` (Llama 3 rates).
    progress
        Called with the step index after each step.
    """
    t0 = time.perf_counter()
    inputs = prepare(
        scenario, seed=seed, jobs=jobs, inference_gpus_needed=inference_gpus_needed, failure_rates=failure_rates
    )
    engine = make_engine(inputs, policy)
    engine.run(progress)
    return collect(inputs, engine, policy.name, t0)


def write_result(result: SimResult, out_dir: Path) -> None:
    """Write ``timeseries.parquet``, ``jobs.parquet``, ``failures.parquet`` and ``summary.json`` to ``out_dir``.

    Each file is written atomically (:mod:`wattbit.durable`), and ``summary.json`` last, after any earlier one is
    removed: a folder with a ``summary.json`` holds the complete result of one run, never a mix of two or half a file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").unlink(missing_ok=True)
    atomic_write_parquet(out_dir / "timeseries.parquet", result.timeseries, index=False)
    atomic_write_parquet(out_dir / "jobs.parquet", result.jobs, index=False)
    atomic_write_parquet(out_dir / "failures.parquet", result.events.to_frame(), index=False)
    atomic_write_json(out_dir / "summary.json", json_safe(result.summary))


def run_identity(command: str, scenario: Scenario, **options: Any) -> dict[str, Any]:
    """What a checkpointed run is (:class:`wattbit.durable.Checkpoint`): the command, a hash of the whole scenario
    (every field, the period included) and the command's options (policy, seed, ...)."""
    return {
        "command": command,
        "scenario": scenario.name,
        "scenario_hash": fingerprint(json.loads(scenario.model_dump_json())),
        **options,
    }


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (strict JSON has no NaN) and numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def jobs_frame(jobs: TrainingJobs, jrec: JobRecord, fleet: Fleet) -> pd.DataFrame:
    """One row per job: its request and what happened to it."""
    frame = jobs.to_frame()
    start = fleet.index[0]
    frame["state"] = pd.Categorical.from_codes(
        jrec.state, categories=pd.Index(["waiting", "queued", "running", "done"])
    )
    frame["site"] = np.where(jrec.site >= 0, jrec.site, -1)
    first = np.where(jrec.first_start_step >= 0, jrec.first_start_step, np.nan)
    frame["first_start_utc"] = start + pd.to_timedelta(first * fleet.step_h, unit="h")
    frame["finish_utc"] = start + pd.to_timedelta(jrec.finish_step * fleet.step_h, unit="h")
    frame["remaining_h"] = jrec.remaining_h
    frame["lost_h"] = jrec.lost_h
    frame["interruptions"] = jrec.interruptions
    frame["pauses"] = jrec.pauses
    frame["evictions"] = jrec.evictions
    frame["migrations"] = jrec.migrations
    frame["overhead_h"] = jrec.overhead_h
    return frame
