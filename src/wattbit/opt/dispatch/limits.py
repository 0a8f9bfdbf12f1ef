"""The limits no dispatch can get around, explained before the solver would report a bare 'infeasible'."""

from __future__ import annotations

import numpy as np

from wattbit.opt.dispatch.inputs import DispatchInputs
from wattbit.opt.errors import InfeasibleError


def check_hard_limits(inputs: DispatchInputs) -> None:
    """Raise if inference, fixed jobs or the idle load cannot be met whatever the plan.

    Raises
    ------
    InfeasibleError
        Naming the binding constraint — ``GPU capacity`` (a site, or the sites within the latency limit, cannot
        hold the inference demand and the jobs that cannot move), ``latency limit`` (no site may serve inference)
        or ``grid connection`` (a site's connection, on-site generation and battery cannot power it even with no
        training) — with the site, slot and numbers.
    """
    _check_gpu_capacity(inputs)
    _check_grid_connection(inputs)


def _pinned(inputs: DispatchInputs) -> np.ndarray:
    avail = inputs.gpus_available
    return np.zeros_like(avail) if inputs.pinned_gpus is None else inputs.pinned_gpus


def _check_gpu_capacity(inputs: DispatchInputs) -> None:
    avail, pinned = inputs.gpus_available, _pinned(inputs)
    if inputs.inference_full_gpus is None:
        short = inputs.inference_gpus + pinned - avail
        if np.any(short > 1e-6):
            t, s = np.unravel_index(int(np.argmax(short)), short.shape)
            raise InfeasibleError(
                f"binding constraint: GPU capacity at site {s}, slot {t}: inference needs "
                f"{inputs.inference_gpus[t, s]:.0f} GPUs and fixed jobs {pinned[t, s]:.0f}, but only "
                f"{avail[t, s]:.0f} are in service",
                constraint="GPU capacity",
            )
        return
    allowed = np.ones(avail.shape[1], bool) if inputs.routable is None else np.asarray(inputs.routable, bool)
    if not allowed.any():
        raise InfeasibleError(
            "binding constraint: latency limit: no site is close enough to serve inference", constraint="latency limit"
        )
    # the best case: all inference where it needs the fewest GPUs relative to the room left
    room = np.where(allowed, (avail - pinned) / np.maximum(inputs.inference_full_gpus, 1e-9), 0.0)
    worst = room.sum(axis=1)
    if np.any(worst < 1.0 - 1e-9):
        slot = int(np.argmin(worst))
        raise InfeasibleError(
            f"binding constraint: GPU capacity for inference in slot {slot}: the sites within the latency limit "
            f"can serve at most {worst[slot]:.1%} of the demand",
            constraint="GPU capacity",
        )


def _check_grid_connection(inputs: DispatchInputs) -> None:
    energy, avail, pinned = inputs.energy, inputs.gpus_available, _pinned(inputs)
    it_min = energy.idle_w_per_gpu * avail + (energy.busy_w_per_gpu[:, 0] - energy.idle_w_per_gpu) * pinned
    if inputs.inference_full_gpus is None:
        it_min = it_min + (energy.inference_w_per_gpu - energy.idle_w_per_gpu) * inputs.inference_gpus
    facility_min = energy.facility_lower_w(it_min)
    battery = np.array([0.0 if b is None else b.power_mw * 1e6 for b in inputs.batteries])
    supply_max = np.asarray(inputs.grid_limit_w)[None, :] + inputs.onsite_w + battery[None, :]
    over = facility_min - supply_max
    if np.any(over > 1.0):
        t, s = np.unravel_index(int(np.argmax(over)), over.shape)
        raise InfeasibleError(
            f"binding constraint: grid connection at site {s}, slot {t}: the site needs at least "
            f"{facility_min[t, s] / 1e6:.2f} MW with no training running, but the connection, on-site generation "
            f"and battery give at most {supply_max[t, s] / 1e6:.2f} MW",
            constraint="grid connection",
        )
