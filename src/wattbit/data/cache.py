"""Parsed data files kept in memory for the life of a process, for processes that run many scenarios on the same
files (a sweep's workers).

Reading and checking a year of hourly data costs about 0.1 s per file; a run of the built-in japan-2022 scenario
reads 15 files (each site's signals file once per kind: weather, carbon, price, curtailment), which was 60 % of the
CPU time of a week-long ``simulate`` run. With the cache on, a process reads each file once, and every later read
of the same file gets a copy of the parsed frame.

The cache is off unless a caller turns it on (:func:`enable`), so that one-off commands and long-lived services
behave as before. An entry is keyed by the reader, its options, and each file's path, size and modification time:
a file changed on disk is read again. Hits return deep copies (frame and metadata), so a caller that changes what
it got cannot change what the next run gets. The cache holds at most ``max_entries`` files, dropping the least
recently used.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from wattbit.data._base import SourceMeta

#: Files kept by default (a year of hourly signals is about 1 MB in memory).
DEFAULT_MAX_ENTRIES = 64

_Entry = tuple[pd.DataFrame, SourceMeta]
_entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
_state = {"enabled": False, "max_entries": DEFAULT_MAX_ENTRIES, "hits": 0, "misses": 0}


def enable(max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
    """Keep parsed files in this process from now on (at most ``max_entries``, least recently used dropped)."""
    if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
        raise ValueError(f"max_entries={max_entries!r} must be an integer >= 1")
    _state["enabled"], _state["max_entries"] = True, max_entries
    _trim()


def disable() -> None:
    """Stop caching and forget every file kept."""
    _state["enabled"] = False
    clear()


def clear() -> None:
    """Forget every file kept (and the hit counts)."""
    _entries.clear()
    _state["hits"] = _state["misses"] = 0


def stats() -> dict[str, int | bool]:
    """``enabled``, ``entries``, ``hits`` and ``misses`` of this process's cache."""
    return {
        "enabled": bool(_state["enabled"]),
        "entries": len(_entries),
        "hits": _state["hits"],
        "misses": _state["misses"],
    }


def _file_stamps(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime) of each file, the files of a folder included (a folder's own mtime misses edits)."""
    stamps = []
    for path in paths:
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for f in files:
            st = os.stat(f)
            stamps.append((str(f.resolve()), st.st_size, st.st_mtime_ns))
    return tuple(stamps)


def cached_read(reader: str, paths: Any, options: dict[str, Any], read: Callable[[], _Entry]) -> _Entry:
    """``read()``, or a copy of what it gave for the same reader, options and unchanged files.

    Parameters
    ----------
    reader
        The reader's name (part of the key).
    paths
        The path or paths ``read`` reads.
    options
        The reader's keyword arguments (part of the key; values must be hashable or printable).
    read
        Reads the files; called when the cache is off, on a miss, or when a file cannot be stat'ed (the reader
        then reports the problem itself).
    """
    if not _state["enabled"]:
        return read()
    listed = [Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])]
    try:
        key = (reader, tuple(sorted((k, repr(v)) for k, v in options.items())), _file_stamps(listed))
    except OSError:  # missing or unreadable: let the reader raise its own error, naming the file
        return read()
    if key in _entries:
        _entries.move_to_end(key)
        _state["hits"] += 1
        frame, meta = _entries[key]
        return frame.copy(deep=True), copy.deepcopy(meta)
    frame, meta = read()
    _state["misses"] += 1
    _entries[key] = (frame.copy(deep=True), copy.deepcopy(meta))
    _trim()
    return frame, meta


def _trim() -> None:
    while len(_entries) > int(_state["max_entries"]):
        _entries.popitem(last=False)
