"""Per-site telemetry of one step: power, PUE, coolant, pumps and fans, battery, grid, generation and signals.

Power, cooling and losses come from the site roll-up (:func:`wattbit.physics.site.site_power`) on the IT load the
engine recorded, as the run's accounting computes them (``wattbit.sim.accounting``). Coolant: the IT loops carry
the liquid share of the heat at the design flow ``Q_design / (c_p dT_design)`` (constant-speed pumps), less what a
degrading pump or CDU loses (:class:`~wattbit.ops.telemetry.model.GpuFrame` ``flow_fraction``); the return is
``supply + Q / (m_dot c_p)``. For air-cooled halls supply and return are air temperatures (return = supply + 12 K at
full load, U). Pumps: three duty pumps (N+1, U), two running once a loop has lost more than 15 % of its flow. Fans
of the heat rejection: speed share ``clip(heat/design x (1 + (T_db - 20)/30), 0.2, 1)`` (U, illustrative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.telemetry.thermal import ThermalParams
from wattbit.physics.gpu import it_power_w
from wattbit.physics.site import site_power
from wattbit.sim.engine import StepRecord
from wattbit.sim.fleet import Fleet

#: Load of GPUs serving inference, as in the accounting (U).
_INFERENCE_LOAD = 0.6
_DUTY_PUMPS = 3
_AIR_RISE_K = 12.0


@dataclass
class SiteSnapshot:
    """Per-site values of one step, arrays over sites (the names of :data:`~wattbit.ops.telemetry.names.
    SITE_METRICS` without the prefix)."""

    facility_w: NDArray[np.float64]
    it_w: NDArray[np.float64]
    cooling_w: NDArray[np.float64]
    loss_w: NDArray[np.float64]
    pue: NDArray[np.float64]
    supply_c: NDArray[np.float64]
    return_c: NDArray[np.float64]
    flow_m3_per_s: NDArray[np.float64]
    pumps_running: NDArray[np.float64]
    fan_ratio: NDArray[np.float64]
    soc_ratio: NDArray[np.float64]
    battery_w: NDArray[np.float64]
    grid_w: NDArray[np.float64]
    pv_w: NDArray[np.float64]
    wind_w: NDArray[np.float64]
    carbon_g_per_kwh: NDArray[np.float64]
    price_jpy_per_mwh: NDArray[np.float64]
    curtailment_w: NDArray[np.float64]
    gpus: NDArray[np.int64]  # (sites, 4): training, inference, idle, out


def site_snapshot(
    fleet: Fleet,
    rec: StepRecord,
    k: int,
    soc_mwh: NDArray[np.float64],
    flow_fraction: NDArray[np.float64],
    thermal: ThermalParams | None = None,
) -> SiteSnapshot:
    """The site telemetry of step ``k`` (after the engine has advanced through it)."""
    thermal = thermal or ThermalParams()
    n = len(fleet.names)
    out = {key: np.zeros(n) for key in SiteSnapshot.__dataclass_fields__ if key != "gpus"}
    gpus = np.zeros((n, 4), dtype=np.int64)
    for i, plant in enumerate(fleet.plants):
        busy, inf = int(rec.busy_gpus[k, i]), int(rec.inference_gpus[k, i])
        avail = int(rec.available_gpus[k, i])
        idle = max(avail - busy - inf, 0)
        gpus[i] = (busy, inf, idle, int(fleet.gpus_total[i]) - avail)
        cap = rec.gpu_cap_w[k, i]
        cap_w = None if np.isnan(cap) else cap
        it_dc = (
            it_power_w(plant.gpu, busy, 1.0, cap_w)
            + it_power_w(plant.gpu, inf, _INFERENCE_LOAD)
            + it_power_w(plant.gpu, idle, 0.0)
        )
        design = plant.cooling
        supply = rec.supply_temp_c[k, i] if not np.isnan(rec.supply_temp_c[k, i]) else design.supply_temp_c
        p = site_power(
            plant,
            np.minimum(np.atleast_1d(it_dc), plant.rated_it_dc_w),
            fleet.temp_db_c[k : k + 1, i],
            fleet.temp_wb_c[k : k + 1, i],
            np.array([supply]),
        )
        out["facility_w"][i], out["it_w"][i] = float(p.facility_w[0]), float(p.it_w[0])
        out["cooling_w"][i], out["loss_w"][i] = float(p.cooling_w[0]), float(p.chain_losses_w[0])
        out["pue"][i] = out["facility_w"][i] / out["it_w"][i] if out["it_w"][i] > 0 else np.nan
        f = float(flow_fraction[i])
        heat = float(p.it_w[0])
        if design.cooling_type == "air_chiller":
            out["supply_c"][i] = thermal.supply_air_c
            out["return_c"][i] = thermal.supply_air_c + _AIR_RISE_K * heat / plant.rated_it_dc_w / max(f, 0.1)
            out["flow_m3_per_s"][i] = 0.0
        else:
            liquid_design = plant.rated_it_dc_w * (1.0 - design.air_share)
            m_design = liquid_design / (design.tcs_cp_j_per_kg_k * design.tcs_delta_t_k)
            m = m_design * f
            out["supply_c"][i] = supply + thermal.cdu_approach_k
            out["return_c"][i] = out["supply_c"][i] + heat * (1.0 - design.air_share) / (m * design.tcs_cp_j_per_kg_k)
            out["flow_m3_per_s"][i] = m / design.tcs_density_kg_m3
        out["pumps_running"][i] = _DUTY_PUMPS - (1 if f < 0.85 else 0)
        load = heat / plant.rated_it_dc_w
        out["fan_ratio"][i] = float(np.clip(load * (1 + (fleet.temp_db_c[k, i] - 20.0) / 30.0), 0.2, 1.0))
        spec = fleet.batteries[i]
        out["soc_ratio"][i] = 0.0 if spec is None else float(soc_mwh[i]) / spec.energy_mwh
        out["battery_w"][i] = float(rec.battery_mw[k, i]) * 1e6 if spec is not None else 0.0
        out["pv_w"][i], out["wind_w"][i] = float(fleet.pv_w[k, i]), float(fleet.wind_w[k, i])
        net = out["facility_w"][i] - out["pv_w"][i] - out["wind_w"][i] - out["battery_w"][i]
        out["grid_w"][i] = max(net, 0.0)
        out["carbon_g_per_kwh"][i] = float(fleet.carbon_g_per_kwh[k, i])
        out["price_jpy_per_mwh"][i] = float(fleet.price_jpy_per_mwh[k, i])
        out["curtailment_w"][i] = float(fleet.curtailed_mwh[k, i]) * 1e6 / fleet.step_h
    return SiteSnapshot(**out, gpus=gpus)
