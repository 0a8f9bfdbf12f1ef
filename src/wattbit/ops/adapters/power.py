"""The port for power and cooling set-points: GPU power caps and chilled-water supply temperatures per site.

Slurm 22.05 cannot cap power, so power goes through its own interface, :class:`PowerControl`. Two adapters:

- :class:`TwinPowerControl` — the twin's: it keeps each site's cap and set-point, checks them against the GPU's
  allowed range and the cooling plant's, and is read by the twin (and by the loop, to reconcile);
- :class:`ReadOnlyPowerControl` — for real GPUs lent to wattbit (NVML): it reports what it reads and refuses every
  change, so that wattbit never alters a GPU it does not own.

Every refusal is a :class:`PowerControlError` carrying the request, for the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from wattbit.scenario import Scenario


class PowerControlError(RuntimeError):
    """A set-point could not be applied; ``command`` names the request."""

    def __init__(self, message: str, command: str = "") -> None:
        self.message = message
        self.command = command
        super().__init__(f"{message} [{command}]" if command else message)


class PowerControl(Protocol):
    """What the loop may read and set for power and cooling, per site."""

    def power_cap_w(self, site: str) -> float:
        """The GPU power cap of ``site`` [W per GPU]."""
        ...

    def set_power_cap_w(self, site: str, watts: float) -> None:
        """Cap every GPU of ``site`` at ``watts``."""
        ...

    def supply_temp_c(self, site: str) -> float:
        """The chilled-water (or supply-air) set-point of ``site`` [°C]."""
        ...

    def set_supply_temp_c(self, site: str, celsius: float) -> None:
        """Set the supply set-point of ``site``."""
        ...


@dataclass
class SiteLimits:
    """What a site allows: GPU power cap range [W] and supply temperature range [°C]."""

    min_cap_w: float
    max_cap_w: float
    min_supply_c: float = 14.0
    max_supply_c: float = 32.0


@dataclass
class TwinPowerControl:
    """The twin's power and cooling set-points (see the module docstring).

    Parameters
    ----------
    limits
        Site -> its :class:`SiteLimits`; caps start at ``max_cap_w`` and set-points at ``start_supply_c``.
    start_supply_c
        Supply set-point of every site at the start [°C].
    """

    limits: dict[str, SiteLimits]
    start_supply_c: float = 18.0
    caps_w: dict[str, float] = field(default_factory=dict)
    supply_c: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for site, lim in self.limits.items():
            self.caps_w.setdefault(site, lim.max_cap_w)
            self.supply_c.setdefault(site, self.start_supply_c)

    def _limits(self, site: str, command: str) -> SiteLimits:
        if site not in self.limits:
            raise PowerControlError(f"unknown site {site!r}; expected one of {', '.join(self.limits)}", command)
        return self.limits[site]

    def power_cap_w(self, site: str) -> float:
        """The cap of ``site`` [W per GPU]."""
        self._limits(site, f"read power cap {site}")
        return self.caps_w[site]

    def set_power_cap_w(self, site: str, watts: float) -> None:
        """Cap ``site``'s GPUs at ``watts`` (inside the GPU's range, else :class:`PowerControlError`)."""
        command = f"set power cap {site} {watts:.0f} W"
        lim = self._limits(site, command)
        if not lim.min_cap_w <= watts <= lim.max_cap_w:
            raise PowerControlError(f"cap {watts:.0f} W outside {lim.min_cap_w:.0f}-{lim.max_cap_w:.0f} W", command)
        self.caps_w[site] = float(watts)

    def supply_temp_c(self, site: str) -> float:
        """The supply set-point of ``site`` [°C]."""
        self._limits(site, f"read supply temperature {site}")
        return self.supply_c[site]

    def set_supply_temp_c(self, site: str, celsius: float) -> None:
        """Set ``site``'s supply set-point (inside the plant's range, else :class:`PowerControlError`)."""
        command = f"set supply temperature {site} {celsius:.1f} C"
        lim = self._limits(site, command)
        if not lim.min_supply_c <= celsius <= lim.max_supply_c:
            raise PowerControlError(
                f"set-point {celsius:.1f} C outside {lim.min_supply_c:.1f}-{lim.max_supply_c:.1f} C", command
            )
        self.supply_c[site] = float(celsius)


@dataclass
class ReadOnlyPowerControl:
    """Reads caps from real GPUs (``read_cap_w``: site -> W, e.g. NVML's power limit) and refuses every change."""

    read_cap_w: dict[str, float]

    def power_cap_w(self, site: str) -> float:
        """The cap read for ``site`` [W]."""
        if site not in self.read_cap_w:
            raise PowerControlError(f"no reading for site {site!r}", f"read power cap {site}")
        return self.read_cap_w[site]

    def set_power_cap_w(self, site: str, watts: float) -> None:
        """Refused: wattbit never changes a lent GPU's settings."""
        raise PowerControlError("read-only: wattbit does not change real GPUs' power limits", f"set cap {site}")

    def supply_temp_c(self, site: str) -> float:
        """Unknown on real hardware here."""
        raise PowerControlError("no cooling plant connected", f"read supply temperature {site}")

    def set_supply_temp_c(self, site: str, celsius: float) -> None:
        """Refused: no cooling plant connected."""
        raise PowerControlError("read-only: no cooling plant connected", f"set supply temperature {site}")


def twin_power_control(scenario: Scenario) -> TwinPowerControl:
    """A :class:`TwinPowerControl` for ``scenario``'s sites (caps from the GPU's lowest allowed cap to its TDP)."""
    from wattbit.physics.gpu import get_gpu

    limits = {}
    for site in scenario.sites:
        gpu = get_gpu(site.it.gpu_model)
        limits[site.name] = SiteLimits(min_cap_w=float(gpu.cap_min_w), max_cap_w=float(gpu.tdp_w))
    return TwinPowerControl(limits)
