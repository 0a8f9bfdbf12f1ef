"""Work lost to interruptions and the checkpoint interval that minimises it (Young 1974; Daly 2006).

A training job writes a checkpoint every ``tau`` hours of work. When a failure interrupts it, everything since the
last *completed* checkpoint is lost and the job restarts from that checkpoint (after a restart time ``R``). With
failures at rate ``1/M`` (``M`` the job's mean time between failures) and a checkpoint taking ``delta``, the share
of wall-clock time that makes no progress is, to first order in ``tau/M``, ``delta/M`` and ``R/M``::

    W(tau) = delta / tau + (tau / 2 + R) / M

(``tau/2``: a failure lands on average half-way through an interval). It is minimised by Young's interval
``tau* = sqrt(2 delta M)`` (Young 1974, "A first order approximation to the optimum checkpoint interval", CACM
17(9); Daly 2006, FGCS 22(3), adds higher-order terms). For exponential failures the exact mean loss per failure
is ``M - tau / (exp(tau/M) - 1)``, slightly below ``tau/2``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import check_number


def job_mtbf_h(n_gpus: float, per_gpu_day: float) -> float:
    """Mean time between unplanned interruptions of a job on ``n_gpus`` GPUs [h]: ``24 / (n_gpus x rate)``.

    Parameters
    ----------
    n_gpus
        GPUs the job spans (any one failing interrupts it).
    per_gpu_day
        Interruptions per GPU-day, e.g. :data:`~wattbit.sim.faults.rates.LLAMA3_PER_GPU_DAY` (16,384 GPUs give
        3.09 h, the Llama 3 figure).

    Returns
    -------
    float
        MTBF [h]; ``inf`` if the rate or GPU count is 0.
    """
    check_number(n_gpus, "n_gpus", 0.0)
    check_number(per_gpu_day, "per_gpu_day", 0.0)
    rate_per_h = n_gpus * per_gpu_day / 24.0
    return math.inf if rate_per_h == 0 else 1.0 / rate_per_h


def lost_work_h(elapsed_since_checkpoint_h: ArrayLike) -> NDArray[np.float64]:
    """Work [h of job progress] lost when a job is interrupted: all of it since its last completed checkpoint.

    The engine rolls the job's progress back by this amount and charges ``lost x job GPUs`` GPU-hours as wasted.
    A checkpoint still being written when the failure hits does not count.

    Parameters
    ----------
    elapsed_since_checkpoint_h
        Job progress since its last completed checkpoint (or since its start if it has none) [h], >= 0.

    Returns
    -------
    numpy.ndarray
        The same values as float (0-d for a scalar).
    """
    arr = np.asarray(elapsed_since_checkpoint_h, dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise WattbitInputError("expected finite hours >= 0", field="elapsed_since_checkpoint_h")
    return arr.copy()


def elapsed_since_checkpoint_h(progress_h: ArrayLike, checkpoint_interval_h: float) -> NDArray[np.float64]:
    """Progress since the last checkpoint for a job checkpointing every ``checkpoint_interval_h`` of progress.

    Checkpoints are taken at progress ``tau, 2 tau, ...`` after the job's (re)start and complete instantly; the
    result is ``progress_h mod tau``, the argument to :func:`lost_work_h`.
    """
    check_number(checkpoint_interval_h, "checkpoint_interval_h", 0.0, lo_open=True)
    arr = np.asarray(progress_h, dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise WattbitInputError("expected finite hours >= 0", field="progress_h")
    return np.mod(arr, checkpoint_interval_h)


def expected_lost_fraction(
    checkpoint_interval_h: float, mtbf_h: float, checkpoint_cost_h: float = 0.0, restart_h: float = 0.0
) -> float:
    """First-order share of wall-clock time without progress: ``delta/tau + (tau/2 + R)/M``, at most 1.

    Parameters
    ----------
    checkpoint_interval_h
        ``tau``, progress between checkpoints [h], > 0.
    mtbf_h
        ``M``, the job's mean time between failures [h], > 0 (``inf``: no failures).
    checkpoint_cost_h
        ``delta``, time a checkpoint stalls the job [h], >= 0.
    restart_h
        ``R``, time from failure to running again (detection, rescheduling, loading the checkpoint) [h], >= 0.

    Returns
    -------
    float
        Lost share in [0, 1]; ``tau / (2 M)`` with the defaults. Accurate while ``tau``, ``delta``, ``R`` << ``M``.
    """
    check_number(checkpoint_interval_h, "checkpoint_interval_h", 0.0, lo_open=True)
    if mtbf_h != math.inf:  # no failures
        check_number(mtbf_h, "mtbf_h", 0.0, lo_open=True)
    check_number(checkpoint_cost_h, "checkpoint_cost_h", 0.0)
    check_number(restart_h, "restart_h", 0.0)
    waste = checkpoint_cost_h / checkpoint_interval_h + (checkpoint_interval_h / 2 + restart_h) / mtbf_h
    return min(waste, 1.0)


def expected_lost_per_failure_h(checkpoint_interval_h: float, mtbf_h: float) -> float:
    """Exact mean work lost per failure for exponential failures [h]: ``M - tau / (exp(tau/M) - 1)`` (< ``tau/2``)."""
    check_number(checkpoint_interval_h, "checkpoint_interval_h", 0.0, lo_open=True)
    check_number(mtbf_h, "mtbf_h", 0.0, lo_open=True)
    x = checkpoint_interval_h / mtbf_h
    return mtbf_h - checkpoint_interval_h / math.expm1(x) if x > 1e-6 else checkpoint_interval_h / 2 * (1 - x / 6)


def young_daly_interval_h(checkpoint_cost_h: float, mtbf_h: float) -> float:
    """Young's optimal checkpoint interval ``sqrt(2 delta M)`` [h], the minimum of :func:`expected_lost_fraction`."""
    check_number(checkpoint_cost_h, "checkpoint_cost_h", 0.0, lo_open=True)
    check_number(mtbf_h, "mtbf_h", 0.0, lo_open=True)
    return math.sqrt(2 * checkpoint_cost_h * mtbf_h)
