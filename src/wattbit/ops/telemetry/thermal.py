"""GPU die and memory temperatures from the coolant (or inlet air) temperature and the GPU's power.

Steady state, one thermal resistance from the die to the coolant (or to the inlet air)::

    T_ss = T_inlet + P * R_th                                   [°C]

and a first-order lag towards it over a step of ``dt`` seconds with time constant ``tau``::

    T_k = T_ss,k + (T_{k-1} - T_ss,k) * exp(-dt / tau)

``T_inlet`` is the coolant temperature at the cold plate: the facility supply plus the CDU's approach plus the
coolant's rise along the loop (``Q / (m_dot c_p)``), so that a pump or CDU that loses flow raises every GPU it serves
(:func:`coolant_rise_k`). For air-cooled IT it is the supply air temperature.

Parameters (status as in REFERENCE.md: **S** secondary, **U** assumption):

- ``r_th_liquid_k_per_w = 0.035`` — cold plate die-to-coolant resistance: 0.03-0.04 K/W is the range quoted for
  GPU cold plates (S: cooling-thermal.com "Liquid cold plate thermal resistance", 2026; kenfatech.com on the GB200
  cold plate, "< 0.03 °C/W").
- ``r_th_air_k_per_w = 0.06`` — heat sink die-to-inlet-air resistance of an air-cooled SXM GPU (U: puts a 700 W
  H100 at about 66 °C with 24 °C inlet air, in the 60-75 °C band operators report for air-cooled HGX systems).
- ``memory_r_ratio = 1.15`` — HBM stacks share the cold plate and run hotter than the die sensor under load (U;
  HBM throttles near 95 °C, S: manishklach.github.io on the GB300 cooling stack).
- ``tau_s = 60`` — time constant of die + cold plate or heat sink (U; tens of seconds for cold plates).
- ``cdu_approach_k = 3.0`` — technology-loop supply above facility supply through the CDU's heat exchanger (U; the
  ASHRAE W classes bound the facility side).
- ``supply_air_c = 24.0`` — supply air of air-cooled halls (inside ASHRAE's recommended 18-27 °C, S).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.units import check_number


@dataclass(frozen=True)
class ThermalParams:
    """Parameters of the GPU thermal model (see the module docstring for values and sources)."""

    r_th_liquid_k_per_w: float = 0.035
    r_th_air_k_per_w: float = 0.06
    memory_r_ratio: float = 1.15
    tau_s: float = 60.0
    cdu_approach_k: float = 3.0
    supply_air_c: float = 24.0

    def __post_init__(self) -> None:
        check_number(self.r_th_liquid_k_per_w, "r_th_liquid_k_per_w", 0.0, 1.0, lo_open=True)
        check_number(self.r_th_air_k_per_w, "r_th_air_k_per_w", 0.0, 1.0, lo_open=True)
        check_number(self.memory_r_ratio, "memory_r_ratio", 0.1, 10.0)
        check_number(self.tau_s, "tau_s", 0.0, 86_400.0, lo_open=True)
        check_number(self.cdu_approach_k, "cdu_approach_k", 0.0, 30.0)
        check_number(self.supply_air_c, "supply_air_c", 5.0, 45.0)

    def r_th_k_per_w(self, liquid: bool) -> float:
        """Die-to-inlet thermal resistance for liquid (cold plate) or air (heat sink) cooling [K/W]."""
        return self.r_th_liquid_k_per_w if liquid else self.r_th_air_k_per_w


def steady_temp_c(inlet_c: ArrayLike, power_w: ArrayLike, r_th_k_per_w: ArrayLike) -> NDArray[np.float64]:
    """Steady die temperature ``T_inlet + P R_th`` [°C] for inlet temperature [°C], power [W] and resistance [K/W]."""
    return np.asarray(inlet_c, dtype=float) + np.asarray(power_w, dtype=float) * np.asarray(r_th_k_per_w, dtype=float)


def lag_factor(dt_s: float, tau_s: float) -> float:
    """Share of the previous temperature's distance from steady state left after ``dt_s``: ``exp(-dt / tau)``."""
    return float(np.exp(-dt_s / tau_s))


def lagged_temp_c(previous_c: ArrayLike, steady_c: ArrayLike, dt_s: float, tau_s: float) -> NDArray[np.float64]:
    """One first-order step from ``previous_c`` towards ``steady_c`` over ``dt_s`` seconds [°C]."""
    a = lag_factor(dt_s, tau_s)
    steady = np.asarray(steady_c, dtype=np.float64)
    return np.asarray(steady + (np.asarray(previous_c, dtype=np.float64) - steady) * a, dtype=np.float64)


def coolant_rise_k(heat_w: ArrayLike, flow_kg_per_s: ArrayLike, cp_j_per_kg_k: float) -> NDArray[np.float64]:
    """Temperature rise of a coolant stream ``Q / (m_dot c_p)`` [K]; zero flow gives ``inf`` where heat is positive."""
    heat = np.asarray(heat_w, dtype=float)
    flow = np.asarray(flow_kg_per_s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = heat / (flow * cp_j_per_kg_k)
    return np.asarray(np.where(heat <= 0, 0.0, rise), dtype=np.float64)


def design_flow_kg_per_s(design_heat_w: float, delta_t_k: float, cp_j_per_kg_k: float) -> float:
    """Flow that carries ``design_heat_w`` with a rise of ``delta_t_k``: ``Q / (c_p dT)`` [kg/s]."""
    return design_heat_w / (cp_j_per_kg_k * delta_t_k)
