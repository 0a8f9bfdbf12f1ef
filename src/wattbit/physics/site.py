"""Site roll-up: from IT load and weather to facility power, cooling, losses, water and heat per step.

The accounting follows The Green Grid's PUE and WUE definitions (WP#49, WP#35):

* ``it_w`` — power at the IT equipment input (server PSU input for 415 V AC, DC-DC shelf input for 800 V DC), the
  meter point of PUE.
* ``chain_losses_w`` — conversion and distribution losses between the grid connection and the IT input
  (transformer, UPS or rectifier, PDU or busway) from :mod:`wattbit.physics.power_chain`.
* ``cooling_w`` — the cooling plant (:mod:`wattbit.physics.cooling`).
* ``misc_w`` — lighting, security, offices: a constant share of rated IT power (assumption U, default 1 %).

``facility_w = it_w + chain_losses_w + cooling_w + misc_w`` holds exactly. All electricity drawn by the IT
equipment, the power chain and the miscellaneous loads ends up as heat inside the building and is handed to the
cooling plant (``heat_w``); the heat of the cooling plant's own motors is rejected with the condenser or outdoor
air and is not fed back (a simplification of second order, about 1-3 % of cooling power).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.physics.cooling import CoolingDesign, cooling_power, default_design
from wattbit.physics.gpu import GpuModel, get_gpu, it_power_w
from wattbit.physics.power_chain import Architecture, UpsMode, power_chain_losses_w
from wattbit.scenario import Site
from wattbit.units import FloatArray


@dataclass(frozen=True)
class SitePlant:
    """What is built at a site, as the physics models need it.

    Attributes
    ----------
    gpu
        GPU model of the IT fleet.
    gpu_count
        Installed GPUs.
    architecture, ups_mode
        Power architecture (``"ac415"`` or ``"dc800"``) and UPS operating mode.
    cooling
        Cooling plant design.
    misc_load_fraction
        Lighting, security and offices as a share of rated IT power [-].
    """

    gpu: GpuModel
    gpu_count: int
    architecture: Architecture
    ups_mode: UpsMode
    cooling: CoolingDesign
    misc_load_fraction: float = 0.01

    @property
    def liquid_share(self) -> float:
        """Share of the IT heat the cooling plant takes by liquid (cold plates, immersion) [-]: removes server fans."""
        return 1.0 - self.cooling.air_share

    @cached_property
    def rated_it_dc_w(self) -> float:
        """IT power at full load and no cap, at the DC bus [W]: the nameplate rating the power chain and the cooling
        plant are sized for (fans removed by the liquid share). Computed once per plant."""
        return float(it_power_w(self.gpu, self.gpu_count, 1.0, nameplate=True, liquid_share=self.liquid_share))

    @cached_property
    def rated_input_w(self) -> float:
        """Grid-side input of the power chain at the rated IT power [W]. Computed once per plant."""
        rated = self.rated_it_dc_w
        return float(np.max(power_chain_losses_w(rated, rated, self.architecture, self.ups_mode).input_w))


class SitePower(NamedTuple):
    """Per-step power, heat and water of a site; arrays of the broadcast input shape (W, L/h)."""

    it_dc_w: FloatArray
    it_w: FloatArray
    chain_losses_w: FloatArray
    cooling_w: FloatArray
    misc_w: FloatArray
    facility_w: FloatArray
    heat_w: FloatArray
    water_l_per_h: FloatArray
    free_cooling: NDArray[np.bool_]
    mode: NDArray[np.int8]

    @property
    def conversion_losses_w(self) -> FloatArray:
        """All conversion losses from the grid to the IT DC bus (chain + server PSUs or DC-DC shelves) [W]."""
        return self.chain_losses_w + (self.it_w - self.it_dc_w)


def plant_from_site(site: Site) -> SitePlant:
    """The :class:`SitePlant` of a scenario site (its GPU, power architecture, cooling and design choices)."""
    overrides = {} if site.design.supply_temp_c is None else {"supply_temp_c": site.design.supply_temp_c}
    return SitePlant(
        gpu=get_gpu(site.it.gpu_model),
        gpu_count=site.it.gpu_count,
        architecture=site.power_architecture,
        ups_mode=site.design.ups_mode,
        cooling=default_design(site.cooling, **overrides),
        misc_load_fraction=site.design.misc_load_fraction,
    )


def site_power(
    plant: SitePlant,
    it_dc_w: ArrayLike,
    temp_db_c: ArrayLike,
    temp_wb_c: ArrayLike,
    supply_temp_c: ArrayLike | None = None,
) -> SitePower:
    """Facility power of a site per step.

    Parameters
    ----------
    plant
        What is built.
    it_dc_w
        IT power at the DC bus [W] per step (from :func:`wattbit.physics.gpu.it_power_w`), at most the rating.
    temp_db_c, temp_wb_c
        Outdoor dry-bulb and wet-bulb temperature [°C] per step.
    supply_temp_c
        Cooling supply temperature per step [°C] (a setpoint a controller may move); default the design's.

    Returns
    -------
    SitePower
    """
    rated = plant.rated_it_dc_w
    chain = power_chain_losses_w(it_dc_w, rated, plant.architecture, plant.ups_mode)
    it_w = chain.it_equipment_input_w
    chain_losses_w = chain.input_w - it_w
    rated_input_w = plant.rated_input_w
    misc_w = np.full_like(it_w, plant.misc_load_fraction * rated_input_w)
    heat_w = chain.input_w + misc_w
    rated_heat_w = rated_input_w * (1.0 + plant.misc_load_fraction)
    cool = cooling_power(heat_w, temp_db_c, temp_wb_c, plant.cooling, supply_temp_c, capacity_w=rated_heat_w)
    facility_w = it_w + chain_losses_w + cool.power_w + misc_w
    return SitePower(
        it_dc_w=np.broadcast_to(np.asarray(it_dc_w, dtype=float), it_w.shape).copy(),
        it_w=it_w,
        chain_losses_w=chain_losses_w,
        cooling_w=cool.power_w,
        misc_w=misc_w,
        facility_w=facility_w,
        heat_w=heat_w,
        water_l_per_h=cool.water_l_per_h,
        free_cooling=cool.free_cooling,
        mode=cool.mode,
    )


def annual_site_metrics(power: SitePower, step_h: float) -> dict[str, float]:
    """Period totals and ratios of a :class:`SitePower` (1-D over time).

    Returns
    -------
    dict
        ``pue`` (facility / IT energy), ``wue_l_per_kwh`` (site water / IT energy, Green Grid WUE),
        ``cooling_energy_share`` and ``power_chain_loss_share`` (shares of facility energy; the latter counts all
        conversion losses from the grid to the IT DC bus, including server PSUs or DC-DC shelves), the same two as
        shares of IT energy (``cooling_share_of_it``, ``power_chain_loss_share_of_it``: independent of the
        cooling, so the same power chain shows the same share at every site), ``free_cooling_hours``, energies in
        MWh and water in m³.
    """
    mwh = step_h / 1e6
    it = float(np.sum(power.it_w)) * mwh
    facility = float(np.sum(power.facility_w)) * mwh
    cooling = float(np.sum(power.cooling_w)) * mwh
    conversion = float(np.sum(power.conversion_losses_w)) * mwh
    water_l = float(np.sum(power.water_l_per_h)) * step_h
    return {
        "pue": facility / it,
        "wue_l_per_kwh": water_l / (it * 1000.0),
        "cooling_energy_share": cooling / facility,
        "power_chain_loss_share": conversion / facility,
        "cooling_share_of_it": cooling / it,
        "power_chain_loss_share_of_it": conversion / it,
        "free_cooling_hours": float(np.sum(power.free_cooling)) * step_h,
        "energy_it_mwh": it,
        "energy_cooling_mwh": cooling,
        "energy_losses_mwh": float(np.sum(power.chain_losses_w)) * mwh,
        "energy_misc_mwh": float(np.sum(power.misc_w)) * mwh,
        "energy_facility_mwh": facility,
        "water_m3": water_l / 1000.0,
        "facility_peak_mw": float(np.max(power.facility_w)) / 1e6,
    }
