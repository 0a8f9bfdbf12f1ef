"""A real Prometheus: started and stopped by wattbit (``wattbit ops prometheus up/down``), and queried over HTTP.

:func:`prometheus_up` writes ``DIR/prometheus.yml`` (one scrape job over the given targets), starts the
``prometheus`` binary (Debian's package, 2.42) in the background with its data in ``DIR/data`` and its log in
``DIR/prometheus.log``, waits until it is ready and records what it started in ``DIR/prometheus.json`` (pid, command
line, URL). :func:`prometheus_down` stops exactly that process: the pid from the record, checked against the
process's command line, SIGTERM then SIGKILL after a timeout. Nothing is ever stopped by name.

:class:`PrometheusClient` reads the HTTP API (``/api/v1/query``, ``/api/v1/query_range``, ``/-/ready``) with the
standard library; every failure (refused, slow, HTTP error, a body that is not the API's JSON) is a
:class:`PrometheusError` with the URL and the reason.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattbit.errors import WattbitInputError

RECORD = "prometheus.json"


class PrometheusError(RuntimeError):
    """Prometheus could not be reached or answered with an error."""


def scrape_config(targets: list[str], scrape_interval_s: float = 15.0, job: str = "dcgm") -> str:
    """The YAML of a Prometheus configuration scraping ``targets`` (``host:port``) every ``scrape_interval_s``."""
    for t in targets:
        host, sep, port = t.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise WattbitInputError(f"a target is HOST:PORT, got {t!r}", field="target")
    interval = f"{max(int(round(scrape_interval_s * 1000)), 100)}ms"
    listed = ", ".join(f"'{t}'" for t in targets)
    return (
        "# written by wattbit ops prometheus up\n"
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  scrape_timeout: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        f"  - job_name: '{job}'\n"
        "    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: [{listed}]\n"
    )


@dataclass(frozen=True)
class PrometheusProcess:
    """What :func:`prometheus_up` started."""

    pid: int
    url: str
    config: Path
    cmdline: list[str]


def prometheus_up(
    directory: Path,
    targets: list[str],
    *,
    listen: str = "127.0.0.1:9090",
    scrape_interval_s: float = 15.0,
    binary: str = "prometheus",
    ready_timeout_s: float = 30.0,
) -> PrometheusProcess:
    """Start Prometheus in the background scraping ``targets``; returns once it answers ``/-/ready``."""
    exe = shutil.which(binary)
    if exe is None:
        raise WattbitInputError(
            f"{binary!r} not found: install Debian's prometheus (make test does: scripts/install_prometheus.sh)",
            field="binary",
        )
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    record = directory / RECORD
    if record.exists() and _alive(json.loads(record.read_text(encoding="utf-8"))):
        raise WattbitInputError(f"a Prometheus started here is still running ({record}); stop it first", field="dir")
    config = directory / "prometheus.yml"
    config.write_text(scrape_config(targets, scrape_interval_s), encoding="utf-8")
    cmd = [
        exe,
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address={listen}",
        "--storage.tsdb.retention.time=2d",
        "--web.enable-remote-write-receiver",
    ]
    log = open(directory / "prometheus.log", "ab")
    try:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    finally:
        log.close()
    url = f"http://{listen}"
    started = PrometheusProcess(proc.pid, url, config, cmd)
    record.write_text(json.dumps({"pid": proc.pid, "url": url, "cmdline": cmd}, indent=2) + "\n", encoding="utf-8")
    client = PrometheusClient(url, timeout_s=2.0)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            record.unlink(missing_ok=True)
            tail = (directory / "prometheus.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise PrometheusError(f"prometheus exited with status {proc.returncode}; its log ends:\n{tail}")
        if client.ready():
            return started
        time.sleep(0.2)
    prometheus_down(directory)
    raise PrometheusError(f"prometheus did not become ready at {url} within {ready_timeout_s:g} s")


def _alive(rec: dict[str, Any]) -> bool:
    """Whether the recorded process still runs with the recorded command line (not a recycled pid)."""
    pid = int(rec.get("pid", 0))
    if pid <= 0:
        return False
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    if not args:
        return False
    # a reaped child leaves a zombie with no command line; compare the config file argument
    return any(a.startswith("--config.file=") for a in args) and args[1:] == list(rec.get("cmdline", []))[1:]


def prometheus_down(directory: Path, timeout_s: float = 10.0) -> bool:
    """Stop the Prometheus that :func:`prometheus_up` started in ``directory``; False if none was running."""
    record = directory.resolve() / RECORD
    if not record.exists():
        return False
    rec = json.loads(record.read_text(encoding="utf-8"))
    if not _alive(rec):
        record.unlink(missing_ok=True)
        return False
    pid = int(rec["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(rec):
        _reap(pid)
        time.sleep(0.1)
    if _alive(rec):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):  # collect our child's exit status (a no-op when another process started it)
        if _reap(pid):
            break
        time.sleep(0.1)
    record.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> bool:
    """Collect ``pid``'s exit status if it is our child (so that it does not linger as a zombie); True when done or
    when it is not our child."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


class PrometheusClient:
    """A small reader of Prometheus' HTTP API.

    Parameters
    ----------
    url
        Base URL, e.g. ``http://127.0.0.1:9090``.
    timeout_s
        Time allowed per request.
    """

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str, params: dict[str, str] | None = None) -> bytes:
        full = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(full, timeout=self.timeout_s) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()[:500].decode(errors="replace")
            raise PrometheusError(f"{full}: HTTP {exc.code}: {body}") from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise PrometheusError(f"{full}: {getattr(exc, 'reason', exc)}") from exc

    def ready(self) -> bool:
        """Whether ``/-/ready`` answers 200."""
        try:
            self._get("/-/ready")
        except PrometheusError:
            return False
        return True

    def _data(self, path: str, params: dict[str, str]) -> Any:
        raw = self._get(path, params)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise PrometheusError(f"{self.url}{path}: not JSON: {raw[:200]!r}") from exc
        if not isinstance(body, dict) or body.get("status") != "success":
            raise PrometheusError(f"{self.url}{path}: {body.get('error') if isinstance(body, dict) else body!r}")
        return body.get("data", {})

    def query(self, promql: str, at: float | None = None) -> list[tuple[dict[str, str], float, float]]:
        """An instant query: ``(labels, timestamp, value)`` per series (NaN where the value does not parse)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._data("/api/v1/query", params)
        if data.get("resultType") != "vector":
            raise PrometheusError(f"expected a vector from {promql!r}, got {data.get('resultType')!r}")
        return [(r.get("metric", {}), float(r["value"][0]), _float(r["value"][1])) for r in data.get("result", [])]

    def query_range(
        self, promql: str, start: float, end: float, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """A range query: ``(labels, [(timestamp, value), ...])`` per series."""
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
        data = self._data("/api/v1/query_range", params)
        return [
            (r.get("metric", {}), [(float(t), _float(v)) for t, v in r.get("values", [])])
            for r in data.get("result", [])
        ]


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
