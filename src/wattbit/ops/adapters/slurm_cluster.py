"""A real Slurm cluster of several nodes on one machine, for the twin: ``wattbit ops slurm up`` and ``down``.

:func:`slurm_config` writes ``slurm.conf`` and ``gres.conf`` for a scenario's sites: one partition per site, node
names equal to the telemetry's ``Hostname`` labels (``fukushima-n0001``, :func:`~wattbit.ops.telemetry.inventory.
node_name`), each node with its site GPU's count per node as GRES ``gpu`` (empty device files, ``AutoDetect=off``:
Slurm 22.05 drops GPUs that have no ``File``). :func:`slurm_up` starts ``slurmctld -D -c`` and one ``slurmd -D -N
NAME`` per node in the foreground of processes of their own (so the pid recorded is the daemon's), all on 127.0.0.1 at
ports it picks, with ``AuthType=auth/none`` (no munge: loopback only, a test cluster), and optionally ``slurmrestd``
on a Unix socket. It waits until every node answers and records each pid with its command line in
``DIR/slurm.json``. :func:`slurm_down` cancels the cluster's jobs, then stops exactly those pids (each checked
against its recorded start time, SIGTERM then SIGKILL), and finally any job step daemon (``slurmstepd``) the
cluster's slurmd left behind, recognised by its working folder inside ``DIR``. Nothing is ever stopped by name.

The recipe follows ``../shared/design/ECOSYSTEM.md`` (verified with Debian 12's Slurm 22.05).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattbit.errors import WattbitInputError
from wattbit.ops.adapters.scheduler import SchedulerError
from wattbit.ops.adapters.slurm import SlurmCli
from wattbit.ops.telemetry.inventory import node_name
from wattbit.scenario import Scenario

RECORD = "slurm.json"
#: Longest path of a Unix socket (``sun_path`` is 108 bytes with its terminator; kept a little shorter).
MAX_SOCKET_PATH = 100


class SlurmClusterError(RuntimeError):
    """The cluster could not be started."""


@dataclass(frozen=True)
class ClusterLayout:
    """Sites (partitions) and their nodes, with GPUs per node of each site."""

    partitions: dict[str, list[str]]
    gpus_per_node: dict[str, int]

    @property
    def nodes(self) -> list[str]:
        """Every node, site after site."""
        return [n for names in self.partitions.values() for n in names]

    def site_of(self, node: str) -> str:
        """The partition (site) of ``node``."""
        for site, names in self.partitions.items():
            if node in names:
                return site
        raise KeyError(node)


def cluster_layout(scenario: Scenario, nodes_per_site: int) -> ClusterLayout:
    """The partitions and node names of ``scenario`` at ``nodes_per_site`` nodes per site (the twin's names)."""
    from wattbit.physics.gpu import get_gpu

    if nodes_per_site < 1:
        raise WattbitInputError(f"nodes per site must be >= 1, got {nodes_per_site}", field="nodes_per_site")
    parts, per_node = {}, {}
    for site in scenario.sites:
        parts[site.name] = [node_name(site.name, k) for k in range(nodes_per_site)]
        per_node[site.name] = get_gpu(site.it.gpu_model).gpus_per_node
    return ClusterLayout(parts, per_node)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def slurm_config(
    layout: ClusterLayout, directory: Path, ctld_port: int, node_ports: dict[str, int], cluster: str = "wattbit"
) -> tuple[str, str]:
    """The text of ``slurm.conf`` and ``gres.conf`` for ``layout`` with state, spool, logs and devices in ``directory``.

    Parameters
    ----------
    layout
        Partitions (sites) and node names.
    directory
        Absolute folder of the cluster's files.
    ctld_port, node_ports
        slurmctld's port and each slurmd's.
    cluster
        ``ClusterName``.
    """
    d = directory
    lines = [
        "# written by wattbit ops slurm up: a test cluster on loopback (auth/none: never expose it)",
        f"ClusterName={cluster}",
        "SlurmctldHost=localhost(127.0.0.1)",
        f"SlurmctldPort={ctld_port}",
        "AuthType=auth/none",
        "CredType=cred/none",
        "SlurmUser=root",
        "SlurmdUser=root",
        "ProctrackType=proctrack/pgid",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "SchedulerType=sched/backfill",
        "SchedulerParameters=sched_interval=1,bf_interval=1",
        f"StateSaveLocation={d / 'state'}",
        f"SlurmdSpoolDir={d / 'spool' / '%n'}",
        f"SlurmctldPidFile={d / 'slurmctld.pid'}",
        f"SlurmdPidFile={d / 'slurmd-%n.pid'}",
        f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={d / 'log' / 'slurmd-%n.log'}",
        "SlurmdParameters=config_overrides",
        "GresTypes=gpu",
        "JobRequeue=1",
        "ReturnToService=2",
        "KillWait=2",
        "MessageTimeout=10",
        "MpiDefault=none",
        "JobCompType=jobcomp/filetxt",  # job ends for sacct -c (the black-hole rule reads them)
        f"JobCompLoc={d / 'jobcomp.log'}",
        "AccountingStorageType=accounting_storage/none",
    ]
    for site, names in layout.partitions.items():
        g = layout.gpus_per_node[site]
        for n in names:
            lines.append(
                f"NodeName={n} NodeHostname=localhost NodeAddr=127.0.0.1 Port={node_ports[n]} CPUs=8 "
                f"RealMemory=1000 Gres=gpu:{g}"
            )
    first = True
    for site, names in layout.partitions.items():
        default = "YES" if first else "NO"
        lines.append(f"PartitionName={site} Nodes={','.join(names)} Default={default} MaxTime=INFINITE State=UP")
        first = False
    gres = ["# written by wattbit ops slurm up: GPUs as GRES backed by empty device files", "AutoDetect=off"]
    for site, names in layout.partitions.items():
        g = layout.gpus_per_node[site]
        for n in names:
            gres.append(f"NodeName={n} Name=gpu File={d / 'dev' / n}/nvidia[0-{g - 1}]")
    return "\n".join(lines) + "\n", "\n".join(gres) + "\n"


@dataclass(frozen=True)
class SlurmCluster:
    """What :func:`slurm_up` started (also in ``DIR/slurm.json``)."""

    directory: Path
    conf: Path
    layout: ClusterLayout
    ctld_port: int
    pids: dict[str, int]
    rest_socket: Path | None = None

    def cli(self, timeout_s: float = 10.0) -> SlurmCli:
        """A :class:`SlurmCli` for this cluster."""
        return SlurmCli(self.conf, timeout_s=timeout_s, workdir=self.directory / "jobs")


def _spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
    finally:
        log.close()


def slurm_up(
    directory: Path,
    scenario: Scenario,
    nodes_per_site: int = 2,
    *,
    rest: bool = False,
    cluster: str = "wattbit",
    ready_timeout_s: float = 60.0,
) -> SlurmCluster:
    """Write the configuration and start slurmctld and one slurmd per node (and slurmrestd with ``rest``).

    Returns once every node is up (``sinfo``: no node unknown or not responding). Raises
    :class:`WattbitInputError` when the Slurm daemons are not installed or a cluster started in ``directory`` still
    runs, and :class:`SlurmClusterError` (after stopping what it started) when the cluster does not come up.
    """
    missing = [b for b in ("slurmctld", "slurmd", "sinfo", "scontrol") if shutil.which(b) is None]
    if missing:
        raise WattbitInputError(
            f"{', '.join(missing)} not found: install Debian's slurmctld, slurmd and slurm-client "
            "(make test-deps does: scripts/install_slurm.sh)",
            field="slurm",
        )
    directory = directory.resolve()
    record = directory / RECORD
    if record.exists() and any(_alive(p) for p in json.loads(record.read_text(encoding="utf-8"))["processes"]):
        raise WattbitInputError(f"a cluster started here still runs ({record}); stop it first", field="dir")
    layout = cluster_layout(scenario, nodes_per_site)
    longest = max(len(str(directory / "spool" / n / f"{n}_{n}.0.socket")) for n in layout.nodes)
    if longest > MAX_SOCKET_PATH:
        raise WattbitInputError(
            f"folder {directory} is too deep: slurmd's step sockets would need {longest} characters, Unix sockets "
            f"allow {MAX_SOCKET_PATH}; use a shorter folder (e.g. under /tmp)",
            field="dir",
        )
    for sub in ("state", "log", "jobs"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    for site, names in layout.partitions.items():
        for n in names:
            dev = directory / "dev" / n
            dev.mkdir(parents=True, exist_ok=True)
            for i in range(layout.gpus_per_node[site]):
                (dev / f"nvidia{i}").touch()
            (directory / "spool" / n).mkdir(parents=True, exist_ok=True)
    ctld_port = free_port()
    node_ports = {n: free_port() for n in layout.nodes}
    conf_text, gres_text = slurm_config(layout, directory, ctld_port, node_ports, cluster)
    conf = directory / "slurm.conf"
    conf.write_text(conf_text, encoding="utf-8")
    (directory / "gres.conf").write_text(gres_text, encoding="utf-8")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    processes: list[dict[str, Any]] = []

    def save() -> None:
        rec = {
            "conf": str(conf),
            "ctld_port": ctld_port,
            "partitions": layout.partitions,
            "gpus_per_node": layout.gpus_per_node,
            "processes": processes,
            "rest_socket": str(directory / "slurmrestd.sock") if rest else None,
        }
        record.write_text(json.dumps(rec, indent=2) + "\n", encoding="utf-8")

    def start(role: str, cmd: list[str], extra_env: dict[str, str] | None = None) -> None:
        proc = _spawn(cmd, directory / "log" / f"{role}.out", {**env, **(extra_env or {})})
        processes.append({"role": role, "pid": proc.pid, "cmdline": cmd, "start_ticks": _start_ticks(proc.pid)})
        save()

    start("slurmctld", [str(shutil.which("slurmctld")), "-D", "-c", "-f", str(conf)])
    cli = SlurmCli(conf, timeout_s=5.0)
    try:
        _wait(lambda: cli.ping(), ready_timeout_s, "slurmctld to answer", processes, directory)
        slurmd = str(shutil.which("slurmd"))
        for n in layout.nodes:
            start(f"slurmd-{n}", [slurmd, "-D", "-N", n, "-f", str(conf)])
        _wait(lambda: _all_up(cli, layout.nodes), ready_timeout_s, "every slurmd to register", processes, directory)
        if rest:
            exe = shutil.which("slurmrestd")
            if exe is None:
                raise WattbitInputError("slurmrestd not found (scripts/install_slurm.sh installs it)", field="rest")
            sock = directory / "slurmrestd.sock"
            sock.unlink(missing_ok=True)
            start(
                "slurmrestd",
                [exe, "-a", "rest_auth/local", "-s", "openapi/v0.0.38", f"unix:{sock}"],
                {"SLURMRESTD_SECURITY": "disable_user_check"},
            )
            _wait(sock.exists, ready_timeout_s, "slurmrestd's socket", processes, directory)
    except BaseException:
        slurm_down(directory)
        raise
    pids = {p["role"]: int(p["pid"]) for p in processes}
    return SlurmCluster(directory, conf, layout, ctld_port, pids, (directory / "slurmrestd.sock") if rest else None)


def _all_up(cli: SlurmCli, names: list[str]) -> bool:
    try:
        nodes = {n.name: n for n in cli.nodes()}
    except SchedulerError:
        return False
    return all(n in nodes and nodes[n].state != "UNKNOWN" and not nodes[n].down for n in names)


def _wait(check: Any, timeout_s: float, what: str, processes: list[dict[str, Any]], directory: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = [p for p in processes if not _alive(p)]
        if dead:
            log = directory / "log" / f"{dead[0]['role']}.out"
            tail = log.read_text(encoding="utf-8", errors="replace")[-1500:] if log.exists() else ""
            raise SlurmClusterError(f"{dead[0]['role']} exited while waiting for {what}; its output ends:\n{tail}")
        if check():
            return
        time.sleep(0.2)
    raise SlurmClusterError(f"timed out after {timeout_s:g} s waiting for {what} (logs in {directory / 'log'})")


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _start_ticks(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22); None if gone or a zombie.

    Used with the pid to recognise a process: a pid reused later has another start time. (The command line is
    not used: ``/proc/PID/cmdline`` reads empty for a moment while a daemon forks.)
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _alive(rec: dict[str, Any]) -> bool:
    """Whether the recorded process still runs: same pid and start time (not a recycled pid, not a zombie)."""
    ticks = _start_ticks(int(rec.get("pid", 0)))
    return ticks is not None and ticks == rec.get("start_ticks")


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _stop(rec: dict[str, Any], timeout_s: float) -> bool:
    """SIGTERM the recorded process if it is still the one recorded, SIGKILL after ``timeout_s``; True if it ran."""
    if not _alive(rec):
        return False
    pid = int(rec["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(rec):
        _reap(pid)
        time.sleep(0.05)
    if _alive(rec):
        os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            _reap(pid)
            if not _alive(rec):
                break
            time.sleep(0.05)
    return True


def leftover_steps(directory: Path) -> list[int]:
    """Pids of ``slurmstepd`` processes whose working folder is inside ``directory`` (the cluster's job steps)."""
    directory = directory.resolve()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        args = _cmdline(int(entry.name))
        if not args or not args[0].startswith("slurmstepd"):
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == directory or directory in cwd.parents:
            out.append(int(entry.name))
    return out


def slurm_down(directory: Path, timeout_s: float = 15.0) -> bool:
    """Stop the cluster :func:`slurm_up` started in ``directory``; False if nothing of it was running.

    Jobs are cancelled first (so that their step daemons end with them), then slurmrestd, every slurmd and slurmctld
    are stopped by their recorded pids; step daemons left behind (working folder inside ``directory``) are stopped
    last, by pid.
    """
    directory = directory.resolve()
    record = directory / RECORD
    if not record.exists():
        return False
    rec = json.loads(record.read_text(encoding="utf-8"))
    processes = rec.get("processes", [])
    ctld = [p for p in processes if p["role"] == "slurmctld"]
    if ctld and _alive(ctld[0]):
        _cancel_all(SlurmCli(rec["conf"], timeout_s=5.0), timeout_s)
    ran = False
    order = [p for p in processes if p["role"] == "slurmrestd"]
    order += [p for p in processes if p["role"].startswith("slurmd-")] + ctld
    for p in order:
        ran |= _stop(p, timeout_s)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        steps = leftover_steps(directory)
        if not steps:
            break
        for pid in steps:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    record.unlink(missing_ok=True)
    return ran


def _cancel_all(cli: SlurmCli, timeout_s: float) -> None:
    try:
        ids = [j.job_id for j in cli.jobs() if j.state not in ("COMPLETED", "CANCELLED", "FAILED", "TIMEOUT")]
        for job_id in ids:
            try:
                cli.cancel(job_id)
            except SchedulerError:
                pass
        deadline = time.monotonic() + timeout_s
        while ids and time.monotonic() < deadline:
            active = [j for j in cli.jobs() if j.state in ("RUNNING", "COMPLETING", "CONFIGURING", "PENDING")]
            if not active:
                break
            time.sleep(0.2)
    except SchedulerError:
        pass


def load_cluster(directory: Path) -> SlurmCluster:
    """The cluster recorded in ``directory`` (by :func:`slurm_up`)."""
    record = directory.resolve() / RECORD
    if not record.exists():
        raise WattbitInputError(
            f"no cluster recorded in {directory} (start one with wattbit ops slurm up)", field="dir"
        )
    rec = json.loads(record.read_text(encoding="utf-8"))
    layout = ClusterLayout({k: list(v) for k, v in rec["partitions"].items()}, dict(rec["gpus_per_node"]))
    pids = {p["role"]: int(p["pid"]) for p in rec["processes"]}
    sock = Path(rec["rest_socket"]) if rec.get("rest_socket") else None
    return SlurmCluster(directory.resolve(), Path(rec["conf"]), layout, int(rec["ctld_port"]), pids, sock)
