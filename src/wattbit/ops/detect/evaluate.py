"""Measured, not claimed: the detectors replayed over simulated years with injected faults, scored on the labels.

The fast path needs no server: the engine runs the scenario (``sim.run``), the telemetry model renders every GPU's
samples a block of steps at a time (``ops.telemetry.model``), and the detectors see one time's samples after the
other, exactly as the watcher does, and only those: no labels, no fault-model settings. Faults carry signatures
whose strengths and lead times are drawn per fault from ranges, and the healthy fleet's error noise is drawn per run.

Scoring. An alert *matches* a fault when its target covers one of the fault's GPUs (a GPU alert that GPU; a node
alert any GPU of the node; a site alert a site-wide fault of that site: a CDU loop, a power lineup, an outage) and
it opens between 15 minutes before the precursor starts and the end of the repair (at least an hour after the
failure). Alerts of severity ``info`` (applications' XIDs, data events) are not counted either way.

- precision: matching alerts / alerts; false alarms per 1,000 GPU-days: the others / GPU-days x 1,000;
- per fault: *detected* if a matching alert opened; *predicted* if one opened before the failure; the lead time is
  the failure minus the first matching alert;
- recall (all faults that show in GPU telemetry) and predictive recall (faults whose signature has a precursor);
  F1 from precision and recall.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.detect.alerts import Alert, AlertManager
from wattbit.ops.detect.detectors import Detectors, Sample, Topology
from wattbit.ops.telemetry.build import TelemetrySetup, site_inputs
from wattbit.ops.telemetry.inventory import Inventory
from wattbit.ops.telemetry.model import GpuFrame
from wattbit.ops.telemetry.signatures import SIGNATURE_NAMES
from wattbit.sim.engine import StepRecord
from wattbit.sim.faults import CAUSE_NAMES

Progress = Callable[[int, int], None]


def topology_of(inv: Inventory) -> Topology:
    """The detectors' view of an inventory (names only)."""
    return Topology.build(inv.site_names, inv.hostnames, inv.node, inv.gpu_index, inv.node_site.astype(np.int64))


class ThresholdDetector:
    """The floor: fixed thresholds on raw values, as a plain alerting rule set would have them.

    GPU temperature at or above ``temp_c`` (warning ``threshold``); a double-bit error, an uncorrectable remap or a
    hardware XID (critical ``failure``); a GPU or node whose series vanish.
    """

    def __init__(self, topo: Topology, temp_c: float = 85.0) -> None:
        self.inner = Detectors(topo, predictive=False)
        self.temp_c = temp_c

    def step(self, s: Sample) -> list[Alert]:
        """Candidates of one time's samples."""
        out = self.inner.step(s)
        hot = np.flatnonzero(s.present & (np.nan_to_num(s.gpu_temp_c) >= self.temp_c))
        out += [
            self.inner._alert(s.time_s, g, "threshold", {"gpu_temp_c": float(s.gpu_temp_c[g])}) for g in hot.tolist()
        ]
        return out


def sample_of(frame: GpuFrame, j: int, t_s: float, design_flow: NDArray[np.float64]) -> Sample:
    """Step ``j`` of a telemetry block as the detectors' :class:`~wattbit.ops.detect.detectors.Sample`."""
    present = frame.present[j]
    nan = np.where(present, 0.0, np.nan)
    xs = frame.xid_step == j
    return Sample(
        time_s=t_s,
        present=present,
        power_w=frame.power_w[j] + nan,
        gpu_temp_c=frame.gpu_temp_c[j] + nan,
        util_pct=frame.util_pct[j] + nan,
        clock_events=frame.clock_events[j] + nan,
        counters={k: v[j] + nan for k, v in frame.counters.items() if k != "energy_mj"},
        row_remap_failure=frame.row_remap_failure[j] + nan,
        xids=list(zip(frame.xid_gpu[xs].tolist(), frame.xid_code[xs].tolist(), strict=True)),
        site_flow=design_flow * frame.flow_fraction[j],
    )


@dataclass
class Replay:
    """Alerts of each detector set over one run, with the run's facts."""

    alerts: dict[str, list[Alert]]
    gpu_days: float
    wall_s: float
    samples: int


def replay(
    setup: TelemetrySetup,
    rec: StepRecord,
    detectors: dict[str, Any],
    *,
    cooldown_s: float = 6 * 3600.0,
    block: int = 96,
    progress: Progress | None = None,
    calibrations: dict[str, dict[str, tuple[float, float]]] | None = None,
) -> Replay:
    """Feed the run's telemetry, one time after the other, to every detector set in ``detectors`` (name -> object
    with ``step(Sample) -> list[Alert]``); the telemetry is generated once for all of them. ``calibrations`` (name ->
    kind -> (probability, horizon [h])) are handed to that set's :class:`AlertManager`, as ``ops watch`` does."""
    fleet = setup.fleet
    t0 = time.perf_counter()
    step_s = fleet.step_h * 3600.0
    start = fleet.index[0].timestamp()
    flow = np.array(
        [
            p.rated_it_dc_w
            * (1 - p.cooling.air_share)
            / (p.cooling.tcs_cp_j_per_kg_k * p.cooling.tcs_delta_t_k)
            / p.cooling.tcs_density_kg_m3
            if p.cooling.cooling_type != "air_chiller"
            else np.nan
            for p in fleet.plants
        ]
    )
    cal = calibrations or {}
    managers = {name: AlertManager(cooldown_s, calibration=cal.get(name)) for name in detectors}
    alerts: dict[str, list[Alert]] = {name: [] for name in detectors}
    samples = 0
    for k0 in range(0, fleet.steps, block):
        k1 = min(k0 + block, fleet.steps)
        frame = setup.model.block(k0, site_inputs(rec, fleet, k0, k1))
        times = [start + (k0 + j + 1) * step_s for j in range(frame.steps)]  # a sample closes its step
        samples += setup.inventory.n_gpus * frame.steps
        for name, det in detectors.items():
            # every set gets its own samples: the detectors clean (modify) what they are given
            block_samples = [sample_of(frame, j, t, flow) for j, t in enumerate(times)]
            if hasattr(det, "step_block"):
                cands = det.step_block(block_samples)
            else:
                cands = [det.step(s) for s in block_samples]
            for step_cands in cands:
                for cand in step_cands:
                    a = managers[name].offer(cand)
                    if a is not None:
                        alerts[name].append(a)
        if progress is not None:
            progress(k1, fleet.steps)
    gpu_days = float(fleet.gpus_total.sum()) * fleet.steps * fleet.step_h / 24.0
    return Replay(alerts, gpu_days, time.perf_counter() - t0, samples)


@dataclass
class Score:
    """Scores of one detector set on one or more runs (``to_dict`` is the JSON of ``evaluation.json``)."""

    overall: dict[str, Any]
    by_cause: dict[str, dict[str, Any]]
    by_signature: dict[str, dict[str, Any]]
    by_kind: dict[str, dict[str, Any]]
    leads_by_kind: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "overall": self.overall,
            "by_cause": self.by_cause,
            "by_signature": self.by_signature,
            "by_kind": self.by_kind,
        }


def _match(
    alerts: Sequence[Alert], setup: TelemetrySetup
) -> tuple[NDArray[np.bool_], NDArray[np.float64], list[set[int]]]:
    """For each alert whether it matches a fault; for each fault the first matching alert time (NaN: none)."""
    plan, inv = setup.plan, setup.inventory
    start = setup.fleet.index[0].timestamp()
    host_index = {h: i for i, h in enumerate(inv.hostnames.tolist())}
    node_first = np.searchsorted(inv.node, np.arange(inv.n_nodes))
    node_count = np.bincount(inv.node, minlength=inv.n_nodes)
    sig_scope = np.array([setup.settings.signatures[n].scope for n in SIGNATURE_NAMES])[plan.signature]
    lo = plan.precursor_start_s - 900.0
    hi = plan.failure_s + np.maximum(plan.repair_s, 3600.0)
    f_first, f_last = plan.first_gpu, plan.first_gpu + plan.n_gpus
    site_of = {n: i for i, n in enumerate(inv.site_names)}
    matched = np.zeros(len(alerts), dtype=bool)
    first = np.full(len(plan), np.nan)
    kinds: list[set[int]] = [set() for _ in alerts]
    for i, a in enumerate(alerts):
        if a.severity == "info":
            continue
        t = a.time_s - start
        if a.node and a.node in host_index:
            n = host_index[a.node]
            g0 = int(node_first[n]) + (a.gpu if a.gpu >= 0 else 0)
            g1 = g0 + 1 if a.gpu >= 0 else int(node_first[n] + node_count[n])
            hit = (f_first < g1) & (f_last > g0)
            node_wide = (
                np.isin(sig_scope, ["node", "block"])
                & (f_first < node_first[n] + node_count[n])
                & (f_last > node_first[n])
            )
            hit |= node_wide
        else:
            hit = (plan.site == site_of.get(a.site, -1)) & (sig_scope == "block")
        hit &= (t >= lo) & (t <= hi)
        if hit.any():
            matched[i] = True
            idx = np.flatnonzero(hit)
            first[idx] = np.fmin(first[idx], t)
            kinds[i] = set(idx.tolist())
    return matched, first, kinds


def _rates(n_faults: int, detected: int, predicted: int, leads: list[float]) -> dict[str, Any]:
    lead = np.array(leads) / 60.0
    return {
        "faults": n_faults,
        "detected": detected,
        "predicted": predicted,
        "recall": detected / n_faults if n_faults else None,
        "recall_predicted": predicted / n_faults if n_faults else None,
        "lead_time_median_min": float(np.median(lead)) if lead.size else None,
        "lead_time_p10_min": float(np.percentile(lead, 10)) if lead.size else None,
        "lead_time_p90_min": float(np.percentile(lead, 90)) if lead.size else None,
    }


def score(runs: Sequence[tuple[TelemetrySetup, list[Alert], float]]) -> Score:
    """Score alerts against the labels of one or more runs: ``(setup, alerts, gpu_days)`` each."""
    tp = fp = 0
    gpu_days = 0.0
    per_fault: list[tuple[str, str, bool, bool, float, bool]] = []  # cause, signature, detected, predicted, lead, pre
    kind_tp: dict[str, int] = {}
    kind_all: dict[str, int] = {}
    leads_by_kind: dict[str, list[float]] = {}
    for setup, alerts, days in runs:
        gpu_days += days
        plan = setup.plan
        counted = [a for a in alerts if a.severity != "info"]
        matched, first, hits = _match(counted, setup)
        tp += int(matched.sum())
        fp += int((~matched).sum())
        for a, m, h in zip(counted, matched, hits, strict=True):
            kind_all[a.kind] = kind_all.get(a.kind, 0) + 1
            kind_tp[a.kind] = kind_tp.get(a.kind, 0) + int(m)
            start = setup.fleet.index[0].timestamp()
            for f in h:
                lead = plan.failure_s[f] - (a.time_s - start)
                if lead > 0:
                    leads_by_kind.setdefault(a.kind, []).append(float(lead) / 3600.0)
        for f in range(len(plan)):
            sig = setup.settings.signatures[SIGNATURE_NAMES[int(plan.signature[f])]]
            det = bool(np.isfinite(first[f]))
            pred = bool(det and first[f] < plan.failure_s[f])
            lead = float(plan.failure_s[f] - first[f]) if pred else math.nan
            per_fault.append((CAUSE_NAMES[int(plan.cause[f])], sig.name, det, pred, lead, sig.has_precursor))
    visible = [r for r in per_fault if r[1] != "none"]
    pre = [r for r in per_fault if r[5]]

    def block(rows: list[tuple[str, str, bool, bool, float, bool]]) -> dict[str, Any]:
        return _rates(len(rows), sum(r[2] for r in rows), sum(r[3] for r in rows), [r[4] for r in rows if r[3]])

    precision = tp / (tp + fp) if tp + fp else None
    vis = block(visible)
    pr = block(pre)

    def f1(p: float | None, r: float | None) -> float | None:
        return 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None

    overall = {
        "alerts": tp + fp,
        "true_alerts": tp,
        "false_alerts": fp,
        "precision": precision,
        "false_alarms_per_1000_gpu_days": fp / gpu_days * 1000 if gpu_days else None,
        "gpu_days": gpu_days,
        "faults_all": len(per_fault),
        "visible": vis,
        "with_precursor": pr,
        "recall": vis["recall"],
        "recall_predicted_with_precursor": pr["recall_predicted"],
        "f1": f1(precision, vis["recall"]),
        "f1_predictive": f1(precision, pr["recall_predicted"]),
        "lead_time_median_min": pr["lead_time_median_min"],
        "lead_time_p10_min": pr["lead_time_p10_min"],
    }
    by_cause = {c: block([r for r in per_fault if r[0] == c]) for c in sorted({r[0] for r in per_fault})}
    by_sig = {s: block([r for r in per_fault if r[1] == s]) for s in sorted({r[1] for r in per_fault})}
    by_kind = {k: {"alerts": kind_all[k], "precision": kind_tp[k] / kind_all[k]} for k in sorted(kind_all)}
    return Score(overall, by_cause, by_sig, by_kind, leads_by_kind)


def calibration_of(sc: Score) -> dict[str, tuple[float, float]]:
    """Kind -> (probability, horizon [h]) for predictive alerts: each kind's precision on the tuning runs and the
    90th percentile of its lead times (the horizon within which nine in ten of its true alerts saw the failure)."""
    out = {}
    for kind, row in sc.by_kind.items():
        leads = sc.leads_by_kind.get(kind)
        if leads:
            out[kind] = (round(float(row["precision"]), 3), round(float(np.percentile(leads, 90)), 2))
    return out
