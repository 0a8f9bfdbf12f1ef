"""HiGHS, quietly: a linear programme assembled as sparse triplets, the solver's options, and its banner kept out of
the user's terminal.

Two things every optimisation in :mod:`wattbit.opt` shares:

* :class:`Assembler` collects columns (bounds, costs), rows (bounds) and their coefficients as ``(row, column,
  value)`` triplets, and hands them to ``highspy`` as one column-wise matrix — the direct assembly that the
  controllers need for decisions in milliseconds (linopy's xarray build costs a few hundred milliseconds per model);
* the first ``highspy.Highs()`` of a process prints the solver's banner to the C-level standard output.
  :func:`new_highs` creates instances with that banner suppressed and the solver's log off, unless the
  ``wattbit.opt`` logger is enabled for DEBUG (``wattbit --verbose``), in which case both are shown.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

import highspy
import numpy as np
from scipy.sparse import coo_matrix

from wattbit.units import FloatArray, IntArray

INF = highspy.kHighsInf
LOGGER = logging.getLogger("wattbit.opt")
_banner_lock = threading.Lock()
_banner_done = False


def solver_output_enabled() -> bool:
    """Whether the solver's banner and log are shown: the ``wattbit.opt`` logger is enabled for DEBUG."""
    return LOGGER.isEnabledFor(logging.DEBUG)


def silence_banner() -> None:
    """Create (and drop) the process's first HiGHS instance with the C-level standard output sent to the null
    device, so that the banner it prints once per process is not shown. Does nothing after the first call, or when
    :func:`solver_output_enabled`."""
    global _banner_done
    with _banner_lock:
        if _banner_done:
            return
        _banner_done = True
        if solver_output_enabled():
            return
        sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no standard output to protect
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)


def new_highs(**options: Any) -> highspy.Highs:
    """A HiGHS instance with its log off (unless :func:`solver_output_enabled`) and ``options`` set.

    Parameters
    ----------
    **options
        HiGHS options (``time_limit``, ``mip_rel_gap``, ...); ``None`` values are skipped.
    """
    silence_banner()
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", solver_output_enabled())
    for name, value in options.items():
        if value is not None:
            highs.setOptionValue(name, value)
    return highs


def linopy_options(**options: Any) -> dict[str, Any]:
    """Keyword options for ``linopy.Model.solve(solver_name="highs", ...)``, with the log as :func:`new_highs`."""
    silence_banner()
    out: dict[str, Any] = {"output_flag": solver_output_enabled()}
    out.update({name: value for name, value in options.items() if value is not None})
    return out


class Assembler:
    """Columns with bounds and costs, rows with bounds, and the coefficients between them as triplets.

    Indices are handed out in the order of the calls, so a model assembled twice in the same order is the same
    matrix (which keeps solutions reproducible to the last bit).
    """

    def __init__(self) -> None:
        self.lb: list[FloatArray] = []
        self.ub: list[FloatArray] = []
        self.cost: list[FloatArray] = []
        self.n_cols = 0
        self.row_lo: list[FloatArray] = []
        self.row_hi: list[FloatArray] = []
        self.n_rows = 0
        self.r: list[IntArray] = []
        self.c: list[IntArray] = []
        self.v: list[FloatArray] = []

    def cols(self, shape: tuple[int, ...], lb: float | FloatArray = 0.0, ub: float | FloatArray = INF) -> IntArray:
        """New columns of ``shape`` with bounds ``[lb, ub]`` (broadcast); returns their indices in that shape."""
        n = int(np.prod(shape))
        idx = np.arange(self.n_cols, self.n_cols + n).reshape(shape)
        self.lb.append(np.broadcast_to(np.asarray(lb, dtype=float), shape).ravel().copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=float), shape).ravel().copy())
        self.cost.append(np.zeros(n))
        self.n_cols += n
        return idx

    def set_cost(self, idx: IntArray, values: float | FloatArray) -> None:
        """Add ``values`` to the objective coefficients of columns ``idx``."""
        flat = np.concatenate(self.cost)
        flat[np.asarray(idx).ravel()] += np.broadcast_to(np.asarray(values, dtype=float), np.shape(idx)).ravel()
        self.cost = [flat]

    def rows(self, shape: tuple[int, ...], lo: float | FloatArray, hi: float | FloatArray) -> IntArray:
        """New rows of ``shape`` with bounds ``[lo, hi]`` (broadcast); returns their indices in that shape."""
        n = int(np.prod(shape))
        idx = np.arange(self.n_rows, self.n_rows + n).reshape(shape)
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=float), shape).ravel().copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=float), shape).ravel().copy())
        self.n_rows += n
        return idx

    def add(self, rows: IntArray, cols: IntArray, values: float | FloatArray) -> None:
        """Coefficients ``values`` at ``(rows, cols)``, all three broadcast together (duplicates are summed)."""
        rows, cols = np.broadcast_arrays(np.asarray(rows), np.asarray(cols))
        vals = np.broadcast_to(np.asarray(values, dtype=float), rows.shape)
        self.r.append(rows.ravel())
        self.c.append(cols.ravel())
        self.v.append(vals.ravel().astype(float))

    def to_lp(self) -> highspy.HighsLp:
        """The assembled programme as a column-wise ``HighsLp``."""
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, self.n_rows
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_, lp.col_upper_ = np.concatenate(self.lb), np.concatenate(self.ub)
        lp.row_lower_, lp.row_upper_ = np.concatenate(self.row_lo), np.concatenate(self.row_hi)
        matrix = coo_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(self.n_rows, self.n_cols),
        ).tocsc()
        matrix.sum_duplicates()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        return lp
