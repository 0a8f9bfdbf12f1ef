"""slurmrestd, Slurm's REST API, for reads and submits (optional beside the command line).

:class:`SlurmRestClient` talks HTTP to slurmrestd on a Unix socket (``unix:/path.sock``, as ``wattbit ops slurm up
--rest`` starts it) or at ``http://host:port``, with the standard library. Version-aware: it reads the paths the
server offers (``/openapi``) and uses the newest OpenAPI plugin it knows (``v0.0.38`` of Slurm 22.05, tested here; the
``v0.0.39``-``v0.0.41`` shapes of 23.02-24.05 are written from SchedMD's API documentation and not tested against a
real server here). Reads go through the same parsers as ``--json`` (:func:`~wattbit.ops.adapters.slurm.node_from_json`,
:func:`~wattbit.ops.adapters.slurm.job_from_json`); a body with ``errors`` is an error, never an empty state.
Slurm 22.05's REST API has no node updates (drain, resume), so :class:`SlurmCli` keeps those on ``scontrol``.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

from wattbit.ops.adapters.scheduler import (
    CommandFailed,
    JobInfo,
    JobSpec,
    NodeInfo,
    PartitionInfo,
    SchedulerUnavailable,
    UnknownJob,
    expand_hostlist,
)
from wattbit.ops.adapters.slurm import job_from_json, node_from_json

#: OpenAPI plugin versions this client can speak, oldest first.
KNOWN_VERSIONS = ("v0.0.38", "v0.0.39", "v0.0.40", "v0.0.41")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class SlurmRestClient:
    """slurmrestd reads and submits (see the module docstring).

    Parameters
    ----------
    address
        ``unix:/path/to/slurmrestd.sock`` or ``http://host:port``.
    timeout_s
        Time allowed per request.
    token
        A JWT for ``X-SLURM-USER-TOKEN`` where slurmrestd uses ``rest_auth/jwt`` (None for a local socket).
    user
        ``X-SLURM-USER-NAME`` with a token.
    """

    def __init__(self, address: str, timeout_s: float = 10.0, token: str | None = None, user: str | None = None):
        self.address = address
        self.timeout_s = timeout_s
        self.token, self.user = token, user
        self._api: str | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.address.startswith("unix:"):
            return _UnixConnection(self.address.removeprefix("unix:"), self.timeout_s)
        rest = self.address.removeprefix("http://")
        host, _, port = rest.partition(":")
        return http.client.HTTPConnection(host, int(port or 80), timeout=self.timeout_s)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request; the JSON answer, or a :class:`SchedulerError` naming the request."""
        what = f"{method} {self.address}{path}"
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["X-SLURM-USER-TOKEN"] = self.token
            if self.user:
                headers["X-SLURM-USER-NAME"] = self.user
        conn = self._connection()
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise SchedulerUnavailable(f"slurmrestd unreachable or slow: {exc}", what) from None
        finally:
            conn.close()
        try:
            out = json.loads(raw) if raw else {}
        except ValueError:
            raise SchedulerUnavailable(f"HTTP {resp.status}, not JSON: {raw[:200]!r}", what) from None
        errors = [e for e in out.get("errors", []) or [] if e.get("error_code", e.get("error_number", 1)) != 0]
        if resp.status == 404 and "/job/" in path:
            raise UnknownJob(f"HTTP 404: {errors or raw[:200]!r}", what)
        if errors or resp.status >= 400:
            text = "; ".join(str(e.get("error") or e.get("description") or e) for e in errors) or f"HTTP {resp.status}"
            if "invalid job id" in text.lower():
                raise UnknownJob(text, what)
            if resp.status >= 500 or "slurm_load" in text.lower() or "unable to contact" in text.lower():
                raise SchedulerUnavailable(text, what)
            raise CommandFailed(text, what)
        return dict(out)

    @property
    def api(self) -> str:
        """The newest OpenAPI plugin version both sides know (read once from ``/openapi``)."""
        if self._api is None:
            paths = self.request("GET", "/openapi").get("paths", {})
            offered = [v for v in KNOWN_VERSIONS if f"/slurm/{v}/ping" in paths]
            if not offered:
                raise CommandFailed(f"slurmrestd offers none of {KNOWN_VERSIONS}", f"GET {self.address}/openapi")
            self._api = offered[-1]
        return self._api

    def ping(self) -> bool:
        """Whether slurmctld answers slurmrestd."""
        try:
            pings = self.request("GET", f"/slurm/{self.api}/ping").get("pings", [])
        except SchedulerUnavailable:
            return False
        return any(str(p.get("ping", p.get("pinged", ""))).upper() == "UP" for p in pings)

    def version(self) -> str:
        """Slurm's release as slurmrestd reports it."""
        meta = self.request("GET", f"/slurm/{self.api}/ping").get("meta", {})
        slurm = meta.get("Slurm") or meta.get("slurm") or {}
        return str(slurm.get("release", ""))

    def nodes(self) -> list[NodeInfo]:
        """Every node."""
        return [node_from_json(d) for d in self.request("GET", f"/slurm/{self.api}/nodes").get("nodes", [])]

    def jobs(self) -> list[JobInfo]:
        """Pending, running and recently finished jobs."""
        return [job_from_json(d) for d in self.request("GET", f"/slurm/{self.api}/jobs").get("jobs", [])]

    def partitions(self) -> list[PartitionInfo]:
        """Every partition."""
        out = []
        for p in self.request("GET", f"/slurm/{self.api}/partitions").get("partitions", []):
            nodes = p.get("nodes")
            text = nodes.get("configured", "") if isinstance(nodes, dict) else str(nodes or "")
            state = p.get("state") or (p.get("partition") or {}).get("state") or "UP"
            out.append(PartitionInfo(str(p["name"]), tuple(expand_hostlist(text)), str(state).upper()))
        return out

    def submit(self, spec: JobSpec, cwd: str = "/tmp", path_env: str = "/usr/local/bin:/usr/bin:/bin") -> str:
        """Submit ``spec`` as a batch script; returns the job id."""
        script = f"#!/bin/sh\n{spec.command}\n"
        job: dict[str, Any] = {
            "name": spec.name,
            "partition": spec.partition,
            "nodes": spec.nodes,
            "requeue": spec.requeue,
            "current_working_directory": cwd,
            "comment": spec.comment,
        }
        if self.api == "v0.0.38":
            job["environment"] = {"PATH": path_env}
            if spec.gpus_per_node:
                job["gpus_per_node"] = str(spec.gpus_per_node)
            if spec.begin:
                job["begin_time"] = spec.begin
            if spec.time_limit_s is not None:
                job["time_limit"] = max(1, round(spec.time_limit_s / 60))
            if spec.hold:
                job["hold"] = True
        else:  # v0.0.39 on: environment as a list, numbers as objects, TRES strings
            job["environment"] = [f"PATH={path_env}"]
            if spec.gpus_per_node:
                job["tres_per_node"] = f"gres/gpu:{spec.gpus_per_node}"
            if spec.time_limit_s is not None:
                job["time_limit"] = {"set": True, "number": max(1, round(spec.time_limit_s / 60))}
            if spec.hold:
                job["hold"] = True
            if spec.begin:
                raise CommandFailed(
                    f"begin times as text are not supported by {self.api}; submit with the CLI", "submit"
                )
        if spec.output:
            job["standard_output"] = spec.output
        body = {"script": script, "job": job} if self.api == "v0.0.38" else {"job": {**job, "script": script}}
        out = self.request("POST", f"/slurm/{self.api}/job/submit", body)
        return str(out["job_id"])
