"""Where the dashboard's live view of the fleet comes from: a :class:`FleetSource`.

- :class:`TwinFleet` (the embedded default): the live twin of issue 13 (:class:`~wattbit.ops.adapters.twin.LiveTwin`)
  stepped in a process of its own (:mod:`wattbit.api.twin_process`) at ``speed`` times real time, with the
  detectors of :mod:`wattbit.ops.detect` watching its GPUs and writing their alerts to an
  :class:`~wattbit.ops.store.AlertStore` (SQLite, WAL) — the same store ``wattbit ops watch`` writes. It knows the
  engine's queue and running jobs.
- :class:`PrometheusFleet`: an operator's Prometheus (or the one ``wattbit ops prometheus up`` started) scraping the
  twin or real exporters: per-site metrics under wattbit's names (``wattbit_site_*``), per-node figures from the
  DCGM series. The queue comes from the scheduler, which this source does not know (the Slurm adapter of the
  control loop does).

Every value carries its unit in its name (``facility_mw``, ``carbon_g_per_kwh``, ``price_jpy_per_kwh``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from wattbit.api.labels import area_label, site_label
from wattbit.api.twin_process import clean as _clean
from wattbit.scenario import Scenario

log = logging.getLogger(__name__)

#: Live per-site fields: key -> (label, unit).
SITE_FIELDS: dict[str, tuple[str, str]] = {
    "facility_mw": ("facility power", "MW"),
    "it_mw": ("IT power", "MW"),
    "cooling_mw": ("cooling power", "MW"),
    "pue": ("PUE", "facility / IT"),
    "carbon_g_per_kwh": ("grid carbon intensity", "g CO₂-eq/kWh"),
    "price_jpy_per_kwh": ("JEPX day-ahead price", "JPY/kWh"),
    "curtailment_mw": ("renewables curtailed in the area", "MW"),
    "pv_mw": ("on-site PV", "MW"),
    "wind_mw": ("on-site wind", "MW"),
    "grid_mw": ("grid import", "MW"),
    "battery_mw": ("battery, + discharging", "MW"),
    "soc_pct": ("battery state of charge", "%"),
    "supply_c": ("coolant supply", "°C"),
    "return_c": ("coolant return", "°C"),
}
#: Prometheus metric of each field and the factor to the field's unit.
PROM_METRICS: dict[str, tuple[str, float]] = {
    "facility_mw": ("wattbit_site_facility_power_watts", 1e-6),
    "it_mw": ("wattbit_site_it_power_watts", 1e-6),
    "cooling_mw": ("wattbit_site_cooling_power_watts", 1e-6),
    "pue": ("wattbit_site_pue", 1.0),
    "carbon_g_per_kwh": ("wattbit_site_grid_carbon_intensity_grams_per_kilowatt_hour", 1.0),
    "price_jpy_per_kwh": ("wattbit_site_electricity_price_yen_per_megawatt_hour", 1e-3),
    "curtailment_mw": ("wattbit_site_grid_curtailment_watts", 1e-6),
    "pv_mw": ("wattbit_site_pv_power_watts", 1e-6),
    "wind_mw": ("wattbit_site_wind_power_watts", 1e-6),
    "grid_mw": ("wattbit_site_grid_import_watts", 1e-6),
    "battery_mw": ("wattbit_site_battery_power_watts", 1e-6),
    "soc_pct": ("wattbit_site_battery_state_of_charge_ratio", 100.0),
    "supply_c": ("wattbit_site_coolant_supply_temperature_celsius", 1.0),
    "return_c": ("wattbit_site_coolant_return_temperature_celsius", 1.0),
}


class FleetSource(Protocol):
    """What the dashboard reads about the fleet (see the module docstring)."""

    kind: str

    def sites(self) -> list[dict[str, Any]]:
        """Each site: id, English and Japanese names, area, position, GPUs and the latest values of
        :data:`SITE_FIELDS` (``latest``), with the time they describe (``time_utc``)."""
        ...

    def history(self, site: str) -> dict[str, list[Any]] | None:
        """Recent values of one site, columns ``time_utc`` and the keys of :data:`SITE_FIELDS`; None if unknown."""
        ...

    def nodes(self, site: str | None = None) -> list[dict[str, Any]]:
        """Nodes with their site, GPUs present, power [kW] and hottest GPU [°C]."""
        ...

    def queue(self) -> dict[str, Any]:
        """The job queue and running jobs, or ``{"available": False, "reason": ...}``."""
        ...

    def status(self) -> dict[str, Any]:
        """What the source is and how it is doing."""
        ...

    def close(self) -> None:
        """Stop what the source started."""
        ...


def static_sites(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The scenario's sites as the dashboard shows them: names in both languages, area, position, capacities."""
    out = {}
    for s in scenario.sites:
        out[s.name] = {
            "id": s.name,
            "label": site_label(s.name),
            "area": area_label(s.grid_area),
            "latitude_deg": s.latitude_deg,
            "longitude_deg": s.longitude_deg,
            "gpu_model": s.it.gpu_model,
            "gpus": s.it.gpu_count,
            "pv_mw": s.pv_mw,
            "wind_mw": s.wind_mw,
            "battery_mwh": s.battery_mwh,
            "grid_connection_mw": s.grid_connection_mw,
        }
    return out


class TwinFleet:
    """The embedded live twin with detectors (see the module docstring).

    Parameters
    ----------
    scenario
        What the twin runs (the built-in japan-2022 by default in ``wattbit serve``).
    alert_store_path
        The :class:`~wattbit.ops.store.AlertStore` file its detectors write.
    speed
        Simulated seconds per wall second (1800: a 15-minute step every 0.5 s).
    start
        Start date (ISO, scenario time zone), or None for the period's start.
    nodes_per_site
        Scale each site to this many nodes (None: the scenario's size).
    publish
        Called as ``publish("telemetry", payload)`` after each step.
    history_steps
        Steps of history kept per site.
    """

    kind = "twin"

    def __init__(
        self,
        scenario: Scenario,
        alert_store_path: Any,
        *,
        speed: float = 1800.0,
        start: str | None = None,
        nodes_per_site: int | None = None,
        seed: int | None = None,
        publish: Callable[[str, Any], None] | None = None,
        history_steps: int = 192,
        start_timeout_s: float = 300.0,
    ) -> None:
        import multiprocessing

        from wattbit.api.twin_process import run_twin_process
        from wattbit.ops.telemetry.build import scale_scenario

        self.scenario = scale_scenario(scenario, nodes_per_site)
        self.speed = float(speed)
        self.publish = publish
        self.static = static_sites(self.scenario)
        self.names = [s.name for s in self.scenario.sites]
        self.history_buf: dict[str, deque[dict[str, Any]]] = {n: deque(maxlen=history_steps) for n in self.names}
        self.latest: dict[str, dict[str, Any]] = {}
        self.node_arrays: tuple[np.ndarray, ...] | None = None
        self.node_view: list[dict[str, Any]] | None = None  # built from node_arrays when first asked for
        self.queue_view: dict[str, Any] = {"available": True, "queued": [], "running": [], "counts": {}}
        self.lock = threading.Lock()
        self.steps_done = 0
        self.step_ms: deque[float] = deque(maxlen=100)
        self.info: dict[str, Any] = {}
        self.hello = threading.Event()
        self.start_timeout_s = start_timeout_s
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self.conn, child = ctx.Pipe()
        twin = {"start": start, "nodes_per_site": nodes_per_site, "seed": seed}
        self.process = ctx.Process(
            target=run_twin_process,
            args=(child, scenario, alert_store_path, self.speed),
            kwargs=twin,
            name="wattbit-twin",
            daemon=True,
        )
        self.receiver = threading.Thread(target=self._receive, name="wattbit-twin-views", daemon=True)

    def start(self) -> TwinFleet:
        """Start the twin's process and wait until it has built the twin; returns self.

        Raises
        ------
        RuntimeError
            If the twin could not be built (its error is logged) or took longer than ``start_timeout_s``.
        """
        self.process.start()
        self.receiver.start()
        if not self.hello.wait(self.start_timeout_s) or not self.info:
            self.close()
            raise RuntimeError("the embedded twin did not start (see the log)")
        return self

    def _receive(self) -> None:
        while True:
            try:
                kind, payload = self.conn.recv()
            except (EOFError, OSError):
                self.hello.set()
                return
            if kind == "hello":
                self.info = payload
                self.hello.set()
            elif kind == "step":
                self._take(payload)
            else:
                if kind == "error":
                    log.error("the embedded twin stopped on an error:\n%s", payload)
                else:
                    log.info("the twin reached the end of its period")
                self.hello.set()
                return

    def _take(self, view: dict[str, Any]) -> None:
        when, values = view["time_utc"], view["sites"]
        with self.lock:
            for name, v in values.items():
                self.latest[name] = v
                self.history_buf[name].append({"time_utc": when, **v})
            self.node_arrays, self.node_view, self.queue_view = view["nodes"], None, view["queue"]
            self.steps_done += 1
            self.sim_time_utc = when
        self.step_ms.append(view["step_ms"])
        if self.publish is not None:
            self.publish("telemetry", {"time_utc": when, "sites": values, "new_alerts": view["new_alerts"]})

    def _node_rows(self, arrays: tuple[np.ndarray, ...]) -> list[dict[str, Any]]:
        node_gpus, node_present, node_power, node_temp = arrays
        hosts, sites = self.info["hostnames"], self.info["node_sites"]
        return [
            {
                "node": hosts[k],
                "site": sites[k],
                "gpus": int(node_gpus[k]),
                "gpus_present": int(node_present[k]),
                "power_kw": _clean(node_power[k] / 1e3),
                "gpu_temp_max_c": _clean(node_temp[k]) if np.isfinite(node_temp[k]) else None,
            }
            for k in range(len(hosts))
        ]

    # ------------------------------------------------------------------------------------------- FleetSource
    def sites(self) -> list[dict[str, Any]]:
        """See :meth:`FleetSource.sites`."""
        with self.lock:
            latest = {k: dict(v) for k, v in self.latest.items()}
            when = self.history_buf[self.names[0]][-1]["time_utc"] if self.steps_done else None
        return [{**self.static[n], "time_utc": when, "latest": latest.get(n)} for n in self.names]

    def history(self, site: str) -> dict[str, list[Any]] | None:
        """See :meth:`FleetSource.history`."""
        if site not in self.history_buf:
            return None
        with self.lock:
            rows = list(self.history_buf[site])
        keys = ["time_utc", *SITE_FIELDS]
        return {k: [r.get(k) for r in rows] for k in keys}

    def nodes(self, site: str | None = None) -> list[dict[str, Any]]:
        """See :meth:`FleetSource.nodes`."""
        with self.lock:
            view, arrays = self.node_view, self.node_arrays
        if view is None:
            view = self._node_rows(arrays) if arrays is not None else []
            with self.lock:
                if self.node_arrays is arrays:
                    self.node_view = view
        return [n for n in view if site is None or n["site"] == site]

    def queue(self) -> dict[str, Any]:
        """See :meth:`FleetSource.queue`."""
        with self.lock:
            return dict(self.queue_view)

    def status(self) -> dict[str, Any]:
        """See :meth:`FleetSource.status`."""
        ms = list(self.step_ms)
        return {
            "kind": self.kind,
            "scenario": self.scenario.name,
            "speed": self.speed,
            "steps_done": self.steps_done,
            "simulated_time_utc": getattr(self, "sim_time_utc", None),
            "running": self.process.is_alive(),
            "gpus": self.info.get("n_gpus"),
            "nodes": self.info.get("n_nodes"),
            "step_ms_p50": _clean(float(np.median(ms))) if ms else None,
        }

    def close(self) -> None:
        """Stop the twin's process (it closes its alert store) and the thread that reads its views."""
        if self.process.is_alive():
            try:
                self.conn.send("stop")
            except OSError:
                pass
            self.process.join(timeout=10.0)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(timeout=5.0)
        self.conn.close()
        if self.receiver.is_alive():
            self.receiver.join(timeout=5.0)


class PrometheusFleet:
    """The fleet as a Prometheus sees it (see the module docstring).

    Parameters
    ----------
    url
        Base URL of the Prometheus.
    scenario
        Gives the sites' positions and names for the map (sites Prometheus reports that it lacks are listed
        without a position).
    history_s, step_s
        Span and resolution of :meth:`history`.
    """

    kind = "prometheus"

    def __init__(self, url: str, scenario: Scenario | None, history_s: float = 6 * 3600.0, step_s: float = 60.0):
        from wattbit.ops.adapters.prometheus import PrometheusClient

        self.client = PrometheusClient(url, timeout_s=5.0)
        self.url = url
        self.static = static_sites(scenario) if scenario is not None else {}
        self.history_s, self.step_s = history_s, step_s
        self.last_error: str | None = None

    def _query(self, promql: str) -> list[tuple[dict[str, str], float, float]]:
        from wattbit.ops.adapters.prometheus import PrometheusError

        try:
            out = self.client.query(promql)
        except PrometheusError as exc:
            self.last_error = str(exc)
            return []
        self.last_error = None
        return out

    def sites(self) -> list[dict[str, Any]]:
        """See :meth:`FleetSource.sites`."""
        latest: dict[str, dict[str, Any]] = {}
        when: float | None = None
        areas: dict[str, str] = {}
        for key, (metric, factor) in PROM_METRICS.items():
            for labels, ts, v in self._query(metric):
                site = labels.get("site", "default")
                latest.setdefault(site, {})[key] = _clean(v * factor)
                areas.setdefault(site, labels.get("area", ""))
                when = ts if when is None else max(when, ts)
        for labels, _, v in self._query("wattbit_site_gpus"):
            site = labels.get("site", "default")
            gpus = latest.setdefault(site, {}).setdefault("gpus", {})
            gpus[labels.get("state", "")] = int(v) if math.isfinite(v) else None
        iso = None if when is None else time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(when))
        names = list(self.static) + sorted(set(latest) - set(self.static))
        out = []
        for n in names:
            base = self.static.get(n) or {
                "id": n,
                "label": site_label(n),
                "area": area_label(areas.get(n, "")),
                "latitude_deg": None,
                "longitude_deg": None,
            }
            out.append({**base, "time_utc": iso, "latest": latest.get(n)})
        return out

    def history(self, site: str) -> dict[str, list[Any]] | None:
        """See :meth:`FleetSource.history` (a range query per field over the last ``history_s``)."""
        from wattbit.ops.adapters.prometheus import PrometheusError

        if any(c in site for c in '"\\{}\n') or len(site) > 100:
            return None
        end = time.time()
        cols: dict[str, dict[float, float | None]] = {}
        try:
            for key, (metric, factor) in PROM_METRICS.items():
                series = self.client.query_range(f'{metric}{{site="{site}"}}', end - self.history_s, end, self.step_s)
                for _, values in series[:1]:
                    cols[key] = {t: _clean(v * factor) for t, v in values}
        except PrometheusError as exc:
            self.last_error = str(exc)
            return None
        times = sorted({t for c in cols.values() for t in c})
        if not times and site not in self.static:
            return None
        out: dict[str, list[Any]] = {
            "time_utc": [time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t)) for t in times]
        }
        for key in SITE_FIELDS:
            out[key] = [cols.get(key, {}).get(t) for t in times]
        return out

    def nodes(self, site: str | None = None) -> list[dict[str, Any]]:
        """See :meth:`FleetSource.nodes` (DCGM power and temperature summed and maxed per host)."""
        from wattbit.ops.watch import host_of, site_of

        power: dict[str, float] = {}
        count: dict[str, int] = {}
        temp: dict[str, float] = {}
        for labels, _, v in self._query("DCGM_FI_DEV_POWER_USAGE"):
            h = host_of(labels)
            if h is not None and math.isfinite(v):
                power[h] = power.get(h, 0.0) + v
                count[h] = count.get(h, 0) + 1
        for labels, _, v in self._query("DCGM_FI_DEV_GPU_TEMP"):
            h = host_of(labels)
            if h is not None and math.isfinite(v):
                temp[h] = max(temp.get(h, -math.inf), v)
        out = []
        for h in sorted(power):
            s = site_of({}, h)
            if site is None or s == site:
                out.append(
                    {
                        "node": h,
                        "site": s,
                        "gpus": count[h],
                        "gpus_present": count[h],
                        "power_kw": _clean(power[h] / 1e3),
                        "gpu_temp_max_c": _clean(temp[h]) if h in temp else None,
                    }
                )
        return out

    def queue(self) -> dict[str, Any]:
        """See :meth:`FleetSource.queue`: Prometheus does not know the scheduler's queue."""
        return {
            "available": False,
            "source": "prometheus",
            "reason": "the queue comes from the scheduler (the Slurm adapter of `wattbit ops run`), not Prometheus",
        }

    def status(self) -> dict[str, Any]:
        """See :meth:`FleetSource.status`."""
        return {"kind": self.kind, "url": self.url, "ready": self.client.ready(), "last_error": self.last_error}

    def close(self) -> None:
        """Nothing to stop."""


class NoFleet:
    """No live view (``wattbit serve --fleet none``): the API still serves scenarios, runs and operations."""

    kind = "none"

    def sites(self) -> list[dict[str, Any]]:
        """No sites."""
        return []

    def history(self, site: str) -> dict[str, list[Any]] | None:
        """Nothing."""
        return None

    def nodes(self, site: str | None = None) -> list[dict[str, Any]]:
        """No nodes."""
        return []

    def queue(self) -> dict[str, Any]:
        """Not available."""
        return {"available": False, "source": "none", "reason": "the service runs without a live fleet"}

    def status(self) -> dict[str, Any]:
        """The kind."""
        return {"kind": self.kind}

    def close(self) -> None:
        """Nothing to stop."""
