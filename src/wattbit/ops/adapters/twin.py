"""The twin as a live site: the engine stepped against the wall clock, its telemetry served over HTTP.

:class:`LiveTwin` advances the engine one step at a time under a policy (``observe()``/``advance()``), and after each
step computes the GPUs' telemetry (:mod:`wattbit.ops.telemetry.model`) and the sites' (:mod:`wattbit.ops.telemetry.
site`). :func:`serve` paces it at ``speed`` times real time (a 15-minute step every 0.5 s at 1,800x) and serves:

- ``GET /metrics`` — every GPU in dcgm-exporter's format, then the per-site metrics and the twin's clock;
- ``GET /healthz`` — ``ok``; ``GET /status`` — JSON (simulated time, step, GPUs, faults);
- ``GET /labels.csv`` — the ground truth of the run (fault id, node, GPU, cause, precursor start, failure time);
- ``POST /inject`` — JSON ``{"node": ..., "cause": ..., "lead_h": ..., "gpu": ..., "repair_h": ...}``: a fault whose
  precursor starts now and whose failure comes ``lead_h`` simulated hours later (the engine takes its GPUs out).

The server binds where it is told (loopback by default) and holds no state but the run's.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.ops.telemetry.build import TelemetrySetup, build_telemetry, site_inputs
from wattbit.ops.telemetry.exposition import DcgmRenderer, prom_float, render_sites
from wattbit.ops.telemetry.model import GpuFrame
from wattbit.ops.telemetry.signatures import SIGNATURE_NAMES, FaultPlan
from wattbit.ops.telemetry.site import SiteSnapshot, site_snapshot
from wattbit.scenario import Scenario, with_period
from wattbit.sim.faults import CAUSE_CODES, SCOPE_NAMES, FailureEvents, FailureRates

log = logging.getLogger(__name__)


class LiveTwin:
    """The engine and its telemetry, one step at a time.

    Parameters
    ----------
    scenario
        What to run (its ``[ops]`` section sets the telemetry).
    seed
        Seed of failures, telemetry noise and signatures (default: the scenario's workload seed).
    nodes_per_site
        Scale every site to this many nodes (``None``: the scenario's size).
    policy
        Control policy name (``baseline``, ``greedy``, ``mpc``).
    start
        Start the run at this date or time (ISO, scenario time zone) instead of the period's start.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        nodes_per_site: int | None = None,
        policy: str = "baseline",
        start: str | None = None,
    ) -> None:
        from wattbit.control import make_policy
        from wattbit.sim.run import make_engine

        sc = with_period(scenario, start, None) if start else scenario
        self.scenario = sc
        self.setup: TelemetrySetup = build_telemetry(sc, seed, nodes_per_site)
        self.engine = make_engine(self.setup.inputs)
        self.policy = make_policy(policy, self.setup.inputs)
        fleet = self.setup.fleet
        self.step_s = fleet.step_h * 3600.0
        self.renderer = DcgmRenderer(
            self.setup.inventory, sc.ops.hostname_label, sc.ops.driver_version, xid_window_ms=int(self.step_s * 1000)
        )
        self.areas = tuple(s.grid_area for s in sc.sites)
        self.period_start = fleet.index[0]
        self.lock = threading.Lock()
        n = len(fleet.names)
        self.facility_energy_j = np.zeros(n)
        self.grid_energy_j = np.zeros(n)
        self.frame: GpuFrame | None = None
        self.sites: SiteSnapshot | None = None
        self.labels_path: Path | None = None

    # --------------------------------------------------------------------------------------------- stepping
    @property
    def done(self) -> bool:
        """Whether the period is over."""
        return self.engine.done

    @property
    def sim_time(self) -> pd.Timestamp:
        """Start of the step the telemetry shows (UTC)."""
        k = max(self.engine.step - 1, 0)
        return self.period_start + pd.Timedelta(seconds=k * self.step_s)

    def step(self) -> bool:
        """Advance the engine through one step and compute its telemetry; False when the period is over."""
        if self.engine.done:
            return False
        eng = self.engine
        k = eng.step
        eng.advance(self.policy.decide(eng.observe()))
        frame = self.setup.model.block(k, site_inputs(eng.rec, self.setup.fleet, k, k + 1))
        sites = site_snapshot(self.setup.fleet, eng.rec, k, eng.soc_mwh, frame.flow_fraction[0])
        with self.lock:
            self.frame, self.sites = frame, sites
            self.facility_energy_j += sites.facility_w * self.step_s
            self.grid_energy_j += sites.grid_w * self.step_s
        return True

    # ------------------------------------------------------------------------------------------- exposition
    def metrics(self) -> Iterator[bytes]:
        """Chunks of one scrape: the GPUs (dcgm-exporter's format), the sites, the twin's clock."""
        with self.lock:
            frame, sites = self.frame, self.sites
            energy = (self.facility_energy_j.copy(), self.grid_energy_j.copy())
            step = self.engine.step
        if frame is None or sites is None:
            yield b""
            return
        yield from self.renderer.iter_render(frame, 0)
        values: dict[str, Any] = {k: getattr(sites, k) for k in sites.__dataclass_fields__ if k != "gpus"}
        values["facility_energy_j"], values["grid_energy_j"] = energy
        yield render_sites(values, sites.gpus, self.setup.fleet.names, self.areas)
        clock = self.sim_time.timestamp()
        yield (
            "# HELP wattbit_twin_simulated_time_seconds Start of the simulated step shown (Unix time).\n"
            "# TYPE wattbit_twin_simulated_time_seconds gauge\n"
            f"wattbit_twin_simulated_time_seconds {prom_float(clock)}\n"
            "# HELP wattbit_twin_steps_total Steps the twin has simulated.\n"
            "# TYPE wattbit_twin_steps_total counter\n"
            f"wattbit_twin_steps_total {step}\n"
        ).encode()

    def status(self) -> dict[str, Any]:
        """What the twin is doing, as JSON-ready values."""
        return {
            "scenario": self.scenario.name,
            "simulated_time_utc": self.sim_time.isoformat(),
            "step": self.engine.step,
            "steps": self.setup.fleet.steps,
            "gpus": self.setup.inventory.n_gpus,
            "nodes": self.setup.inventory.n_nodes,
            "faults": len(self.setup.plan),
        }

    def write_labels(self, path: Path) -> None:
        """Write the run's ground truth to ``path`` (CSV) now and after every injected fault."""
        self.labels_path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.setup.labels_frame().to_csv(path, index=False)

    # -------------------------------------------------------------------------------------------- injection
    def inject(
        self,
        node: str,
        cause: str,
        lead_h: float | None = None,
        gpu: int = 0,
        repair_h: float = 4.0,
        signature: str | None = None,
    ) -> dict[str, Any]:
        """A fault on ``node`` (GPU ``gpu``) whose precursor starts now and whose failure follows ``lead_h`` later.

        ``signature`` picks one of the cause's signatures (default: the first of its mix with a precursor, else the
        first); ``lead_h`` defaults to the upper end of the signature's range. The engine takes the GPUs out at
        the failure. Returns the fault's label row.
        """
        inv, settings = self.setup.inventory, self.setup.settings
        hosts = inv.hostnames.tolist()
        if node not in hosts:
            raise WattbitInputError(f"unknown node {node!r} (nodes are named like {hosts[0]!r})", field="node")
        if cause not in CAUSE_CODES:
            raise WattbitInputError(f"unknown cause {cause!r}; expected one of {', '.join(CAUSE_CODES)}", field="cause")
        mix = settings.cause_mix[cause]
        if signature is None:
            with_pre = [s for s in mix if settings.signatures[s].has_precursor]
            signature = (with_pre or list(mix))[0]
        if signature not in settings.signatures:
            raise WattbitInputError(f"unknown signature {signature!r}", field="signature")
        sig = settings.signatures[signature]
        lead = sig.lead_h[1] if lead_h is None else float(lead_h)
        if not (0 <= lead < 1e4 and 0 <= repair_h < 1e4 and math.isfinite(lead) and math.isfinite(repair_h)):
            raise WattbitInputError("lead_h and repair_h must be finite hours >= 0", field="lead_h")
        node_idx = hosts.index(node)
        site = int(inv.node_site[node_idx])
        per_node = inv.models[site].gpus_per_node
        if not 0 <= gpu < per_node:
            raise WattbitInputError(f"gpu must be 0..{per_node - 1}, got {gpu}", field="gpu")
        with self.lock:
            now_s = self.engine.step * self.step_s
            failure_s = now_s + lead * 3600.0
            local_first = (node_idx - int(np.flatnonzero(inv.node_site == site)[0])) * per_node
            scope = self._scope(cause, sig.scope)
            count = 1 if scope in ("gpu", "software") else per_node
            first = local_first + (gpu if count == 1 else 0)
            self._inject_engine(site, cause, scope, first, count, failure_s, repair_h)
            plan = self._append_plan(site, first, count, cause, signature, failure_s, lead, repair_h)
            self.setup.plan = plan
            self.setup.model.faults = plan
        row = self.setup.labels_frame().iloc[-1].to_dict()
        if self.labels_path is not None:
            self.write_labels(self.labels_path)
        return {str(k): (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}

    @staticmethod
    def _scope(cause: str, sig_scope: str) -> str:
        rates = FailureRates()
        return rates.cause_scopes.get(cause, "site" if sig_scope == "block" else sig_scope)

    def _inject_engine(
        self, site: int, cause: str, scope: str, first: int, count: int, failure_s: float, repair_h: float
    ) -> None:
        eng = self.engine
        step = int(failure_s // self.step_s)
        if step >= self.setup.fleet.steps:
            return  # the failure falls after the period: the precursor only
        end = failure_s + repair_h * 3600.0
        repair_steps = 0 if repair_h <= 0 else int(math.ceil(end / self.step_s) - step)
        start = eng.events.period_start_utc
        one = FailureEvents(
            time_utc=np.array([start + np.timedelta64(int(failure_s * 1e9), "ns")]),
            step=np.array([step], dtype=np.int64),
            site=np.array([site], dtype=np.int16),
            scope=np.array([SCOPE_NAMES.index(scope)], dtype=np.int8),
            cause=np.array([CAUSE_CODES[cause]], dtype=np.int8),
            gpus_affected=np.array([count], dtype=np.int32),
            first_gpu=np.array([first], dtype=np.int32),
            repair_h=np.array([repair_h]),
            repair_steps=np.array([repair_steps], dtype=np.int32),
            derate_fraction=np.array([0.0]),
            period_start_utc=start,
            step_s=eng.events.step_s,
            n_steps=eng.events.n_steps,
        )
        eng.add_failures(one)

    def _append_plan(
        self,
        site: int,
        first: int,
        count: int,
        cause: str,
        signature: str,
        failure_s: float,
        lead_h: float,
        repair_h: float,
    ) -> FaultPlan:
        plan, inv = self.setup.plan, self.setup.inventory
        new = {
            "fault_id": [int(plan.fault_id.max(initial=-1)) + 1],
            "site": [site],
            "first_gpu": [int(inv.site_offsets[site]) + first],
            "n_gpus": [count],
            "cause": [CAUSE_CODES[cause]],
            "signature": [SIGNATURE_NAMES.index(signature)],
            "precursor_start_s": [failure_s - lead_h * 3600.0],
            "failure_s": [failure_s],
            "repair_s": [repair_h * 3600.0],
            "strength": [1.0],
            "draw": [0.5],
        }
        arrays: dict[str, Any] = {
            k: np.concatenate([getattr(plan, k), np.asarray(v, dtype=getattr(plan, k).dtype)]) for k, v in new.items()
        }
        return replace(plan, **arrays)


# ------------------------------------------------------------------------------------------------------- HTTP
class _Handler(BaseHTTPRequestHandler):
    twin: LiveTwin
    server_version = "wattbit-twin"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for chunk in self.twin.metrics():
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                log.info("scraper went away during /metrics")
        elif path == "/healthz":
            self._send(200, b"ok\n", "text/plain")
        elif path == "/status":
            self._send(200, json.dumps(self.twin.status()).encode(), "application/json")
        elif path == "/labels.csv":
            self._send(200, self.twin.setup.labels_frame().to_csv(index=False).encode(), "text/csv")
        else:
            self._send(404, b"not found: try /metrics, /status, /labels.csv, /healthz\n", "text/plain")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/inject":
            self._send(404, b"not found\n", "text/plain")
            return
        try:
            length = min(int(self.headers.get("Content-Length", "0")), 65_536)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise WattbitInputError("the body must be a JSON object")
            allowed = {"node", "cause", "lead_h", "gpu", "repair_h", "signature"}
            unknown = set(body) - allowed
            if unknown or "node" not in body or "cause" not in body:
                raise WattbitInputError(
                    f"give node and cause (and optionally lead_h, gpu, repair_h, signature); "
                    f"unknown keys: {sorted(unknown)}"
                )
            row = self.twin.inject(**body)
            self._send(200, json.dumps(row, default=str).encode(), "application/json")
        except (WattbitInputError, ValueError, TypeError) as exc:
            self._send(400, json.dumps({"error": str(exc)}).encode(), "application/json")


def make_server(twin: LiveTwin, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``twin`` bound to ``host:port`` (port 0: a free one; see ``server.server_address``)."""
    handler = type("TwinHandler", (_Handler,), {"twin": twin})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def run_clock(twin: LiveTwin, speed: float, stop: threading.Event, max_steps: int | None = None) -> None:
    """Step ``twin`` every ``step_s / speed`` wall seconds until ``stop`` is set, the period ends or ``max_steps``."""
    interval = twin.step_s / speed
    done = 0
    next_at = time.monotonic()
    while not stop.is_set() and (max_steps is None or done < max_steps):
        if not twin.step():
            log.info("the period is over at %s; serving the last step", twin.sim_time)
            break
        done += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
