"""Control policies and the registry that names them.

``baseline`` (carbon-agnostic first come, first served), ``greedy`` (defer flexible work to clean hours within its
slack, place it at the cleanest site), ``mpc`` (rolling-horizon optimisation on forecasts) and ``oracle`` (the same
optimisation over the whole period with perfect knowledge: the bound). See ``docs/control.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wattbit.control.baseline import BaselinePolicy
from wattbit.errors import WattbitInputError
from wattbit.sim.policy import Policy

if TYPE_CHECKING:
    from wattbit.sim.run import SimInputs

POLICY_NAMES = ("baseline", "greedy", "mpc", "oracle")


def make_policy(name: str, inputs: SimInputs | None = None, **options: Any) -> Policy:
    """The policy called ``name``, set up for the run of ``inputs`` where it needs to know the scenario.

    ``oracle`` needs ``inputs`` (it is given the whole period in advance); ``mpc`` and ``greedy`` use them for
    static facts (grid areas, site coordinates). An unknown name is a :class:`WattbitInputError` listing the known
    ones.
    """
    if name == "baseline":
        return BaselinePolicy()
    if name == "greedy":
        from wattbit.control.greedy import GreedyPolicy

        return GreedyPolicy(**options)
    if name == "mpc":
        from wattbit.control.mpc import MPCConfig, MPCPolicy

        config = options.pop("config", None) or MPCConfig()
        if inputs is not None and config.site_coords is None:  # for the latency (without site_rtt_ms) and the sun
            from dataclasses import replace

            coords = tuple((s.latitude_deg, s.longitude_deg) for s in inputs.scenario.sites)
            config = replace(config, site_coords=coords)
        areas = tuple(s.grid_area for s in inputs.scenario.sites) if inputs is not None else None
        return MPCPolicy(config, areas=areas, **options)
    if name == "oracle":
        if inputs is None:
            raise WattbitInputError(
                "the oracle policy needs the run's inputs (it sees the whole period)", field="policy"
            )
        from wattbit.control.oracle import OraclePolicy

        return OraclePolicy(inputs, **options)
    raise WattbitInputError(f"unknown policy {name!r}; known policies: {', '.join(POLICY_NAMES)}", field="policy")
