"""The detectors: one step of samples of every GPU in, alert candidates out, vectorised over GPUs.

Each call of :meth:`Detectors.step` takes the fleet's samples at one time (:class:`Sample`) and runs

- **counter rules** — increments of DCGM's counters (resets handled: a counter that goes down restarted from 0),
  accumulated in exponentially decaying windows: single-bit ECC errors, correctable row remaps, NVLink CRC errors,
  PCIe replays (warnings: a failure is coming); double-bit errors, uncorrectable remaps, a failed row remap and the
  XIDs of failed hardware (critical: it has failed); applications' XIDs 13/31/43 (info);
- **peer comparison** (the idea of Minder, NSDI'25): each GPU's temperature against its node's GPUs at a comparable
  load, corrected for power, minus that GPU's own robust baseline of the same difference (static offsets between
  GPUs cancel); each node's power-corrected temperature against the site's other nodes (a CDU loop or pump losing
  flow heats all its nodes together); power dips of a loaded GPU against its node's, and hardware power-brake
  events;
- **robust baselines** (:class:`~wattbit.ops.detect.baseline.RobustEwma`) of the peer differences and of each
  site's coolant flow;
- **data checks** — GPUs and nodes whose series vanish, values that are NaN, negative or absurd.

It sees only telemetry: no labels, no fault-model settings. Thresholds are :class:`DetectorParams` (tuned by
``wattbit ops evaluate`` on tuning seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.detect.alerts import SEVERITY, Alert
from wattbit.ops.detect.baseline import RobustEwma
from wattbit.ops.detect.batch import group_medians, node_medians, slope_candidates

#: XIDs of failed hardware (NVIDIA's XID catalogue): ECC (48, 63, 64, 92, 94, 95), NVLink (74), off the bus (79),
#: GSP (119, 120).
CRITICAL_XIDS = frozenset({48, 63, 64, 74, 79, 92, 94, 95, 119, 120})
#: XIDs applications raise as often as hardware does (graphics exception, MMU fault, GPU stopped processing).
APP_XIDS = frozenset({13, 31, 43})
HW_BRAKE_BITS = 0x80 | 0x40 | 0x08
_COUNTER_RULES = {  # kind: (counter, window parameter, threshold parameter)
    "ecc_sbe_rate": ("ecc_sbe", "sbe_window_s", "sbe_threshold"),
    "row_remap": ("rows_correctable", "rows_window_s", "rows_threshold"),
    "nvlink_crc_rate": ("nvlink_crc", "nvlink_window_s", "nvlink_threshold"),
    "pcie_replay_rate": ("pcie_replay", "pcie_window_s", "pcie_threshold"),
}
#: Largest plausible value of each gauge; beyond it (or negative) a sample is bad data.
ABSURD = {"power_w": 5_000.0, "gpu_temp_c": 200.0, "util_pct": 100.5}


@dataclass(frozen=True)
class DetectorParams:
    """Thresholds and windows of the detectors (defaults before tuning; U)."""

    sbe_window_s: float = 3600.0
    sbe_threshold: float = 3.0
    rows_window_s: float = 86_400.0
    rows_threshold: float = 2.0
    nvlink_window_s: float = 3600.0
    nvlink_threshold: float = 200.0
    pcie_window_s: float = 3600.0
    pcie_threshold: float = 30.0
    thermal_threshold_k: float = 3.0
    thermal_persist: int = 2
    cooling_threshold_k: float = 2.0
    cooling_persist: int = 2
    flow_drop: float = 0.04
    flow_persist: int = 2
    power_dip: float = 0.8
    power_window_s: float = 7200.0
    power_threshold: float = 3.0
    r_th_k_per_w: float = 0.04
    baseline_half_life_s: float = 3 * 86_400.0
    warmup_s: float = 6 * 3600.0
    sample_interval_s: float = 900.0

    def scaled(self, factor: float) -> DetectorParams:
        """All thresholds multiplied by ``factor`` (the knob the evaluation tunes)."""
        keys = [f.name for f in fields(self) if f.name.endswith(("_threshold", "_threshold_k"))]
        return replace(self, flow_drop=self.flow_drop * factor, **{k: getattr(self, k) * factor for k in keys})


@dataclass
class Topology:
    """Where every GPU sits: arrays over GPUs, plus per node and per site.

    ``slots`` (nodes, GPUs per node) lists each node's GPU indices, -1 where a node has fewer.
    """

    site_names: tuple[str, ...]
    hostnames: NDArray[np.str_]
    site: NDArray[np.int64]
    node: NDArray[np.int64]
    gpu_index: NDArray[np.int64]
    node_site: NDArray[np.int64]
    slots: NDArray[np.int64]

    @property
    def n_gpus(self) -> int:
        """GPUs."""
        return int(self.site.shape[0])

    @classmethod
    def build(
        cls,
        site_names: tuple[str, ...],
        hostnames: NDArray[np.str_],
        node: NDArray[np.int64],
        gpu_index: NDArray[np.int64],
        node_site: NDArray[np.int64],
    ) -> Topology:
        """From each GPU's node and index (nodes numbered 0..N-1, ``node_site`` per node)."""
        n_nodes = int(node_site.shape[0])
        width = int(gpu_index.max(initial=0)) + 1
        slots = np.full((n_nodes, width), -1, dtype=np.int64)
        slots[node, gpu_index] = np.arange(node.shape[0])
        return cls(site_names, hostnames, node_site[node], node, gpu_index, node_site, slots)


@dataclass
class Sample:
    """The fleet's samples at one time; arrays over GPUs with NaN where a series is missing.

    ``xids`` lists the XIDs raised since the last sample as (GPU, code); ``site_flow`` the sites' coolant flow.
    """

    time_s: float
    present: NDArray[np.bool_]
    power_w: NDArray[np.float64]
    gpu_temp_c: NDArray[np.float64]
    util_pct: NDArray[np.float64]
    clock_events: NDArray[np.float64]
    counters: dict[str, NDArray[np.float64]]
    row_remap_failure: NDArray[np.float64]
    xids: list[tuple[int, int]] = field(default_factory=list)
    site_flow: NDArray[np.float64] | None = None


class Detectors:
    """All detectors with their state, for a fleet of a given topology (see the module docstring)."""

    def __init__(self, topo: Topology, params: DetectorParams | None = None, *, predictive: bool = True) -> None:
        self.topo, self.p = topo, params or DetectorParams()
        self.predictive = predictive
        g, n, s = topo.n_gpus, topo.node_site.shape[0], len(topo.site_names)
        hl = self.p.baseline_half_life_s / self.p.sample_interval_s
        self.warm = int(self.p.warmup_s / self.p.sample_interval_s)
        self.gpu_base = RobustEwma(g, hl, hl / 3, floor=0.5, warmup=self.warm)
        self.node_base = RobustEwma(n, hl, hl / 3, floor=0.3, warmup=self.warm)
        self.flow_base = RobustEwma(s, hl, hl / 3, floor=1e-9, warmup=self.warm)
        self.last: dict[str, NDArray[np.float64]] = {}
        self.windows: dict[str, NDArray[np.float64]] = {k: np.zeros(g) for k in _COUNTER_RULES}
        self.dips = np.zeros(n)
        self.hot = np.zeros(g, dtype=np.int64)
        self.node_hot = np.zeros(n, dtype=np.int64)
        self.low_flow = np.zeros(s, dtype=np.int64)
        self.slope = np.full(s, np.nan)
        self.was_present = np.zeros(g, dtype=bool)
        self.remap_failed = np.zeros(g, dtype=bool)
        self.t_last: float | None = None
        self.samples = 0
        self.data_events: list[str] = []

    # ------------------------------------------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        """Everything needed to resume after a restart (arrays as lists; see :meth:`restore`)."""
        return {
            "gpu_base": [self.gpu_base.mean.tolist(), self.gpu_base.dev.tolist(), self.gpu_base.seen.tolist()],
            "node_base": [self.node_base.mean.tolist(), self.node_base.dev.tolist(), self.node_base.seen.tolist()],
            "flow_base": [self.flow_base.mean.tolist(), self.flow_base.dev.tolist(), self.flow_base.seen.tolist()],
            "last": {k: v.tolist() for k, v in self.last.items()},
            "windows": {k: v.tolist() for k, v in self.windows.items()},
            "dips": self.dips.tolist(),
            "was_present": self.was_present.tolist(),
            "remap_failed": self.remap_failed.tolist(),
            "t_last": self.t_last,
            "samples": self.samples,
            "slope": self.slope.tolist(),
        }

    def restore(self, st: dict[str, Any]) -> None:
        """Resume from :meth:`state` (of a fleet with the same topology)."""
        for name in ("gpu_base", "node_base", "flow_base"):
            base: RobustEwma = getattr(self, name)
            mean, dev, seen = (np.asarray(v, dtype=float) for v in st[name])
            if mean.shape[0] == base.n:
                base.mean, base.dev, base.seen = mean, dev, seen.astype(np.int64)
        g = self.topo.n_gpus
        self.last = {k: np.asarray(v, dtype=float) for k, v in st["last"].items() if len(v) == g}
        self.windows.update({k: np.asarray(v, dtype=float) for k, v in st["windows"].items() if len(v) == g})
        if len(st["dips"]) == self.dips.shape[0]:
            self.dips = np.asarray(st["dips"], dtype=float)
        if len(st["was_present"]) == g:
            self.was_present = np.asarray(st["was_present"], dtype=bool)
            self.remap_failed = np.asarray(st["remap_failed"], dtype=bool)
        self.t_last, self.samples = st["t_last"], int(st["samples"])
        if len(st.get("slope", [])) == self.slope.shape[0]:
            self.slope = np.asarray(st["slope"], dtype=float)

    # ------------------------------------------------------------------------------------------------- step
    def step(self, s: Sample) -> list[Alert]:
        """Run every detector on one time's samples; returns the alert candidates."""
        return self.step_block([s])[0]

    def step_block(self, samples: Sequence[Sample]) -> list[list[Alert]]:
        """Run every detector on several times' samples, in time order; the candidates of each.

        The same as :meth:`step` on each sample in turn; the statistics that need no state are computed for all the
        samples at once (:mod:`wattbit.ops.detect.batch`), which makes replaying a year fast.
        """
        out: list[list[Alert]] = [[] for _ in samples]
        keep: list[tuple[int, Sample, float]] = []
        t_last = self.t_last
        for i, s in enumerate(samples):
            dt = self.p.sample_interval_s if t_last is None else s.time_s - t_last
            if not dt > 0:
                self.data_events.append(f"sample at {s.time_s} is not after the last one ({t_last}); skipped")
                continue
            keep.append((i, s, dt))
            t_last = s.time_s
        if not keep:
            return out
        present = [s.present & np.isfinite(s.power_w) for _, s, _ in keep]
        for (_, s, _), p in zip(keep, present, strict=True):
            self._clean(s, p)
        pre = self._prepare([s for _, s, _ in keep], np.stack(present)) if self.predictive else {}
        for j, ((i, s, dt), p) in enumerate(zip(keep, present, strict=True)):
            self.t_last = s.time_s
            self.samples += 1
            res = self._vanished(s, p) + self._counters(s, dt, p) + self._xids(s)
            if self.predictive:
                res += self._thermal(s, pre, j) + self._power(s, dt, pre, j) + self._flow(s)
            self.was_present = s.present.copy()
            out[i] = res
        return out

    def _alert(self, t: float, gpu: int, kind: str, evidence: dict[str, Any], node: int | None = None) -> Alert:
        topo = self.topo
        if gpu >= 0:
            node = int(topo.node[gpu])
        site = int(topo.node_site[node]) if node is not None else -1
        return Alert(
            time_s=t,
            site=topo.site_names[site] if site >= 0 else "",
            node=str(topo.hostnames[node]) if node is not None else "",
            gpu=int(topo.gpu_index[gpu]) if gpu >= 0 else -1,
            kind=kind,
            severity=SEVERITY[kind],
            evidence=evidence,
        )

    def _nodes_or_site(self, t: float, kind: str, nodes: NDArray[np.int64], ev: dict[str, Any]) -> list[Alert]:
        """One alert per node, or one per site where several of its nodes fire at once (a CDU loop, a power lineup,
        a site outage: one event, not an alert storm)."""
        topo, out = self.topo, []
        for site in np.unique(topo.node_site[nodes]).tolist():
            these = nodes[topo.node_site[nodes] == site]
            if these.shape[0] == 1:
                out.append(self._alert(t, -1, kind, ev, node=int(these[0])))
                continue
            names = [str(topo.hostnames[n]) for n in these[:16]]
            a = self._alert(t, -1, kind, {**ev, "nodes": names, "n_nodes": int(these.shape[0])}, node=int(these[0]))
            a.node = ""
            out.append(a)
        return out

    def _clean(self, s: Sample, present: NDArray[np.bool_]) -> None:
        """NaN out negative or absurd gauge values, noting each kind of bad value once per sample."""
        for name, top in ABSURD.items():
            arr = getattr(s, name)
            with np.errstate(invalid="ignore"):
                bad = present & ((arr < 0) | (arr > top))
            if bad.any():
                self.data_events.append(f"{int(bad.sum())} {name} samples at {s.time_s:.0f} outside 0..{top}; ignored")
                arr[bad] = np.nan

    def _vanished(self, s: Sample, present: NDArray[np.bool_]) -> list[Alert]:
        gone = self.was_present & ~s.present
        if not gone.any():
            return []
        out = []
        slots = self.topo.slots
        pres = np.append(s.present, False)[slots]
        had = np.append(self.was_present, False)[slots]
        node_gone = np.asarray(had.any(axis=1) & ~pres.any(axis=1), dtype=bool)
        gone_nodes = np.flatnonzero(node_gone)
        if gone_nodes.shape[0]:
            out += self._nodes_or_site(s.time_s, "node_vanished", gone_nodes, {"reported_before": True})
        in_gone_node = node_gone[self.topo.node]
        for g in np.flatnonzero(gone & ~in_gone_node).tolist():
            out.append(self._alert(s.time_s, g, "gpu_vanished", {"reported_before": True, "reported_now": False}))
        return out

    def _counters(self, s: Sample, dt: float, present: NDArray[np.bool_]) -> list[Alert]:
        out: list[Alert] = []
        inc: dict[str, NDArray[np.float64]] = {}
        for key, value in s.counters.items():
            prev = self.last.get(key)
            v = np.where(present, value, np.nan)
            if prev is None:
                d = np.zeros_like(v)
            else:
                with np.errstate(invalid="ignore"):
                    d = v - prev
                    reset = d < 0
                if reset.any():
                    self.data_events.append(f"{int(reset.sum())} {key} counters reset at {s.time_s:.0f}")
                d = np.where(reset, v, d)
                d = np.where(np.isfinite(d), d, 0.0)
            inc[key] = d
            self.last[key] = np.where(np.isfinite(v), v, prev if prev is not None else np.nan)
        p = self.p
        for kind, (key, win_name, thr_name) in _COUNTER_RULES.items():
            if key not in inc or not self.predictive:
                continue
            w = self.windows[kind]
            w *= np.exp(-dt / getattr(p, win_name))
            w += inc[key]
            fire = np.flatnonzero(w >= getattr(p, thr_name))
            for g in fire.tolist():
                out.append(
                    self._alert(s.time_s, g, kind, {key + "_window": float(w[g]), "threshold": getattr(p, thr_name)})
                )
        fail = np.zeros(self.topo.n_gpus, dtype=bool)
        for key in ("ecc_dbe", "rows_uncorrectable"):
            if key in inc:
                fail |= inc[key] > 0
        remap = (s.row_remap_failure > 0) & present
        fail |= remap & ~self.remap_failed
        self.remap_failed = np.where(present, remap, self.remap_failed)
        for g in np.flatnonzero(fail).tolist():
            ev: dict[str, Any] = {k: float(inc[k][g]) for k in ("ecc_dbe", "rows_uncorrectable") if k in inc}
            out.append(self._alert(s.time_s, g, "failure", ev))
        return out

    def _xids(self, s: Sample) -> list[Alert]:
        out = []
        for g, code in s.xids:
            if code in CRITICAL_XIDS:
                out.append(self._alert(s.time_s, g, "failure", {"xid": code}))
            elif code in APP_XIDS:
                out.append(self._alert(s.time_s, g, "app_xid", {"xid": code}))
        return out

    def _prepare(self, samples: list[Sample], present: NDArray[np.bool_]) -> dict[str, Any]:
        """The stateless statistics of a block of samples, (times, ...) arrays; moves each site's temperature rise
        per watt (learnt from the data, EWMA over samples; see :func:`~wattbit.ops.detect.batch.slope_candidates`)
        through the block."""
        topo, p = self.topo, self.p
        power = np.stack([s.power_w for s in samples])
        temp = np.stack([s.gpu_temp_c for s in samples])
        util = np.stack([s.util_pct for s in samples])
        events_raw = np.stack([s.clock_events for s in samples])
        n_sites, n_nodes = len(topo.site_names), topo.node_site.shape[0]
        k = slope_candidates(power, temp, present, topo.site, n_sites)
        slopes = np.empty_like(k)
        for j in range(k.shape[0]):
            kj = k[j]
            upd = np.where(np.isnan(self.slope), kj, 0.9 * self.slope + 0.1 * kj)
            self.slope = np.where(np.isfinite(kj), upd, self.slope)
            slopes[j] = np.where(np.isnan(self.slope), p.r_th_k_per_w, self.slope)
        loaded = present & (util >= 50) & np.isfinite(temp)
        adj = np.where(loaded, temp - slopes[:, topo.site] * power, np.nan)
        node_med = node_medians(adj, topo.slots)
        site_med = group_medians(node_med, topo.node_site, n_sites)
        busy = present & (util >= 90)
        power_med = node_medians(np.where(busy, power, np.nan), topo.slots)
        with np.errstate(invalid="ignore"):
            dip = busy & (power < p.power_dip * power_med[:, topo.node])
        brake = present & np.isfinite(events_raw) & ((np.nan_to_num(events_raw).astype(np.int64) & HW_BRAKE_BITS) > 0)
        rows, gpus = np.nonzero(dip | brake)
        events = np.bincount(rows * n_nodes + topo.node[gpus], minlength=k.shape[0] * n_nodes)
        return {
            "loaded": loaded,
            "d": adj - node_med[:, topo.node],
            "dn": node_med - site_med[:, topo.node_site],
            "events": events.reshape(k.shape[0], n_nodes).astype(float),
        }

    def _thermal(self, s: Sample, pre: dict[str, Any], j: int) -> list[Alert]:
        """GPU against node peers (power-corrected), node against site; each minus its own robust baseline."""
        p = self.p
        loaded, d, dn = pre["loaded"][j], pre["d"][j], pre["dn"][j]
        base_mean = self.gpu_base.mean.copy()
        self.gpu_base.update(d)
        excess = d - base_mean
        hot = np.isfinite(excess) & (excess > p.thermal_threshold_k) & (self.gpu_base.seen > self.warm)
        self.hot = np.where(hot, self.hot + 1, np.where(loaded, 0, self.hot))
        out = []
        for g in np.flatnonzero(self.hot == p.thermal_persist).tolist():
            out.append(
                self._alert(
                    s.time_s,
                    g,
                    "thermal",
                    {
                        "gpu_temp_c": float(s.gpu_temp_c[g]),
                        "power_w": float(s.power_w[g]),
                        "excess_over_peers_k": float(excess[g]),
                        "threshold_k": p.thermal_threshold_k,
                    },
                )
            )
        # nodes against their site
        nb = self.node_base.mean.copy()
        self.node_base.update(dn)
        nex = dn - nb
        nhot = np.isfinite(nex) & (nex > p.cooling_threshold_k) & (self.node_base.seen > self.warm)
        self.node_hot = np.where(nhot, self.node_hot + 1, np.where(np.isfinite(dn), 0, self.node_hot))
        firing = np.flatnonzero(self.node_hot == p.cooling_persist)
        if firing.shape[0]:
            ev = {"node_excess_over_site_k": float(np.max(nex[firing])), "threshold_k": p.cooling_threshold_k}
            out += self._nodes_or_site(s.time_s, "cooling", firing, ev)
        return out

    def _power(self, s: Sample, dt: float, pre: dict[str, Any], j: int) -> list[Alert]:
        p = self.p
        events = pre["events"][j]
        self.dips = self.dips * np.exp(-dt / p.power_window_s) + events
        fire = np.flatnonzero((self.dips >= p.power_threshold) & (events > 0))
        if not fire.shape[0]:
            return []
        ev = {"excursions_window": float(self.dips[fire].max()), "threshold": p.power_threshold}
        return self._nodes_or_site(s.time_s, "power_excursion", fire, ev)

    def _flow(self, s: Sample) -> list[Alert]:
        if s.site_flow is None:
            return []
        p = self.p
        base = self.flow_base.mean.copy()
        self.flow_base.update(s.site_flow)
        with np.errstate(invalid="ignore", divide="ignore"):
            drop = (base - s.site_flow) / base
        low = np.isfinite(drop) & (drop > p.flow_drop) & (self.flow_base.seen > self.warm)
        self.low_flow = np.where(low, self.low_flow + 1, 0)
        out = []
        for i in np.flatnonzero(self.low_flow == p.flow_persist).tolist():
            a = self._alert(
                s.time_s,
                -1,
                "coolant_flow",
                {"flow_m3_per_s": float(s.site_flow[i]), "baseline": float(base[i]), "drop": float(drop[i])},
            )
            a.site, a.node = self.topo.site_names[i], ""
            out.append(a)
        return out
