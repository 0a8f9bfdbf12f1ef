"""What the watt-bit dispatch programme takes and gives: sites' power coefficients, signals, training work in one of
three forms, objective weights, and the solved plan.

The programme itself is :mod:`wattbit.opt.dispatch.model` (linopy) and :mod:`wattbit.opt.dispatch.direct` (HiGHS
direct); :func:`wattbit.opt.dispatch.solve_dispatch` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wattbit.physics.battery import BatterySpec
from wattbit.units import BoolArray, FloatArray, IntArray


@dataclass(frozen=True)
class SiteEnergyModel:
    """Linear site-power coefficients for steps ``0..T-1`` (arrays over (T, sites) unless noted).

    Attributes
    ----------
    idle_w_per_gpu, inference_w_per_gpu
        IT DC power per available idle GPU and per GPU held for inference (sites,) [W].
    busy_w_per_gpu
        IT DC power per GPU running training at each cap level (sites, levels) [W].
    throughput
        Training work per GPU-hour at each cap level, in H100-hours (cap throughput x the GPU's training speed)
        (sites, levels).
    cap_w
        Cap of each level (sites, levels) [W]; the first level is the TDP (no cap).
    rated_it_dc_w
        IT DC rating (sites,) [W].
    line_a_w, line_b
        Facility power lower-bound lines (T, sites, lines): ``P >= a + b * IT_dc``.
    supply_temp_c
        Chosen cooling supply setpoint (T, sites) [°C].
    """

    idle_w_per_gpu: FloatArray
    inference_w_per_gpu: FloatArray
    busy_w_per_gpu: FloatArray
    throughput: FloatArray
    cap_w: FloatArray
    rated_it_dc_w: FloatArray
    line_a_w: FloatArray
    line_b: FloatArray
    supply_temp_c: FloatArray

    def facility_lower_w(self, it_dc_w: FloatArray) -> FloatArray:
        """The lower bound evaluated at IT power ``it_dc_w`` (T, sites) [W]."""
        return np.max(self.line_a_w + self.line_b * it_dc_w[..., None], axis=-1)


@dataclass(frozen=True)
class DispatchWeights:
    """Weights of the objective.

    Attributes
    ----------
    carbon_per_t
        Weight of one tonne of CO2 (location-based: grid import x intensity).
    cost_per_million
        Weight of one million currency units of energy cost.
    curtailment_per_mwh
        Reward per MWh drawn in a grid area while it curtails (at most what it curtails), in the same units.
    miss_per_gpu_h
        Penalty per GPU-hour of work past its deadline (per slot late in the cumulative form).
    """

    carbon_per_t: float = 1.0
    cost_per_million: float = 0.0
    curtailment_per_mwh: float = 0.1
    miss_per_gpu_h: float = 100.0

    def __post_init__(self) -> None:
        for name in ("carbon_per_t", "cost_per_million", "curtailment_per_mwh", "miss_per_gpu_h"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"objective weight {name} must be >= 0, got {getattr(self, name)}")


@dataclass
class WorkClasses:
    """Training work as groups of jobs (class form).

    Attributes
    ----------
    work_gpu_h
        GPU-hours at full throughput each class needs (classes,).
    max_gpus
        GPUs each class can use at once: the sum of its gang sizes (classes,).
    first_slot, end_slot
        Slots ``[first, end)`` in which a class may run; a required class is due by the end of ``end - 1``.
    required
        Whether the class must be served by its end (else optional: served if it pays, valued at ``value``).
    value_per_gpu_h
        Objective value of a GPU-hour of optional work (classes,).
    """

    work_gpu_h: FloatArray
    max_gpus: FloatArray
    first_slot: IntArray
    end_slot: IntArray
    required: BoolArray
    value_per_gpu_h: FloatArray


@dataclass
class CumulativeWork:
    """Training work as cumulative curves over slots (cumulative form), GPU-hours at full throughput.

    Attributes
    ----------
    due_gpu_h
        Work whose deadline falls at or before the end of each slot (T,), non-decreasing.
    released_gpu_h
        Work released at or before the start of each slot (T,), non-decreasing, >= due.
    max_gpus
        Sum of the gangs of jobs released and not yet past their deadline in each slot (T,).
    """

    due_gpu_h: FloatArray
    released_gpu_h: FloatArray
    max_gpus: FloatArray


@dataclass
class WindowedWork:
    """Training work as many small classes with their own windows, stored sparsely (offline optimum).

    Attributes
    ----------
    work_gpu_h, max_gpus
        Work (GPU-hours at full throughput) and most GPUs at once of each class (classes,).
    first_slot, end_slot
        Slots ``[first, end)`` in which a class may run (and by whose end it is due).
    """

    work_gpu_h: FloatArray
    max_gpus: FloatArray
    first_slot: IntArray
    end_slot: IntArray


@dataclass
class DispatchInputs:
    """Everything the programme needs for slots ``0..T-1`` (arrays (T, sites) unless noted).

    Attributes
    ----------
    slot_h
        Slot length [h].
    energy
        Site power coefficients (:func:`wattbit.control.site_energy.site_energy_model`) for the slots.
    gpus_available
        GPUs in service.
    inference_gpus
        GPUs held for inference when each site serves its own share (routing off).
    inference_full_gpus
        GPUs each site would need to serve the whole demand (routing on); None turns routing off.
    routable
        Sites allowed to serve inference (latency limit) (sites,); with routing.
    onsite_w, grid_limit_w
        On-site generation [W]; grid connection (sites,) [W].
    carbon_g_per_kwh, price_per_mwh, curtailed_mwh
        Signals; curtailment in MWh per slot of the site's grid area.
    areas
        Grid area of each site (sites,): curtailment is shared by the sites of an area.
    batteries, soc_mwh
        Battery per site (None: none) and its energy at the start.
    pinned_gpus
        GPUs running jobs that cannot be moved or paused, (T, sites), included in the capacity and the power.
    work
        :class:`WorkClasses` or :class:`CumulativeWork`.
    windowed
        More work as :class:`WindowedWork`, served besides ``work`` (the offline optimum's short-window jobs).
    running_gpus, stop_cost_per_gpu
        Churn (None: free): GPUs of pausable training running now at each site that would still be running after
        the first slot (sites,), and what stopping one of them in the first slot costs, in objective units (sites,):
        every GPU the first slot's training falls short of ``running_gpus`` is a pause or a migration and pays it.
    """

    slot_h: float
    energy: SiteEnergyModel
    gpus_available: FloatArray
    inference_gpus: FloatArray
    onsite_w: FloatArray
    grid_limit_w: FloatArray
    carbon_g_per_kwh: FloatArray
    price_per_mwh: FloatArray
    curtailed_mwh: FloatArray
    areas: tuple[str, ...]
    batteries: tuple[BatterySpec | None, ...]
    soc_mwh: FloatArray
    work: WorkClasses | CumulativeWork
    inference_full_gpus: FloatArray | None = None
    routable: BoolArray | None = None
    pinned_gpus: FloatArray | None = None
    end_soc_mwh: FloatArray | None = None
    windowed: WindowedWork | None = None
    running_gpus: FloatArray | None = None
    stop_cost_per_gpu: FloatArray | None = None


@dataclass
class DispatchPlan:
    """A solved dispatch programme: what to do in every slot, and its objective terms.

    Attributes
    ----------
    busy_gpus
        Training GPUs per slot, site and cap level (T, sites, levels).
    inference_share
        Share of the inference demand per site (T, sites) (None without routing).
    inference_gpus
        GPUs held for inference (T, sites).
    battery_mw
        Battery power (T, sites), + discharge.
    grid_mw, facility_mw
        Grid import and facility power (lower bound) (T, sites) [MW].
    class_gpus
        Class form: GPUs (work rate) per class and slot (classes, T); None in the cumulative form.
    late_gpu_h
        Work left undone at its deadline, per class (class form) or per slot (cumulative).
    objective, carbon_t, cost, curtailment_absorbed_mwh
        Objective value and its terms.
    solve_seconds, build_seconds
        Time spent solving and building.
    """

    busy_gpus: FloatArray
    inference_share: FloatArray | None
    inference_gpus: FloatArray
    battery_mw: FloatArray
    grid_mw: FloatArray
    facility_mw: FloatArray
    class_gpus: FloatArray | None
    late_gpu_h: FloatArray
    objective: float
    carbon_t: float
    cost: float
    curtailment_absorbed_mwh: float
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)
