"""Electrical power chain from the medium-voltage grid to the IT load: 415 V AC versus 800 V DC.

Each conversion or distribution stage loses ``L(x) = R (c0 + c1 x + c2 x^2)`` watts at output load fraction
``x = P_out / R`` of its rating ``R``: a no-load part (core, control, fans), a proportional part (switching) and a
resistive part (I^2 R) -- the three loss components of Rasmussen, "Electrical Efficiency Modeling of Data Centers",
APC/Schneider White Paper 113. Its efficiency is ``x / (x + c0 + c1 x + c2 x^2)``, falling at low load.

* ``ac415``: MV/LV transformer -> UPS (double conversion or eco mode) -> PDU and branch circuits -> server PSU
  (AC -> 54/12 V DC, an 80 PLUS Titanium curve).
* ``dc800``: solid-state transformer / rectifier (MV AC -> 800 V DC) -> DC busway -> DC-DC shelf (800 -> 54 V).
  Backup energy storage sits on the 800 V bus without a series conversion, so ``ups_mode`` does not apply (U).

The load is the IT power at the DC bus of the rack/server (see :mod:`wattbit.physics.gpu`); the on-board
conversion below it (54 -> 12 V -> core voltage) is common to both architectures and is part of the IT power.
Coefficients, ratings and their status (mostly U, checked against LBNL 2024, Lei-Masanet, 80 PLUS and the NVIDIA
800 VDC white paper's "up to 5 %" gain) are in ``docs/models/power_chain.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import check_number

Architecture = Literal["ac415", "dc800"]
UpsMode = Literal["double_conversion", "eco"]


@dataclass(frozen=True)
class PowerStage:
    """One stage of the chain with a three-term part-load loss curve.

    Attributes
    ----------
    name
        Stage name (``transformer``, ``ups``, ``pdu``, ``psu``, ``rectifier``, ``busway``, ``dc_dc``).
    no_load_loss
        ``c0``: loss at zero load, fraction of the stage rating.
    proportional_loss
        ``c1``: loss proportional to load, fraction of the rating at full load.
    resistive_loss
        ``c2``: loss growing with the square of load, fraction of the rating at full load.
    rating_ratio
        Installed stage rating over the rated IT power (redundancy and design margin), > 0.
    upstream
        ``True`` if the stage sits in electrical rooms or outdoors; ``False`` if in the white space (its heat is
        removed by the IT cooling).
    source
        Where the numbers come from, with status V/S/U.
    """

    name: str
    no_load_loss: float
    proportional_loss: float
    resistive_loss: float
    rating_ratio: float
    upstream: bool
    source: str

    def __post_init__(self) -> None:
        what = f"stage {self.name!r}"
        for field in ("no_load_loss", "proportional_loss", "resistive_loss"):
            check_number(getattr(self, field), field, 0.0, 1.0, hi_open=True, what=what)
        check_number(self.rating_ratio, "rating_ratio", 0.0, lo_open=True, what=what)

    def loss_fraction(self, load_fraction: ArrayLike) -> NDArray[np.float64]:
        """Loss as a fraction of the stage rating at output load fraction ``x`` (``c0 + c1 x + c2 x^2``)."""
        x = np.asarray(load_fraction, dtype=float)
        return self.no_load_loss + x * (self.proportional_loss + self.resistive_loss * x)

    def efficiency(self, load_fraction: ArrayLike) -> NDArray[np.float64]:
        """Stage efficiency ``x / (x + L(x))`` at output load fraction ``x`` (0 at zero load)."""
        x = np.asarray(load_fraction, dtype=float)
        return x / (x + self.loss_fraction(x))


_TRANSFORMER = PowerStage(
    name="transformer",
    no_load_loss=0.002,
    proportional_loss=0.0,
    resistive_loss=0.008,
    rating_ratio=1.25,
    upstream=True,
    source="MV/LV dry-type: 0.2 % core + 1.0 % copper loss at rating, ~99.2 % at half load (U, order of DOE 10 CFR 431 "
    "levels; with the PDU within Lei-Masanet's 0-2 % transformation + distribution loss for large DCs, S); "
    "loaded to 80 % at rated IT (U)",
)
_UPS_DOUBLE = PowerStage(
    name="ups",
    no_load_loss=0.010,
    proportional_loss=0.015,
    resistive_loss=0.010,
    rating_ratio=1.25,
    upstream=True,
    source="double-conversion UPS: 96.6 % near 80 % load, ~93 % at 20 % (U: REFERENCE.md 94-97 %; LBNL 2024 Table 4.3 "
    "hyperscale/AI 90-99 %, S); N+1 at 80 % design loading (U)",
)
_UPS_ECO = PowerStage(
    name="ups",
    no_load_loss=0.004,
    proportional_loss=0.002,
    resistive_loss=0.004,
    rating_ratio=1.25,
    upstream=True,
    source="UPS in eco mode (static bypass, inverter on standby): 99.0 % near 80 % load (U: REFERENCE.md 98-99 %)",
)
_PDU = PowerStage(
    name="pdu",
    no_load_loss=0.0005,
    proportional_loss=0.0,
    resistive_loss=0.005,
    rating_ratio=1.25,
    upstream=False,
    source="415/240 V PDU, RPP and branch circuits without transformer: ~0.45 % loss at rated IT (U)",
)
_PSU = PowerStage(
    name="psu",
    no_load_loss=0.007,
    proportional_loss=0.011,
    resistive_loss=0.032,
    rating_ratio=2.0,
    upstream=False,
    source="server PSU, a curve above the 80 PLUS Titanium 230 V internal-redundant minimums 90/94/96/91 % at "
    "10/20/50/100 % (S, 80 PLUS table via Wikipedia/Tom's Hardware): 92.2/95.0/96.1/95.2 %, ~96 % peak "
    "(REFERENCE.md U); N+N supplies (DGX H100: 6 x 3.3 kW for 10.2 kW, S) run at ~50 %",
)
_RECTIFIER = PowerStage(
    name="rectifier",
    no_load_loss=0.004,
    proportional_loss=0.008,
    resistive_loss=0.008,
    rating_ratio=1.25,
    upstream=True,
    source="solid-state transformer / rectifier MV AC -> 800 V DC: ~98.1 % near 80 % load (U; NVIDIA 800 VDC white "
    "paper, Oct 2025: 4-5 conversion stages -> 1-2, up to 5 % end-to-end gain, S)",
)
_BUSWAY = PowerStage(
    name="busway",
    no_load_loss=0.0,
    proportional_loss=0.0,
    resistive_loss=0.003,
    rating_ratio=1.25,
    upstream=False,
    source="800 V DC busway: I^2 R only, ~0.25 % at rated IT (U; ~half the current of 415 V AC for the same power)",
)
_DC_DC = PowerStage(
    name="dc_dc",
    no_load_loss=0.004,
    proportional_loss=0.010,
    resistive_loss=0.008,
    rating_ratio=1.2,
    upstream=False,
    source="800 -> 54 V DC-DC power shelf in the rack: ~97.9 % near 80 % load (U); N+1 shelves (U)",
)

#: Stages from the grid to the IT load, per (architecture, UPS mode).
CHAINS: dict[tuple[str, str], tuple[PowerStage, ...]] = {
    ("ac415", "double_conversion"): (_TRANSFORMER, _UPS_DOUBLE, _PDU, _PSU),
    ("ac415", "eco"): (_TRANSFORMER, _UPS_ECO, _PDU, _PSU),
    ("dc800", "double_conversion"): (_RECTIFIER, _BUSWAY, _DC_DC),
    ("dc800", "eco"): (_RECTIFIER, _BUSWAY, _DC_DC),
}

#: Elements per block: long series are evaluated in blocks of rows of about this size, so that temporaries stay in
#: cache (a loop over ~100 blocks for a year of 15-minute steps x 100 sites).
BLOCK_ELEMENTS = 1 << 15

#: Stages whose losses are inside the IT equipment as the Green Grid's PUE counts it (server plug or rack shelf).
IT_EQUIPMENT_STAGES = ("psu", "dc_dc")


def power_chain_stages(architecture: Architecture, ups_mode: UpsMode = "double_conversion") -> tuple[PowerStage, ...]:
    """The default stages, grid side first, of ``architecture`` (``"ac415"``/``"dc800"``) and ``ups_mode``.

    Raises
    ------
    WattbitInputError
        If the architecture or UPS mode is unknown.
    """
    if architecture not in ("ac415", "dc800"):
        raise WattbitInputError(
            f"unknown power architecture {architecture!r}; expected 'ac415' or 'dc800'", field="architecture"
        )
    if ups_mode not in ("double_conversion", "eco"):
        raise WattbitInputError(
            f"unknown UPS mode {ups_mode!r}; expected 'double_conversion' or 'eco'", field="ups_mode"
        )
    return CHAINS[(architecture, ups_mode)]


class PowerChainLosses(NamedTuple):
    """Power drawn for the IT load and where the losses go; all arrays [W] of the load's shape.

    ``input_w == it_power_w + losses_w`` and ``losses_w == losses_upstream_w + losses_downstream_w``.
    """

    input_w: NDArray[np.float64]
    """Power drawn from the grid side (MV) for the IT load."""
    losses_w: NDArray[np.float64]
    """All chain losses."""
    losses_upstream_w: NDArray[np.float64]
    """Losses in electrical rooms (transformer, UPS or rectifier): not a load on the IT cooling."""
    losses_downstream_w: NDArray[np.float64]
    """Losses in the white space (PDU, busway, PSU, DC-DC): heat the IT cooling removes with the IT heat."""
    it_equipment_input_w: NDArray[np.float64]
    """IT power plus PSU/DC-DC losses: the IT equipment power as PUE counts it (at the server plug / shelf)."""
    losses_by_stage_w: dict[str, NDArray[np.float64]]
    """Loss of each stage by name, grid side first (empty unless asked for with ``by_stage=True``)."""


def _validated(it_power_w: ArrayLike, rated_it_power_w: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    it = np.asarray(it_power_w, dtype=float)
    rated = np.asarray(rated_it_power_w, dtype=float)
    if rated.size and not (np.min(rated) > 0 and np.max(rated) < np.inf):  # NaN fails both
        raise WattbitInputError(
            f"rated IT power must be finite and > 0, got {rated.ravel()[:3]}", field="rated_it_power_w"
        )
    if not it.size:
        return it, rated
    if rated.ndim == 0:  # fast path: two reductions, no temporaries
        ok_all = bool(np.min(it) >= 0 and np.max(it) <= rated * (1 + 1e-9))
    else:
        ok_all = bool(np.all((it >= 0) & (it <= rated * (1 + 1e-9))))
    if not ok_all:
        ok = (it >= 0) & (it <= rated * (1 + 1e-9))
        bad = np.broadcast_to(it, ok.shape).ravel()[int(np.flatnonzero(~ok.ravel())[0])]
        raise WattbitInputError(
            f"IT power {bad} W is NaN, negative or above the rated IT power of the chain", field="it_power_w"
        )
    return it, rated


def power_chain_losses_w(
    it_power_w: ArrayLike,
    rated_it_power_w: ArrayLike,
    architecture: Architecture,
    ups_mode: UpsMode = "double_conversion",
    *,
    stages: tuple[PowerStage, ...] | None = None,
    by_stage: bool = False,
) -> PowerChainLosses:
    """Losses of the power chain feeding an IT load, stage by stage from the load up to the grid.

    For each stage, load side first: ``x = P_out / (r P_rated)``, ``L = r P_rated (c0 + c1 x + c2 x^2)``,
    ``P_in = P_out + L``. No-load losses flow even at zero IT power (the chain stays energised).

    Parameters
    ----------
    it_power_w
        IT power at the rack/server DC bus [W], >= 0 and <= the rated IT power; scalar or array (time series).
    rated_it_power_w
        Design IT power the chain is built for [W], > 0; scalar or array broadcast with ``it_power_w``.
    architecture
        ``"ac415"`` or ``"dc800"``.
    ups_mode
        ``"double_conversion"`` or ``"eco"`` (ignored for ``"dc800"``).
    stages
        Replace the default stages (grid side first), e.g. with calibrated curves.
    by_stage
        Also return each stage's loss in ``losses_by_stage_w`` (otherwise that dict is empty, to save memory).

    Returns
    -------
    PowerChainLosses
        Input power, total, upstream and downstream losses, PUE-convention IT equipment power, losses by stage.

    Raises
    ------
    WattbitInputError
        On NaN, negative or above-rated IT power, rated power <= 0, or an unknown architecture or UPS mode.
    """
    chain = power_chain_stages(architecture, ups_mode) if stages is None else stages
    it, rated = _validated(it_power_w, rated_it_power_w)
    shape = np.broadcast(it, rated).shape
    if math.prod(shape) <= BLOCK_ELEMENTS:
        return _chain_losses(it, rated, chain, by_stage)
    # long series: blocks of rows, so that each stage's few passes over the data run in cache
    it, rated = (a.reshape((1,) * (len(shape) - a.ndim) + a.shape) for a in (it, rated))
    result = PowerChainLosses(
        input_w=np.empty(shape),
        losses_w=np.empty(shape),
        losses_upstream_w=np.empty(shape),
        losses_downstream_w=np.empty(shape),
        it_equipment_input_w=np.empty(shape),
        losses_by_stage_w={stage.name: np.empty(shape) for stage in chain} if by_stage else {},
    )
    rows = max(1, BLOCK_ELEMENTS // math.prod(shape[1:]))
    for start in range(0, shape[0], rows):
        block = slice(start, start + rows)
        it_rows = it[block] if it.shape[0] > 1 else it
        rated_rows = rated[block] if rated.shape[0] > 1 else rated
        part = _chain_losses(it_rows, rated_rows, chain, by_stage)
        for whole, values in zip(result[:5], part[:5], strict=True):
            whole[block] = values
        for name, values in part.losses_by_stage_w.items():
            result.losses_by_stage_w[name][block] = values
    return result


def _chain_losses(
    it: NDArray[np.float64], rated: NDArray[np.float64], chain: tuple[PowerStage, ...], by_stage: bool
) -> PowerChainLosses:
    """:func:`power_chain_losses_w` on validated arrays."""
    shape = np.broadcast(it, rated).shape
    out = np.array(np.broadcast_to(it, shape), dtype=float)  # output of the current stage, grows to the input
    upstream, downstream, loss = np.zeros(shape), np.zeros(shape), np.empty(shape)
    it_equipment = out.copy()
    stage_losses: dict[str, NDArray[np.float64]] = {}
    for stage in reversed(chain):
        rating = stage.rating_ratio * rated
        # L = R c0 + P (c1 + (c2 / R) P), in place: a few passes over the data per stage
        np.multiply(out, stage.resistive_loss / rating, out=loss)
        loss += stage.proportional_loss
        loss *= out
        loss += stage.no_load_loss * rating
        bucket = upstream if stage.upstream else downstream
        bucket += loss
        out += loss
        if stage.name in IT_EQUIPMENT_STAGES:
            it_equipment += loss
        if by_stage:
            stage_losses[stage.name] = loss.copy()
    losses = upstream + downstream
    return PowerChainLosses(
        input_w=np.add(it, losses, out=out),
        losses_w=losses,
        losses_upstream_w=upstream,
        losses_downstream_w=downstream,
        it_equipment_input_w=it_equipment,
        losses_by_stage_w=dict(reversed(stage_losses.items())),
    )


def chain_efficiency(
    load_fraction: ArrayLike,
    architecture: Architecture,
    ups_mode: UpsMode = "double_conversion",
    *,
    stages: tuple[PowerStage, ...] | None = None,
) -> NDArray[np.float64]:
    """End-to-end efficiency ``P_IT / P_input`` at IT load ``load_fraction`` (0..1) of the rated IT power.

    Parameters
    ----------
    load_fraction
        IT power over rated IT power, 0..1.
    architecture
        ``"ac415"`` or ``"dc800"``.
    ups_mode
        ``"double_conversion"`` or ``"eco"`` (ignored for ``"dc800"``).
    stages
        Replace the default stages.

    Returns
    -------
    numpy.ndarray
        Efficiency 0..1 (0 at zero load, where only no-load losses flow).
    """
    result = power_chain_losses_w(load_fraction, 1.0, architecture, ups_mode, stages=stages)
    return np.asarray(load_fraction, dtype=float) / result.input_w
