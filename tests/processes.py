"""What the tests that start real servers share: a free loopback port, waiting for a condition, reading a JSON file
a server writes when it is up, and stopping a child process the test started (by its handle, never by name)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(check: Callable[[], T], timeout_s: float, what: str) -> T:
    """Call ``check`` every 0.25 s until it returns something true, and return that; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None while it is missing or half-written."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stop_child(proc: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    """SIGTERM ``proc``, and SIGKILL it if it has not ended within ``timeout_s``."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
