"""A trained agent as a :class:`~wattbit.sim.policy.Policy`, so ``simulate`` and ``wattbit bench`` can run it.

:class:`EnvPolicy` asks the agent at the first step of every control interval (steps 0, n, 2n, ... as the
environment does), with the same observation vector, and applies its action through the same decoding and job
rule as :class:`~wattbit.rl.env.WattbitEnv`: a run through ``simulate`` with the same scenario, seed and interval
is the environment's episode step for step. Needs no Gymnasium.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.rl.dispatch import SiteLevers, check_interval_steps, decode_action, dispatch
from wattbit.rl.encoding import ObservationEncoder, ObservationScales
from wattbit.sim.policy import Actions, Observation

Agent = Callable[[NDArray[np.float32]], ArrayLike]


class EnvPolicy:
    """Run ``agent`` (observation vector -> action vector) as a policy.

    Parameters
    ----------
    agent
        The trained controller: a function of the observation vector returning the action vector.
    control_interval_steps
        Engine steps per decision, as the environment the agent was trained in.
    scales
        Observation scales, as the environment the agent was trained in.
    clip_actions
        Clip action levels outside their bounds, or refuse them (``WattbitInputError``).
    name
        Name of the policy in results.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        control_interval_steps: int = 4,
        scales: ObservationScales | None = None,
        clip_actions: bool = True,
        name: str = "rl-agent",
    ) -> None:
        if not callable(agent):
            raise WattbitInputError(f"agent must be callable (observation -> action), got {agent!r}", field="agent")
        self.agent = agent
        self.interval_steps = check_interval_steps(control_interval_steps)
        self.scales = scales or ObservationScales()
        self._encode = ObservationEncoder(self.scales)
        self.clip_actions = clip_actions
        self.name = name
        self._levers: SiteLevers | None = None

    def decide(self, obs: Observation) -> Actions:
        """Ask the agent at the start of each interval; start jobs and set the levers as the environment does."""
        if self._levers is None or obs.step % self.interval_steps == 0:
            action = self.agent(self._encode(obs))
            self._levers = decode_action(action, obs.plants, obs.batteries, clip=self.clip_actions)
        return dispatch(obs, self._levers)


def as_policy(
    agent: Agent,
    *,
    control_interval_steps: int = 4,
    scales: ObservationScales | None = None,
    clip_actions: bool = True,
    name: str = "rl-agent",
) -> EnvPolicy:
    """Shorthand for :class:`EnvPolicy` with the same arguments."""
    return EnvPolicy(
        agent, control_interval_steps=control_interval_steps, scales=scales, clip_actions=clip_actions, name=name
    )
