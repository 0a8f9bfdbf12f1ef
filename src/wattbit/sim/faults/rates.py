"""Failure rates, causes and repair times: the parameter sheet of the fault model.

Every number here is a default that a scenario can override (:meth:`FailureRates.from_dict`); docs/faults.md holds
the same table with its reasoning. Status marks as in ``REFERENCE.md``: **V** seen in a primary source this
session, **S** secondary (re-check), **U** assumption.

Component failures (V, Grattafiori et al. 2024, "The Llama 3 Herd of Models", arXiv 2407.21783, §3.3.4 and
Table 5, text read this session): 419 unexpected interruptions of the Llama 3 405B pre-training job on 16,384 H100
GPUs in a 54-day snapshot, i.e. ``419 / (16,384 x 54) = 4.74e-4`` interruptions per GPU-day (derived). Table 5
gives 18 root causes whose counts sum to 419; they are the default cause mix here. (Its printed share for "Faulty
GPU", 30.1 %, does not match 148 / 419 = 35.3 %; the counts are used.) Each cause is mapped to a *scope*, what is
taken out of service, and every scope has a log-normal repair time (U). Site events (cooling, power chain, grid,
disaster) have rates per site-year (U; see docs/faults.md for the Uptime Institute survey figures they are set
against).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.units import check_int, check_number

#: Scope codes (``FailureEvents.scope``): what an event takes out of service.
SCOPE_GPU, SCOPE_NODE, SCOPE_NETWORK, SCOPE_SOFTWARE, SCOPE_SITE = 0, 1, 2, 3, 4
SCOPE_NAMES: tuple[str, ...] = ("gpu", "node", "network", "software", "site")
COMPONENT_SCOPES: tuple[str, ...] = SCOPE_NAMES[:4]

#: Llama 3 405B Table 5 (arXiv 2407.21783): cause -> (interruption count, default scope). V counts; scopes U.
LLAMA3_CAUSES: dict[str, tuple[int, str]] = {
    "faulty_gpu": (148, "gpu"),
    "gpu_hbm3_memory": (72, "gpu"),
    "software_bug": (54, "software"),
    "network_switch_cable": (35, "network"),
    "host_maintenance": (32, "node"),
    "gpu_sram_memory": (19, "gpu"),
    "gpu_system_processor": (17, "gpu"),
    "nic": (7, "node"),
    "nccl_watchdog_timeout": (7, "software"),
    "silent_data_corruption": (6, "gpu"),
    "gpu_thermal_interface_sensor": (6, "gpu"),
    "ssd": (3, "node"),
    "power_supply": (3, "node"),
    "server_chassis": (2, "node"),
    "io_expansion_board": (2, "node"),
    "dependency": (2, "software"),
    "cpu": (2, "node"),
    "system_memory": (2, "node"),
}
LLAMA3_UNPLANNED = 419
LLAMA3_GPUS = 16_384
LLAMA3_DAYS = 54.0
#: 419 / (16,384 x 54) unplanned interruptions per GPU-day (derived from V figures).
LLAMA3_PER_GPU_DAY = LLAMA3_UNPLANNED / (LLAMA3_GPUS * LLAMA3_DAYS)
#: Meta RSC-1 / RSC-2 (A100, 8 GPUs per node): 6.50 / 2.34 failures per 1,000 node-days (S, arXiv 2410.21680).
META_RSC1_PER_GPU_DAY = 6.50e-3 / 8
META_RSC2_PER_GPU_DAY = 2.34e-3 / 8

#: Site-level event kinds, in cause-code order after the component causes.
SITE_EVENT_KINDS: tuple[str, ...] = ("cooling_fault", "power_chain_fault", "grid_outage", "natural_disaster")

#: Cause codes (``FailureEvents.cause``) index this table: 18 component causes, then the 4 site event kinds.
CAUSE_NAMES: tuple[str, ...] = (*LLAMA3_CAUSES, *SITE_EVENT_KINDS)
CAUSE_CODES: dict[str, int] = {name: code for code, name in enumerate(CAUSE_NAMES)}
N_COMPONENT_CAUSES = len(LLAMA3_CAUSES)


@dataclass(frozen=True)
class RepairTime:
    """Log-normal time to repair [h]: ``median_h * exp(sigma * Z)``, ``Z ~ N(0, 1)``.

    Attributes
    ----------
    median_h
        Median repair time [h], >= 0 (0: back at once, the job only restarts).
    sigma
        Standard deviation of ``ln(hours)``, >= 0 (0: every repair takes ``median_h``). The mean is
        ``median_h * exp(sigma**2 / 2)``.
    """

    median_h: float
    sigma: float = 0.0

    def __post_init__(self) -> None:
        check_number(self.median_h, "median_h", 0.0)
        check_number(self.sigma, "sigma", 0.0)

    @property
    def mean_h(self) -> float:
        """Mean repair time [h]."""
        return self.median_h * math.exp(self.sigma**2 / 2)


@dataclass(frozen=True)
class SiteEventRate:
    """A site-level event: how often, how much of the site it takes, for how long.

    Attributes
    ----------
    rate_per_site_year
        Expected events per site per year (365.25 days), >= 0.
    derate_fraction
        Share of the site's IT capacity lost while the event lasts, in (0, 1]; 1 is a whole-site outage.
    median_h, sigma
        Log-normal duration [h], as in :class:`RepairTime`.
    """

    rate_per_site_year: float
    derate_fraction: float
    median_h: float
    sigma: float = 0.0

    def __post_init__(self) -> None:
        check_number(self.rate_per_site_year, "rate_per_site_year", 0.0)
        check_number(self.derate_fraction, "derate_fraction", 0.0, 1.0, lo_open=True)
        RepairTime(self.median_h, self.sigma)  # validates the duration

    @property
    def duration(self) -> RepairTime:
        """The duration distribution."""
        return RepairTime(self.median_h, self.sigma)


def _default_fractions() -> dict[str, float]:
    return {name: count / LLAMA3_UNPLANNED for name, (count, _) in LLAMA3_CAUSES.items()}


def _default_scopes() -> dict[str, str]:
    return {name: scope for name, (_, scope) in LLAMA3_CAUSES.items()}


def _default_repair() -> dict[str, RepairTime]:
    # U: drain + reset or swap of a GPU; reboot or re-image of a host; a cable/optic or leaf switch swap; none.
    return {
        "gpu": RepairTime(median_h=4.0, sigma=1.0),
        "node": RepairTime(median_h=1.0, sigma=0.75),
        "network": RepairTime(median_h=2.0, sigma=1.0),
        "software": RepairTime(median_h=0.0, sigma=0.0),
    }


def _default_site_events() -> dict[str, SiteEventRate]:
    # All U; orders of magnitude set against Uptime Institute survey figures (S), see docs/faults.md.
    return {
        "cooling_fault": SiteEventRate(rate_per_site_year=0.5, derate_fraction=0.25, median_h=4.0, sigma=0.8),
        "power_chain_fault": SiteEventRate(rate_per_site_year=0.3, derate_fraction=0.25, median_h=8.0, sigma=0.8),
        "grid_outage": SiteEventRate(rate_per_site_year=0.05, derate_fraction=1.0, median_h=2.0, sigma=1.0),
        "natural_disaster": SiteEventRate(rate_per_site_year=0.002, derate_fraction=1.0, median_h=72.0, sigma=0.8),
    }


@dataclass(frozen=True)
class FailureRates:
    """All parameters of the fault model; defaults from Llama 3 (V) and documented assumptions (U).

    Attributes
    ----------
    unplanned_per_gpu_day
        Unplanned job interruptions per GPU-day of GPUs in service [1/(GPU day)]; default 419 / (16,384 x 54).
    cause_fractions
        Share of each component cause (names in :data:`LLAMA3_CAUSES`) in those interruptions; sums to 1. A cause
        left out has share 0. Default: the Table 5 counts / 419.
    cause_scopes
        Scope of each component cause: ``gpu`` (that GPU out until repaired), ``node`` (all GPUs of its node),
        ``network`` (one node, or a leaf-switch group of nodes, see below) or ``software`` (nothing out, the job
        restarts).
    repair
        Repair time per scope ``gpu``, ``node``, ``network``, ``software``.
    network_group_nodes
        Nodes behind one leaf switch (U: 32, one scalable unit of a rail-optimised DGX SuperPOD fabric, S).
    network_switch_share
        Share of ``network`` events that are switch failures and take the whole group; the rest are cable or
        optic failures that cut one node (U: 0.2).
    site_events
        Rate, derate and duration of each kind in :data:`SITE_EVENT_KINDS`.
    """

    unplanned_per_gpu_day: float = LLAMA3_PER_GPU_DAY
    cause_fractions: Mapping[str, float] = field(default_factory=_default_fractions)
    cause_scopes: Mapping[str, str] = field(default_factory=_default_scopes)
    repair: Mapping[str, RepairTime] = field(default_factory=_default_repair)
    network_group_nodes: int = 32
    network_switch_share: float = 0.2
    site_events: Mapping[str, SiteEventRate] = field(default_factory=_default_site_events)

    def __post_init__(self) -> None:
        for name in ("cause_fractions", "cause_scopes", "repair", "site_events"):  # a private copy: frozen means frozen
            object.__setattr__(self, name, dict(getattr(self, name)))
        check_number(self.unplanned_per_gpu_day, "unplanned_per_gpu_day", 0.0)
        _check_known(self.cause_fractions, LLAMA3_CAUSES, "cause_fractions")
        for name, share in self.cause_fractions.items():
            check_number(share, f"cause_fractions.{name}", 0.0)
        total = sum(self.cause_fractions.values())
        if abs(total - 1.0) > 1e-6:
            raise WattbitInputError(f"cause fractions sum to {total:.6g}; expected 1", field="cause_fractions")
        _check_known(self.cause_scopes, LLAMA3_CAUSES, "cause_scopes")
        missing = set(LLAMA3_CAUSES) - set(self.cause_scopes)
        if missing:
            raise WattbitInputError(f"no scope for causes {sorted(missing)}", field="cause_scopes")
        for name, scope in self.cause_scopes.items():
            if scope not in COMPONENT_SCOPES:
                raise WattbitInputError(
                    f"unknown scope {scope!r}; expected one of {COMPONENT_SCOPES}", field=f"cause_scopes.{name}"
                )
        _check_exact_keys(self.repair, COMPONENT_SCOPES, "repair", RepairTime)
        _check_exact_keys(self.site_events, SITE_EVENT_KINDS, "site_events", SiteEventRate)
        check_int(self.network_group_nodes, "network_group_nodes", 1)
        check_number(self.network_switch_share, "network_switch_share", 0.0, 1.0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FailureRates:
        """Defaults overridden by ``data`` (e.g. a scenario's ``[faults]`` table).

        ``cause_fractions`` replaces the whole mix (it must sum to 1); ``cause_scopes`` is merged into the
        defaults; ``repair.<scope>`` and ``site_events.<kind>`` are merged key by key, so
        ``{"site_events": {"grid_outage": {"rate_per_site_year": 0.1}}}`` changes only that rate.

        Raises
        ------
        WattbitInputError
            Unknown keys or bad values, naming the field path (``site_events.grid_outage.derate_fraction``).
        """
        if not isinstance(data, Mapping):
            raise WattbitInputError(f"expected a table, got {type(data).__name__}", field="faults")
        _check_known(data, {f.name for f in cls.__dataclass_fields__.values()}, "faults")
        base = cls()
        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k not in ("cause_scopes", "repair", "site_events")}
        kwargs["cause_scopes"] = {**base.cause_scopes, **_table(data, "cause_scopes")}
        kwargs["repair"] = _merge(base.repair, data, RepairTime, "repair")
        kwargs["site_events"] = _merge(base.site_events, data, SiteEventRate, "site_events")
        if "cause_fractions" in data:
            fractions = _table(data, "cause_fractions")
            kwargs["cause_fractions"] = {k: _as_float(v, f"cause_fractions.{k}") for k, v in fractions.items()}
        for key in ("unplanned_per_gpu_day", "network_switch_share"):
            if key in kwargs:
                kwargs[key] = _as_float(kwargs[key], key)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, accepted back by :meth:`from_dict`."""
        return {
            "unplanned_per_gpu_day": self.unplanned_per_gpu_day,
            "cause_fractions": dict(self.cause_fractions),
            "cause_scopes": dict(self.cause_scopes),
            "repair": {k: vars(v).copy() for k, v in self.repair.items()},
            "network_group_nodes": self.network_group_nodes,
            "network_switch_share": self.network_switch_share,
            "site_events": {k: vars(v).copy() for k, v in self.site_events.items()},
        }


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise WattbitInputError(f"expected a table, got {type(value).__name__}", field=key)
    return dict(value)


def _as_float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise WattbitInputError(f"{value!r} is not a number", field=name) from None


def _check_known(mapping: Mapping[str, Any], known: Mapping[str, Any] | set[str], name: str) -> None:
    unknown = set(mapping) - set(known)
    if unknown:
        raise WattbitInputError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}", field=name)


def _check_exact_keys(mapping: Mapping[str, Any], keys: tuple[str, ...], name: str, kind: type) -> None:
    if set(mapping) != set(keys):
        raise WattbitInputError(f"keys {sorted(mapping)} given; expected exactly {list(keys)}", field=name)
    for key, value in mapping.items():
        if not isinstance(value, kind):
            raise WattbitInputError(f"expected a {kind.__name__}, got {type(value).__name__}", field=f"{name}.{key}")


def _merge(base: Mapping[str, Any], data: Mapping[str, Any], kind: type, name: str) -> dict[str, Any]:
    override = _table(data, name)
    _check_known(override, set(base), name)
    out = dict(base)
    for key, fields in override.items():
        path = f"{name}.{key}"
        if not isinstance(fields, Mapping):
            raise WattbitInputError(f"expected a table, got {type(fields).__name__}", field=path)
        _check_known(fields, set(vars(base[key])), path)
        merged = {**vars(base[key]), **{k: _as_float(v, f"{path}.{k}") for k, v in fields.items()}}
        try:
            out[key] = kind(**merged)
        except WattbitInputError as err:
            raise WattbitInputError(err.message, field=f"{path}.{err.field}") from None
    return out
