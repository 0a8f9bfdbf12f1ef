"""Control policies: baseline (carbon-agnostic), and the registry that names them."""

from __future__ import annotations

from wattbit.control.baseline import BaselinePolicy
from wattbit.errors import WattbitInputError
from wattbit.sim.policy import Policy

POLICIES = {"baseline": BaselinePolicy}


def make_policy(name: str) -> Policy:
    """The policy called ``name``; an unknown name is a :class:`WattbitInputError` listing the known ones."""
    try:
        return POLICIES[name]()
    except KeyError:
        raise WattbitInputError(
            f"unknown policy {name!r}; known policies: {', '.join(POLICIES)}", field="policy"
        ) from None
