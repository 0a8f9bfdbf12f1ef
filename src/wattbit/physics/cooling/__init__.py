"""Cooling power, water and free-cooling mode of AI datacenter cooling plants, per time step.

Four systems (:data:`CoolingType`):

* ``air_chiller`` — air-cooled IT: CRAH fans and chilled water from a water-cooled chiller, cooling tower and
  waterside economizer (integrated, in series with the chiller).
* ``liquid_dry_cooler`` — direct-to-chip liquid at an ASHRAE W-class facility supply, rejected by dry coolers with
  adiabatic assist, a trim chiller above that; the air-side share of the heat on CRAHs and a chilled-water loop.
* ``liquid_tower`` — direct-to-chip liquid rejected by an evaporative cooling tower through a plate heat exchanger.
* ``immersion`` — single-phase immersion tanks, coolant pumps, facility water to dry coolers (or a tower).

:func:`cooling_power` takes heat load, outdoor dry bulb and wet bulb (computed beforehand, e.g. with
:func:`wattbit.physics.psychrometrics.wetbulb_psychrometric_c`) and returns electric power [W], water [L/h] and
the mode per step, vectorised over any broadcastable shape (time × sites works). Equations, parameters and their
sources: ``docs/models/cooling.md``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.physics.cooling.components import (
    adiabatic_air_temp_c,
    adiabatic_water_l_per_h,
    chiller_power_energyplus_w,
    crah_airflow_fraction,
    economizer_fraction,
    fan_airflow_fraction,
    fan_power_affinity_w,
    fan_power_vav_w,
    pump_power_w,
    tower_evaporation_fraction,
    tower_water_l_per_h,
)
from wattbit.physics.cooling.design import (
    ASHRAE_W_CLASSES,
    COOLING_TYPES,
    CoolingDesign,
    CoolingType,
    default_design,
    supply_range_c,
)
from wattbit.physics.cooling.systems import CoolingMode, plant
from wattbit.units import check_number, check_range

__all__ = [
    "ASHRAE_W_CLASSES",
    "COOLING_TYPES",
    "TEMP_RANGE_C",
    "WETBULB_TOLERANCE_K",
    "CoolingDesign",
    "CoolingMode",
    "CoolingResult",
    "CoolingType",
    "adiabatic_air_temp_c",
    "adiabatic_water_l_per_h",
    "chiller_power_energyplus_w",
    "cooling_power",
    "crah_airflow_fraction",
    "default_design",
    "economizer_fraction",
    "fan_airflow_fraction",
    "fan_power_affinity_w",
    "fan_power_vav_w",
    "free_cooling_hours",
    "pump_power_w",
    "supply_range_c",
    "tower_evaporation_fraction",
    "tower_water_l_per_h",
]

#: Accepted outdoor temperatures [°C].
TEMP_RANGE_C = (-60.0, 60.0)
#: How far a wet bulb may exceed the dry bulb before it is an error [K]: covers empirical fits such as Stull
#: (2011), whose stated error reaches +0.65 K near saturation. Accepted excess is clipped to the dry bulb.
WETBULB_TOLERANCE_K = 0.7
#: Elements per block: the first axis is evaluated in blocks of about this size so that temporaries stay in cache
#: (a loop over ~50 blocks for a year of 15-minute steps × 100 sites, not over time steps).
BLOCK_ELEMENTS = 1 << 15
#: Largest accepted heat load or capacity [W] (rejects infinities).
MAX_POWER_W = 1e13


class CoolingResult(NamedTuple):
    """Per-step result of :func:`cooling_power`, numpy arrays of the broadcast input shape.

    Attributes
    ----------
    power_w
        Electric power of the cooling plant [W] (chillers, fans, pumps; not the IT fans).
    water_l_per_h
        Site water consumption rate [L/h]: tower evaporation + blowdown + drift, or adiabatic spray make-up.
        Multiply by the step length in hours for litres per step.
    free_cooling
        True where no compressor runs (modes :attr:`CoolingMode.FREE_DRY` and
        :attr:`CoolingMode.FREE_EVAPORATIVE`).
    mode
        :class:`CoolingMode` code per step (int8): 0 free dry, 1 free evaporative, 2 partial (economizer + compressor),
        3 mechanical. For plants with two loops, the higher code of the two.
    """

    power_w: NDArray[np.float64]
    water_l_per_h: NDArray[np.float64]
    free_cooling: NDArray[np.bool_]
    mode: NDArray[np.int8]


def _position(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(k) for k in np.unravel_index(flat_index, shape))


def _checked(name: str, value: ArrayLike, lo: float, hi: float, lo_open: bool = False) -> NDArray[np.float64]:
    """``value`` as a float array, checked by :func:`wattbit.units.check_range`.

    A strided view (such as every 4th site of a time x site array) is copied once, so that the checks and the
    model read contiguous memory.
    """
    arr = np.asarray(value, dtype=float)
    if not arr.flags.c_contiguous and all(arr.strides):  # not for broadcast views (stride 0)
        arr = arr.copy()
    return check_range(name, arr, lo, hi, lo_open=lo_open)


def cooling_power(
    heat_w: ArrayLike,
    temp_db_c: ArrayLike,
    temp_wb_c: ArrayLike,
    design: CoolingDesign,
    supply_temp_c: ArrayLike | None = None,
    *,
    capacity_w: ArrayLike | None = None,
) -> CoolingResult:
    """Cooling electric power, water use and mode of a plant per time step.

    Parameters
    ----------
    heat_w
        Heat to remove [W], >= 0: IT power (plus any other heat released in the white space).
    temp_db_c
        Outdoor dry-bulb temperature [°C], -60..60.
    temp_wb_c
        Outdoor wet-bulb temperature [°C], <= dry bulb (+ :data:`WETBULB_TOLERANCE_K`).
    design
        The plant, from :func:`default_design`.
    supply_temp_c
        Main-loop supply setpoint per step [°C] (chilled water for ``air_chiller``, facility water otherwise),
        overriding ``design.supply_temp_c``; must stay inside the design's range (:func:`supply_range_c`).
    capacity_w
        Design heat load of the plant [W], > 0: sizes chillers, fans and heat-rejection units. Defaults to
        ``heat_w`` itself (the plant always at its design load); give the IT capacity when the load varies.

    Returns
    -------
    CoolingResult
        ``power_w`` [W], ``water_l_per_h`` [L/h], ``free_cooling`` (bool), ``mode`` (int8 :class:`CoolingMode`).

    Raises
    ------
    WattbitInputError
        If an input is NaN or out of range, or a wet bulb exceeds its dry bulb; the message names the argument.

    Examples
    --------
    >>> r = cooling_power(1e6, 10.0, 7.0, default_design("liquid_dry_cooler"))
    >>> bool(r.free_cooling), float(r.power_w) < 0.1e6
    (True, True)
    """
    heat = _checked("heat_w", heat_w, 0.0, MAX_POWER_W)
    tdb = _checked("temp_db_c", temp_db_c, *TEMP_RANGE_C)
    twb = _checked("temp_wb_c", temp_wb_c, *TEMP_RANGE_C)
    twb = _checked_wetbulb(tdb, twb)
    lo, hi = supply_range_c(design)
    if supply_temp_c is None:
        supply = np.asarray(float(design.supply_temp_c))
    else:
        supply = _checked("supply_temp_c", supply_temp_c, lo, hi)
    if capacity_w is None:
        cap = np.maximum(heat, 1e-9)
    else:
        cap = _checked("capacity_w", capacity_w, 0.0, MAX_POWER_W, lo_open=True)
    inputs = (heat, cap, tdb, twb, supply)
    shape = np.broadcast_shapes(*(a.shape for a in inputs))
    full = shape or (1,)
    lead = [a.reshape((1,) * (len(full) - a.ndim) + a.shape) for a in inputs]
    power = np.empty(full)
    water = np.empty(full)
    mode = np.empty(full, dtype=np.int8)
    rows = max(1, BLOCK_ELEMENTS // max(1, math.prod(full[1:])))
    for start in range(0, full[0], rows):
        rows_now = slice(start, start + rows)
        q, cap_rows, db, wb, ts = (a[rows_now] if a.shape[0] > 1 else a for a in lead)
        block = plant(q, cap_rows, db, wb, ts, design)
        power[rows_now] = block.power_w
        water[rows_now] = block.water_l_per_h
        mode[rows_now] = block.mode
    if np.min(heat, initial=np.inf) == 0.0:
        # no heat, no compressor: report the step as free (dry), whatever the weather
        mode[np.broadcast_to(lead[0] == 0.0, full)] = CoolingMode.FREE_DRY
    return CoolingResult(
        power_w=power.reshape(shape),
        water_l_per_h=water.reshape(shape),
        free_cooling=(mode <= CoolingMode.FREE_EVAPORATIVE).reshape(shape),
        mode=mode.reshape(shape),
    )


def _checked_wetbulb(tdb: NDArray[np.float64], twb: NDArray[np.float64]) -> NDArray[np.float64]:
    """Raise if a wet bulb exceeds its dry bulb by more than the tolerance; clip a smaller excess."""
    diff = twb - tdb
    excess = float(np.max(diff, initial=-np.inf))
    if excess > WETBULB_TOLERANCE_K:
        i = int(np.argmax(diff))
        raise WattbitInputError(
            f"wet bulb exceeds dry bulb by {excess:.2f} K at position {_position(i, diff.shape)} "
            f"(expected wet bulb <= dry bulb + {WETBULB_TOLERANCE_K} K)",
            field="temp_wb_c",
        )
    return np.minimum(twb, tdb) if excess > 0.0 else twb


def free_cooling_hours(result: CoolingResult, step_h: float) -> float | NDArray[np.float64]:
    """Hours without any compressor running, summed over the first (time) axis.

    Parameters
    ----------
    result
        From :func:`cooling_power`.
    step_h
        Length of one step [h], > 0 (0.25 for 15-minute steps).

    Returns
    -------
    float or numpy.ndarray
        Free-cooling hours [h]: a float for a 1-D series, one value per site for time × sites.
    """
    check_number(step_h, "step_h", 0.0, lo_open=True)
    free = np.asarray(result.free_cooling)
    hours = np.count_nonzero(free, axis=0) * float(step_h) if free.ndim else float(free) * float(step_h)
    return float(hours) if np.ndim(hours) == 0 else np.asarray(hours, dtype=float)
