"""Schemathesis against the OpenAPI spec of a real ``wattbit serve`` (no live fleet) on a loopback port, bounded to
a few examples per operation: no answer is a 500, and no write succeeds without a token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import Server, start_server, stop_server

EXAMPLES = 12
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("schema")
    server = start_server(tmp, "--fleet", "none")
    try:
        yield server
    finally:
        stop_server(server)


def operations(server: Server) -> list[Any]:
    """Every operation of the spec but the endless event stream."""
    loaded = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    return [r.ok() for r in loaded.get_all_operations() if r.ok().path != "/api/v1/events"]


def explore(server: Server, check: Callable[[schemathesis.Case], str | None]) -> list[str]:
    """Run ``check`` on up to EXAMPLES generated cases of every operation; returns the problems it named."""
    problems: list[str] = []
    for op in operations(server):

        @given(op.as_strategy())
        @SETTINGS
        def run(case: schemathesis.Case) -> None:
            problem = check(case)
            if problem:
                problems.append(problem)

        run()
    return problems


def test_no_request_gets_a_server_error(running: Server) -> None:
    def check(case: schemathesis.Case) -> str | None:
        r = case.call(base_url=running.url, headers=running.auth("operator"), timeout=30)
        return f"{case.method} {case.formatted_path}: {r.status_code} {r.text[:300]}" if r.status_code >= 500 else None

    assert explore(running, check) == []


def test_no_write_without_a_token(running: Server) -> None:
    def check(case: schemathesis.Case) -> str | None:
        r = case.call(base_url=running.url, timeout=30)
        write = case.method.upper() in ("POST", "PUT", "PATCH", "DELETE") and case.path != "/api/v1/session"
        if r.status_code >= 500 or (write and r.status_code < 400):
            return f"{case.method} {case.formatted_path} without a token: {r.status_code}"
        return None

    assert explore(running, check) == []
