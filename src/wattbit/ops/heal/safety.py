"""Safety rules: what may be applied now, whatever the mode.

:class:`Rules` holds the limits; :func:`check` says why an action must wait (a text for the audit log) or None:

- **rate limit** — at most ``max_drains_per_site_per_h`` drains or quarantines applied per site in any hour of the
  data's clock (drains on predictions and on the black-hole rule, :data:`LIMITED_CAUSES`: a node seen failing is
  out of service anyway, and draining it protects the next job from a "black hole");
- **share of a site** — never more than ``max_drained_share`` of a site's nodes drained or down (at least one node
  may always be drained), again for those causes;
- **no flapping** — a node resumed less than ``flap_s`` ago is not drained again on a prediction or the black-hole
  rule, and a node is not resumed less than ``min_drain_s`` after it was drained.

Times are the data's clock (the twin's simulated time, or the wall clock with a real fleet).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.ops.adapters.scheduler import NodeInfo

#: Drain causes the rate limit, the share of a site and the flapping rule apply to: a prediction, and the
#: black-hole rule (jobs failing fast on a node). A failure seen in telemetry is always drained.
LIMITED_CAUSES = frozenset({"predicted", "black_hole"})


@dataclass(frozen=True)
class Rules:
    """The limits of :func:`check` and the healing playbook's settings.

    Attributes
    ----------
    max_drains_per_site_per_h
        Drains (and quarantines) on predictions per site per hour.
    max_drained_share
        Largest share of a site's nodes drained or down at once (on predictions).
    flap_s
        A node resumed this recently is not drained on a prediction [s].
    min_drain_s
        A drained node stays drained at least this long [s].
    burn_in_s
        Without a burn-in check, a drained node is resumed only after this long without any alert on it [s].
    min_quiet_s
        With a burn-in check, the node must still have been quiet this long [s].
    hold_predicted_s
        A node drained on a prediction that did not come true is resumed after this long (a false drain) [s].
    min_probability
        Predictions below this probability (from the calibration) are shown but do not drain.
    lemon_failures, lemon_window_s
        A node with this many failures within the window is quarantined (a "lemon"): drained and never resumed.
    checkpoint_wait_s
        Time between the checkpoint signal and the requeue on a predicted failure [s].
    max_attempts, retry_s
        Attempts of an action before it is abandoned; wait before the first retry [s] (doubling after).
    black_hole_failures, black_hole_run_s, black_hole_window_s
        The black-hole rule (:mod:`wattbit.ops.heal.black_hole`): a node on which this many job runs (of one job or
        several) ended in failure at most ``black_hole_run_s`` after they started, within the last
        ``black_hole_window_s``, is drained; 0 failures turns the rule off. Defaults: 3 runs, 15 min, 6 h.
    """

    max_drains_per_site_per_h: int = 2
    max_drained_share: float = 0.25
    flap_s: float = 6 * 3600.0
    min_drain_s: float = 3600.0
    burn_in_s: float = 2 * 3600.0
    min_quiet_s: float = 1800.0
    hold_predicted_s: float = 48 * 3600.0
    min_probability: float = 0.4
    lemon_failures: int = 3
    lemon_window_s: float = 30 * 86400.0
    checkpoint_wait_s: float = 900.0
    max_attempts: int = 5
    retry_s: float = 30.0
    black_hole_failures: int = 3
    black_hole_run_s: float = 900.0
    black_hole_window_s: float = 6 * 3600.0


def with_black_hole(rules: Rules, text: str) -> Rules:
    """``rules`` with the black-hole rule set from ``K,MIN,HOURS`` (K failed runs, each at most MIN minutes after its
    start, within HOURS; e.g. ``3,15,6``, the default) or ``off``."""
    if text.strip().lower() == "off":
        return replace(rules, black_hole_failures=0)
    parts = [p.strip() for p in text.split(",")]
    try:
        k, minutes, hours = int(parts[0]), float(parts[1]), float(parts[2])
    except (ValueError, IndexError):
        k = minutes = hours = -1
    if len(parts) != 3 or k < 1 or minutes <= 0 or hours <= 0:
        raise WattbitInputError(
            f"--black-hole {text!r}: expected K,MINUTES,HOURS (e.g. 3,15,6: 3 runs failed at most 15 min after "
            "their start within 6 h) or off",
            field="black_hole",
        )
    return replace(rules, black_hole_failures=k, black_hole_run_s=minutes * 60.0, black_hole_window_s=hours * 3600.0)


def drained_or_down(nodes: list[NodeInfo], site: str) -> int:
    """Nodes of partition ``site`` drained, draining or down."""
    return sum(1 for n in nodes if site in n.partitions and (n.drained or n.down))


def site_size(nodes: list[NodeInfo], site: str) -> int:
    """Nodes in partition ``site``."""
    return sum(1 for n in nodes if site in n.partitions)


def check(
    kind: str,
    site: str,
    params: dict[str, Any],
    nodes: list[NodeInfo],
    recent_drains: int,
    node_memory: dict[str, Any],
    now_s: float,
    rules: Rules,
) -> str | None:
    """Why ``kind`` on a node of ``site`` must wait now, or None.

    Parameters
    ----------
    kind, site, params
        The action (``params["cause"]`` is ``predicted``, ``black_hole`` or ``seen`` for drains).
    nodes
        The scheduler's nodes now.
    recent_drains
        Drains and quarantines applied on ``site`` in the last hour of the data's clock.
    node_memory
        The playbook's memory of the target node (``drained_s``, ``resumed_s``).
    now_s
        The data's clock.
    rules
        The limits.
    """
    if kind in ("drain", "quarantine") and params.get("cause") in LIMITED_CAUSES:
        if recent_drains >= rules.max_drains_per_site_per_h:
            limit = rules.max_drains_per_site_per_h
            return f"rate limit: {recent_drains} drains on {site} in the last hour (at most {limit})"
        size = site_size(nodes, site)
        allowed = max(1, int(rules.max_drained_share * size))
        out = drained_or_down(nodes, site)
        if out + 1 > allowed:
            return f"share of site: {out} of {size} nodes of {site} already out (at most {allowed})"
        resumed = node_memory.get("resumed_s")
        if resumed is not None and now_s - float(resumed) < rules.flap_s:
            return f"no flapping: resumed {(now_s - float(resumed)) / 3600:.1f} h ago (wait {rules.flap_s / 3600:g} h)"
    if kind == "resume":
        drained = node_memory.get("drained_s")
        if drained is not None and now_s - float(drained) < rules.min_drain_s:
            return (
                f"no flapping: drained {(now_s - float(drained)) / 3600:.1f} h ago (min {rules.min_drain_s / 3600:g} h)"
            )
    return None
