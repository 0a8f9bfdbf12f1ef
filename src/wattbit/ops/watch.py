"""``wattbit ops watch``: read DCGM telemetry from a Prometheus, run the detectors, store and export the alerts.

Each poll runs one instant query per DCGM field (``DCGM_FI_DEV_GPU_TEMP`` …) and reads every GPU by its node and
index: the node from the ``Hostname`` label (dcgm-exporter up to 4.5.3-4.8.2), else ``hostname`` (later releases),
else ``instance``; the site from a ``site`` label if the operator's relabelling adds one, else the node name up to
``-n`` (the twin's convention), else ``default``. The clock is the data's own: the twin's simulated time
(``wattbit_twin_simulated_time_seconds``) when it is there, else the newest sample's timestamp.

Bad input never stops it: a Prometheus that is down or slow is logged and retried with back-off (one ``source_down``
data event per outage); a poll whose clock did not advance (duplicate) or went back (out of order) is skipped; NaN,
negative and absurd values are dropped by the detectors with a data event; counters that reset are read as
restarted; GPUs whose series vanish raise ``gpu_vanished``/``node_vanished``; GPUs that appear restart the detectors'
topology. State (baselines, windows, open alerts) is saved to the store after every poll and restored on start.

Own metrics (``--metrics-listen``): ``wattbit_watch_polls_total``, ``wattbit_watch_poll_errors_total``,
``wattbit_watch_alerts_total{kind,severity}``, ``wattbit_watch_gpus``, ``wattbit_watch_last_poll_timestamp_seconds``,
and per open alert ``wattbit_alert_active{site,node,gpu,kind,severity}`` and, for predictions,
``wattbit_alert_failure_probability`` with ``horizon_h``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from wattbit.ops.adapters.prometheus import PrometheusClient, PrometheusError
from wattbit.ops.detect.alerts import Alert, AlertManager
from wattbit.ops.detect.detectors import DetectorParams, Detectors, Sample, Topology
from wattbit.ops.store import AlertStore
from wattbit.ops.telemetry.names import FIELD_KEYS

log = logging.getLogger(__name__)

#: DCGM fields the watcher reads, by the detectors' key.
QUERIES = {v: k for k, v in FIELD_KEYS.items() if v not in ("energy_mj", "sm_clock_mhz", "mem_temp_c", "power_limit_w")}
HOST_LABELS = ("Hostname", "hostname", "instance")
SIM_CLOCK = "wattbit_twin_simulated_time_seconds"
#: Step of the twin's data when its simulated clock is read (the scenario step of the built-in scenarios).
TWIN_STEP_S = 900.0
FLOW = "wattbit_site_coolant_flow_cubic_meters_per_second"


def host_of(labels: dict[str, str]) -> str | None:
    """A series' node name: ``Hostname``, else ``hostname``, else ``instance``."""
    for key in HOST_LABELS:
        if labels.get(key):
            return labels[key]
    return None


def site_of(labels: dict[str, str], host: str) -> str:
    """A series' site: a ``site`` label, else the node name up to ``-n`` (``fukushima-n0001``), else ``default``."""
    if labels.get("site"):
        return labels["site"]
    head, sep, _ = host.rpartition("-n")
    return head if sep and head else "default"


@dataclass
class Poll:
    """One poll: values per (node, gpu) key and field, XIDs raised, site flows, the data's clock."""

    time_s: float
    values: dict[str, dict[tuple[str, int], float]]
    sites: dict[str, str]
    xids: list[tuple[tuple[str, int], int]] = field(default_factory=list)
    flow: dict[str, float] = field(default_factory=dict)
    simulated: bool = False


def poll(client: PrometheusClient) -> Poll:
    """Read the fleet's latest samples from Prometheus (raises :class:`PrometheusError` when it cannot)."""
    values: dict[str, dict[tuple[str, int], float]] = {}
    sites: dict[str, str] = {}
    newest = -math.inf
    for key, metric in QUERIES.items():
        series = values.setdefault(key, {})
        for labels, ts, v in client.query(metric):
            host = host_of(labels)
            try:
                gpu = int(labels.get("gpu", ""))
            except ValueError:
                continue
            if host is None:
                continue
            series[(host, gpu)] = v
            sites[host] = site_of(labels, host)
            newest = max(newest, ts)
    xids = []
    for labels, _, v in client.query('DCGM_EXP_XID_ERRORS_COUNT{xid!=""} > 0'):
        host = host_of(labels)
        if host is not None and labels.get("gpu", "").isdigit() and labels.get("xid", "").isdigit():
            xids.extend([((host, int(labels["gpu"])), int(labels["xid"]))] * max(1, int(v) if math.isfinite(v) else 1))
    flow = {labels.get("site", ""): v for labels, _, v in client.query(FLOW)}
    clock = client.query(SIM_CLOCK)
    simulated = bool(clock) and math.isfinite(clock[0][2])
    t = clock[0][2] if simulated else newest
    return Poll(time_s=t, values=values, sites=sites, xids=xids, flow=flow, simulated=simulated)


def topology_from(keys: list[tuple[str, int]], sites: dict[str, str]) -> Topology:
    """The detectors' topology of the GPUs seen (sorted by node and index)."""
    hosts = sorted({h for h, _ in keys})
    site_names = tuple(sorted({sites.get(h, "default") for h in hosts}))
    node_index = {h: i for i, h in enumerate(hosts)}
    node = np.array([node_index[h] for h, _ in keys], dtype=np.int64)
    gpu = np.array([g for _, g in keys], dtype=np.int64)
    node_site = np.array([site_names.index(sites.get(h, "default")) for h in hosts], dtype=np.int64)
    return Topology.build(site_names, np.array(hosts), node, gpu, node_site)


class Watcher:
    """The detectors over a Prometheus, with state in an :class:`AlertStore` (see the module docstring)."""

    def __init__(
        self,
        client: PrometheusClient,
        store: AlertStore,
        params: DetectorParams | None = None,
        calibration: dict[str, tuple[float, float]] | None = None,
        on_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.client, self.store = client, store
        self.params = params or DetectorParams(sample_interval_s=15.0)
        self.manager = AlertManager(calibration=calibration)
        self.on_alert = on_alert
        self.keys: list[tuple[str, int]] = []
        self.det: Detectors | None = None
        self.last_t: float | None = None
        self.down_since: float | None = None
        self.polls = self.errors = 0
        self.alert_counts: dict[tuple[str, str], int] = {}
        saved = store.load_state("watcher")
        self._saved: dict[str, Any] | None = saved if isinstance(saved, dict) else None
        if self._saved:
            self.last_t = self._saved.get("last_t")
            for d in self._saved.get("open_alerts", []):
                d.pop("alert_id", None)
                a = Alert(**d)
                self.manager.open[a.key] = a
            log.info("resuming from stored state of %d GPUs (last sample at %s)", len(self._saved["keys"]), self.last_t)

    def _event(self, msg: str, t: float | None = None) -> None:
        log.warning("%s", msg)
        self.store.log_event(msg, t)

    def step(self) -> list[Alert]:
        """Poll once and run the detectors; returns the new alerts (none when the poll failed or was skipped)."""
        try:
            p = poll(self.client)
        except PrometheusError as exc:
            self.errors += 1
            if self.down_since is None:
                self.down_since = time.time()
                self._event(f"Prometheus unreachable or failing ({exc}); retrying")
            return []
        if self.down_since is not None:
            self._event(f"Prometheus back after {time.time() - self.down_since:.0f} s")
            self.down_since = None
        self.polls += 1
        if not math.isfinite(p.time_s):
            self._event("no DCGM samples in Prometheus yet")
            return []
        if self.last_t is not None and p.time_s <= self.last_t:
            log.debug("clock did not advance (%s <= %s): duplicate or out-of-order poll skipped", p.time_s, self.last_t)
            return []
        self._ensure_topology(p)
        assert self.det is not None
        sample = self._sample(p)
        new = []
        for cand in self.det.step(sample):
            a = self.manager.offer(cand)
            if a is not None:
                new.append(a)
                self.alert_counts[(a.kind, a.severity)] = self.alert_counts.get((a.kind, a.severity), 0) + 1
                if self.on_alert is not None:
                    self.on_alert(a)
        for msg in self.det.data_events:
            self._event(msg, p.time_s)
        self.det.data_events.clear()
        self.manager.expire(p.time_s)
        self.store.add_alerts(new)
        self.last_t = p.time_s
        opened = [a.to_dict() for a in self.manager.open.values()]
        state = {"keys": self.keys, "last_t": self.last_t, "detectors": self.det.state(), "open_alerts": opened}
        self.store.save_state("watcher", state)
        return new

    def _ensure_topology(self, p: Poll) -> None:
        seen = sorted({k for series in p.values.values() for k in series})
        if self.det is not None and set(seen) <= set(self.keys):
            return
        if p.simulated and self.params.sample_interval_s != TWIN_STEP_S:
            log.info("reading the twin: its simulated clock, one sample per %g s step", TWIN_STEP_S)
            self.params = replace(self.params, sample_interval_s=TWIN_STEP_S)
        if self._saved is not None and not self.keys:
            saved_keys = [tuple(k) for k in self._saved["keys"]]
            if set(seen) <= set(saved_keys):
                self.keys = [(str(h), int(g)) for h, g in saved_keys]
                self.det = Detectors(topology_from(self.keys, p.sites), self.params)
                self.det.restore(self._saved["detectors"])
                return
        if self.det is not None:
            added = sorted(set(seen) - set(self.keys))
            self._event(f"{len(added)} new GPUs (e.g. {added[:3]}); detectors restart on {len(seen)} GPUs", p.time_s)
        self.keys = sorted(set(seen) | set(self.keys))
        self.det = Detectors(topology_from(self.keys, p.sites), self.params)

    def _sample(self, p: Poll) -> Sample:
        index = {k: i for i, k in enumerate(self.keys)}
        g = len(self.keys)

        def arr(key: str) -> np.ndarray:
            out = np.full(g, np.nan)
            for k, v in p.values.get(key, {}).items():
                out[index[k]] = v
            return out

        present = np.zeros(g, dtype=bool)
        for k in p.values.get("gpu_temp_c", {}):
            present[index[k]] = True
        assert self.det is not None
        flow = np.array([p.flow.get(s, np.nan) for s in self.det.topo.site_names])
        return Sample(
            time_s=p.time_s,
            present=present,
            power_w=arr("power_w"),
            gpu_temp_c=arr("gpu_temp_c"),
            util_pct=arr("util_pct"),
            clock_events=arr("clock_events"),
            counters={
                k: arr(k)
                for k in ("ecc_sbe", "ecc_dbe", "rows_correctable", "rows_uncorrectable", "pcie_replay", "nvlink_crc")
            },  # fmt: skip
            row_remap_failure=arr("row_remap_failure"),
            xids=[(index[k], c) for k, c in p.xids if k in index],
            site_flow=flow,
        )


def serve_metrics(watcher: Watcher, listen: str) -> Any:
    """Serve the watcher's own metrics on ``listen`` (HOST:PORT); returns the server."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class _Collector:
        def collect(self) -> Any:
            yield CounterMetricFamily(
                "wattbit_watch_polls", "Polls of Prometheus that returned data.", value=watcher.polls
            )
            yield CounterMetricFamily("wattbit_watch_poll_errors", "Polls that failed.", value=watcher.errors)
            c = CounterMetricFamily("wattbit_watch_alerts", "Alerts opened.", labels=["kind", "severity"])
            for (kind, sev), n in sorted(watcher.alert_counts.items()):
                c.add_metric([kind, sev], n)
            yield c
            yield GaugeMetricFamily("wattbit_watch_gpus", "GPUs watched.", value=len(watcher.keys))
            yield GaugeMetricFamily("wattbit_watch_last_poll_timestamp_seconds", "Data clock of the last poll.",
                                    value=watcher.last_t or 0.0)  # fmt: skip
            act = GaugeMetricFamily(
                "wattbit_alert_active", "Open alerts.", labels=["site", "node", "gpu", "kind", "severity"]
            )
            prob = GaugeMetricFamily("wattbit_alert_failure_probability", "Failure probability of open predictions.",
                                     labels=["site", "node", "gpu", "kind", "horizon_h"])  # fmt: skip
            for a in list(watcher.manager.open.values()):
                act.add_metric([a.site, a.node, str(a.gpu), a.kind, a.severity], 1.0)
                if a.probability is not None:
                    prob.add_metric([a.site, a.node, str(a.gpu), a.kind, f"{a.horizon_h:g}"], a.probability)
            yield act
            yield prob

    registry = CollectorRegistry()
    registry.register(_Collector())
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host, registry=registry)
    return server


def run_watch(
    watcher: Watcher,
    interval_s: float = 15.0,
    max_polls: int | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Poll every ``interval_s`` (backing off up to 60 s while Prometheus is down) until ``stop()`` or ``max_polls``."""
    n = 0
    while not stop() and (max_polls is None or n < max_polls):
        t0 = time.monotonic()
        try:
            watcher.step()
        except Exception:  # the watcher keeps running: a bug in one poll is logged, not fatal
            log.exception("poll failed; continuing")
            watcher.store.log_event("poll failed with an internal error (see the log); continuing")
        n += 1
        wait = interval_s if watcher.down_since is None else min(60.0, interval_s * 2 ** min(watcher.errors, 4))
        time.sleep(max(0.0, wait - (time.monotonic() - t0)))


def load_calibration(path: Any) -> dict[str, tuple[float, float]]:
    """Kind -> (probability, horizon [h]) from an ``evaluation.json`` (its tuning), or the built-in defaults."""
    import json
    from pathlib import Path

    if path is None:
        return dict(DEFAULT_CALIBRATION)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    cal = data.get("tuning", {}).get("calibration", {})
    return {k: (float(v["probability"]), float(v["horizon_h"])) for k, v in cal.items()}


#: Probability and horizon [h] per predictive kind, measured by ``wattbit ops evaluate japan-2022`` on its tuning
#: seeds 101-102 on 2026-12-07 (docs/operations.md, benchmarks/results/ops-evaluate/); against the twin's assumed
#: signatures, so replace them with ``--calibration`` from an evaluation on your own incident records.
DEFAULT_CALIBRATION: dict[str, tuple[float, float]] = {
    "row_remap": (0.771, 8.98),
    "ecc_sbe_rate": (0.709, 11.22),
    "pcie_replay_rate": (0.565, 5.77),
    "nvlink_crc_rate": (0.422, 4.79),
    "power_excursion": (1.0, 7.21),
    "coolant_flow": (1.0, 1.7),
    "cooling": (0.067, 2.2),
    "thermal": (0.054, 35.63),
}
