"""What an engine run records (per job and per step and site), and the time arithmetic it shares with its callers.

:class:`JobRecord` and :class:`StepRecord` are filled by :class:`wattbit.sim.engine.Engine`; the accounting
(:mod:`wattbit.sim.accounting`) and the job table (:func:`wattbit.sim.run.jobs_frame`) read them after the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wattbit.sim.faults import FailureEvents
from wattbit.sim.fleet import Fleet

WAITING, QUEUED, RUNNING, DONE = 0, 1, 2, 3
NO_DEADLINE = np.iinfo(np.int64).max // 2

#: Effective bandwidth between sites for moving a job's state [Gbit/s]. Assumption (U): one dedicated 100 GbE
#: wavelength between regions (e.g. a leased 100G line or an IOWN APN path), shared by nothing else.
MIGRATION_LINK_GBPS = 100.0


@dataclass
class JobRecord:
    """What happened to every job (arrays over jobs).

    ``remaining_h`` is work still to do; ``lost_h`` work redone after failures (added to remaining when lost);
    ``overhead_h`` time its gang spent on pause checkpoints, state transfers and restarts after pauses or migrations;
    ``evictions`` the pauses the engine made itself because inference or the grid connection claimed GPUs back
    (counted in ``pauses`` too).
    """

    state: NDArray[np.int8]
    site: NDArray[np.int16]
    data_site: NDArray[np.int16]
    remaining_h: NDArray[np.float64]
    pending_overhead_h: NDArray[np.float64]
    since_checkpoint_h: NDArray[np.float64]
    first_start_step: NDArray[np.int64]
    finish_step: NDArray[np.float64]
    interruptions: NDArray[np.int32]
    pauses: NDArray[np.int32]
    evictions: NDArray[np.int32]
    migrations: NDArray[np.int32]
    lost_h: NDArray[np.float64]
    overhead_h: NDArray[np.float64]
    refused_starts: int = 0
    refused_pauses: int = 0
    refused_migrations: int = 0


@dataclass
class StepRecord:
    """Per step and site (steps, sites): GPUs running jobs, held for inference, available, and the actions
    (``uncapped_gpus``: busy GPUs of jobs exempt from the site's cap that step; ``battery_self_consumption``: steps
    where the policy left the battery to its self-consumption rule, :attr:`Actions.battery_rule`). Per step, site
    and power class of :data:`wattbit.physics.gpu_load.POWER_CLASSES` (steps, sites, classes): ``busy_by_class``
    and ``uncapped_by_class``."""

    busy_gpus: NDArray[np.int64]
    inference_gpus: NDArray[np.int64]
    inference_needed: NDArray[np.float64]
    available_gpus: NDArray[np.int64]
    gpu_cap_w: NDArray[np.float64]
    uncapped_gpus: NDArray[np.int64]
    supply_temp_c: NDArray[np.float64]
    battery_mw: NDArray[np.float64]
    busy_by_class: NDArray[np.int32]
    uncapped_by_class: NDArray[np.int32]
    battery_self_consumption: NDArray[np.bool_]


def steps_of(times: NDArray[np.datetime64], fleet: Fleet) -> NDArray[np.int64]:
    """First step starting at or after each time (naive UTC datetime64); NaT gives :data:`NO_DEADLINE`."""
    start = fleet.index[0].tz_convert("UTC").tz_localize(None).to_datetime64()
    step_ns = int(fleet.step_h * 3600 * 1e9)
    out = np.full(times.shape, NO_DEADLINE, dtype=np.int64)
    ok = ~np.isnat(times)
    delta = (times[ok] - start).astype("timedelta64[ns]").astype(np.int64)
    out[ok] = np.where(delta <= 0, 0, -(-delta // step_ns))  # ceil: a job may start at the first step at/after it
    return out


def gpus_out_per_step(events: FailureEvents, fleet: Fleet) -> NDArray[np.int64]:
    """GPUs out of service per step and site, from repairs and site derates (difference arrays)."""
    t, s = fleet.steps, len(fleet.names)
    diff = np.zeros((t + 1, s), dtype=np.float64)
    amount = np.where(events.scope == 4, events.derate_fraction * fleet.gpus_total[events.site], events.gpus_affected)
    has_outage = events.repair_steps > 0
    start = np.minimum(events.step[has_outage], t)
    end = np.minimum(events.step[has_outage] + events.repair_steps[has_outage], t)
    np.add.at(diff, (start, events.site[has_outage]), amount[has_outage])
    np.add.at(diff, (end, events.site[has_outage]), -amount[has_outage])
    out = np.ceil(np.cumsum(diff, axis=0)[:t] - 1e-9).astype(np.int64)
    return np.minimum(out, fleet.gpus_total)
