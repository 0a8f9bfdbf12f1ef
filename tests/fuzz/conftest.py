"""Hypothesis profiles of the fuzz suites and the count of cases tried per reader.

``HYPOTHESIS_PROFILE=long`` (``make fuzz-long``) runs many more cases; the default profile keeps all fuzz suites
within about 90 s of ``make test``. Set ``WATTBIT_FUZZ_REPORT=path.json`` to write how many cases each reader was
given and how they ended (docs/fuzzing.md lists the counts).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict

import pytest

from tests.fuzz.harness import TALLY


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("WATTBIT_FUZZ_REPORT")
    if not target or not TALLY:
        return
    by_reader: dict[str, Counter[str]] = defaultdict(Counter)
    for (reader, outcome), n in TALLY.items():
        by_reader[reader][outcome] += n
    with open(target, "w", encoding="utf-8") as f:
        json.dump({r: dict(c) | {"total": sum(c.values())} for r, c in sorted(by_reader.items())}, f, indent=1)
