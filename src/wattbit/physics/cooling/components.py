"""Component models of a cooling plant: chiller, economizer, fans, pumps, cooling-tower and adiabatic water.

Every function is pure and vectorised over numpy arrays (broadcasting as numpy does). Temperatures are in °C,
temperature differences in K, heat flows and electric powers in W, water in L/h (1 kg of water ≈ 1 L).
The equations and the status of every constant (V/S/U) are in ``docs/models/cooling.md``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from wattbit.units import FloatArray

#: EnergyPlus ``Chiller:Electric`` curve coefficients as used by HewlettPackard/dc-rl ``envs/datacenter.py`` (V):
#: available-capacity ratio, full-load power ratio and fraction of full-load power, each quadratic.
CHILLER_CAPACITY_COEFFS = (0.944836, -0.0570088, 0.00185486)
CHILLER_POWER_COEFFS = (2.333, -1.975, 0.6121)
CHILLER_PART_LOAD_COEFFS = (0.03303, 0.6852, 0.2818)
#: Temperature-rise coefficient of the curves [K] (V, dc-rl).
CHILLER_TEMP_RISE_COEF_K = 2.778
#: Range of the curve variable ``ΔT`` [K] over which compressor power rises monotonically with lift for every
#: load (found by scanning the curves); outside it the curves are held at the edge (assumption U).
CHILLER_DELTA_T_RANGE_K = (-6.5, 12.0)

#: Latent heat of vaporisation of water at about 30 °C [J/kg] (steam tables: 2,430.5 kJ/kg; S).
LATENT_HEAT_J_PER_KG = 2.43e6
#: Moist air near 25 °C: density [kg/m³] and specific heat [J/(kg·K)] (dc-rl uses 1.225 and 1006, V).
AIR_CP_J_PER_KG_K = 1006.0
#: Water: density [kg/m³] and specific heat [J/(kg·K)] at about 20 °C.
WATER_DENSITY_KG_M3 = 998.0
WATER_CP_J_PER_KG_K = 4186.0

SECONDS_PER_HOUR = 3600.0


def chiller_power_energyplus_w(
    load_w: ArrayLike,
    temp_evap_leaving_c: ArrayLike,
    temp_cond_entering_c: ArrayLike,
    capacity_w: ArrayLike,
    rated_cop: float,
    design_cond_entering_c: float,
    design_evap_leaving_c: float = 6.67,
    min_part_load: float = 0.05,
    *,
    false_load: bool = False,
) -> FloatArray:
    """Compressor power of an electric chiller, EnergyPlus ``Chiller:Electric`` (BLAST) model.

    ``ΔT = (T_cond,in − T_cond,design) / 2.778 − (T_evap,out − T_evap,design)``, clipped to
    :data:`CHILLER_DELTA_T_RANGE_K`; available capacity ratio ``r = a0 + a1 ΔT + a2 ΔT²``; full-load power ratio
    ``FLPR = b0 + b1 r + b2 r²``; part-load ratio ``PLR = Q / (r · Q_nom)``; fraction of full-load power
    ``F(PLR) = c0 + c1 PLR + c2 PLR²``. Then ``P = FLPR · r · Q_nom · F(PLR) / COP_rated``. Below the minimum
    part-load ratio the chiller cycles (power ∝ load), or, with ``false_load``, runs as if it carried
    ``PLR_min · Q_nom`` (hot-gas bypass adds a false load; zero only at zero load); above ``PLR = 1`` further
    chillers are staged at full load (power ∝ load), where EnergyPlus would leave the excess unmet.

    Sources: EnergyPlus Engineering Reference, "Electric Chiller Model Based on Fluid Temperature Differences";
    coefficients, rated COP and design temperatures as in HewlettPackard/dc-rl ``envs/datacenter.py``
    (``calculate_chiller_power``).

    Parameters
    ----------
    load_w
        Heat removed from the chilled water [W], >= 0.
    temp_evap_leaving_c
        Chilled-water supply (evaporator leaving) temperature [°C].
    temp_cond_entering_c
        Condenser entering temperature [°C]: tower water for a water-cooled chiller, air for an air-cooled one.
    capacity_w
        Nominal capacity ``Q_nom`` [W], > 0.
    rated_cop
        Reference COP at the design temperatures [-].
    design_cond_entering_c, design_evap_leaving_c
        Design condenser entering and evaporator leaving temperatures [°C].
    min_part_load
        Minimum unloading ratio [-]; below it the compressor cycles, or is false-loaded.
    false_load
        Hold the power at the minimum part load below it (hot-gas bypass) instead of cycling.

    Returns
    -------
    numpy.ndarray
        Compressor electric power [W].
    """
    a0, a1, a2 = CHILLER_CAPACITY_COEFFS
    b0, b1, b2 = CHILLER_POWER_COEFFS
    c0, c1, c2 = CHILLER_PART_LOAD_COEFFS
    rise = CHILLER_TEMP_RISE_COEF_K
    t_evap = np.asarray(temp_evap_leaving_c, dtype=float)
    delta_t = np.asarray(temp_cond_entering_c, dtype=float) * (1.0 / rise)
    if t_evap.size == 1:
        delta_t += design_evap_leaving_c - design_cond_entering_c / rise - float(t_evap.flat[0])
    else:
        delta_t = delta_t - t_evap + (design_evap_leaving_c - design_cond_entering_c / rise)
    delta_t = np.clip(delta_t, *CHILLER_DELTA_T_RANGE_K)
    cap_ratio = a0 + delta_t * (a1 + a2 * delta_t)
    full_load_power_ratio = b0 + cap_ratio * (b1 + b2 * cap_ratio)
    capacity = np.asarray(capacity_w, dtype=float)
    available_w = cap_ratio * capacity
    load = np.asarray(load_w, dtype=float)
    if false_load and min_part_load > 0.0:  # hot-gas bypass: a false load tops the load up to the minimum
        load = np.where(load > 0.0, np.maximum(load, min_part_load * capacity), 0.0)
    plr = load / available_w
    plr_op = np.clip(plr, min_part_load, 1.0)
    frac = c0 + plr_op * (c1 + c2 * plr_op)
    # below the minimum part load: cycling (power proportional to load) or false loading (hot-gas bypass: the
    # compressor runs at its minimum unloaded power whatever the load); above full load, staging: proportional
    if min_part_load > 0.0:
        frac *= np.minimum(plr * (1.0 / min_part_load), 1.0)
    else:  # no cycling range: off at no load, as where the chiller is evaluated only on the steps it runs
        frac *= plr > 0.0
    frac += np.maximum(plr - 1.0, 0.0)
    frac *= full_load_power_ratio
    frac *= available_w
    frac *= 1.0 / rated_cop
    return frac


def economizer_fraction(
    temp_sink_c: ArrayLike, temp_supply_c: ArrayLike, delta_t_k: float, approach_k: float
) -> FloatArray:
    """Share of the loop's heat that an integrated (series) economizer removes, 0..1.

    The economizer cools the return water (``T_supply + ΔT``) towards ``T_sink + approach``; the chiller, in
    series after it, trims the rest down to ``T_supply``:
    ``x = clip((T_supply + ΔT − T_sink − approach) / ΔT, 0, 1)``. ``x = 1`` is full free cooling
    (``T_sink + approach <= T_supply``), ``x = 0`` fully mechanical. The sink is the wet bulb for a cooling tower
    (approach = tower + heat-exchanger approach) and the (pre-cooled) dry bulb for a dry cooler. Constant design
    approaches, as in the Lei–Masanet model (S); at part load this is conservative.

    Parameters
    ----------
    temp_sink_c
        Heat-sink temperature [°C].
    temp_supply_c
        Loop supply setpoint [°C].
    delta_t_k
        Loop return − supply temperature difference [K], > 0.
    approach_k
        Total approach of the economizer chain [K].

    Returns
    -------
    numpy.ndarray
        Economizer share of the heat [-].
    """
    # margin first, so that a sink exactly at ``T_supply - approach`` gives exactly x = 1
    margin_k = (np.asarray(temp_supply_c) - approach_k) - np.asarray(temp_sink_c)
    return np.clip(margin_k * (1.0 / delta_t_k) + 1.0, 0.0, 1.0)


def fan_airflow_fraction(
    load_fraction: ArrayLike, temp_sink_c: ArrayLike, temp_return_c: ArrayLike, design_itd_k: float
) -> FloatArray:
    """Fan speed of a heat-rejection unit (cooling tower or dry cooler) as a fraction of design.

    Capacity at a given airflow is taken proportional to the initial temperature difference
    ``ITD = T_return − T_sink`` (the usual dry-cooler rating basis), so the airflow needed is
    ``f = L / max(ITD / ITD_design, 1)`` with ``L`` the rejected heat over its design value and
    ``ITD_design = ΔT_loop + approach``. Where the economizer cannot carry the whole load (``ITD < ITD_design``)
    the fans run at ``L`` (assumption U); ``L > 1`` (overload) is passed through, as if spare units started.

    Parameters
    ----------
    load_fraction
        Rejected heat over the design rejected heat [-].
    temp_sink_c
        Wet bulb (tower) or entering air (dry cooler) temperature [°C].
    temp_return_c
        Loop return water temperature [°C].
    design_itd_k
        Design initial temperature difference [K], > 0.

    Returns
    -------
    numpy.ndarray
        Airflow over design airflow [-].
    """
    itd_ratio = (np.asarray(temp_return_c) - np.asarray(temp_sink_c)) * (1.0 / design_itd_k)
    return np.asarray(load_fraction) / np.maximum(itd_ratio, 1.0)


def fan_power_affinity_w(airflow_fraction: ArrayLike, design_power_w: ArrayLike, min_speed: float = 0.0) -> FloatArray:
    """Fan power from the fan affinity law, ``P = P_design · (V / V_design)³`` [W] (dc-rl CRAC and tower fans, V).

    With ``min_speed > 0`` the fans do not turn slower than that share of design speed: below it they cycle on and
    off at minimum speed, so power falls in proportion to the airflow, ``P = P_design · s_min² · V / V_design``
    (the usual control of tower and dry-cooler fans at light load; a floor, never below the cube law).
    """
    f = np.asarray(airflow_fraction, dtype=float)
    cube = f * f * f
    if min_speed > 0.0:
        cube = np.maximum(cube, (min_speed * min_speed) * f)
    return np.asarray(design_power_w) * cube


#: Part-load power of a variable-air-volume fan with a variable-speed drive and a static-pressure setpoint,
#: ``P / P_design = 0.0013 + 0.1470 f + 0.9506 f² − 0.0998 f³`` with ``f`` the airflow over design: ASHRAE 90.1
#: (2010) Appendix G, G3.1.3.15 "Method 2" (S). It lies above the cube law at part load because the fan keeps the
#: supply plenum or containment at its pressure setpoint.
VAV_FAN_COEFFS = (0.0013, 0.1470, 0.9506, -0.0998)


def fan_power_vav_w(airflow_fraction: ArrayLike, design_power_w: ArrayLike) -> FloatArray:
    """Room-unit (CRAH) fan power with a static-pressure setpoint, ASHRAE 90.1 Appendix G part-load curve [W].

    ``P = P_design (0.0013 + 0.1470 f + 0.9506 f² − 0.0998 f³)`` (:data:`VAV_FAN_COEFFS`); ``f`` above 1 (overload)
    is passed through the same curve; no airflow, no power.
    """
    f = np.asarray(airflow_fraction, dtype=float)
    a0, a1, a2, a3 = VAV_FAN_COEFFS
    return np.asarray(design_power_w) * np.where(f > 0.0, a0 + f * (a1 + f * (a2 + f * a3)), 0.0)


def crah_airflow_fraction(load_fraction: ArrayLike, idle_airflow: float) -> FloatArray:
    """Airflow the room units must supply, as a share of design: ``a + (1 − a) L`` for the air-side heat share ``L``.

    The servers set the airflow: their fans never stop, and at idle still move the share ``a`` of their full-load
    airflow (server fans run at a minimum speed and the air temperature rise across a lightly loaded server is
    small), which the room units must supply with containment to avoid recirculation (``a`` is U, see
    ``docs/models/cooling.md``). Zero heat gives zero airflow (no IT running).
    """
    load = np.asarray(load_fraction, dtype=float)
    return np.where(load > 0.0, idle_airflow + (1.0 - idle_airflow) * load, 0.0)


def pump_power_w(
    heat_w: ArrayLike,
    delta_t_k: float,
    head_pa: float,
    efficiency: float,
    density_kg_m3: float = WATER_DENSITY_KG_M3,
    cp_j_per_kg_k: float = WATER_CP_J_PER_KG_K,
) -> FloatArray:
    """Pump power ``P = Δp · Q / η`` with the flow ``Q = heat / (ρ c_p ΔT)`` [W] (dc-rl pumps, V).

    Variable-speed pumping at a constant loop temperature difference and constant head: power proportional to
    the heat carried.
    """
    specific_w_per_w = head_pa / (efficiency * density_kg_m3 * cp_j_per_kg_k * delta_t_k)
    return np.asarray(heat_w, dtype=float) * specific_w_per_w


def tower_water_l_per_h(
    heat_rejected_w: ArrayLike,
    cycles_of_concentration: float,
    drift_fraction: float,
    delta_t_k: float,
    evaporation_fraction: ArrayLike = 1.0,
) -> FloatArray:
    """Make-up water of an evaporative cooling tower, Lei–Masanet model with sensible heat rejection [L/h].

    Evaporation ``E = φ Q / h_vap`` with ``φ`` the share of the heat that leaves as latent heat
    (:func:`tower_evaporation_fraction`; ``φ = 1`` is Lei–Masanet's all-latent upper bound); drift
    ``D = drift_fraction · circulating flow`` with the flow ``Q / (c_p ΔT)``; blowdown
    ``B = max(E / (CoC − 1) − D, 0)``; make-up ``E + B + D``.

    Source: Lei and Masanet (2022), hourly PUE/WUE model behind LBNL (2024) (S, via
    ``../shared/design/REFERENCE.md``).
    """
    q = np.asarray(heat_rejected_w, dtype=float)
    evap = q * (SECONDS_PER_HOUR / LATENT_HEAT_J_PER_KG) * np.asarray(evaporation_fraction, dtype=float)
    drift = q * (drift_fraction * SECONDS_PER_HOUR / (WATER_CP_J_PER_KG_K * delta_t_k))
    blowdown = np.maximum(evap / (cycles_of_concentration - 1.0) - drift, 0.0)
    return evap + blowdown + drift


#: Standard atmospheric pressure [Pa], used for the tower's air-side psychrometrics (ASHRAE Fundamentals 2017, ch. 1).
STANDARD_PRESSURE_PA = 101_325.0


def _saturation_humidity_ratio(temp_c: FloatArray, pressure_pa: float) -> FloatArray:
    """Humidity ratio of saturated air [kg/kg]: ``0.621945 p_ws / (p − p_ws)``, ``p_ws`` over water (WMO-No. 8)."""
    p_ws = 611.2 * np.exp(17.62 * temp_c / (243.12 + temp_c))
    return 0.621945 * p_ws / (pressure_pa - p_ws)


def tower_evaporation_fraction(
    temp_db_c: ArrayLike, temp_wb_c: ArrayLike, temp_air_out_c: ArrayLike, pressure_pa: float = STANDARD_PRESSURE_PA
) -> FloatArray:
    """Share of a cooling tower's heat rejected by evaporation, from the air-side energy balance [-].

    Air enters at ``(T_db, T_wb)`` and leaves saturated at ``T_out`` (Merkel's assumption; here the mean of the
    tower's entering and leaving water temperatures, U). Per kg of dry air it takes up the enthalpy
    ``h_out − h_in`` and the water ``W_out − W_in``, so the water evaporated per unit of heat is
    ``(W_out − W_in) / (h_out − h_in)``; relative to the all-latent bound ``1 / h_vap``::

        φ = h_vap (W_out − W_in) / (h_out − h_in)

    with ``h = 1.006 t + W (2501 + 1.86 t)`` kJ/kg and the humidity ratio of the entering air from its wet bulb,
    ``W = ((2501 − 2.326 t*) W_s(t*) − 1.006 (t − t*)) / (2501 + 1.86 t − 4.186 t*)`` (ASHRAE Handbook —
    Fundamentals 2017, ch. 1, eqs. 32 and 35; the over-water form is used below 0 °C too). ``φ`` is about 0.9 in a
    Japanese summer and 0.5–0.7 in winter, when cold air takes up much of the heat sensibly; it exceeds 1 only in
    hot, dry air that the tower cools. Clipped to [0, 1.5].
    """
    t = np.asarray(temp_db_c, dtype=float)
    t_wb = np.asarray(temp_wb_c, dtype=float)
    t_out = np.maximum(np.asarray(temp_air_out_c, dtype=float), t_wb + 0.1)
    w_in = ((2501.0 - 2.326 * t_wb) * _saturation_humidity_ratio(t_wb, pressure_pa) - 1.006 * (t - t_wb)) / (
        2501.0 + 1.86 * t - 4.186 * t_wb
    )
    w_in = np.maximum(w_in, 0.0)
    w_out = _saturation_humidity_ratio(t_out, pressure_pa)
    h_in = 1.006 * t + w_in * (2501.0 + 1.86 * t)
    h_out = 1.006 * t_out + w_out * (2501.0 + 1.86 * t_out)
    phi = (LATENT_HEAT_J_PER_KG / 1e3) * (w_out - w_in) / np.maximum(h_out - h_in, 1e-6)
    return np.clip(phi, 0.0, 1.5)


def adiabatic_air_temp_c(temp_db_c: ArrayLike, temp_wb_c: ArrayLike, effectiveness: float) -> FloatArray:
    """Air temperature after an evaporative pre-cooler, ``T = T_db − ε (T_db − T_wb)`` [°C] (direct evaporative
    cooler saturation effectiveness ε)."""
    db = np.asarray(temp_db_c, dtype=float)
    return db - effectiveness * (db - np.asarray(temp_wb_c))


def adiabatic_water_l_per_h(
    air_cooling_k: ArrayLike, airflow_fraction: ArrayLike, design_heat_w: ArrayLike, air_rise_k: float, cycles: float
) -> FloatArray:
    """Water of an adiabatic (evaporative pre-cooling) dry cooler [L/h].

    Design air mass flow ``m = Q_design / (c_p ΔT_air)``; evaporation ``E = f · m · c_p · ΔT_precool / h_vap
    = f · Q_design · ΔT_precool / (ΔT_air · h_vap)``; with blowdown (or run-off) the make-up is
    ``E · CoC / (CoC − 1)``.
    """
    evap_kg_s = (np.asarray(airflow_fraction) * np.asarray(design_heat_w) * np.asarray(air_cooling_k)) / (
        air_rise_k * LATENT_HEAT_J_PER_KG
    )
    return evap_kg_s * (SECONDS_PER_HOUR * cycles / (cycles - 1.0))
