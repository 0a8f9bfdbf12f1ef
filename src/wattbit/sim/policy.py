"""The contract between the engine and a control policy: :class:`Observation` in, :class:`Actions` out.

A policy sees only the present and the past. The engine builds each :class:`Observation` from read-only views that
end at the current step, so a policy cannot read a future price, carbon intensity, weather value or job arrival: the
arrays simply do not extend that far (tested by a policy that tries). Forecasts, when a policy needs them, come from
``wattbit.forecast`` working on those same past-only views. Static facts about the fleet (its plants: GPU model,
cooling, power chain, battery) are known in advance and passed whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from wattbit.units import FloatArray, IntArray

if TYPE_CHECKING:
    from wattbit.physics.battery import BatterySpec
    from wattbit.physics.site import SitePlant


def read_only(array: NDArray[np.generic]) -> NDArray[np.generic]:
    """A view of ``array`` that cannot be written through."""
    view = array.view()
    view.flags.writeable = False
    return view


class JobView:
    """A set of jobs a policy can act on (the queue, or the running set), as parallel arrays.

    The arrays are gathered from the engine's job table when first read (a policy that looks only at gang sizes
    pays only for those) and are copies: writing to them changes nothing in the engine. Read them while deciding:
    once the engine has moved to the next step, reading a field not read before raises ``RuntimeError`` (the job
    table has changed since).

    Attributes
    ----------
    job
        Indices into the workload's job arrays (the queue is in submit order).
    gpus
        Gang size of each job (all or nothing).
    remaining_h
        Hours of work left at full throughput on its gang (overheads still to pay not included).
    work_rate
        Share of its running time a job makes progress, after periodic checkpoints (1 - cost / interval).
    failure_loss_h
        Most work one failure can cost the job: a checkpoint interval plus the restart.
    pause_cost_h
        What a pause or a migration costs the job besides any transfer: the checkpoint written plus the restart.
    deadline_step
        Step by which the job should finish (a large number when it has none).
    submit_step
        Step at which the job became ready to start.
    pausable, migratable
        Whether the job may be paused, and resume at a site other than the one holding its state.
    data_size_gb
        State (checkpoint and data) that moves with the job to another site.
    data_site
        Site holding the job's state (-1: none yet, it may start anywhere at no transfer cost).
    site
        Site the job runs at (-1 for queued jobs).
    """

    FIELDS = (
        "gpus",
        "work_rate",
        "failure_loss_h",
        "pause_cost_h",
        "remaining_h",
        "deadline_step",
        "submit_step",
        "pausable",
        "migratable",
        "data_size_gb",
        "data_site",
        "site",
    )

    def __init__(
        self,
        job: IntArray,
        source: Mapping[str, NDArray[np.generic]],
        current: Callable[[], bool] | None = None,
    ) -> None:
        self.job = job
        self._source = source
        self._current = current
        self._cache: dict[str, NDArray[np.generic]] = {}

    @classmethod
    def from_arrays(cls, **arrays: ArrayLike) -> JobView:
        """A view over explicit arrays (``job`` plus every name in :attr:`FIELDS`), as tests and tools build one."""
        job = np.asarray(arrays.pop("job"), dtype=np.int64)
        source = {k: np.asarray(v) for k, v in arrays.items()}
        missing = [f for f in cls.FIELDS if f not in source]
        if missing:
            raise TypeError(f"JobView.from_arrays is missing {missing}")
        full: dict[str, NDArray[np.generic]] = {}
        for name, values in source.items():
            spread = np.zeros(int(job.max(initial=-1)) + 1, dtype=values.dtype)
            spread[job] = values
            full[name] = spread
        return cls(job, full)

    def _get(self, name: str) -> NDArray[np.generic]:
        out = self._cache.get(name)
        if out is None:
            if self._current is not None and not self._current():
                raise RuntimeError(f"JobView.{name} read after the engine moved on; read job fields inside decide()")
            out = self._source[name][self.job]
            self._cache[name] = out
        return out

    gpus = property(lambda self: self._get("gpus"), doc="Gang size of each job.")
    remaining_h = property(lambda self: self._get("remaining_h"), doc="Hours of work left at full throughput.")
    work_rate = property(lambda self: self._get("work_rate"), doc="Progress per running hour after checkpoints.")
    failure_loss_h = property(lambda self: self._get("failure_loss_h"), doc="Most work one failure can cost [h].")
    pause_cost_h = property(lambda self: self._get("pause_cost_h"), doc="Checkpoint plus restart of a pause [h].")
    deadline_step = property(lambda self: self._get("deadline_step"), doc="Step by which the job should finish.")
    submit_step = property(lambda self: self._get("submit_step"), doc="Step at which the job became ready.")
    pausable = property(lambda self: self._get("pausable"), doc="Whether the job may be paused.")
    migratable = property(lambda self: self._get("migratable"), doc="Whether the job may move to another site.")
    data_size_gb = property(lambda self: self._get("data_size_gb"), doc="State that moves with the job [GB].")
    data_site = property(lambda self: self._get("data_site"), doc="Site holding the job's state (-1: none).")
    site = property(lambda self: self._get("site"), doc="Site the job runs at (-1 when queued).")

    def __len__(self) -> int:
        return len(self.job)


#: Former name of :class:`JobView`, kept for code written against the first engine.
QueueView = JobView


@dataclass(frozen=True)
class Observation:
    """What a policy knows at one control step.

    Attributes
    ----------
    step, time_utc, step_h
        Index, start time and length of the current step.
    site_names
        Site names, the order of every per-site array.
    plants, batteries, grid_limit_w
        Static site designs (GPU model, cooling, power chain), batteries (None where a site has none) and grid
        connections [W].
    gpus_total, gpus_available, gpus_free
        Per site: installed GPUs; GPUs not out for repair or derated; GPUs available, within the grid-connection
        limit of this step, and neither running a job nor held for inference.
    inference_gpus
        Per site, GPUs held for online inference this step.
    queue, running
        Jobs waiting to start, and jobs running now.
    battery_soc_mwh
        Per site, battery energy at the start of this step (0 where there is none). Steps under the
        self-consumption rule are settled from the metered flows after the run and do not move it.
    migration_link_gbps
        Effective bandwidth for moving a job's state between sites.
    carbon_g_per_kwh, price_jpy_per_mwh, curtailed_mwh, temp_db_c, temp_wb_c, pv_w, wind_w,
    inference_gpus_needed
        Per site, every step so far, shape (step + 1, sites), read-only: the last row is now.
    inference_full_gpus
        Per site, GPUs it would need to serve the whole inference demand, every step so far (None: no routing).
    inference_share
        Current routing shares of the inference demand per site (None: each site serves its own share).
    """

    step: int
    time_utc: pd.Timestamp
    step_h: float
    site_names: tuple[str, ...]
    plants: tuple[SitePlant, ...]
    batteries: tuple[BatterySpec | None, ...]
    grid_limit_w: FloatArray
    gpus_total: IntArray
    gpus_available: IntArray
    gpus_free: IntArray
    inference_gpus: IntArray
    queue: JobView
    running: JobView
    battery_soc_mwh: FloatArray
    migration_link_gbps: float
    carbon_g_per_kwh: FloatArray
    price_jpy_per_mwh: FloatArray
    curtailed_mwh: FloatArray
    temp_db_c: FloatArray
    temp_wb_c: FloatArray
    pv_w: FloatArray
    wind_w: FloatArray
    inference_gpus_needed: FloatArray
    inference_full_gpus: FloatArray | None = None
    inference_share: FloatArray | None = None

    @property
    def running_job(self) -> IntArray:
        """Jobs running now (same as ``running.job``)."""
        return self.running.job

    @property
    def running_site(self) -> IntArray:
        """Where each running job runs (same as ``running.site``)."""
        return self.running.site


@dataclass
class Actions:
    """What a policy decides at one control step; every field may be left empty.

    Attributes
    ----------
    start_job, start_site
        Queued jobs to start now and the site of each. The engine refuses (and counts) a start that does not fit,
        of a job that is not queued, or at a site other than the one holding a non-migratable job's state.
    pause_job
        Running pausable jobs to pause: they write a checkpoint (``checkpoint_cost_h``), free their GPUs and go
        back to the queue; resuming later costs ``restart_cost_h``, plus the state transfer if elsewhere.
    migrate_job, migrate_site
        Running migratable jobs to move now, and where: a pause, the transfer of ``data_size_gb`` over the
        inter-site link, and a resume at the destination, whose GPUs it holds from now on.
    gpu_cap_w
        Per site power cap of busy GPUs [W], or None for no cap (NaN entries: no cap at that site).
    uncapped_job
        Running jobs whose GPUs run uncapped this step whatever their site's cap (a cap is set per GPU).
    supply_temp_c
        Per site cooling supply setpoint [°C], or None for the design value.
    battery_mw
        Per site battery power request [MW], positive = discharge to the site, or None for no request (NaN: none
        at that site).
    battery_rule
        What the batteries without a request do: None leaves them idle; ``"self_consumption"`` runs each
        site's battery on its own meter, as a site controller does: it charges from on-site surplus and discharges
        against grid import, never charging from the grid or exporting (settled after the step from the exact
        flows, :func:`wattbit.physics.battery.self_consumption_request_mw`).
    inference_share
        Per site share of the online inference demand (sums to 1), from the next step on; None keeps the routing.
    """

    start_job: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    start_site: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    pause_job: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    migrate_job: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    migrate_site: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    gpu_cap_w: FloatArray | None = None
    uncapped_job: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    supply_temp_c: FloatArray | None = None
    battery_mw: FloatArray | None = None
    battery_rule: str | None = None
    inference_share: FloatArray | None = None


#: The ``engine_rule`` of a policy whose ``decide`` starts the queue first come, first served on the first site where
#: each gang fits (:func:`wattbit.sim.kernels.first_fit` on a copy of ``gpus_free``, the queue in order), leaves
#: the batteries on the self-consumption rule and does nothing else: ``Engine.run`` may then take stretches of steps
#: in one compiled call (:mod:`wattbit.sim.fused`) with the same results.
FIRST_FIT_RULE = "first_fit_self_consumption"


def engine_rule(policy: object) -> str | None:
    """The ``engine_rule`` a policy declares, honoured only where the class that defines its ``decide`` declares it
    (a subclass with a ``decide`` of its own and no rule of its own has none)."""
    for cls in type(policy).__mro__:
        if "decide" in cls.__dict__:
            rule = cls.__dict__.get("engine_rule")
            return rule if isinstance(rule, str) else None
    return None


class Policy(Protocol):
    """A control policy: ``decide(observation) -> actions``, the same in simulation and live operation."""

    name: str

    def decide(self, obs: Observation) -> Actions:
        """Choose this step's actions from what is known now."""
        ...
