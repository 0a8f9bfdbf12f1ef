"""Live updates: a hub that fans events out to server-sent-event streams (``GET /api/v1/events``).

Producers (the twin's thread, the run supervisor, the operations poller, API handlers) call :meth:`EventHub.publish`
from any thread; each subscriber has a bounded queue, and a slow one loses its oldest events rather than holding
up the others (a dashboard re-reads the state it missed through the REST endpoints).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

#: Seconds between keep-alive comments on an idle stream (proxies close silent connections).
KEEPALIVE_S = 15.0


class EventHub:
    """Fan-out of events to subscribers (see the module docstring)."""

    def __init__(self, queue_size: int = 200) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue[str]] = set()
        self.queue_size = queue_size
        self.lock = threading.Lock()
        self.published = 0
        #: Called as ``listener(kind)`` on every event, in the publishing thread (the read cache's ``clear``).
        self.listeners: list[Callable[[str], None]] = []

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver events on ``loop`` (the server's)."""
        self.loop = loop

    @property
    def subscribers(self) -> int:
        """Open streams."""
        return len(self.queues)

    def publish(self, kind: str, data: Any) -> None:
        """Send an event of type ``kind`` with JSON ``data`` to every subscriber (from any thread)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        self.published += 1
        for listener in self.listeners:
            listener(kind)
        if not self.queues:  # nobody listens: no JSON to build, no wake-up of the event loop
            return
        message = f"event: {kind}\ndata: {json.dumps(data, default=str, allow_nan=False)}\n\n"
        try:
            loop.call_soon_threadsafe(self._fanout, message)
        except RuntimeError:  # the loop closed meanwhile (shutdown)
            pass

    def _fanout(self, message: str) -> None:
        for q in list(self.queues):
            if q.full():
                q.get_nowait()
            q.put_nowait(message)

    async def stream(self, hello: dict[str, Any]) -> AsyncIterator[str]:
        """One subscriber's stream: a ``hello`` event, then every event, with keep-alive comments."""
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=self.queue_size)
        self.queues.add(q)
        try:
            yield f"retry: 2000\nevent: hello\ndata: {json.dumps(hello, default=str)}\n\n"
            while True:
                try:
                    yield await asyncio.wait_for(q.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            self.queues.discard(q)
