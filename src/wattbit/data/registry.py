"""Which reader fits a file, and reading by reader name.

Every reader module exposes ``SNIFFERS`` (reader name -> predicate on the first characters of the decoded text) and
``READERS`` (reader name -> function taking a path). :func:`detect_reader` tries the sniffers in turn;
:func:`inspect_file` reads a file with the reader that fits and returns its metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from wattbit.data import area_supply_demand, electricitymaps, epw, jepx, jma, wattbit_signals, workload_traces
from wattbit.data._base import SourceMeta, decode_text, read_bytes
from wattbit.data.cache import cached_read
from wattbit.errors import DataFormatError
from wattbit.scenario import Scenario

_MODULES = (jma, jepx, area_supply_demand, electricitymaps, epw, workload_traces, wattbit_signals)

SNIFFERS: dict[str, Callable[[str], bool]] = {}
READERS: dict[str, Callable[..., tuple[pd.DataFrame, SourceMeta]]] = {}
for _module in _MODULES:
    SNIFFERS.update(_module.SNIFFERS)
    READERS.update(_module.READERS)

HEAD_CHARS = 4000


def head_text(path: Path) -> str:
    """The first characters of a file, decoded as UTF-8 or Shift-JIS (cp932), gzip undone."""
    raw = read_bytes(path)[: HEAD_CHARS * 2]
    for enc in ("utf-8", "cp932"):
        try:
            return raw.decode(enc)[:HEAD_CHARS].removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            # a multi-byte character may be cut at the end of the sample
            if exc.start >= len(raw) - 4:
                return raw[: exc.start].decode(enc)[:HEAD_CHARS].removeprefix("\ufeff")
    text, _ = decode_text(raw, path, ("utf-8", "cp932"))
    return text


def detect_reader(path: str | Path) -> str:
    """Name of the reader whose format ``path`` has.

    Raises
    ------
    DataFormatError
        If no reader recognises the file; the message lists the formats wattbit reads.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DataFormatError("folder is empty (expected data files in it)", path=p)
        return detect_reader(files[0])
    head = head_text(p)
    for name, sniff in SNIFFERS.items():
        if sniff(head):
            return name
    raise DataFormatError(
        "no wattbit reader recognises this file; expected one of the formats read: " + ", ".join(sorted(READERS)),
        path=p,
    )


def read_with(reader: str, path: Any, **kwargs: Any) -> tuple[pd.DataFrame, SourceMeta]:
    """Read ``path`` with the reader called ``reader``."""
    if reader not in READERS:
        raise DataFormatError(f"unknown reader {reader!r}; expected one of {sorted(READERS)}")
    return READERS[reader](path, **kwargs)


def inspect_file(path: str | Path) -> tuple[pd.DataFrame, SourceMeta]:
    """Detect the format of ``path`` and read it; returns the frame and its metadata."""
    return read_with(detect_reader(path), path)


def builtin_trace_path(ref: str) -> Path:
    """File of a built-in workload trace, ``"japan-2022:alibaba_gpu_pods.csv.gz"``."""
    from importlib import resources

    name, _, file = ref.partition(":")
    path = Path(str(resources.files("wattbit").joinpath(f"demo/{name}/workload/{file}")))
    if not file or not path.is_file():
        raise DataFormatError(f"no built-in trace {ref!r} (expected e.g. 'japan-2022:alibaba_gpu_pods.csv.gz')")
    return path


def read_trace(reader: str, path: Path | None = None, builtin: str | None = None) -> tuple[pd.DataFrame, SourceMeta]:
    """Read a workload trace named in a scenario, from a file or from the built-in demo extract."""
    if (path is None) == (builtin is None):
        raise DataFormatError("give exactly one of path or builtin for a workload trace")
    file = path if path is not None else builtin_trace_path(str(builtin))
    return cached_read(reader, file, {}, lambda: read_with(reader, file))


def read_scenario_trace(scenario: Scenario, reader: str) -> tuple[pd.DataFrame, SourceMeta]:
    """Read the workload trace of ``reader`` that ``scenario`` names in ``[workload] traces`` (the last one listed,
    where several share a reader: the simulation takes one trace per reader).

    A file that is not found gets the hint of :meth:`Scenario.missing_path_hint` (how its path was written and what it
    resolved against) and the scenario field ``workload.traces[i].path``.

    Raises
    ------
    IndexError
        If the scenario names no trace for ``reader`` (callers check first).
    DataFormatError
        If the file is missing or not a valid trace.
    """
    i, trace = [(i, t) for i, t in enumerate(scenario.workload.traces) if t.reader == reader][-1]
    try:
        return read_trace(trace.reader, trace.path, trace.builtin)
    except DataFormatError as exc:
        if trace.path is None or Path(trace.path).exists() or str(trace.path) not in scenario.relative_paths:
            raise
        raise DataFormatError(
            f"{exc.message}; {scenario.missing_path_hint(trace.path)}",
            path=exc.path,
            field=f"workload.traces[{i}].path",
        ) from exc
