"""Job ends from Slurm's accounting (``sacct``), for :meth:`~wattbit.ops.adapters.slurm.SlurmCli.job_ends`.

Two sources, picked by what the cluster has:

- **slurmdbd accounting** (``AccountingStorageType=accounting_storage/slurmdbd``, most production sites):
  ``sacct --allocations --duplicates --parsable2 --state=FAILED,NODE_FAIL --starttime … --endtime now
  --format=JobIDRaw,State,Start,End,NodeList,ExitCode``; ``--duplicates`` keeps every run of a requeued job;
- **the job completion log** (``JobCompType=jobcomp/filetxt`` without slurmdbd, as ``wattbit ops slurm up`` writes):
  the same with ``--completion``. This source ignores ``--state`` and ``--starttime`` (Slurm 22.05, checked), so the
  rows are filtered here whatever the source.

The parsable text is used on every version: ``sacct --json`` (21.08 on) needs slurmdbd and is refused with the job
completion log ("slurm not configured with slurmdbd"), while ``--parsable2`` with a header line has the same columns
from 17.11 to 24.x. Times are asked in ISO form (``SLURM_TIME_FORMAT=standard``). Output that does not have the
columns asked for, or a row that cannot be read, is a :class:`~wattbit.ops.adapters.scheduler.CommandFailed` naming
the row and the field — never a guess.
"""

from __future__ import annotations

from datetime import datetime

from wattbit.ops.adapters.scheduler import FAILED_END_STATES, CommandFailed, JobEnd, expand_hostlist

#: Columns asked of ``sacct`` (``--format``), in order.
SACCT_FIELDS = ("JobIDRaw", "State", "Start", "End", "NodeList", "ExitCode")
#: What ``sacct`` answers when the cluster keeps no slurmdbd accounting (then the job completion log is read).
NO_ACCOUNTING = "accounting storage is disabled"


def sacct_args(since_s: float, completion: bool) -> list[str]:
    """The ``sacct`` command line for failed runs since ``since_s`` (Unix s; local time, as Slurm reads it)."""
    since = datetime.fromtimestamp(since_s).strftime("%Y-%m-%dT%H:%M:%S")
    args = ["sacct", "--allocations", "--duplicates", "--parsable2", "--state=FAILED,NODE_FAIL"]
    args += [f"--starttime={since}", "--endtime=now", "--format=" + ",".join(SACCT_FIELDS)]
    return args + (["--completion"] if completion else [])


def _time_s(text: str, row: int, field: str, command: str) -> float | None:
    if text in ("", "Unknown", "None", "N/A"):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise CommandFailed(
            f"sacct row {row}: {field} {text!r} is not a time (expected YYYY-MM-DDTHH:MM:SS; "
            "is SLURM_TIME_FORMAT set to something else?)",
            command,
        ) from None


def parse_sacct(text: str, since_s: float, command: str = "sacct") -> list[JobEnd]:
    """Failed runs (:data:`~wattbit.ops.adapters.scheduler.FAILED_END_STATES`) ending at or after ``since_s`` from
    ``sacct --parsable2`` output with its header line, oldest first.

    Raises
    ------
    CommandFailed
        The header lacks a column of :data:`SACCT_FIELDS`, or a row has the wrong number of fields or a time that
        cannot be read (the message names the row, the field and the text).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = lines[0].split("|")
    missing = [f for f in SACCT_FIELDS if f not in header]
    if missing:
        raise CommandFailed(
            f"sacct output has no {', '.join(missing)} column (header {lines[0][:120]!r}; expected "
            f"{'|'.join(SACCT_FIELDS)})",
            command,
        )
    col = {f: header.index(f) for f in SACCT_FIELDS}
    out = []
    for row, line in enumerate(lines[1:], start=2):
        parts = line.split("|")
        if len(parts) != len(header):
            raise CommandFailed(
                f"sacct row {row}: {len(parts)} fields separated by '|', expected {len(header)}: {line[:120]!r}",
                command,
            )
        state = parts[col["State"]].split()[0].upper() if parts[col["State"]].strip() else ""
        if state not in FAILED_END_STATES:
            continue  # the job completion log ignores --state
        start = _time_s(parts[col["Start"]], row, "Start", command)
        end = _time_s(parts[col["End"]], row, "End", command)
        nodes = parts[col["NodeList"]].strip()
        if start is None or end is None or end < since_s or not nodes or nodes == "None assigned":
            continue  # never ran, still running, or before the window
        out.append(
            JobEnd(
                job_id=parts[col["JobIDRaw"]].strip(),
                nodes=tuple(expand_hostlist(nodes)),
                start_s=start,
                end_s=end,
                state=state,
                cause=f"ExitCode={parts[col['ExitCode']].strip()}",
            )
        )
    return sorted(out, key=lambda e: e.end_s)
