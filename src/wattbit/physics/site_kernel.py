"""The site roll-up of a few steps compiled with numba: GPU load to IT power, power chain, cooling plant, battery, grid.

The reinforcement-learning environments measure every control interval (a few steps of a few sites) with the
physics of :func:`wattbit.sim.accounting.site_series`; in numpy that is about a hundred small-array calls per site
and interval, per-call overhead rather than work. :func:`interval_grid` does the same per step and site in one
compiled pass:

* IT power at the DC bus from the GPUs running jobs (by power class, capped phases clipped), held for inference
  and idle (:func:`wattbit.sim.accounting.it_dc_power_w`, :func:`wattbit.physics.gpu.it_power_from_gpu_w`);
* the power chain's stage losses (:func:`wattbit.physics.power_chain.power_chain_losses_w`), misc load and the
  cooling plant's loops (:func:`wattbit.physics.cooling.systems.plant`: economizer, chiller, heat-rejection fans,
  pumps, CRAH fans) to facility power (:func:`wattbit.physics.site.site_power`);
* the battery on the site's net load (a policy's request or the self-consumption rule), settled by the chunked
  scan of :func:`wattbit.physics.battery.simulate_battery`, and grid import.

It is a second reading of those functions, not a new model: the same formulas with the same constants in the same
order (no fast-math), the design's derived constants (pump powers per watt, stage loss coefficients, class powers)
computed once per plant by the numpy code itself (:func:`pack_plants`). The only differences are the summation
order of two dot products over power classes and of the interval's totals, and the chiller's condenser term when
numpy happens to see a single running row (it then adds the same three terms in another order): a few units in
the last place. ``tests/physics/test_site_kernel.py`` holds it to the numpy physics within 1e-12 (relative) on
random loads, caps, setpoints and battery commands for every cooling type, and over a whole year of japan-2022's
weather. Water, modes and the KPIs stay with the numpy code (the environments need grid import only). Compiled on
first use and cached next to this file; the plain function is ``interval_grid.py_func``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from wattbit.jit import njit
from wattbit.physics.battery import BatterySpec
from wattbit.physics.cooling import components as c
from wattbit.physics.gpu import NETWORK_W_PER_GPU
from wattbit.physics.gpu_load import LOW_PHASE_LOAD, POWER_CLASSES, class_gpu_power_w
from wattbit.physics.power_chain import IT_EQUIPMENT_STAGES, power_chain_stages
from wattbit.physics.site import SitePlant

# Columns of the per-site parameter table (float64, one row per site); booleans are 0.0 / 1.0.
# GPUs and IT power
TDP, IDLE, LOW_W, GPN, NODE_IDLE, NODE_SLOPE, FAN_FACTOR, NETWORK, RATED_IT, SPAN = range(10)
# power chain and misc load
STAGES, MISC, RATED_HEAT = range(10, 13)
# cooling plant: shares, main loop, air loop, rejection, chiller
LIQUID, AIR, SUPPLY, LOOP_DT, LIQUID_PUMP = range(13, 18)
AIR_CHILLER, AIR_SUPPLY, AIR_DT, AIR_PUMP, CRAH_FAN, CRAH_IDLE, CRAH_CAP_FACTOR = range(18, 25)
TOWER, TOWER_APPROACH, TOWER_TOTAL_APPROACH, TOWER_FAN, CW_PUMP, CW_MIN_FLOW = range(25, 31)
DRY_APPROACH, DRY_FAN, ADIABATIC = range(31, 34)
REJECT_FACTOR, FAN_MIN_SPEED, PUMP_MIN_FLOW = range(34, 37)
COP_INV, EVAP_CONST, MIN_PLR, FALSE_LOAD = range(37, 41)
# battery
BATTERY, E_MIN, E_MAX, P_MAX, ETA_C, ETA_D, ENERGY, SOC_MIN, SOC_MAX = range(41, 50)
N_PARAMS = 50
#: Stage columns: loss coefficients ``c2 / rating``, ``c1``, ``c0 rating``, upstream, inside the IT equipment.
K2, C1, C0R, UPSTREAM, IT_STAGE = range(5)
MAX_STAGES = 4


class PlantTables(NamedTuple):
    """What :func:`interval_grid` needs of the sites' plants, packed once per fleet.

    Attributes
    ----------
    params
        Per site, the columns named by this module's constants (sites, :data:`N_PARAMS`).
    stages
        Per site and power-chain stage (load side first), the loss coefficients (sites, 4, 5).
    class_w
        Per site and power class (sites, 3, classes): uncapped mean GPU power [W], low-phase share, compute-phase
        power [W] (each phase clipped at a cap on its own).
    """

    params: NDArray[np.float64]
    stages: NDArray[np.float64]
    class_w: NDArray[np.float64]


def _site_params(plant: SitePlant, battery: BatterySpec | None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One row of :attr:`PlantTables.params` and the site's stage table, computed as the numpy physics does."""
    p = np.zeros(N_PARAMS)
    gpu, d = plant.gpu, plant.cooling
    p[TDP], p[IDLE], p[GPN] = gpu.tdp_w, gpu.idle_w, gpu.gpus_per_node
    p[LOW_W] = gpu.idle_w + (gpu.tdp_w - gpu.idle_w) * np.asarray(LOW_PHASE_LOAD, dtype=float)
    p[NODE_IDLE], p[NODE_SLOPE] = gpu.node_idle_overhead_w, gpu.operating_overhead_w - gpu.node_idle_overhead_w
    p[FAN_FACTOR] = 1.0 - gpu.fan_share * np.asarray(plant.liquid_share, dtype=float)
    p[NETWORK], p[RATED_IT], p[SPAN] = NETWORK_W_PER_GPU, plant.rated_it_dc_w, gpu.tdp_w - gpu.idle_w
    stages = np.zeros((MAX_STAGES, 5))
    chain = power_chain_stages(plant.architecture, plant.ups_mode)
    for k, stage in enumerate(reversed(chain)):
        rating = stage.rating_ratio * np.asarray(plant.rated_it_dc_w, dtype=float)
        stages[k] = (
            stage.resistive_loss / rating,
            stage.proportional_loss,
            stage.no_load_loss * rating,
            stage.upstream,
            stage.name in IT_EQUIPMENT_STAGES,
        )
    p[STAGES] = len(chain)
    p[MISC] = plant.misc_load_fraction * plant.rated_input_w
    p[RATED_HEAT] = plant.rated_input_w * (1.0 + plant.misc_load_fraction)
    p[LIQUID], p[AIR], p[SUPPLY], p[LOOP_DT] = 1.0 - d.air_share, d.air_share, d.supply_temp_c, d.loop_delta_t_k
    p[LIQUID_PUMP] = float(
        c.pump_power_w(1.0, d.loop_delta_t_k, d.loop_pump_head_pa, d.pump_efficiency)
        + c.pump_power_w(
            1.0, d.tcs_delta_t_k, d.tcs_pump_head_pa, d.pump_efficiency, d.tcs_density_kg_m3, d.tcs_cp_j_per_kg_k
        )
    )
    air_chiller = d.cooling_type == "air_chiller"
    p[AIR_CHILLER] = air_chiller
    p[AIR_SUPPLY] = d.air_loop_supply_c
    p[AIR_DT] = d.loop_delta_t_k if air_chiller else d.air_loop_delta_t_k
    head = d.loop_pump_head_pa if air_chiller else d.air_loop_pump_head_pa
    p[AIR_PUMP] = float(c.pump_power_w(1.0, p[AIR_DT], head, d.pump_efficiency))
    p[CRAH_FAN], p[CRAH_IDLE], p[CRAH_CAP_FACTOR] = d.crah_fan_w_per_w, d.crah_idle_airflow, 1.0 + d.crah_fan_w_per_w
    p[TOWER], p[TOWER_APPROACH] = d.heat_rejection == "tower", d.tower_approach_k
    p[TOWER_TOTAL_APPROACH], p[TOWER_FAN] = d.tower_approach_k + d.hx_approach_k, d.tower_fan_w_per_w
    p[CW_PUMP] = float(c.pump_power_w(1.0, d.cw_delta_t_k, d.cw_pump_head_pa, d.pump_efficiency))
    p[CW_MIN_FLOW], p[DRY_APPROACH], p[DRY_FAN] = d.cw_pump_min_flow, d.dry_cooler_approach_k, d.dry_cooler_fan_w_per_w
    p[ADIABATIC], p[REJECT_FACTOR] = d.adiabatic_effectiveness, 1.0 + 1.0 / d.chiller_rated_cop
    p[FAN_MIN_SPEED], p[PUMP_MIN_FLOW] = d.fan_min_speed, d.pump_min_flow
    p[COP_INV] = 1.0 / d.chiller_rated_cop
    p[EVAP_CONST] = d.chiller_design_evap_c - d.chiller_design_cond_c / c.CHILLER_TEMP_RISE_COEF_K
    p[MIN_PLR], p[FALSE_LOAD] = d.chiller_min_part_load, d.chiller_false_load
    if battery is not None:
        p[BATTERY], p[E_MIN], p[E_MAX] = 1.0, battery.soc_min_mwh, battery.soc_max_mwh
        p[P_MAX], p[ETA_C], p[ETA_D] = battery.power_mw, battery.charge_efficiency, battery.discharge_efficiency
        p[ENERGY], p[SOC_MIN], p[SOC_MAX] = battery.energy_mwh, battery.soc_min, battery.soc_max
    return p, stages


def pack_plants(plants: Sequence[SitePlant], batteries: Sequence[BatterySpec | None]) -> PlantTables:
    """The :class:`PlantTables` of a fleet's sites (their plants and batteries, in site order)."""
    rows = [_site_params(plant, battery) for plant, battery in zip(plants, batteries, strict=True)]
    low = np.array([cls.low_share for cls in POWER_CLASSES])
    compute = np.array([cls.compute_load for cls in POWER_CLASSES])
    class_w = np.stack(
        [
            np.stack([class_gpu_power_w(p.gpu), low, p.gpu.idle_w + (p.gpu.tdp_w - p.gpu.idle_w) * compute])
            for p in plants
        ]
    )
    return PlantTables(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]), class_w)


@njit
def interval_grid(
    params: NDArray[np.float64],
    stages: NDArray[np.float64],
    class_w: NDArray[np.float64],
    busy_gpus: NDArray[np.int64],
    inference_gpus: NDArray[np.int64],
    available_gpus: NDArray[np.int64],
    busy_by_class: NDArray[np.int32],
    uncapped_by_class: NDArray[np.int32],
    gpu_cap_w: NDArray[np.float64],
    supply_temp_c: NDArray[np.float64],
    battery_self_consumption: NDArray[np.bool_],
    battery_mw: NDArray[np.float64],
    inference_needed: NDArray[np.float64],
    weather: NDArray[np.float64],
    carbon_g_per_kwh: NDArray[np.float64],
    price_per_mwh: NDArray[np.float64],
    start: int,
    end: int,
    soc_start_mwh: NDArray[np.float64],
    step_h: float,
    facility_w: NDArray[np.float64],
    grid_w: NDArray[np.float64],
    totals: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """Facility power and grid import [W] of steps ``start..end-1`` of every site, into ``facility_w`` and
    ``grid_w`` (rows ``0..end-start-1``), and the interval's totals into ``totals``: grid energy [MWh], its carbon
    [t] and cost, and the GPU-hours of inference needed but not served.

    ``busy_gpus`` ... ``inference_needed`` are the step record's arrays (steps, sites[, classes]); ``weather`` is
    per step and site (steps, sites, 5): dry bulb, wet bulb [°C], PV and wind [W] and the power of one GPU held for
    inference [W]; ``carbon_g_per_kwh`` and ``price_per_mwh`` the grid's signals (steps, sites).
    ``soc_start_mwh``: each battery's stored energy before step ``start`` (ignored without one).
    """
    rows, sites, classes = end - start, params.shape[0], class_w.shape[2]
    for i in range(sites):
        p = params[i]
        capped = False
        for t in range(start, end):
            if not np.isnan(gpu_cap_w[t, i]):
                capped = True
        for r in range(rows):
            t = start + r
            # IT power at the DC bus: GPUs running jobs, held for inference, idle (three groups)
            busy_w = 0.0
            if capped:
                cap = p[TDP] if np.isnan(gpu_cap_w[t, i]) else gpu_cap_w[t, i]
                free_w = 0.0
                for k in range(classes):
                    n_all = float(busy_by_class[t, i, k])
                    n_free = float(min(uncapped_by_class[t, i, k], busy_by_class[t, i, k]))
                    low = class_w[i, 1, k]
                    phase = low * min(p[LOW_W], cap) + (1.0 - low) * min(class_w[i, 2, k], cap)
                    busy_w += (n_all - n_free) * phase
                    free_w += n_free * class_w[i, 0, k]
                busy_w += free_w
            else:
                for k in range(classes):
                    busy_w += float(busy_by_class[t, i, k]) * class_w[i, 0, k]
            busy = float(busy_gpus[t, i])
            inference = float(inference_gpus[t, i])
            idle = float(max(available_gpus[t, i] - busy_gpus[t, i] - inference_gpus[t, i], 0))
            it_dc = (
                _group_it_w(p, busy, busy_w)
                + _group_it_w(p, inference, inference * weather[t, i, 4])
                + _group_it_w(p, idle, idle * p[IDLE])
            )
            supply = p[SUPPLY] if np.isnan(supply_temp_c[t, i]) else supply_temp_c[t, i]
            facility_w[r, i] = _facility_w(
                p, stages[i], min(it_dc, p[RATED_IT]), weather[t, i, 0], weather[t, i, 1], supply
            )
        net = np.empty(rows)
        for r in range(rows):
            net[r] = facility_w[r, i] - weather[start + r, i, 2] - weather[start + r, i, 3]
        if p[BATTERY] > 0.0:
            request = np.empty(rows)
            for r in range(rows):
                t = start + r
                request[r] = net[r] / 1e6 if battery_self_consumption[t, i] else battery_mw[t, i]
            battery = _battery_mw(p, request, soc_start_mwh[i], step_h)
            for r in range(rows):
                net[r] = net[r] - battery[r] * 1e6
        for r in range(rows):
            grid_w[r, i] = max(net[r], 0.0)
    # the interval's totals, step after step and site after site (as the numpy reward sums them, to rounding)
    energy_mwh, carbon_kg, cost, unserved = 0.0, 0.0, 0.0, 0.0
    for r in range(rows):
        t = start + r
        for i in range(sites):
            mwh = grid_w[r, i] * step_h / 1e6
            energy_mwh += mwh
            carbon_kg += mwh * carbon_g_per_kwh[t, i]
            cost += mwh * price_per_mwh[t, i]
            unserved += max(np.ceil(inference_needed[t, i] - 1e-9) - inference_gpus[t, i], 0.0)
    totals[0], totals[1], totals[2], totals[3] = energy_mwh, carbon_kg / 1000.0, cost, unserved * step_h


@njit
def _group_it_w(p: NDArray[np.float64], count: float, power_w: float) -> float:  # pragma: no cover - compiled
    """IT power of a group of GPUs from their total GPU power (:func:`wattbit.physics.gpu.it_power_from_gpu_w`)."""
    u = 0.0
    if count > 0:
        u = min(max((power_w / max(count, 1.0) - p[IDLE]) / p[SPAN], 0.0), 1.0)
    nodes = np.ceil(count / p[GPN])
    overhead_w = nodes * (p[NODE_IDLE] + p[NODE_SLOPE] * u)
    return (power_w + overhead_w) * p[FAN_FACTOR] + count * p[NETWORK]


@njit
def _facility_w(
    p: NDArray[np.float64], stages: NDArray[np.float64], it_dc_w: float, tdb: float, twb: float, supply: float
) -> float:  # pragma: no cover - compiled
    """Facility power of one step (:func:`wattbit.physics.site.site_power`): chain losses, misc, cooling."""
    out, it_w, upstream, downstream = it_dc_w, it_dc_w, 0.0, 0.0
    for k in range(int(p[STAGES])):
        s = stages[k]
        loss = out * s[K2]
        loss += s[C1]
        loss *= out
        loss += s[C0R]
        if s[UPSTREAM] > 0.0:
            upstream += loss
        else:
            downstream += loss
        out += loss
        if s[IT_STAGE] > 0.0:
            it_w += loss
    input_w = it_dc_w + (upstream + downstream)
    chain_losses_w = input_w - it_w
    heat_w = input_w + p[MISC]
    cooling_w = _plant_w(p, heat_w, p[RATED_HEAT], tdb, min(twb, tdb), supply)
    return it_w + chain_losses_w + cooling_w + p[MISC]


@njit
def _plant_w(
    p: NDArray[np.float64], heat_w: float, capacity_w: float, tdb: float, twb: float, supply: float
) -> float:  # pragma: no cover - compiled
    """Cooling power of a plant (:func:`wattbit.physics.cooling.systems.plant`): main loop, then the air loop."""
    total = 0.0
    parts = 0
    if p[LIQUID] > 0.0:
        total = _loop_w(p, heat_w * p[LIQUID], capacity_w * p[LIQUID], supply, p[LOOP_DT], p[LIQUID_PUMP], tdb, twb)
        parts = 1
    if p[AIR] > 0.0:
        q_air = heat_w * p[AIR]
        cap_air = capacity_w * p[AIR]
        load = q_air / cap_air
        airflow = p[CRAH_IDLE] + (1.0 - p[CRAH_IDLE]) * load if load > 0.0 else 0.0
        curve = c.VAV_FAN_COEFFS[0] + airflow * (
            c.VAV_FAN_COEFFS[1] + airflow * (c.VAV_FAN_COEFFS[2] + airflow * c.VAV_FAN_COEFFS[3])
        )
        crah_w = (p[CRAH_FAN] * cap_air) * (curve if airflow > 0.0 else 0.0)
        setpoint = supply if p[AIR_CHILLER] > 0.0 else p[AIR_SUPPLY]
        air_w = _loop_w(p, q_air + crah_w, cap_air * p[CRAH_CAP_FACTOR], setpoint, p[AIR_DT], p[AIR_PUMP], tdb, twb)
        air_w = air_w + crah_w
        total = total + air_w if parts else air_w
    return total


@njit
def _loop_w(
    p: NDArray[np.float64], q: float, cap: float, ts: float, dt: float, linear: float, tdb: float, twb: float
) -> float:  # pragma: no cover - compiled
    """One water loop (:func:`wattbit.physics.cooling.systems.loop`): economizer, series chiller, fans, pumps."""
    design_rejected_w = cap * p[REJECT_FACTOR]
    if p[TOWER] > 0.0:
        approach, sink, t_cond, fan_w_per_w = p[TOWER_TOTAL_APPROACH], twb, twb + p[TOWER_APPROACH], p[TOWER_FAN]
    else:
        approach, fan_w_per_w = p[DRY_APPROACH], p[DRY_FAN]
        sink = tdb
        if p[ADIABATIC] > 0.0:
            sink = min(tdb, max(tdb - p[ADIABATIC] * (tdb - twb), ts - approach))
        t_cond = sink
    x = min(max(((ts - approach) - sink) * (1.0 / dt) + 1.0, 0.0), 1.0)
    chiller_w = _chiller_w(p, (1.0 - x) * q, ts, t_cond, cap)
    rejected_w = q + chiller_w
    itd_ratio = ((ts + dt) - sink) * (1.0 / (dt + approach))
    airflow = (rejected_w / design_rejected_w) / max(itd_ratio, 1.0)
    cube = airflow * airflow * airflow
    if p[FAN_MIN_SPEED] > 0.0:
        cube = max(cube, (p[FAN_MIN_SPEED] * p[FAN_MIN_SPEED]) * airflow)
    power = (fan_w_per_w * design_rejected_w) * cube
    power += _pumped(q, cap, p[PUMP_MIN_FLOW]) * linear
    if p[TOWER] > 0.0:
        power += _pumped(rejected_w, design_rejected_w, p[CW_MIN_FLOW]) * p[CW_PUMP]
    power += chiller_w
    return power


@njit
def _pumped(heat_w: float, design_heat_w: float, min_flow: float) -> float:  # pragma: no cover - compiled
    """Heat a pump's flow corresponds to (``systems._pumped``)."""
    if min_flow <= 0.0:
        return heat_w
    return max(heat_w, min_flow * design_heat_w) if heat_w > 0.0 else 0.0


@njit
def _chiller_w(
    p: NDArray[np.float64], load_w: float, t_evap: float, t_cond: float, capacity_w: float
) -> float:  # pragma: no cover - compiled
    """Compressor power (:func:`wattbit.physics.cooling.components.chiller_power_energyplus_w`); 0 at no load."""
    if not load_w > 0.0:
        return 0.0
    a0, a1, a2 = c.CHILLER_CAPACITY_COEFFS
    b0, b1, b2 = c.CHILLER_POWER_COEFFS
    c0, c1, c2 = c.CHILLER_PART_LOAD_COEFFS
    lo, hi = c.CHILLER_DELTA_T_RANGE_K
    delta_t = t_cond * (1.0 / c.CHILLER_TEMP_RISE_COEF_K)
    delta_t = delta_t - t_evap + p[EVAP_CONST]
    delta_t = min(max(delta_t, lo), hi)
    cap_ratio = a0 + delta_t * (a1 + a2 * delta_t)
    full_load_power_ratio = b0 + cap_ratio * (b1 + b2 * cap_ratio)
    available_w = cap_ratio * capacity_w
    min_plr = p[MIN_PLR]
    if p[FALSE_LOAD] > 0.0 and min_plr > 0.0:
        load_w = max(load_w, min_plr * capacity_w)
    plr = load_w / available_w
    plr_op = min(max(plr, min_plr), 1.0)
    frac = c0 + plr_op * (c1 + c2 * plr_op)
    if min_plr > 0.0:
        frac *= min(plr * (1.0 / min_plr), 1.0)
    frac += max(plr - 1.0, 0.0)
    frac *= full_load_power_ratio
    frac *= available_w
    frac *= p[COP_INV]
    return frac


@njit
def _battery_mw(
    p: NDArray[np.float64], request_mw: NDArray[np.float64], soc_mwh: float, step_h: float
) -> NDArray[np.float64]:  # pragma: no cover - compiled
    """Delivered battery power [MW] per step from stored energy ``soc_mwh`` (:func:`wattbit.physics.battery.
    simulate_battery` with ``initial_soc`` the clipped share of ``soc_mwh``, by its chunked scan)."""
    n = request_mw.size
    e_min, e_max, eta_c, eta_d = p[E_MIN], p[E_MAX], p[ETA_C], p[ETA_D]
    soc0 = min(max(soc_mwh / p[ENERGY], p[SOC_MIN]), p[SOC_MAX]) * p[ENERGY]
    power = np.empty(n)
    wanted = np.zeros(n)
    for t in range(n):
        power[t] = min(max(request_mw[t], -p[P_MAX]), p[P_MAX])
        wanted[t] = (-step_h / eta_d if power[t] > 0 else -step_h * eta_c) * power[t]
    soc = _bounded_scan(wanted, soc0, e_min, e_max)
    for t in range(n):
        if soc[t] <= e_min or soc[t] >= e_max:
            change = soc[t] - (soc0 if t == 0 else soc[t - 1])
            power[t] = (eta_d / step_h if -change > 0 else 1.0 / (eta_c * step_h)) * -change
    return power


@njit
def _bounded_scan(
    wanted: NDArray[np.float64], soc0: float, e_min: float, e_max: float
) -> NDArray[np.float64]:  # pragma: no cover - compiled
    """``s_t = min(max(s_{t-1} + w_t, e_min), e_max)`` by the chunks of ``battery._bounded_cumsum`` (same sums)."""
    n = wanted.size
    length = max(1, int(math.sqrt(n)))
    while length > 1 and length * length > n:  # math.isqrt(n), as the numpy scan chunks
        length -= 1
    while (length + 1) * (length + 1) <= n:
        length += 1
    chunks = -(-n // length)
    w = np.zeros(chunks * length)
    w[:n] = wanted
    offset, low, high = np.zeros(chunks), np.full(chunks, -np.inf), np.full(chunks, np.inf)
    for k in range(chunks):
        for t in range(length):
            v = w[k * length + t]
            offset[k] += v
            low[k] = min(max(low[k] + v, e_min), e_max)
            high[k] = min(max(high[k] + v, e_min), e_max)
    start = np.empty(chunks)
    state = soc0
    for k in range(chunks):
        start[k] = state
        state = min(max(state + offset[k], low[k]), high[k])
    soc = np.empty(chunks * length)
    for k in range(chunks):
        total, lo, hi = 0.0, -np.inf, np.inf
        for t in range(length):
            v = w[k * length + t]
            total += v
            lo = min(max(lo + v, e_min), e_max)
            hi = min(max(hi + v, e_min), e_max)
            soc[k * length + t] = min(max(start[k] + total, lo), hi)
    return soc[:n]
