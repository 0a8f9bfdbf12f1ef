"""What a controller needs to know about a site's power: linear IT power per GPU and a facility-power lower bound.

The physics (:func:`wattbit.physics.site.site_power`) is nonlinear in the IT load (part-load efficiencies of the
power chain, chiller curves), and depends on the weather and the cooling setpoint. An optimiser needs it linear, so
per site and step this module gives

* IT power at the DC bus as a linear function of GPU counts: ``e_idle * available + sum_l (e_l - e_idle) * busy_l
  + (e_inf - e_idle) * inference`` with ``e_l`` the per-GPU power of a GPU running a job under cap level ``l`` and
  ``throughput_l`` its throughput, both the expectation over the power classes of :data:`BUSY_KIND`
  (:mod:`wattbit.physics.gpu_load`; node overhead and network spread per GPU, fans removed by the liquid share),
  and ``e_inf`` an online-inference GPU at the default operating point;
* facility power as the maximum of a few lines in the IT power, ``P >= a_k + b_k * IT``: chords of the true curve
  over sub-intervals of ``[0, rated]``, each lowered by the largest amount it exceeds the true curve anywhere on a
  fine grid. Every line is then below the true curve, so their maximum is a valid lower bound: a plan built on it
  never overstates what a site's energy is, which is what makes the offline optimum a bound (``docs/control.md``);
* the cooling setpoint: among the candidate supply temperatures, the one with the lowest facility power at that
  step's weather (in this model a warmer supply only saves cooling energy; server leakage and fan power rising with
  inlet temperature are not modelled, so candidates stay within ``setpoint_headroom_k`` of the design, U).
"""

from __future__ import annotations

import functools

import numpy as np

from wattbit.opt.dispatch.inputs import SiteEnergyModel
from wattbit.physics.cooling.design import supply_range_c
from wattbit.physics.gpu import it_power_from_gpu_w
from wattbit.physics.gpu_load import kind_gpu_power_w, kind_throughput_factor, online_inference_gpu_power_w
from wattbit.physics.site import SitePlant, site_power
from wattbit.sim.accounting import DEFAULT_INFERENCE_POINT
from wattbit.units import FloatArray

#: Power caps a controller chooses from, as fractions of the TDP (1.0 = no cap). 0.7 is near the training
#: energy-per-work optimum of the throughput model once node overhead counts (``docs/models/gpu.md``).
DEFAULT_CAP_FRACTIONS = (1.0, 0.85, 0.7)
#: How far above the design supply temperature a controller may move the setpoint [K] (U).
SETPOINT_HEADROOM_K = 4.0
_FINE_POINTS = 41
_CURVATURE_MARGIN = 2e-4
#: Job kind whose expected power and throughput a controller plans with: fine-tuning, the kind of lowest expected
#: power (so the offline optimum's power never exceeds a kind's expectation, U) and most of the demo's GPU-hours.
BUSY_KIND = "finetune"


def _per_gpu_w(plant: SitePlant, gpu_power_w: float) -> float:
    """IT power per GPU [W, DC] of all the site's GPUs at ``gpu_power_w`` each (node overhead and network spread)."""
    n = plant.gpu_count
    return float(it_power_from_gpu_w(plant.gpu, n, n * gpu_power_w, liquid_share=plant.liquid_share)) / n


@functools.lru_cache(maxsize=256)
def _plant_coefficients(
    plant: SitePlant, cap_fractions: tuple[float, ...]
) -> tuple[float, float, float, tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """A plant's per-GPU IT powers [W] (idle, inference), rated IT [W], and per cap level: cap [W], busy power [W] and
    throughput [H100-hours of work per GPU-hour]. They depend on the design alone, so a controller that rebuilds its
    energy model every hour computes them once."""
    gpu = plant.gpu
    idle = _per_gpu_w(plant, gpu.idle_w)
    inference = _per_gpu_w(plant, float(online_inference_gpu_power_w(gpu, *DEFAULT_INFERENCE_POINT)))
    caps, busy, thr = [], [], []
    for frac in cap_fractions:
        cap = float(np.clip(frac * gpu.tdp_w, gpu.cap_min_w, gpu.tdp_w))
        caps.append(cap)
        busy.append(_per_gpu_w(plant, kind_gpu_power_w(gpu, BUSY_KIND, None if frac >= 1.0 else cap)))
        # H100-hours of training work per GPU-hour: the cap's throughput times the model's speed
        thr.append(float(kind_throughput_factor(gpu, cap, BUSY_KIND) * gpu.training_speed))
    return idle, inference, float(plant.rated_it_dc_w), tuple(caps), tuple(busy), tuple(thr)


def setpoint_candidates(plant: SitePlant, headroom_k: float = SETPOINT_HEADROOM_K) -> tuple[float, ...]:
    """Supply temperatures a controller may choose: the design value and up to ``headroom_k`` above, in range."""
    design = plant.cooling.supply_temp_c
    hi = min(supply_range_c(plant.cooling)[1], design + headroom_k)
    return (design,) if hi <= design else (design, (design + hi) / 2.0, hi)


def site_energy_model(
    plants: tuple[SitePlant, ...],
    temp_db_c: FloatArray,
    temp_wb_c: FloatArray,
    *,
    cap_fractions: tuple[float, ...] = DEFAULT_CAP_FRACTIONS,
    lines: int = 4,
    setpoint_headroom_k: float = SETPOINT_HEADROOM_K,
) -> SiteEnergyModel:
    """Linear power coefficients and facility lower-bound lines for every step of ``temp_db_c`` (T, sites).

    Parameters
    ----------
    plants
        Site designs, in the column order of the weather arrays.
    temp_db_c, temp_wb_c
        Outdoor dry-bulb and wet-bulb temperature (T, sites) [°C]: observed for the oracle, forecast for MPC.
    cap_fractions
        GPU power-cap levels as fractions of the TDP, clipped to each GPU's settable range; the first should be 1.
    lines
        Number of chords in the facility lower bound (more: tighter, more constraints).
    setpoint_headroom_k
        How far above its design the supply setpoint may go.
    """
    if not cap_fractions or not all(0 < c <= 1 for c in cap_fractions):
        raise ValueError(f"cap_fractions must be in (0, 1], got {cap_fractions}")
    tdb = np.atleast_2d(np.asarray(temp_db_c, dtype=float))
    # forecasts (or per-slot minima) of the two temperatures are made apart: keep wet bulb <= dry bulb
    twb = np.minimum(np.atleast_2d(np.asarray(temp_wb_c, dtype=float)), tdb)
    t, s = tdb.shape
    if s != len(plants):
        raise ValueError(f"weather has {s} site columns for {len(plants)} plants")
    n_levels = len(cap_fractions)
    idle, inference, rated = np.zeros(s), np.zeros(s), np.zeros(s)
    busy, thr, caps = np.zeros((s, n_levels)), np.zeros((s, n_levels)), np.zeros((s, n_levels))
    line_a, line_b = np.zeros((t, s, lines)), np.zeros((t, s, lines))
    supply = np.zeros((t, s))
    fine = np.linspace(0.0, 1.0, _FINE_POINTS)
    knots = np.linspace(0.0, 1.0, lines + 1)
    for i, plant in enumerate(plants):
        idle[i], inference[i], rated[i], caps[i], busy[i], thr[i] = _plant_coefficients(plant, tuple(cap_fractions))
        # the physics of each distinct weather row once: forecasts repeat rows (persistence holds a value for the
        # whole horizon, hourly observations fill four 15-minute steps), and every row's lines depend on it alone
        rows, back = np.unique(np.stack([tdb[:, i], twb[:, i]], axis=1), axis=0, return_inverse=True)
        back = back.reshape(-1)
        a_u, b_u, supply_u = _facility_lines(plant, rated[i] * fine, rows[:, 0], rows[:, 1], knots, setpoint_headroom_k)
        line_a[:, i, :], line_b[:, i, :], supply[:, i] = a_u[back], b_u[back], supply_u[back]
    return SiteEnergyModel(
        idle_w_per_gpu=idle,
        inference_w_per_gpu=inference,
        busy_w_per_gpu=busy,
        throughput=thr,
        cap_w=caps,
        rated_it_dc_w=rated,
        line_a_w=line_a,
        line_b=line_b,
        supply_temp_c=supply,
    )


def _facility_lines(
    plant: SitePlant,
    loads_w: FloatArray,
    temp_db_c: FloatArray,
    temp_wb_c: FloatArray,
    knots: FloatArray,
    setpoint_headroom_k: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Facility lower-bound lines ``(a [W], b)`` per weather row and chord, and each row's best supply setpoint.

    ``loads_w`` is the fine grid of IT loads [W] the curve is evaluated on; ``knots`` the chords' ends as shares of
    the grid (``lines + 1`` values from 0 to 1). Rows are independent of one another.
    """
    t, n_fine, lines = len(temp_db_c), len(loads_w), len(knots) - 1
    fine = np.linspace(0.0, 1.0, n_fine)
    line_a, line_b, supply = np.zeros((t, lines)), np.zeros((t, lines)), np.zeros(t)
    # facility power on the fine grid of IT loads, at the best setpoint of each row
    candidates = setpoint_candidates(plant, setpoint_headroom_k)
    n_sp = len(candidates)
    # every candidate setpoint in one call of the (pointwise) physics
    curves = site_power(
        plant,
        np.broadcast_to(loads_w, (n_sp * t, n_fine)).ravel(),
        np.tile(np.repeat(temp_db_c, n_fine), n_sp),
        np.tile(np.repeat(temp_wb_c, n_fine), n_sp),
        np.repeat(np.asarray(candidates, dtype=float), t * n_fine),
    ).facility_w.reshape(n_sp, t, n_fine)
    best, supply[:] = curves[0].copy(), candidates[0]
    for k in range(1, n_sp):
        better = curves[k].sum(axis=1) < best.sum(axis=1)
        best[better], supply[better] = curves[k][better], candidates[k]
    for k in range(lines):
        lo, hi = np.searchsorted(fine, knots[k]), np.searchsorted(fine, knots[k + 1] - 1e-12)
        x0, x1 = loads_w[lo], loads_w[min(hi, n_fine - 1)]
        y0, y1 = best[:, lo], best[:, min(hi, n_fine - 1)]
        slope = (y1 - y0) / (x1 - x0)
        chord = y0[:, None] + slope[:, None] * (loads_w[None, :] - x0)  # (rows, fine)
        excess = np.max(chord - best, axis=1)  # how far the chord rises above the curve anywhere
        line_b[:, k] = slope
        # plus a margin for curvature between the fine grid's points (measured < 1e-4 of facility power)
        line_a[:, k] = y0 - slope * x0 - np.maximum(excess, 0.0) - _CURVATURE_MARGIN * best[:, -1]
    return line_a, line_b, supply
