"""The watt-bit plan as scheduler and power actions, from the live signals of each site.

:func:`plan_actions` turns each site's grid carbon intensity, wholesale price and curtailment (the twin's
``wattbit_site_*`` series, or an operator's own exporter of the same names, read through Prometheus by
:func:`read_signals`) into actions on the scheduler and the power port. It follows the signals the mpc policy
optimises over (``wattbit.control``), as rules a person can read, not the optimiser itself:

- **node weights**: nodes of the site with the cleanest power now get the lowest weight, so that Slurm fills them
  first (weights ``1``, ``11``, ``21`` … by rank of carbon intensity);
- **hold and release**: a pending job that says it may wait (``wattbit:deferrable=1`` in its comment) is held while
  its site's price is above ``hold_factor`` x the site's running median, released when it falls below the median;
- **move**: a pending job waiting for resources in one site's partition is moved to the partition with free nodes and
  the lowest carbon intensity (only jobs that allow it: ``wattbit:movable=1``);
- **power caps**: a site's GPUs are capped at the GPU's lowest cap while its price is above ``cap_factor`` x its
  running median (demand response), restored to full when it falls below the median.

Every action carries the figures it rests on (evidence) and an episode of the data's hour, so that a decision is
proposed once per hour at most.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from wattbit.ops.adapters.power import PowerControl, PowerControlError
from wattbit.ops.adapters.scheduler import JobInfo, NodeInfo
from wattbit.ops.heal.actions import Action

CARBON = "wattbit_site_grid_carbon_intensity_grams_per_kilowatt_hour"
PRICE = "wattbit_site_electricity_price_yen_per_megawatt_hour"
CURTAILMENT = "wattbit_site_grid_curtailment_watts"


@dataclass(frozen=True)
class PlanRules:
    """Settings of :func:`plan_actions`."""

    hold_factor: float = 1.5
    cap_factor: float = 2.0
    history: int = 96
    min_history: int = 8


def read_signals(client: Any) -> dict[str, dict[str, float]]:
    """Site -> {``carbon_g_per_kwh``, ``price_jpy_per_mwh``, ``curtailment_w``} from a Prometheus client (sites without
    a value are left out; an unreachable Prometheus raises its own error)."""
    out: dict[str, dict[str, float]] = {}
    for name, key in ((CARBON, "carbon_g_per_kwh"), (PRICE, "price_jpy_per_mwh"), (CURTAILMENT, "curtailment_w")):
        for labels, _, value in client.query(name):
            site = labels.get("site")
            if site:
                out.setdefault(site, {})[key] = float(value)
    return out


def _episode(now_s: float) -> str:
    return f"plan@{int(now_s // 3600)}"


def _weights(signals: dict[str, dict[str, float]], nodes: list[NodeInfo], ep: str, now_s: float) -> list[Action]:
    ranked = sorted(
        (s for s in signals if "carbon_g_per_kwh" in signals[s]), key=lambda s: signals[s]["carbon_g_per_kwh"]
    )
    weight = {s: 1 + 10 * k for k, s in enumerate(ranked)}
    out = []
    for n in nodes:
        site = n.partitions[0] if n.partitions else ""
        if site in weight and n.weight != weight[site]:
            g = signals[site]["carbon_g_per_kwh"]
            why = f"{site} is #{ranked.index(site) + 1} by carbon intensity ({g:.0f} g/kWh)"
            out.append(Action("node_weight", n.name, site, {"weight": weight[site]}, why, {"signals": signals[site]},
                              source="plan", episode=ep, data_time_s=now_s))  # fmt: skip
    return out


def carbon_weights(signals: dict[str, dict[str, float]], nodes: list[NodeInfo], now_s: float) -> list[Action]:
    """The node weights alone (nodes of the cleanest site first), as the mpc plan uses them."""
    return _weights(signals, nodes, _episode(now_s), now_s)


def _free(nodes: list[NodeInfo], site: str) -> int:
    return sum(1 for n in nodes if site in n.partitions and n.available and n.gpus_used == 0)


def _jobs(jobs: list[JobInfo], signals: dict[str, dict[str, float]], medians: dict[str, float], nodes: list[NodeInfo],
          rules: PlanRules, ep: str, now_s: float) -> list[Action]:  # fmt: skip
    out = []
    for j in jobs:
        if not j.pending:
            continue
        site = j.partition.split(",")[0]
        price, med = signals.get(site, {}).get("price_jpy_per_mwh"), medians.get(site)
        if j.hints.get("deferrable") == "1" and price is not None and med:
            ev = {"price_jpy_per_mwh": price, "median_jpy_per_mwh": med}
            if not j.held and price > rules.hold_factor * med:
                why = f"price {price:.0f} JPY/MWh at {site} is {price / med:.1f}x its median: wait"
                out.append(Action("hold", j.job_id, site, {}, why, ev, source="plan", episode=ep, data_time_s=now_s))
            elif j.held and j.reason == "JobHeldAdmin" and price <= med:
                why = f"price {price:.0f} JPY/MWh at {site} back under its median"
                out.append(Action("release", j.job_id, site, {}, why, ev, source="plan", episode=ep, data_time_s=now_s))
        if (
            j.hints.get("movable") == "1"
            and not j.held
            and j.reason in ("Resources", "Priority")
            and not _free(nodes, site)
        ):
            options = [s for s in signals if s != site and _free(nodes, s) and "carbon_g_per_kwh" in signals[s]]
            if options:
                best = min(options, key=lambda s: signals[s]["carbon_g_per_kwh"])
                g = signals[best]["carbon_g_per_kwh"]
                why = f"{site} has no free node; {best} has {_free(nodes, best)} at {g:.0f} g/kWh"
                out.append(Action("move", j.job_id, site, {"partition": best}, why, {"signals": signals[best]},
                                  source="plan", episode=ep, data_time_s=now_s))  # fmt: skip
    return out


def _caps(signals: dict[str, dict[str, float]], medians: dict[str, float], power: PowerControl, limits: dict[str, Any],
          rules: PlanRules, ep: str, now_s: float) -> list[Action]:  # fmt: skip
    out = []
    for site, sig in signals.items():
        price, med, lim = sig.get("price_jpy_per_mwh"), medians.get(site), limits.get(site)
        if price is None or not med or lim is None:
            continue
        try:
            cap = power.power_cap_w(site)
        except PowerControlError:
            continue
        ev = {"price_jpy_per_mwh": price, "median_jpy_per_mwh": med, "cap_w": cap}
        if price > rules.cap_factor * med and cap > lim.min_cap_w:
            why = f"price {price:.0f} JPY/MWh is {price / med:.1f}x its median: cap GPUs (demand response)"
            out.append(Action("power_cap", site, site, {"watts": lim.min_cap_w}, why, ev, source="plan", episode=ep,
                              data_time_s=now_s))  # fmt: skip
        elif price <= med and cap < lim.max_cap_w:
            why = f"price {price:.0f} JPY/MWh back under its median: lift the cap"
            out.append(Action("power_cap", site, site, {"watts": lim.max_cap_w}, why, ev, source="plan", episode=ep,
                              data_time_s=now_s))  # fmt: skip
    return out


def plan_actions(
    signals: dict[str, dict[str, float]],
    nodes: list[NodeInfo],
    jobs: list[JobInfo],
    memory: dict[str, Any],
    now_s: float,
    rules: PlanRules | None = None,
    power: PowerControl | None = None,
) -> list[Action]:
    """The plan's actions for this cycle (see the module docstring); ``memory["prices"]`` keeps each site's recent
    prices (one per hour of data) for the running medians."""
    rules = rules or PlanRules()
    ep = _episode(now_s)
    prices = memory.setdefault("prices", {})
    hour = int(now_s // 3600)
    if memory.get("price_hour") != hour:
        memory["price_hour"] = hour
        for site, sig in signals.items():
            if "price_jpy_per_mwh" in sig:
                prices[site] = (prices.get(site, []) + [sig["price_jpy_per_mwh"]])[-rules.history :]
    medians = {s: statistics.median(v) for s, v in prices.items() if len(v) >= rules.min_history}
    out = _weights(signals, nodes, ep, now_s) + _jobs(jobs, signals, medians, nodes, rules, ep, now_s)
    limits = getattr(power, "limits", None)
    if power is not None and isinstance(limits, dict):
        out += _caps(signals, medians, power, limits, rules, ep, now_s)
    return out
