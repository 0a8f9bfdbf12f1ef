"""``wattbit twin serve``: the live twin behind an HTTP server, until interrupted."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from wattbit.errors import WattbitInputError
from wattbit.ops.adapters.twin import LiveTwin, make_server, run_clock
from wattbit.scenario import Scenario

log = logging.getLogger(__name__)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); port 0 asks for a free one."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65_536:
        raise WattbitInputError(f"expected HOST:PORT such as 127.0.0.1:9400, got {listen!r}", field="listen")
    return host.strip("[]"), int(port)


def serve_twin(
    scenario: Scenario,
    *,
    listen: str = "127.0.0.1:9400",
    speed: float = 1800.0,
    start: str | None = None,
    nodes_per_site: int | None = None,
    seed: int | None = None,
    policy: str = "baseline",
    out: Path | None = None,
    max_steps: int | None = None,
    ready: Callable[[str], None] | None = None,
) -> LiveTwin:
    """Run the twin of ``scenario`` at ``speed`` x real time and serve it on ``listen`` until SIGINT/SIGTERM.

    With ``out``, writes ``out/labels.csv`` (the ground truth, rewritten after each injected fault) and
    ``out/twin.json`` (``url``, ``pid``). ``ready(url)`` is called once the server listens.
    """
    if not speed > 0:
        raise WattbitInputError(f"speed must be > 0, got {speed}", field="speed")
    host, port = parse_listen(listen)
    twin = LiveTwin(scenario, seed=seed, nodes_per_site=nodes_per_site, policy=policy, start=start)
    twin.step()
    server = make_server(twin, host, port)
    url = f"http://{host}:{server.server_address[1]}"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        twin.write_labels(out / "labels.csv")
        (out / "twin.json").write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n", encoding="utf-8")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, name="twin-http", daemon=True)
    thread.start()
    if ready is not None:
        ready(url)
    try:
        run_clock(twin, speed, stop, max_steps)
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return twin
