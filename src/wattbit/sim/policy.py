"""The contract between the engine and a control policy: :class:`Observation` in, :class:`Actions` out.

A policy sees only the present and the past. The engine builds each :class:`Observation` from read-only views that
end at the current step, so a policy cannot read a future price, carbon intensity or job arrival: the arrays simply
do not extend that far (tested by a policy that tries). Forecasts, when a policy needs them, come from
``wattbit.forecast`` working on those same past-only views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def read_only(array: NDArray[np.generic]) -> NDArray[np.generic]:
    """A view of ``array`` that cannot be written through."""
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class QueueView:
    """The jobs a policy may start now (submitted, not running, not finished), in submit order.

    Attributes
    ----------
    job
        Indices into the workload's job arrays.
    gpus
        Gang size of each job (all or nothing).
    remaining_h
        Hours of work left at full throughput on its gang.
    deadline_step
        Step by which the job should finish (a large number when it has none).
    submit_step
        Step at which the job was submitted.
    """

    job: IntArray
    gpus: IntArray
    remaining_h: FloatArray
    deadline_step: IntArray
    submit_step: IntArray

    def __len__(self) -> int:
        return len(self.job)


@dataclass(frozen=True)
class Observation:
    """What a policy knows at one control step.

    Attributes
    ----------
    step, time_utc, step_h
        Index, start time and length of the current step.
    site_names
        Site names, the order of every per-site array.
    gpus_total, gpus_available, gpus_free
        Per site: installed GPUs; GPUs not out for repair or derated; GPUs available and neither running a job
        nor held for inference.
    inference_gpus
        Per site, GPUs held for online inference this step.
    queue
        Jobs waiting to start.
    running_job, running_site
        Jobs running now and where.
    carbon_g_per_kwh, price_per_mwh, curtailed_mwh
        Per site, the signals of every step so far, shape (step + 1, sites), read-only: the last row is now.
    """

    step: int
    time_utc: pd.Timestamp
    step_h: float
    site_names: tuple[str, ...]
    gpus_total: IntArray
    gpus_available: IntArray
    gpus_free: IntArray
    inference_gpus: IntArray
    queue: QueueView
    running_job: IntArray
    running_site: IntArray
    carbon_g_per_kwh: FloatArray
    price_per_mwh: FloatArray
    curtailed_mwh: FloatArray


@dataclass
class Actions:
    """What a policy decides at one control step; every field may be left empty.

    Attributes
    ----------
    start_job, start_site
        Jobs to start now and the site of each (the engine refuses a start that does not fit, and counts it).
    pause_job
        Running jobs to pause (they checkpoint first and go back to the queue).
    gpu_cap_w
        Per site power cap of busy GPUs [W], or None for no cap.
    supply_temp_c
        Per site cooling supply setpoint [°C], or None for the design value.
    battery_mw
        Per site battery power request [MW], positive = discharge to the site, or None for idle.
    """

    start_job: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    start_site: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    pause_job: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    gpu_cap_w: FloatArray | None = None
    supply_temp_c: FloatArray | None = None
    battery_mw: FloatArray | None = None


class Policy(Protocol):
    """A control policy: ``decide(observation) -> actions``, the same in simulation and live operation."""

    name: str

    def decide(self, obs: Observation) -> Actions:
        """Choose this step's actions from what is known now."""
        ...
