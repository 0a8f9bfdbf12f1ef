"""From a scenario to its telemetry: the engine's inputs, the GPUs' names, the faults with signatures, the model.

:func:`build_telemetry` is shared by the live twin (``wattbit twin serve``) and the evaluation's fast path
(``wattbit ops evaluate``), so both see the same telemetry for the same scenario and seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.ops.telemetry.inventory import Inventory, build_inventory
from wattbit.ops.telemetry.model import Nuisance, SiteInputs, TelemetryModel
from wattbit.ops.telemetry.signatures import FaultPlan, SignatureSettings, plan_faults, scaled_rates
from wattbit.ops.telemetry.thermal import ThermalParams
from wattbit.scenario import Scenario
from wattbit.sim.engine import StepRecord
from wattbit.sim.faults import FailureRates
from wattbit.sim.fleet import Fleet
from wattbit.sim.run import SimInputs, prepare


def scale_scenario(scenario: Scenario, nodes_per_site: int | None) -> Scenario:
    """``scenario`` with ``nodes_per_site`` nodes at every site, every capacity scaled in proportion.

    GPUs, grid connection, PV, wind and battery of each site are multiplied by the same factor, so that PUE, the
    share of on-site generation and the grid limit keep their meaning; the workload follows the fleet's size.
    """
    if nodes_per_site is None:
        return scenario
    if nodes_per_site < 1:
        raise WattbitInputError(f"nodes per site must be >= 1, got {nodes_per_site}", field="nodes_per_site")
    from wattbit.physics.gpu import get_gpu

    sites = []
    for site in scenario.sites:
        gpus = nodes_per_site * get_gpu(site.it.gpu_model).gpus_per_node
        f = gpus / site.it.gpu_count
        scaled = {
            "it": site.it.model_copy(update={"gpu_count": gpus}),
            "grid_connection_mw": site.grid_connection_mw * f,
            "pv_mw": site.pv_mw * f,
            "wind_mw": site.wind_mw * f,
            "battery_mwh": site.battery_mwh * f,
            "battery_mw": site.battery_mw * f,
        }
        sites.append(site.model_copy(update=scaled))
    return scenario.model_copy(update={"sites": sites})


@dataclass
class TelemetrySetup:
    """A run's engine inputs and telemetry model.

    Attributes
    ----------
    inputs
        The engine's inputs (:func:`wattbit.sim.run.prepare`), failures drawn at ``[ops] fault_rate_scale``.
    inventory, plan, settings, model
        The GPUs' names, the faults with their signatures (ground truth), the signature settings, the model.
    """

    inputs: SimInputs
    inventory: Inventory
    plan: FaultPlan
    settings: SignatureSettings
    model: TelemetryModel

    @property
    def fleet(self) -> Fleet:
        """The simulated fleet."""
        return self.inputs.fleet

    def labels_frame(self) -> pd.DataFrame:
        """The ground truth of the run (one row per fault), as written to ``labels.csv``."""
        frame = self.plan.to_frame(self.inventory.hostnames[self.inventory.node], self.inventory.gpu_index)
        frame["site"] = np.array(self.inventory.site_names)[frame["site"].to_numpy()]
        return frame


def build_telemetry(
    scenario: Scenario,
    seed: int | None = None,
    nodes_per_site: int | None = None,
    *,
    nuisance: Nuisance | None = None,
    thermal: ThermalParams | None = None,
) -> TelemetrySetup:
    """The engine's inputs and the telemetry model of ``scenario`` (scaled to ``nodes_per_site`` if given)."""
    scenario = scale_scenario(scenario, nodes_per_site)
    spec = scenario.ops
    rates = scaled_rates(FailureRates(), spec.fault_rate_scale)
    inputs = prepare(scenario, seed=seed, failure_rates=rates)
    fleet = inputs.fleet
    liquid = np.array([p.cooling.cooling_type != "air_chiller" for p in fleet.plants])
    inventory = build_inventory(fleet.names, tuple(p.gpu for p in fleet.plants), fleet.gpus_total, liquid)
    settings = SignatureSettings.from_spec(spec)
    per_node = max(p.gpu.gpus_per_node for p in fleet.plants)
    plan = plan_faults(inputs.events, inventory.site_offsets, inventory.site_gpus, per_node, settings, inputs.seed)
    nu = nuisance or Nuisance()
    if spec.nuisance_scale != 1.0:
        from dataclasses import replace

        nu = replace(nu, scale=nu.scale * spec.nuisance_scale)
    tcs = float(np.median([p.cooling.tcs_delta_t_k for p in fleet.plants]))
    step_s = fleet.step_h * 3600.0
    model = TelemetryModel(
        inventory,
        plan,
        settings,
        step_s,
        inputs.seed,
        thermal=thermal,
        nuisance=nu,
        tcs_delta_t_k=tcs,
        period_s=fleet.steps * step_s,
    )
    return TelemetrySetup(inputs, inventory, plan, settings, model)


def site_inputs(rec: StepRecord, fleet: Fleet, k0: int, k1: int) -> SiteInputs:
    """The telemetry model's inputs for steps ``k0 .. k1 - 1`` from the engine's record."""
    supply = rec.supply_temp_c[k0:k1]
    design = np.array([p.cooling.supply_temp_c for p in fleet.plants])
    return SiteInputs(
        training=rec.busy_gpus[k0:k1],
        inference=rec.inference_gpus[k0:k1],
        cap_w=rec.gpu_cap_w[k0:k1],
        supply_temp_c=np.where(np.isnan(supply), design[None, :], supply),
    )
