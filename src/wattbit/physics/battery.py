"""Battery energy storage: state of charge with power and energy limits and charge/discharge losses.

Sign convention: **power > 0 is discharge to the site, power < 0 is charge from the site**, both at the battery's
AC terminals [MW]. Stored energy (``soc_mwh``) changes per step of ``step_h`` hours by
``+eta_c |P| dt`` when charging and ``-P dt / eta_d`` when discharging, and stays within
``[soc_min, soc_max] x energy_mwh``. Requests beyond the power rating or the energy limits are clipped, and the
clipped part is returned, never hidden.

Defaults follow REopt.jl ``ElectricStorage`` (``src/core/energy_storage/electric_storage.jl``, V): internal
round-trip efficiency 0.975 split evenly between charge and discharge, rectifier and inverter 0.96, so
``eta_c = eta_d = 0.96 sqrt(0.975) = 0.9479`` and an AC round trip of 0.8986; ``soc_min_fraction = 0.2``,
``soc_init_fraction = 0.5``. Equations in ``docs/models/battery.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import check_finite, check_number

#: REopt.jl defaults (V): rectifier/inverter 0.96 and internal round trip 0.975 split between charge and discharge.
REOPT_CHARGE_EFFICIENCY = 0.96 * math.sqrt(0.975)
REOPT_DISCHARGE_EFFICIENCY = 0.96 * math.sqrt(0.975)


@dataclass(frozen=True)
class BatterySpec:
    """A battery's ratings, efficiencies and operating window.

    Attributes
    ----------
    energy_mwh
        Usable nameplate energy capacity [MWh], >= 0.
    power_mw
        Charge and discharge power rating at the AC terminals [MW], >= 0.
    charge_efficiency
        AC-to-stored energy efficiency, in (0, 1] (REopt default 0.9479, V).
    discharge_efficiency
        Stored-to-AC energy efficiency, in (0, 1] (REopt default 0.9479, V).
    soc_min
        Lowest state of charge, fraction of ``energy_mwh`` (REopt default 0.2, V).
    soc_max
        Highest state of charge, fraction of ``energy_mwh`` (1.0; REopt has no upper limit).
    initial_soc
        State of charge at the start, fraction in ``[soc_min, soc_max]`` (REopt default 0.5, V).
    degradation_cost_per_mwh
        Wear cost per MWh discharged at the AC terminals [currency/MWh], >= 0; see
        :func:`degradation_cost_per_mwh`.
    """

    energy_mwh: float
    power_mw: float
    charge_efficiency: float = REOPT_CHARGE_EFFICIENCY
    discharge_efficiency: float = REOPT_DISCHARGE_EFFICIENCY
    soc_min: float = 0.2
    soc_max: float = 1.0
    initial_soc: float = 0.5
    degradation_cost_per_mwh: float = 0.0

    def __post_init__(self) -> None:
        rules = {  # (low, high, low end open)
            "energy_mwh": (0.0, math.inf, False),
            "power_mw": (0.0, math.inf, False),
            "charge_efficiency": (0.0, 1.0, True),
            "discharge_efficiency": (0.0, 1.0, True),
            "soc_min": (0.0, 1.0, False),
            "soc_max": (0.0, 1.0, False),
            "initial_soc": (self.soc_min, self.soc_max, False),  # within [soc_min, soc_max]
            "degradation_cost_per_mwh": (0.0, math.inf, False),
        }
        for f in fields(self):
            lo, hi, lo_open = rules[f.name]
            check_number(getattr(self, f.name), f.name, lo, hi, lo_open=lo_open, what="battery")
        if not self.soc_min < self.soc_max:
            raise WattbitInputError(f"soc_min={self.soc_min} must be below soc_max={self.soc_max}", field="soc_min")

    @property
    def round_trip_efficiency(self) -> float:
        """AC-to-AC round-trip efficiency ``eta_c eta_d``."""
        return self.charge_efficiency * self.discharge_efficiency

    @property
    def soc_min_mwh(self) -> float:
        """Lowest stored energy [MWh]."""
        return self.soc_min * self.energy_mwh

    @property
    def soc_max_mwh(self) -> float:
        """Highest stored energy [MWh]."""
        return self.soc_max * self.energy_mwh

    @property
    def initial_soc_mwh(self) -> float:
        """Stored energy at the start [MWh]."""
        return self.initial_soc * self.energy_mwh


def degradation_cost_per_mwh(
    capex_per_kwh: float, cycle_life: float, depth_of_discharge: float, round_trip_efficiency: float
) -> float:
    """Wear cost per MWh of throughput: ``c = 1000 C / (N DoD eta_RT)`` (REFERENCE.md §4 form; inputs U).

    The replacement cost of the energy capacity spread over the energy the battery delivers in its life.
    Using the round-trip efficiency (not the discharge efficiency alone) errs on the high side.

    Parameters
    ----------
    capex_per_kwh
        (Replacement) cost of energy capacity [currency/kWh], >= 0.
    cycle_life
        Full cycles to end of life at ``depth_of_discharge`` [-], > 0.
    depth_of_discharge
        Depth of each cycle, fraction in (0, 1].
    round_trip_efficiency
        AC round-trip efficiency, in (0, 1].

    Returns
    -------
    float
        Cost per MWh discharged [currency/MWh].
    """
    checks = [
        ("capex_per_kwh", capex_per_kwh, 0.0 <= capex_per_kwh < math.inf),
        ("cycle_life", cycle_life, 0.0 < cycle_life < math.inf),
        ("depth_of_discharge", depth_of_discharge, 0.0 < depth_of_discharge <= 1.0),
        ("round_trip_efficiency", round_trip_efficiency, 0.0 < round_trip_efficiency <= 1.0),
    ]
    for name, value, ok in checks:
        if not ok:
            raise WattbitInputError(f"{name}={value} is NaN or out of range", field=name)
    return 1000.0 * capex_per_kwh / (cycle_life * depth_of_discharge * round_trip_efficiency)


class _Params(NamedTuple):
    e_min: NDArray[np.float64]
    e_max: NDArray[np.float64]
    p_max: NDArray[np.float64]
    eta_c: NDArray[np.float64]
    eta_d: NDArray[np.float64]
    soc0: NDArray[np.float64]


def _params(spec: BatterySpec | Sequence[BatterySpec]) -> _Params:
    specs = [spec] if isinstance(spec, BatterySpec) else list(spec)
    if not specs or not all(isinstance(s, BatterySpec) for s in specs):
        raise WattbitInputError("expected a BatterySpec or a non-empty sequence of them", field="spec")

    def arr(attr: str) -> NDArray[np.float64]:
        values = np.array([getattr(s, attr) for s in specs], dtype=float)
        return values[0] if isinstance(spec, BatterySpec) else values

    return _Params(
        arr("soc_min_mwh"),
        arr("soc_max_mwh"),
        arr("power_mw"),
        arr("charge_efficiency"),
        arr("discharge_efficiency"),
        arr("initial_soc_mwh"),
    )


def _signed_scale(
    power: NDArray[np.float64], positive: NDArray[np.float64], negative: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``power * positive`` where ``power > 0``, else ``power * negative`` (one output array, no branches)."""
    out = np.where(power > 0, positive, negative)
    out *= power
    return out


def _wanted_change_mwh(power_mw: NDArray[np.float64], params: _Params, step_h: float) -> NDArray[np.float64]:
    """Stored-energy change [MWh] for an AC power within the rating: ``-P dt / eta_d`` or ``-P dt eta_c``."""
    return _signed_scale(power_mw, -step_h / params.eta_d, -step_h * params.eta_c)


def _power_from_change_mw(change_mwh: NDArray[np.float64], params: _Params, step_h: float) -> NDArray[np.float64]:
    """AC power [MW] that changes the stored energy by ``change_mwh`` (inverse of :func:`_wanted_change_mwh`)."""
    return _signed_scale(-change_mwh, params.eta_d / step_h, 1.0 / (params.eta_c * step_h))


def _settle(
    power_mw: NDArray[np.float64],
    soc_after: NDArray[np.float64],
    change_mwh: NDArray[np.float64],
    params: _Params,
    step_h: float,
) -> NDArray[np.float64]:
    """Delivered power, in place in ``power_mw``: where a step ends on an energy limit the power is recomputed
    from the actual energy change (the limit may have cut it); elsewhere the rated-clipped request stands."""
    at_limit = (soc_after <= params.e_min) | (soc_after >= params.e_max)
    np.copyto(power_mw, _power_from_change_mw(change_mwh, params, step_h), where=at_limit)
    return power_mw


def battery_step(
    spec: BatterySpec | Sequence[BatterySpec], soc_mwh: ArrayLike, power_request_mw: ArrayLike, step_h: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One time step for one or many batteries, honouring power, energy and efficiency.

    Parameters
    ----------
    spec
        One spec for all batteries, or one per battery (arrays then have that length).
    soc_mwh
        Stored energy at the start of the step [MWh], within ``[soc_min_mwh, soc_max_mwh]``.
    power_request_mw
        Requested AC power [MW]: > 0 discharge to the site, < 0 charge.
    step_h
        Step length [h].

    Returns
    -------
    tuple of numpy.ndarray
        ``(power_mw, soc_mwh)``: the AC power actually delivered (same sign convention; its difference from the
        request is the clipped part) and the stored energy at the end of the step.
    """
    check_number(step_h, "step_h", 0.0, lo_open=True)
    params = _params(spec)
    soc = np.asarray(soc_mwh, dtype=float)
    request = check_finite("power_request_mw", power_request_mw)
    tol = 1e-9 * np.maximum(params.e_max, 1.0)
    if not np.all((soc >= params.e_min - tol) & (soc <= params.e_max + tol)):
        raise WattbitInputError("state of charge is NaN or outside [soc_min, soc_max] x energy_mwh", field="soc_mwh")
    power = np.asarray(np.clip(request, -params.p_max, params.p_max), dtype=float)
    new_soc = np.minimum(np.maximum(soc + _wanted_change_mwh(power, params, step_h), params.e_min), params.e_max)
    return _settle(power, new_soc, new_soc - soc, params, step_h), new_soc


def _bounded_cumsum(wanted: NDArray[np.float64], params: _Params) -> NDArray[np.float64]:
    """Stored energy after each step: ``s_t = min(max(s_{t-1} + w_t, e_min), e_max)``, for any battery axes.

    Sequential in time, but evaluated in chunks of about sqrt(n_steps) steps so that the Python loops run some
    3 sqrt(n_steps) times rather than n_steps times (a chunked scan): the steps of each chunk compose to one map
    (:func:`_compose_chunks`), the states before the chunks follow from those maps one chunk after another, and then
    every state within the chunks from its chunk's start. Equal to the step-by-step recursion to rounding, and
    monotone in each ``w_t``: the state never moves against the request.
    """
    steps, batteries = wanted.shape[0], wanted.shape[1:]
    length = max(1, math.isqrt(steps))
    chunks = -(-steps // length)
    w = np.zeros((chunks * length, *batteries))  # padded with steps that change nothing
    w[:steps] = wanted
    w = w.reshape(chunks, length, *batteries)
    offset, bounds = _compose_chunks(w, params)
    start = np.empty((chunks, *batteries))  # stored energy before each chunk
    state = np.broadcast_to(params.soc0, batteries)
    for k in range(chunks):
        start[k] = state
        state = np.minimum(np.maximum(state + offset[k], bounds[0, k]), bounds[1, k])
    soc = np.empty_like(w)
    _compose_chunks(w, params, start, soc)
    return soc.reshape(chunks * length, *batteries)[:steps]


def _compose_chunks(
    w: NDArray[np.float64],
    params: _Params,
    start: NDArray[np.float64] | None = None,
    soc: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Steps ``1..t`` of each chunk of ``w`` (shape ``(chunks, length, *batteries)``), all chunks at once.

    They map the stored energy ``x`` before the chunk to ``min(max(x + offset_t, low_t), high_t)``: ``offset_t`` is
    the sum of the chunk's ``w`` so far, and ``low_t`` and ``high_t`` are where the recursion started from -inf and
    +inf has got to (the lowest and highest possible state). Returns ``offset`` and ``bounds = (low, high)`` of the
    whole chunk; given ``start`` (the state before each chunk) also writes the state after each step into ``soc``.
    """
    offset = np.zeros((w.shape[0], *w.shape[2:]))
    bounds = np.empty((2, *offset.shape))
    bounds[0], bounds[1] = -np.inf, np.inf
    for t in range(w.shape[1]):
        offset += w[:, t]
        bounds += w[:, t]
        np.maximum(bounds, params.e_min, out=bounds)
        np.minimum(bounds, params.e_max, out=bounds)
        if start is not None and soc is not None:
            state = soc[:, t]
            np.add(start, offset, out=state)
            np.maximum(state, bounds[0], out=state)
            np.minimum(state, bounds[1], out=state)
    return offset, bounds


class BatteryResult(NamedTuple):
    """Time series of a battery simulation; arrays of shape ``(n_steps,)`` or ``(n_steps, n_batteries)``."""

    power_mw: NDArray[np.float64]
    """AC power delivered: > 0 discharge to the site, < 0 charge [MW]."""
    soc_mwh: NDArray[np.float64]
    """Stored energy at the end of each step [MWh]."""
    throughput_mwh: NDArray[np.float64]
    """Energy discharged at the AC terminals in each step [MWh] (what ``degradation_cost_per_mwh`` prices)."""
    losses_mwh: NDArray[np.float64]
    """Conversion losses in each step [MWh] (charging and discharging)."""
    clipped_mw: NDArray[np.float64]
    """Request minus delivered power [MW]: the part refused by the power or energy limits."""
    initial_soc_mwh: NDArray[np.float64]
    """Stored energy before the first step [MWh]."""


def simulate_battery(
    spec: BatterySpec | Sequence[BatterySpec], power_request_mw: ArrayLike, step_h: float
) -> BatteryResult:
    """Run batteries through a series of power requests, step by step.

    Parameters
    ----------
    spec
        One spec, or one per column of ``power_request_mw``.
    power_request_mw
        Requested AC power [MW] (> 0 discharge, < 0 charge), shape ``(n_steps,)`` for one battery or
        ``(n_steps, n_batteries)``.
    step_h
        Step length [h].

    Returns
    -------
    BatteryResult
        Delivered power, stored energy, throughput, losses and clipped power per step.

    Raises
    ------
    WattbitInputError
        On non-finite requests, a bad step, or a spec list that does not match the columns.
    """
    check_number(step_h, "step_h", 0.0, lo_open=True)
    request = np.asarray(power_request_mw, dtype=float)
    if request.ndim not in (1, 2):
        raise WattbitInputError(
            f"power requests must be 1-D or 2-D, got shape {request.shape}", field="power_request_mw"
        )
    check_finite("power_request_mw", request)
    params = _params(spec)
    if np.ndim(params.soc0) == 1 and (request.ndim != 2 or request.shape[1] != len(params.soc0)):
        raise WattbitInputError(
            f"{len(params.soc0)} battery specs but power requests of shape {request.shape}", field="power_request_mw"
        )
    power = np.clip(request, -params.p_max, params.p_max)
    change = _wanted_change_mwh(power, params, step_h)
    soc = _bounded_cumsum(change, params)
    soc0 = np.array(np.broadcast_to(params.soc0, request.shape[1:]), dtype=float)
    if len(soc):  # the actual change per step, reusing the buffer of the wanted change
        np.subtract(soc[1:], soc[:-1], out=change[1:])
        change[0] = soc[0] - soc0
    _settle(power, soc, change, params, step_h)
    discharge_mwh = np.maximum(power, 0.0)
    discharge_mwh *= step_h
    losses = _signed_scale(power, step_h * (1.0 / params.eta_d - 1.0), -step_h * (1.0 - params.eta_c))
    return BatteryResult(power, soc, discharge_mwh, losses, request - power, soc0)


def self_consumption_request_mw(net_load_mw: ArrayLike) -> NDArray[np.float64]:
    """Battery request of the self-consumption rule: the site's net load at its meter [MW].

    ``net = load - on-site generation``: a deficit (> 0) asks the battery to discharge it, a surplus (< 0) to charge
    it. Run through :func:`simulate_battery`, which clips every request to the power rating and the energy limits
    and never delivers more than it was asked, the battery charges only from on-site surplus and discharges only
    against grid import: it never charges from the grid and never exports (the usual behind-the-meter rule; the
    default storage policy of Vessim does the same).

    Parameters
    ----------
    net_load_mw
        Site load minus on-site generation per step [MW], finite.

    Returns
    -------
    numpy.ndarray
        Power request [MW], > 0 discharge, < 0 charge (the convention of this module).
    """
    return check_finite("net_load_mw", net_load_mw)
