"""Faults of a fleet: GPU, node, network and software failures; cooling, power-chain, grid and disaster events.

Rates come from large-cluster reports (Llama 3 405B on 16,384 H100; Meta RSC) and documented assumptions, see
docs/faults.md. :func:`sample_failures` draws a seeded, reproducible set of :class:`FailureEvents` for a period;
the engine applies them (GPUs out for ``repair_steps``, site capacity derated, interrupted jobs roll back to their
last checkpoint, :func:`lost_work_h`).
"""

from wattbit.sim.faults.checkpoint import (
    elapsed_since_checkpoint_h,
    expected_lost_fraction,
    expected_lost_per_failure_h,
    job_mtbf_h,
    lost_work_h,
    young_daly_interval_h,
)
from wattbit.sim.faults.events import FailureEvents, interrupted_jobs, sample_failures
from wattbit.sim.faults.rates import (
    CAUSE_CODES,
    CAUSE_NAMES,
    LLAMA3_CAUSES,
    LLAMA3_PER_GPU_DAY,
    META_RSC1_PER_GPU_DAY,
    META_RSC2_PER_GPU_DAY,
    SCOPE_GPU,
    SCOPE_NAMES,
    SCOPE_NETWORK,
    SCOPE_NODE,
    SCOPE_SITE,
    SCOPE_SOFTWARE,
    SITE_EVENT_KINDS,
    FailureRates,
    RepairTime,
    SiteEventRate,
)

__all__ = [
    "CAUSE_CODES",
    "CAUSE_NAMES",
    "LLAMA3_CAUSES",
    "LLAMA3_PER_GPU_DAY",
    "META_RSC1_PER_GPU_DAY",
    "META_RSC2_PER_GPU_DAY",
    "SCOPE_GPU",
    "SCOPE_NAMES",
    "SCOPE_NETWORK",
    "SCOPE_NODE",
    "SCOPE_SITE",
    "SCOPE_SOFTWARE",
    "SITE_EVENT_KINDS",
    "FailureEvents",
    "FailureRates",
    "RepairTime",
    "SiteEventRate",
    "elapsed_since_checkpoint_h",
    "expected_lost_fraction",
    "expected_lost_per_failure_h",
    "interrupted_jobs",
    "job_mtbf_h",
    "lost_work_h",
    "sample_failures",
    "young_daly_interval_h",
]
