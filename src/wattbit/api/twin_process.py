"""The embedded twin's own process: it steps the live twin, runs the detectors, stores their alerts and sends each
step's views to the service over a pipe.

Stepping the twin (about 70 ms of CPU per 15-minute step of japan-2022, twice a second at the default speed) in a
thread of the service held the interpreter's lock while readers waited: measured on 2 cores with 200 dashboards, the
99th percentile of a read was 302 ms with the twin in the service and 95 ms without it (docs/benchmarks.md,
"Service"). In a process of its own it costs the service only the unpickling of each step's small message.

Messages to the service are ``(kind, payload)`` tuples: ``("hello", info)`` once (names, nodes, GPUs), then
``("step", view)`` per step, and ``("end", None)`` or ``("error", text)`` when stepping stops. The service sends
``"stop"`` to end it; the process also ends when the service's process is gone (its parent changed or the pipe
broke), so a service killed with SIGKILL leaves no twin behind.
"""

from __future__ import annotations

import logging
import math
import os
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from wattbit.scenario import Scenario

log = logging.getLogger(__name__)

GPU_STATES = ("training", "inference", "idle", "out")


def clean(value: float) -> float | None:
    """A finite float rounded to 4 decimals, or None (JSON has no NaN)."""
    v = float(value)
    return round(v, 4) if math.isfinite(v) else None


class TwinStepper:
    """The live twin with its detectors and alert store, and the views of the fleet each step produces.

    Parameters
    ----------
    scenario, alert_store_path, start, nodes_per_site, seed
        As for :class:`wattbit.api.fleet.TwinFleet`.
    """

    def __init__(
        self,
        scenario: Scenario,
        alert_store_path: Any,
        *,
        start: str | None = None,
        nodes_per_site: int | None = None,
        seed: int | None = None,
    ) -> None:
        from wattbit.ops.adapters.twin import LiveTwin
        from wattbit.ops.detect.alerts import AlertManager
        from wattbit.ops.detect.detectors import DetectorParams, Detectors
        from wattbit.ops.detect.evaluate import topology_of
        from wattbit.ops.store import AlertStore
        from wattbit.ops.watch import DEFAULT_CALIBRATION

        self.twin = LiveTwin(scenario, seed=seed, nodes_per_site=nodes_per_site, start=start)
        inv = self.twin.setup.inventory
        self.detectors = Detectors(topology_of(inv), DetectorParams(sample_interval_s=self.twin.step_s))
        self.alerts = AlertManager(calibration=DEFAULT_CALIBRATION)
        self.store = AlertStore(alert_store_path)
        self.names = list(self.twin.setup.fleet.names)
        self.flow = self._design_flow()

    def info(self) -> dict[str, Any]:
        """What the service needs once: site names, node names and sites, GPUs, the step [s]."""
        inv = self.twin.setup.inventory
        return {
            "names": self.names,
            "step_s": float(self.twin.step_s),
            "hostnames": [str(h) for h in inv.hostnames],
            "node_sites": [inv.site_names[int(k)] for k in inv.node_site],
            "n_gpus": int(inv.n_gpus),
            "n_nodes": int(inv.n_nodes),
        }

    def _design_flow(self) -> np.ndarray:
        plants = self.twin.setup.fleet.plants
        return np.array(
            [
                p.rated_it_dc_w
                * (1 - p.cooling.air_share)
                / (p.cooling.tcs_cp_j_per_kg_k * p.cooling.tcs_delta_t_k)
                / p.cooling.tcs_density_kg_m3
                if p.cooling.cooling_type != "air_chiller"
                else np.nan
                for p in plants
            ]
        )

    def step(self) -> dict[str, Any] | None:
        """Advance one step, run the detectors, store new alerts; the step's views (None at the period's end)."""
        from wattbit.ops.detect.evaluate import sample_of

        t0 = time.perf_counter()
        if not self.twin.step():
            return None
        frame, snap = self.twin.frame, self.twin.sites
        assert frame is not None and snap is not None
        t_s = self.twin.sim_time.timestamp() + self.twin.step_s
        new = []
        for cand in self.detectors.step(sample_of(frame, 0, t_s, self.flow)):
            a = self.alerts.offer(cand)
            if a is not None:
                new.append(a)
        self.detectors.data_events.clear()
        self.alerts.expire(t_s)
        if new:
            self.store.add_alerts(new)
        return {
            "time_utc": self.twin.sim_time.isoformat(),
            "sites": self._values(snap),
            "nodes": self._node_arrays(frame),
            "queue": self._queue(),
            "new_alerts": len(new),
            "step_ms": (time.perf_counter() - t0) * 1000.0,
        }

    def _values(self, snap: Any) -> dict[str, dict[str, Any]]:
        out = {}
        for i, name in enumerate(self.names):
            out[name] = {
                "facility_mw": clean(snap.facility_w[i] * 1e-6),
                "it_mw": clean(snap.it_w[i] * 1e-6),
                "cooling_mw": clean(snap.cooling_w[i] * 1e-6),
                "pue": clean(snap.pue[i]),
                "carbon_g_per_kwh": clean(snap.carbon_g_per_kwh[i]),
                "price_jpy_per_kwh": clean(snap.price_jpy_per_mwh[i] * 1e-3),
                "curtailment_mw": clean(snap.curtailment_w[i] * 1e-6),
                "pv_mw": clean(snap.pv_w[i] * 1e-6),
                "wind_mw": clean(snap.wind_w[i] * 1e-6),
                "grid_mw": clean(snap.grid_w[i] * 1e-6),
                "battery_mw": clean(snap.battery_w[i] * 1e-6),
                "soc_pct": clean(snap.soc_ratio[i] * 100.0),
                "supply_c": clean(snap.supply_c[i]),
                "return_c": clean(snap.return_c[i]),
                "gpus": {k: int(v) for k, v in zip(GPU_STATES, snap.gpus[i], strict=True)},
            }
        return out

    def _node_arrays(self, frame: Any) -> tuple[np.ndarray, ...]:
        """Per node: GPUs, GPUs present, power [W], hottest GPU [°C]."""
        inv = self.twin.setup.inventory
        present = frame.present[0]
        power = np.where(present, frame.power_w[0], 0.0)
        temp = np.where(present, frame.gpu_temp_c[0], -np.inf)
        n = inv.n_nodes
        node_power = np.bincount(inv.node, weights=power, minlength=n)
        node_present = np.bincount(inv.node, weights=present.astype(float), minlength=n)
        node_temp = np.full(n, -np.inf)
        np.maximum.at(node_temp, inv.node, temp)
        return np.bincount(inv.node, minlength=n), node_present, node_power, node_temp

    def _queue(self, limit: int = 50) -> dict[str, Any]:
        from wattbit.sim.engine import QUEUED, RUNNING, WAITING
        from wattbit.workload.jobs import KIND_NAMES

        eng = self.twin.engine
        jobs, rec = eng.jobs, eng.jobs_rec
        state = rec.state
        names = self.names

        def rows(mask: np.ndarray) -> list[dict[str, Any]]:
            idx = np.flatnonzero(mask)[:limit]
            return [
                {
                    "job_id": int(jobs.job_id[j]),
                    "kind": KIND_NAMES.get(int(jobs.kind[j]), str(int(jobs.kind[j]))),
                    "gpus": int(jobs.gpus[j]),
                    "site": names[int(rec.site[j])] if rec.site[j] >= 0 else None,
                    "remaining_h": clean(rec.remaining_h[j]),
                    "deadline_utc": None
                    if np.isnat(jobs.deadline_utc[j])
                    else str(np.datetime_as_string(jobs.deadline_utc[j], unit="m")) + "Z",
                }
                for j in idx.tolist()
            ]

        queued, running = state == QUEUED, state == RUNNING
        return {
            "available": True,
            "source": "twin",
            "counts": {
                "waiting_to_arrive": int((state == WAITING).sum()),
                "queued": int(queued.sum()),
                "running": int(running.sum()),
                "gpus_running": int(jobs.gpus[running].sum()),
                "gpus_queued": int(jobs.gpus[queued].sum()),
            },
            "queued": rows(queued),
            "running": rows(running),
        }


def run_twin_process(conn: Connection, scenario: Scenario, alert_store_path: Any, speed: float, **twin: Any) -> None:
    """The twin process's main: step at ``speed`` times real time and send each step's views on ``conn``.

    ``twin`` holds ``start``, ``nodes_per_site`` and ``seed`` (see :class:`TwinStepper`).
    """
    parent = os.getppid()
    stepper = None
    try:
        stepper = TwinStepper(scenario, alert_store_path, **twin)
        conn.send(("hello", stepper.info()))
        period_s = stepper.twin.step_s / speed
        next_t = time.monotonic()
        while os.getppid() == parent:
            view = stepper.step()
            if view is None:
                conn.send(("end", None))
                return
            conn.send(("step", view))
            next_t += period_s
            if conn.poll(max(0.0, next_t - time.monotonic())) and conn.recv() == "stop":
                return
    except (BrokenPipeError, EOFError, ConnectionResetError):  # the service is gone
        return
    except Exception:  # the service logs why and keeps serving without the twin
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        if stepper is not None:
            stepper.store.close()
