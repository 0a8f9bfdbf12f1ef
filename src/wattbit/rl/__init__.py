"""Reinforcement learning over the simulation engine: a Gymnasium environment and a policy adapter.

:class:`WattbitEnv` (needs the ``rl`` extra, Gymnasium) is imported on first use, so ``import wattbit.rl`` works
without Gymnasium; :class:`EnvPolicy` runs a trained agent through ``simulate`` and ``wattbit bench``. See
``docs/rl.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wattbit.rl.dispatch import ACTION_LEVELS, SiteLevers, decode_action, dispatch, neutral_action
from wattbit.rl.encoding import (
    FLEET_FEATURES,
    SITE_FEATURES,
    ObservationEncoder,
    ObservationScales,
    encode_observation,
)
from wattbit.rl.policy import EnvPolicy, as_policy
from wattbit.rl.reward import IntervalOutcome, RewardWeights

if TYPE_CHECKING:
    from wattbit.rl.env import WattbitEnv

__all__ = [
    "ACTION_LEVELS",
    "FLEET_FEATURES",
    "SITE_FEATURES",
    "EnvPolicy",
    "IntervalOutcome",
    "ObservationEncoder",
    "ObservationScales",
    "RewardWeights",
    "SiteLevers",
    "WattbitEnv",
    "as_policy",
    "decode_action",
    "dispatch",
    "encode_observation",
    "neutral_action",
]


def __getattr__(name: str) -> Any:
    if name == "WattbitEnv":
        from wattbit.rl.env import WattbitEnv

        return WattbitEnv
    raise AttributeError(f"module 'wattbit.rl' has no attribute {name!r}")
