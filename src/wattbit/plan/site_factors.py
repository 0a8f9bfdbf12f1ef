"""Per-MW hourly factors of a candidate site from the twin's physics: facility power per MW of IT, PV and wind output
per MW installed, GPUs per MW.

The planner needs facility power as a *linear* function of the IT capacity it chooses. The site physics
(:func:`wattbit.physics.site.site_power`: power chain, cooling, miscellaneous loads) scales exactly with the size of
the plant — chain losses and cooling depend on the load as a share of the rating, and the miscellaneous load is a
share of the rating — so running it once for a reference plant at the target utilisation gives, per hour,
``f_t = facility_t / rated IT`` and the facility power of any size is ``f_t x IT``. (This is the hourly PUE at the
operating point times the utilisation; ``tests/opt/test_capacity.py`` checks the scaling.) The GPU count of the
reference plant (:data:`REFERENCE_GPUS`) only sets that scale; rounding GPUs to whole nodes is ignored.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from wattbit.physics.cooling import default_design
from wattbit.physics.gpu import get_gpu, it_power_w
from wattbit.physics.renewables import site_generation_w
from wattbit.physics.site import SitePlant, site_power
from wattbit.scenario import Site
from wattbit.units import FloatArray

#: GPUs of the reference plant the factors are computed for (a multiple of 8-GPU nodes).
REFERENCE_GPUS = 8192
_W_PER_MW = 1e6


class DesignFactors(NamedTuple):
    """Factors of one site built with one cooling type and power architecture.

    Attributes
    ----------
    facility_mw_per_it_mw
        Hourly facility power per MW of rated IT at the utilisation ``(T,)`` [MW/MW].
    it_mw_per_it_mw
        IT power at the utilisation per MW of rated IT [MW/MW] (the IT energy share).
    gpus_per_it_mw
        GPUs per MW of rated IT input [1/MW].
    """

    facility_mw_per_it_mw: FloatArray
    it_mw_per_it_mw: float
    gpus_per_it_mw: float


def gpu_fits_cooling(site: Site, cooling: str) -> bool:
    """Whether the site's GPU model can be cooled this way (air-only GPUs need air, liquid-only need liquid)."""
    kind = get_gpu(site.it.gpu_model).cooling
    if kind == "either":
        return True
    return (cooling == "air_chiller") == (kind == "air")


def _plant(site: Site, cooling: str, architecture: str) -> SitePlant:
    overrides = {} if site.design.supply_temp_c is None else {"supply_temp_c": site.design.supply_temp_c}
    return SitePlant(
        gpu=get_gpu(site.it.gpu_model),
        gpu_count=REFERENCE_GPUS,
        architecture=architecture,  # type: ignore[arg-type]
        ups_mode=site.design.ups_mode,
        cooling=default_design(cooling, **overrides),
        misc_load_fraction=site.design.misc_load_fraction,
    )


def _rated_it_w(plant: SitePlant) -> float:
    """IT input power of the reference plant at full load [W] (independent of the weather)."""
    return float(site_power(plant, np.array([plant.rated_it_dc_w]), 20.0, 15.0).it_w[0])


def gpus_per_it_mw(site: Site, cooling: str, architecture: str) -> float:
    """GPUs per MW of rated IT input for the site's GPU model and this design (no weather needed)."""
    return REFERENCE_GPUS * _W_PER_MW / _rated_it_w(_plant(site, cooling, architecture))


def design_factors(
    site: Site, cooling: str, architecture: str, utilization: float, signals: pd.DataFrame
) -> DesignFactors:
    """Facility power per MW of IT over the signals' hours, for ``site`` with this cooling and architecture.

    Parameters
    ----------
    site
        The candidate site (its GPU model, UPS mode, supply temperature and misc load are used).
    cooling, architecture
        The design option.
    utilization
        Average GPU load, 0..1 (flat over the year).
    signals
        The site's hourly signals (``temp_air_c``, ``temp_wetbulb_c``).

    Returns
    -------
    DesignFactors
    """
    plant = _plant(site, cooling, architecture)
    temp_db = signals["temp_air_c"].to_numpy(dtype=float)
    temp_wb = signals["temp_wetbulb_c"].to_numpy(dtype=float)
    rated_it_w = _rated_it_w(plant)
    load_dc_w = float(it_power_w(plant.gpu, REFERENCE_GPUS, utilization))
    power = site_power(plant, np.full(temp_db.size, load_dc_w), temp_db, temp_wb)
    return DesignFactors(
        facility_mw_per_it_mw=np.asarray(power.facility_w, dtype=float) / rated_it_w,
        it_mw_per_it_mw=float(np.mean(power.it_w)) / rated_it_w,
        gpus_per_it_mw=REFERENCE_GPUS * _W_PER_MW / rated_it_w,
    )


def renewable_factors(site: Site, signals: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
    """AC output per MW of PV (DC nameplate) and per MW of wind over the signals' hours [MW/MW].

    The site's output (:func:`wattbit.physics.renewables.site_generation_w`: pvlib and windpowerlib with the
    site's design) for 1 MW of each, whether or not the site has any installed.
    """
    pv_w, wind_w = site_generation_w(site, signals, pv_capacity_dc_w=_W_PER_MW, wind_capacity_w=_W_PER_MW)
    return pv_w / _W_PER_MW, wind_w / _W_PER_MW
