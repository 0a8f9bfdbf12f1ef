"""Plant models: a water loop with its economizer, chiller, fans and pumps, and the four systems built from it.

A loop carries heat ``q`` [W] at supply setpoint ``T_s`` and return ``T_s + ΔT``. Its economizer removes the share
``x`` (:func:`~wattbit.physics.cooling.components.economizer_fraction`); a chiller in series removes
``(1 − x) q``. All heat plus the compressor power leaves through the heat-rejection units (cooling tower or dry
cooler). Power = chiller + rejection fans + pumps; water = tower make-up or adiabatic spray.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from wattbit.physics.cooling import components as c
from wattbit.physics.cooling.design import CoolingDesign
from wattbit.units import FloatArray

#: Below this share of steps needing a chiller, compute the chiller only on those steps.
_SPARSE_CHILLER_SHARE = 0.3


class CoolingMode(IntEnum):
    """Operating mode per step (the ``mode`` array of :class:`~wattbit.physics.cooling.CoolingResult`)."""

    #: No compressor; heat rejected sensibly (dry cooler, no spray).
    FREE_DRY = 0
    #: No compressor; evaporative rejection (cooling tower, or dry cooler with adiabatic spray).
    FREE_EVAPORATIVE = 1
    #: Economizer and compressor in series.
    PARTIAL = 2
    #: Compressor carries the whole load (economizer off).
    MECHANICAL = 3


class LoopResult(NamedTuple):
    """Electric power [W], water [L/h] and mode of one loop."""

    power_w: FloatArray
    water_l_per_h: FloatArray
    mode: NDArray[np.int8]


def _chiller_w(
    load_w: FloatArray, t_evap: FloatArray, t_cond: FloatArray, cap_w: FloatArray, design: CoolingDesign
) -> FloatArray | float:
    """Chiller power, evaluated only where the chiller runs when that is a small share of the steps."""
    running = load_w > 0.0
    n = int(np.count_nonzero(running))
    if n == 0:
        return 0.0
    args = (
        design.chiller_rated_cop,
        design.chiller_design_cond_c,
        design.chiller_design_evap_c,
        design.chiller_min_part_load,
    )
    false_load = design.chiller_false_load
    if n > _SPARSE_CHILLER_SHARE * load_w.size:
        return c.chiller_power_energyplus_w(load_w, t_evap, t_cond, cap_w, *args, false_load=false_load)
    shape = load_w.shape

    def pick(a: FloatArray) -> FloatArray | float:
        return float(np.ravel(a)[0]) if np.size(a) == 1 else np.broadcast_to(a, shape)[running]

    out = np.zeros(shape)
    out[running] = c.chiller_power_energyplus_w(
        load_w[running], pick(t_evap), pick(t_cond), pick(cap_w), *args, false_load=false_load
    )
    return out


def _mode(x: FloatArray, free_code: NDArray[np.int8] | int) -> NDArray[np.int8]:
    """2 (partial) or 3 (mechanical) from the economizer share, ``free_code`` where the economizer carries all."""
    mode = np.asarray(x <= 0.0).view(np.int8) + np.int8(CoolingMode.PARTIAL)
    return np.where(x >= 1.0, np.asarray(free_code, dtype=np.int8), mode)


def _free_everywhere(sink_c: FloatArray, supply_c: FloatArray, approach_k: float) -> bool:
    """True if the economizer carries the full load at every step (no chiller, no spray needed)."""
    return bool(np.max(sink_c) + approach_k <= np.min(supply_c))


def loop(
    heat_w: FloatArray,
    capacity_w: FloatArray,
    supply_c: FloatArray,
    delta_t_k: float,
    linear_w_per_w: float,
    temp_db_c: FloatArray,
    temp_wb_c: FloatArray,
    design: CoolingDesign,
) -> LoopResult:
    """One water loop: economizer + series chiller + heat rejection (see the module docstring).

    ``capacity_w`` is the design heat of the loop [W]; rejection units are sized for
    ``capacity · (1 + 1 / COP_rated)``. ``linear_w_per_w`` is the power of the pumps that scale with the loop
    heat [W/W]; they never run below ``design.pump_min_flow`` of their design flow.
    """
    if design.heat_rejection == "tower":
        return _tower_loop(heat_w, capacity_w, supply_c, delta_t_k, linear_w_per_w, temp_db_c, temp_wb_c, design)
    return _dry_loop(heat_w, capacity_w, supply_c, delta_t_k, linear_w_per_w, temp_db_c, temp_wb_c, design)


def _pumped(heat_w: FloatArray, design_heat_w: FloatArray, min_flow: float) -> FloatArray:
    """Heat a pump's flow corresponds to: never below ``min_flow`` of design while the loop carries any heat (a
    plant with no heat at all is off)."""
    if min_flow <= 0.0:
        return heat_w
    return np.where(heat_w > 0.0, np.maximum(heat_w, min_flow * design_heat_w), 0.0)


def _tower_loop(
    q: FloatArray,
    cap: FloatArray,
    ts: FloatArray,
    dt: float,
    linear: float,
    tdb: FloatArray,
    twb: FloatArray,
    design: CoolingDesign,
) -> LoopResult:
    approach = design.tower_approach_k + design.hx_approach_k
    design_rejected_w = cap * (1.0 + 1.0 / design.chiller_rated_cop)
    cw_pump = float(c.pump_power_w(1.0, design.cw_delta_t_k, design.cw_pump_head_pa, design.pump_efficiency))
    water_per_w = float(
        c.tower_water_l_per_h(1.0, design.cycles_of_concentration, design.drift_fraction, design.cw_delta_t_k)
    )
    if _free_everywhere(twb, ts, approach):
        chiller_w: FloatArray | float = 0.0
        rejected_w = q
        mode = np.full(np.broadcast_shapes(np.shape(q), np.shape(twb)), CoolingMode.FREE_EVAPORATIVE, dtype=np.int8)
    else:
        x = c.economizer_fraction(twb, ts, dt, approach)
        chiller_w = _chiller_w((1.0 - x) * q, ts, twb + design.tower_approach_k, cap, design)
        rejected_w = q + chiller_w
        mode = _mode(x, CoolingMode.FREE_EVAPORATIVE)
    airflow = c.fan_airflow_fraction(rejected_w / design_rejected_w, twb, ts + dt, dt + approach)
    power = c.fan_power_affinity_w(airflow, design.tower_fan_w_per_w * design_rejected_w, design.fan_min_speed)
    power += _pumped(q, cap, design.pump_min_flow) * linear
    power += _pumped(rejected_w, design_rejected_w, design.cw_pump_min_flow) * cw_pump
    power += chiller_w
    # air leaves saturated near the mean tower water temperature: wet bulb + approach + half the range (U)
    phi = c.tower_evaporation_fraction(tdb, twb, twb + design.tower_approach_k + 0.5 * design.cw_delta_t_k)
    return LoopResult(power, rejected_w * water_per_w * phi, mode)


def _dry_loop(
    q: FloatArray,
    cap: FloatArray,
    ts: FloatArray,
    dt: float,
    linear: float,
    tdb: FloatArray,
    twb: FloatArray,
    design: CoolingDesign,
) -> LoopResult:
    approach = design.dry_cooler_approach_k
    design_rejected_w = cap * (1.0 + 1.0 / design.chiller_rated_cop)
    if _free_everywhere(tdb, ts, approach):
        airflow = c.fan_airflow_fraction(q / design_rejected_w, tdb, ts + dt, dt + approach)
        power = c.fan_power_affinity_w(airflow, design.dry_cooler_fan_w_per_w * design_rejected_w, design.fan_min_speed)
        power += _pumped(q, cap, design.pump_min_flow) * linear
        return LoopResult(power, np.zeros(power.shape), np.zeros(power.shape, dtype=np.int8))
    adiabatic = design.adiabatic_effectiveness > 0.0
    if adiabatic:
        # spray only as much as free cooling needs: air cooled to T_s - approach, at most to the pre-cooler limit
        t_air = np.minimum(
            tdb, np.maximum(c.adiabatic_air_temp_c(tdb, twb, design.adiabatic_effectiveness), ts - approach)
        )
    else:
        t_air = tdb
    x = c.economizer_fraction(t_air, ts, dt, approach)
    chiller_w = _chiller_w((1.0 - x) * q, ts, t_air, cap, design)
    rejected_w = q + chiller_w
    airflow = c.fan_airflow_fraction(rejected_w / design_rejected_w, t_air, ts + dt, dt + approach)
    power = c.fan_power_affinity_w(airflow, design.dry_cooler_fan_w_per_w * design_rejected_w, design.fan_min_speed)
    power += _pumped(q, cap, design.pump_min_flow) * linear
    power += chiller_w
    if not adiabatic:
        return LoopResult(power, np.zeros(power.shape), _mode(x, CoolingMode.FREE_DRY))
    spray_k = tdb - t_air
    water = c.adiabatic_water_l_per_h(
        spray_k, airflow, design_rejected_w, design.dry_cooler_air_rise_k, design.cycles_of_concentration
    )
    free_code = np.asarray(spray_k > 0.0).view(np.int8)  # FREE_DRY = 0, FREE_EVAPORATIVE = 1
    return LoopResult(power, water, _mode(x, free_code))


def plant(
    heat_w: FloatArray,
    capacity_w: FloatArray,
    temp_db_c: FloatArray,
    temp_wb_c: FloatArray,
    supply_c: FloatArray,
    design: CoolingDesign,
) -> LoopResult:
    """A whole plant: the main loop (liquid or, for ``air_chiller``, chilled water) and the air loop.

    Air loop: CRAH fans on the ASHRAE 90.1 VAV part-load curve at the airflow the servers draw (never below their
    idle airflow), then a chilled-water loop carrying that heat plus the fan heat. Liquid designs add the
    technology-loop (CDU secondary / immersion coolant) pump. The site mode is the higher code of the two loops, so
    a step counts as free cooling only when no compressor runs anywhere.
    """
    parts: list[LoopResult] = []
    liquid_share = 1.0 - design.air_share
    if liquid_share > 0.0:
        pumps = float(
            c.pump_power_w(1.0, design.loop_delta_t_k, design.loop_pump_head_pa, design.pump_efficiency)
            + c.pump_power_w(
                1.0,
                design.tcs_delta_t_k,
                design.tcs_pump_head_pa,
                design.pump_efficiency,
                design.tcs_density_kg_m3,
                design.tcs_cp_j_per_kg_k,
            )
        )
        parts.append(
            loop(
                heat_w * liquid_share,
                capacity_w * liquid_share,
                supply_c,
                design.loop_delta_t_k,
                pumps,
                temp_db_c,
                temp_wb_c,
                design,
            )
        )
    if design.air_share > 0.0:
        q_air = heat_w * design.air_share
        cap_air = capacity_w * design.air_share
        airflow = c.crah_airflow_fraction(q_air / cap_air, design.crah_idle_airflow)
        crah_w = c.fan_power_vav_w(airflow, design.crah_fan_w_per_w * cap_air)
        if design.cooling_type == "air_chiller":
            setpoint, dt, head = supply_c, design.loop_delta_t_k, design.loop_pump_head_pa
        else:
            setpoint, dt, head = (
                np.asarray(design.air_loop_supply_c),
                design.air_loop_delta_t_k,
                design.air_loop_pump_head_pa,
            )
        pump = float(c.pump_power_w(1.0, dt, head, design.pump_efficiency))
        air = loop(
            q_air + crah_w, cap_air * (1.0 + design.crah_fan_w_per_w), setpoint, dt, pump, temp_db_c, temp_wb_c, design
        )
        parts.append(LoopResult(air.power_w + crah_w, air.water_l_per_h, air.mode))
    if len(parts) == 1:
        return parts[0]
    first, second = parts
    return LoopResult(
        first.power_w + second.power_w,
        first.water_l_per_h + second.water_l_per_h,
        np.maximum(first.mode, second.mode),
    )
