"""The solver stays quiet unless asked: no banner or log on standard output by default, both with DEBUG logging."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from wattbit.opt.highs import INF, Assembler, new_highs

_SOLVE = """
import logging, sys
import numpy as np
from wattbit.opt.highs import Assembler, new_highs
if sys.argv[1] == "verbose":
    logging.basicConfig(level=logging.DEBUG)
lp = Assembler()
x = lp.cols((2,), 0.0, 10.0)
row = lp.rows((1,), 3.0, float("inf"))
lp.add(row, x, 1.0)
lp.set_cost(x, np.array([1.0, 2.0]))
highs = new_highs()
highs.passModel(lp.to_lp())
highs.run()
print("objective", highs.getInfo().objective_function_value)
"""


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_banner_and_log_only_when_debug_logging_is_on(mode: str) -> None:
    done = subprocess.run([sys.executable, "-c", _SOLVE, mode], capture_output=True, text=True, check=True, timeout=60)
    assert "objective 3.0" in done.stdout
    shown = "Running HiGHS" in done.stdout
    assert shown == (mode == "verbose"), done.stdout


def test_assembler_builds_the_programme_it_was_given() -> None:
    # min x0 + 2 x1  s.t.  x0 + x1 >= 3,  x0 <= 2  ->  x = (2, 1), objective 4
    lp = Assembler()
    x = lp.cols((2,), 0.0, np.array([2.0, INF]))
    lp.add(lp.rows((1,), 3.0, INF), x, 1.0)
    lp.set_cost(x, np.array([1.0, 2.0]))
    highs = new_highs()
    highs.passModel(lp.to_lp())
    highs.run()
    assert np.allclose(highs.getSolution().col_value, [2.0, 1.0])
    assert highs.getInfo().objective_function_value == pytest.approx(4.0)
