"""The detectors' statistics of many sample times at once: medians and percentiles over masked rows.

The detectors' stateless parts (each site's temperature-per-watt estimate, medians over a node's GPUs and over a
site's nodes) depend on one time's samples only, so :meth:`~wattbit.ops.detect.detectors.Detectors.step_block`
computes them for a block of times in one pass over (times, values) arrays; what carries state from one time to the
next (baselines, windows, persistence counts) then runs time after time. The functions here give the same numbers
as NumPy's ``median``, ``nanmedian`` and ``percentile`` (linear interpolation) on each row's masked values.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]


def _sorted_rows(values: Floats, mask: Bools) -> tuple[Floats, NDArray[np.int64]]:
    """Each row's masked, finite values sorted (NaN after them) and their count."""
    rows = np.sort(np.where(mask, values, np.nan), axis=-1)
    return rows, np.isfinite(rows).sum(axis=-1)


def _pick(rows: Floats, idx: NDArray[np.int64]) -> Floats:
    return np.take_along_axis(rows, np.maximum(idx, 0)[..., None], axis=-1)[..., 0]


def masked_median(values: Floats, mask: Bools) -> Floats:
    """Median of each row's finite values where ``mask`` (NaN where there are none); rows on the last axis."""
    rows, count = _sorted_rows(values, mask)
    a = _pick(rows, (count - 1) // 2)
    b = _pick(rows, count // 2)
    return np.where(count > 0, 0.5 * (a + b), np.nan)


def masked_percentile(values: Floats, mask: Bools, q_pct: float) -> Floats:
    """Percentile ``q_pct`` of each row's finite values where ``mask`` (linear interpolation, as NumPy's default)."""
    rows, count = _sorted_rows(values, mask)
    virtual = (count - 1) * (q_pct / 100.0)
    prev = np.floor(virtual)
    gamma = virtual - prev
    prev_i = prev.astype(np.int64)
    next_i = np.minimum(prev_i + 1, np.maximum(count - 1, 0))
    a, b = _pick(rows, prev_i), _pick(rows, next_i)
    diff = b - a
    out = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return np.where(count > 0, out, np.nan)


def node_medians(values: Floats, slots: NDArray[np.int64]) -> Floats:
    """Median over each node's GPUs, NaN ignored: (times, GPUs) in, (times, nodes) out."""
    padded = np.concatenate([values, np.full((values.shape[0], 1), np.nan)], axis=1)
    grid = padded[:, slots]  # (times, nodes, width); -1 slots read the NaN column
    return masked_median(grid, np.isfinite(grid))


def group_medians(values: Floats, groups: NDArray[np.int64], n_groups: int) -> Floats:
    """nanmedian of the columns of each group: (times, columns) in, (times, groups) out (NaN for an empty one)."""
    out = np.full((values.shape[0], n_groups), np.nan)
    for i in range(n_groups):
        cols = values[:, groups == i]
        if cols.shape[1]:
            out[:, i] = masked_median(cols, np.isfinite(cols))
    return out


def slope_candidates(power_w: Floats, temp_c: Floats, present: Bools, site: NDArray[np.int64], n_sites: int) -> Floats:
    """Each time's and site's estimate of temperature rise per watt (NaN where it has none), as
    :meth:`~wattbit.ops.detect.detectors.Detectors` learns it: the busier and the less busy GPUs (split half-way
    between the 2nd and 98th percentile of power), the difference of their median temperatures over that of their
    median powers; kept when 0 < k < 0.5, with ≥ 16 GPUs, ≥ 8 on each side and ≥ 100 W between them."""
    k = np.full((power_w.shape[0], n_sites), np.nan)
    for i in range(n_sites):
        cols = site == i
        pw, tc = power_w[:, cols], temp_c[:, cols]
        m = present[:, cols] & np.isfinite(tc)
        usable = (m.sum(axis=1) >= 16) & ~(m & np.isnan(pw)).any(axis=1)
        if not usable.any():
            continue
        lo_p = masked_percentile(pw, m, 2.0)
        hi_p = masked_percentile(pw, m, 98.0)
        with np.errstate(invalid="ignore"):
            hi = m & (pw > (0.5 * (lo_p + hi_p))[:, None])
        lo = m & ~hi
        usable &= (hi.sum(axis=1) >= 8) & (lo.sum(axis=1) >= 8)
        dp = masked_median(pw, hi) - masked_median(pw, lo)
        with np.errstate(invalid="ignore", divide="ignore"):
            usable &= dp >= 100.0
            est = (masked_median(tc, hi) - masked_median(tc, lo)) / dp
            usable &= (est > 0.0) & (est < 0.5)
        k[:, i] = np.where(usable, est, np.nan)
    return k
