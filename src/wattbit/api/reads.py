"""Answers to the dashboard's reads, shared by every caller for a moment: :class:`ReadCache`.

A dashboard left open polls the same few reads (sites, queue, runs, alerts, actions); hundreds of them ask the
same questions many times a second. Each read is computed once per key (path and query) in a worker thread, turned
into JSON bytes once, and served from memory on the event loop until something changes or ``ttl_s`` passes,
whichever comes first:

- any event the service publishes (a twin step, a run's progress or state, alerts, actions, audit, mode) and any
  write through the API clears every entry, so a reader never sees an answer older than the last change this
  process knows of;
- a change made by another process (a run's worker writing its progress, ``wattbit ops heal`` deciding an action,
  another server on the same database) is seen within ``ttl_s``.

Concurrent misses of one key wait for one computation (no stampede). Errors are not cached. Roles are checked
before the cache is consulted, so an answer is shared only among callers allowed to read it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import Request, Response

#: How long an answer is served when nothing this process knows of changes [s].
READ_TTL_S = 1.0


def key_of(request: Request) -> str:
    """A read's cache key: its path and query string."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (no NaN: the fleet's values are cleaned to None first)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


class ReadCache:
    """JSON answers by key for at most ``ttl_s`` seconds, cleared by :meth:`clear` (see the module docstring)."""

    def __init__(self, ttl_s: float = READ_TTL_S) -> None:
        self.ttl_s = ttl_s
        self.entries: dict[str, tuple[float, bytes]] = {}
        self.generation = 0
        self.inflight: dict[str, asyncio.Future[bytes]] = {}  # computations under way (event loop only)
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def clear(self, *_: Any) -> None:
        """Forget every answer (from any thread); a computation under way is not stored."""
        with self.lock:
            self.generation += 1
            self.entries.clear()

    def _fresh(self, key: str) -> bytes | None:
        hit = self.entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    async def answer(self, key: str, compute: Callable[[], Any]) -> Response:
        """The JSON answer for ``key``: from memory when fresh, else ``compute()`` in a worker thread (once for all
        callers waiting on ``key``; a caller that goes away does not cancel it for the others)."""
        body = self._fresh(key)
        if body is not None:
            self.hits += 1
            return Response(body, media_type="application/json")
        task = self.inflight.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.ensure_future(self._compute(key, compute))
            self.inflight[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        body = await asyncio.shield(task)
        return Response(body, media_type="application/json")

    def _done(self, key: str, task: asyncio.Future[bytes]) -> None:
        self.inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have gone away

    async def _compute(self, key: str, compute: Callable[[], Any]) -> bytes:
        generation = self.generation
        body: bytes = await anyio.to_thread.run_sync(lambda: json_bytes(compute()))
        with self.lock:
            if len(self.entries) > 1000:  # callers choose the keys (query strings): keep the memory bounded
                self.entries.clear()
            if generation == self.generation:
                self.entries[key] = (time.monotonic() + self.ttl_s, body)
        return body
