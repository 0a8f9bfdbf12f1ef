"""On-site renewable output: photovoltaic (:mod:`wattbit.physics.pv`, through pvlib) and wind
(:mod:`wattbit.physics.wind`, through windpowerlib), and the capacity factor of either.

The PV and wind names are re-exported here, so ``from wattbit.physics.renewables import pv_power_w`` keeps working.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from wattbit.errors import WattbitInputError
from wattbit.physics.pv import (
    GHI_MAX_W_M2,
    SAPM_OPEN_RACK_GLASS_POLYMER,
    default_tilt_deg,
    plane_of_array_w_m2,
    pv_power_w,
    solar_position_mid_period_deg,
)
from wattbit.physics.wind import (
    DEFAULT_TURBINE,
    STANDARD_AIR_DENSITY_KG_M3,
    WindProfile,
    known_turbine_types,
    turbine_power_curve,
    wind_power_w,
)

__all__ = [
    "DEFAULT_TURBINE",
    "GHI_MAX_W_M2",
    "SAPM_OPEN_RACK_GLASS_POLYMER",
    "STANDARD_AIR_DENSITY_KG_M3",
    "WindProfile",
    "capacity_factor",
    "default_tilt_deg",
    "known_turbine_types",
    "plane_of_array_w_m2",
    "pv_power_w",
    "solar_position_mid_period_deg",
    "turbine_power_curve",
    "wind_power_w",
]


# ---------------------------------------------------------------------------------------------------------- summary
def capacity_factor(power_w: ArrayLike, capacity_w: ArrayLike) -> float:
    """Mean output over capacity, ``mean(P) / C`` (equal periods assumed).

    Parameters
    ----------
    power_w
        Output per period [W], any shape; over many sites, pass ``capacity_w`` per site to get the fleet value.
    capacity_w
        Capacity [W] on the basis wanted (DC nameplate for PV as usual in Japan, AC for an AC basis), > 0,
        broadcastable against ``power_w``.

    Returns
    -------
    float
        Capacity factor [-], ``sum(P) / sum(C)`` over all elements.
    """
    p = np.asarray(power_w, dtype=float)
    cap = np.asarray(capacity_w, dtype=float)
    if np.isnan(p).any():
        i = int(np.flatnonzero(np.isnan(p.ravel()))[0])
        raise WattbitInputError(f"power at position {i} is NaN", field="power_w")
    if not np.all(cap >= 0.0):  # NaN fails too
        raise WattbitInputError("capacity must be >= 0 (and not NaN)", field="capacity_w")
    total_cap = float(np.sum(np.broadcast_to(cap, p.shape)))
    if total_cap <= 0.0:
        raise WattbitInputError("capacity must be > 0 to compute a capacity factor", field="capacity_w")
    return float(np.sum(p) / total_cap)
