"""What each failure cause looks like in GPU telemetry before and at the failure, and the ground truth of a run.

No lead times or strengths of GPU failure precursors are published, so every number below is an assumption (**U**),
made a scenario setting (``[ops.signatures.NAME]`` ``lead_h``/``strength`` ranges, ``[ops.cause_signatures]``) and
drawn per fault from its range, so that a detector tuned on one draw meets other strengths on another. The
qualitative shapes follow NVIDIA's XID catalogue and the memory-error literature (**S**): on HBM GPUs correctable
errors and row remaps precede uncorrectable ones (XID 48 double-bit error, 63 row-remap event, 94/95 contained or
uncontained ECC error); XID 79 "fallen off the bus" comes without warning; GSP faults are XID 119/120; NVLink faults
end in XID 74, after CRC errors on the link.

Each fault of the run (:func:`plan_faults`) gets one signature from its cause's mix; ``lead_h`` sets when its
precursor starts, ``strength`` scales its intensity. Signatures with ``lead_h = (0, 0)`` show only at the failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.errors import WattbitInputError
from wattbit.scenario import OpsSpec
from wattbit.sim.faults import CAUSE_NAMES, SCOPE_SITE, FailureEvents, FailureRates


@dataclass(frozen=True)
class Signature:
    """One telemetry signature.

    Attributes
    ----------
    name
        Key used in settings and labels.
    lead_h
        Range of the precursor's lead time before the failure [h]; (0, 0): no precursor.
    strength
        Range of the intensity multiplier of the precursor [-].
    scope
        What it shows on: ``gpu`` (the failed GPU), ``node`` (every GPU of the node), ``block`` (the GPUs a site
        event hits: one CDU loop or power lineup), ``none`` (nothing in GPU telemetry).
    failure_xids
        XIDs reported at the failure (one drawn per fault when several).
    vanish
        Whether the GPUs drop out of the exporter's output from the failure until repaired.
    description
        What the precursor and the failure look like.
    """

    name: str
    lead_h: tuple[float, float]
    strength: tuple[float, float]
    scope: str
    failure_xids: tuple[int, ...]
    vanish: bool
    description: str

    @property
    def has_precursor(self) -> bool:
        """Whether the signature shows before the failure."""
        return self.lead_h[1] > 0


# fmt: off
_SIGNATURE_ROWS: tuple[Signature, ...] = (
    Signature("hbm_ecc", (2.0, 24.0), (0.5, 1.5), "gpu", (48, 63, 94), False,
              "correctable remapped rows (2-8 x strength) and single-bit ECC errors (2-20 per hour x strength at the "
              "end, growing quadratically) for hours; then double-bit errors, an uncorrectable remapped row and XID "
              "48/63/94"),
    Signature("sram_ecc", (0.5, 6.0), (0.5, 1.5), "gpu", (48, 94), False,
              "single-bit ECC errors growing to 5-50 per hour x strength, no row remaps (SRAM is not remapped); "
              "then a double-bit error and XID 48/94"),
    Signature("nvlink", (1.0, 12.0), (0.5, 1.5), "gpu", (74,), False,
              "NVLink flow-control CRC errors growing to 50-2,000 per hour x strength; then XID 74"),
    Signature("pcie", (1.0, 12.0), (0.5, 1.5), "gpu", (79,), True,
              "PCIe replays growing to 5-200 per hour x strength; then XID 79 and the GPU falls off the bus"),
    Signature("thermal", (6.0, 48.0), (0.5, 1.5), "gpu", (79,), True,
              "die-to-coolant thermal resistance rising linearly by 30-100 % x strength (a failing thermal interface): "
              "the GPU runs hotter than its node peers at the same power; then thermal slowdown and XID 79"),
    Signature("psu", (0.5, 12.0), (0.5, 1.5), "node", (), True,
              "power excursions of the node's GPUs (dips of 20-60 % with the hardware power-brake clock event), "
              "more frequent as the failure nears; then the node goes down"),
    Signature("cooling_loop", (0.5, 4.0), (0.5, 1.5), "block", (), False,
              "coolant flow of one CDU loop falling by 30-70 % x strength: the GPUs it serves heat up together and "
              "the site's flow drops; then thermal slowdown of those GPUs (the site derate)"),
    Signature("power_chain", (0.0, 1.0), (0.5, 1.5), "block", (), False,
              "hardware power-brake events across the GPUs of one power lineup; then the lineup is lost (the derate)"),
    Signature("fell_off_bus", (0.0, 0.0), (1.0, 1.0), "gpu", (79,), True, "XID 79 with no warning"),
    Signature("gpu_error", (0.0, 0.0), (1.0, 1.0), "gpu", (13, 31, 43), False,
              "XID 13, 31 or 43 with no warning (applications raise these too)"),
    Signature("gsp", (0.0, 0.0), (1.0, 1.0), "gpu", (119, 120), False, "XID 119 or 120 with no warning"),
    Signature("node_down", (0.0, 0.0), (1.0, 1.0), "node", (), True, "the node's GPUs vanish with no warning"),
    Signature("site_down", (0.0, 0.0), (1.0, 1.0), "block", (), True, "the site's GPUs vanish (outage)"),
    Signature("none", (0.0, 0.0), (1.0, 1.0), "none", (), False,
              "nothing in GPU telemetry (software, network fabric, NIC, silent data corruption)"),
)
# fmt: on
#: Default signatures by name.
SIGNATURES: dict[str, Signature] = {s.name: s for s in _SIGNATURE_ROWS}
SIGNATURE_NAMES: tuple[str, ...] = tuple(SIGNATURES)

#: Default mix of signatures per Llama 3 cause (U; shares sum to 1).
CAUSE_SIGNATURES: dict[str, dict[str, float]] = {
    "faulty_gpu": {"fell_off_bus": 0.4, "nvlink": 0.25, "gpu_error": 0.2, "pcie": 0.15},
    "gpu_hbm3_memory": {"hbm_ecc": 1.0},
    "software_bug": {"none": 1.0},
    "network_switch_cable": {"none": 1.0},
    "host_maintenance": {"node_down": 1.0},
    "gpu_sram_memory": {"sram_ecc": 1.0},
    "gpu_system_processor": {"gsp": 1.0},
    "nic": {"none": 1.0},
    "nccl_watchdog_timeout": {"none": 1.0},
    "silent_data_corruption": {"none": 1.0},
    "gpu_thermal_interface_sensor": {"thermal": 1.0},
    "ssd": {"node_down": 1.0},
    "power_supply": {"psu": 1.0},
    "server_chassis": {"node_down": 1.0},
    "io_expansion_board": {"pcie": 1.0},
    "dependency": {"none": 1.0},
    "cpu": {"node_down": 1.0},
    "system_memory": {"node_down": 1.0},
    "cooling_fault": {"cooling_loop": 1.0},
    "power_chain_fault": {"power_chain": 1.0},
    "grid_outage": {"site_down": 1.0},
    "natural_disaster": {"site_down": 1.0},
}


@dataclass(frozen=True)
class SignatureSettings:
    """The signatures and cause mixes of a run: the defaults with a scenario's ``[ops]`` overrides applied."""

    signatures: Mapping[str, Signature]
    cause_mix: Mapping[str, Mapping[str, float]]

    @classmethod
    def from_spec(cls, spec: OpsSpec | None = None) -> SignatureSettings:
        """Apply ``spec.signatures`` and ``spec.cause_signatures``; unknown names raise naming the field."""
        sigs = dict(SIGNATURES)
        mix = {k: dict(v) for k, v in CAUSE_SIGNATURES.items()}
        if spec is None:
            return cls(sigs, mix)
        for name, override in spec.signatures.items():
            if name not in sigs:
                raise WattbitInputError(
                    f"unknown signature {name!r}; expected one of {', '.join(SIGNATURE_NAMES)}",
                    field=f"ops.signatures.{name}",
                )
            sig = sigs[name]
            sigs[name] = replace(sig, lead_h=override.lead_h or sig.lead_h, strength=override.strength or sig.strength)
        for cause, shares in spec.cause_signatures.items():
            field = f"ops.cause_signatures.{cause}"
            if cause not in mix:
                raise WattbitInputError(f"unknown cause {cause!r}; expected one of {', '.join(mix)}", field=field)
            bad = [s for s in shares if s not in sigs]
            total = sum(shares.values())
            if bad or any(v < 0 for v in shares.values()) or abs(total - 1.0) > 1e-6:
                raise WattbitInputError(
                    f"shares {shares} must name known signatures, be >= 0 and sum to 1 (sum {total:g})", field=field
                )
            mix[cause] = dict(shares)
        return cls(sigs, mix)


def scaled_rates(rates: FailureRates, scale: float) -> FailureRates:
    """``rates`` with every component and site-event rate multiplied by ``scale`` (``[ops] fault_rate_scale``)."""
    if scale == 1.0:
        return rates
    events = {k: replace(v, rate_per_site_year=v.rate_per_site_year * scale) for k, v in rates.site_events.items()}
    return replace(rates, unplanned_per_gpu_day=rates.unplanned_per_gpu_day * scale, site_events=events)


@dataclass(frozen=True)
class FaultPlan:
    """Every fault of a run with its signature: the ground truth (arrays over faults, sorted by failure time).

    Times are seconds from the period start; GPUs are fleet-wide indices (sites in scenario order, each site's GPUs
    node by node). ``first_gpu .. first_gpu + n_gpus - 1`` are the GPUs whose telemetry shows the fault.
    """

    fault_id: NDArray[np.int64]
    site: NDArray[np.int16]
    first_gpu: NDArray[np.int64]
    n_gpus: NDArray[np.int64]
    cause: NDArray[np.int8]
    signature: NDArray[np.int8]
    precursor_start_s: NDArray[np.float64]
    failure_s: NDArray[np.float64]
    repair_s: NDArray[np.float64]
    strength: NDArray[np.float64]
    draw: NDArray[np.float64]
    period_start_utc: pd.Timestamp

    def __len__(self) -> int:
        return int(self.fault_id.shape[0])

    def active(self, t0_s: float, t1_s: float) -> NDArray[np.int64]:
        """Indices of faults whose precursor, failure or repair overlaps ``[t0_s, t1_s)``."""
        on = (self.precursor_start_s < t1_s) & (self.failure_s + self.repair_s >= t0_s)
        return np.flatnonzero(on)

    def to_frame(self, hostnames: NDArray[np.str_], gpu_index: NDArray[np.int64]) -> pd.DataFrame:
        """The labels file: fault id, node, GPU, cause, signature, precursor start and failure time (UTC)."""
        start = self.period_start_utc
        sig_names = np.array(SIGNATURE_NAMES)
        return pd.DataFrame(
            {
                "fault_id": self.fault_id,
                "site": self.site,
                "node": hostnames[self.first_gpu],
                "gpu": np.where(self.n_gpus == 1, gpu_index[self.first_gpu], -1),
                "first_gpu": self.first_gpu,
                "n_gpus": self.n_gpus,
                "cause": np.array(CAUSE_NAMES)[self.cause],
                "signature": sig_names[self.signature],
                "precursor_start_utc": start + pd.to_timedelta(self.precursor_start_s, unit="s"),
                "failure_utc": start + pd.to_timedelta(self.failure_s, unit="s"),
                "repair_h": self.repair_s / 3600.0,
                "strength": self.strength,
            }
        )


def plan_faults(
    events: FailureEvents,
    site_offsets: NDArray[np.int64],
    site_gpus: NDArray[np.int64],
    gpus_per_node: int,
    settings: SignatureSettings,
    seed: int,
) -> FaultPlan:
    """Give every failure event a signature, lead time and strength drawn from ``settings`` (seeded).

    A site event's block (one CDU loop or power lineup) is ``ceil(derate x GPUs)`` node-aligned GPUs at a random
    place in the site. Everything is vectorised over events but the draw of a signature from its cause's mix.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1313]))
    n = len(events)
    names = list(settings.signatures)
    code = {name: SIGNATURE_NAMES.index(name) for name in names}
    sig = np.empty(n, dtype=np.int8)
    u = rng.random(n)
    for cause in np.unique(events.cause):
        idx = np.flatnonzero(events.cause == cause)
        mix = settings.cause_mix[CAUSE_NAMES[int(cause)]]
        keys = list(mix)
        choice = np.searchsorted(np.cumsum([mix[k] for k in keys]), u[idx] * sum(mix.values()), side="right")
        sig[idx] = [code[keys[min(c, len(keys) - 1)]] for c in choice]
    lead_lo = np.array([settings.signatures[SIGNATURE_NAMES[s]].lead_h[0] for s in sig])
    lead_hi = np.array([settings.signatures[SIGNATURE_NAMES[s]].lead_h[1] for s in sig])
    st_lo = np.array([settings.signatures[SIGNATURE_NAMES[s]].strength[0] for s in sig])
    st_hi = np.array([settings.signatures[SIGNATURE_NAMES[s]].strength[1] for s in sig])
    lead_h = lead_lo + (lead_hi - lead_lo) * rng.random(n)
    strength = st_lo + (st_hi - st_lo) * rng.random(n)
    failure_s = (events.time_utc - events.period_start_utc) / np.timedelta64(1, "s")
    first = events.first_gpu.astype(np.int64)
    count = events.gpus_affected.astype(np.int64)
    site = events.site.astype(np.int64)
    is_site = events.scope == SCOPE_SITE
    if is_site.any():
        total = site_gpus[site[is_site]]
        block = np.minimum(np.ceil(events.derate_fraction[is_site] * total).astype(np.int64), total)
        nodes_free = np.maximum((total - block) // gpus_per_node, 0)
        start = np.floor(rng.random(is_site.sum()) * (nodes_free + 1)).astype(np.int64) * gpus_per_node
        first[is_site] = np.where(events.derate_fraction[is_site] >= 1.0, 0, start)
        count[is_site] = block
    keep = count > 0
    order = np.argsort(failure_s[keep], kind="stable")
    pick = np.flatnonzero(keep)[order]
    return FaultPlan(
        fault_id=np.arange(len(pick), dtype=np.int64),
        site=events.site[pick],
        first_gpu=site_offsets[site[pick]] + first[pick],
        n_gpus=count[pick],
        cause=events.cause[pick],
        signature=sig[pick],
        precursor_start_s=failure_s[pick] - lead_h[pick] * 3600.0,
        failure_s=failure_s[pick],
        repair_s=events.repair_h[pick] * 3600.0,
        strength=strength[pick],
        draw=rng.random(n)[pick],
        period_start_utc=pd.Timestamp(events.period_start_utc).tz_localize("UTC"),
    )
