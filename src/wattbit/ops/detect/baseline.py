"""Robust per-series baselines, vectorised over series: EWMA of the level and of the absolute deviation.

For each series the baseline keeps an exponentially weighted mean ``m`` and mean absolute deviation ``s`` (a
robust scale: ``1.25 s`` estimates the standard deviation of Gaussian noise, and unlike a variance it is not
dominated by one outlier). A sample ``x`` scores ``z = (x - m) / max(1.25 s, floor)``. Samples beyond ``clip`` in
|z| update the baseline only as if they were at ``clip`` (a Huber-type update), so that an anomaly does not become
the new normal within a few samples. Missing samples (NaN) leave their series untouched. Half-lives are given in
samples.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def alpha_of(half_life: float) -> float:
    """EWMA weight of a new sample for a half-life of ``half_life`` samples."""
    return float(1.0 - 0.5 ** (1.0 / max(half_life, 1e-9)))


class RobustEwma:
    """Baselines of ``n`` series; grow with :meth:`resize` when series appear.

    Parameters
    ----------
    n
        Number of series.
    half_life, scale_half_life
        Half-lives of the level and of the deviation, in samples.
    floor
        Smallest scale used in the z-score (units of the series).
    clip
        |z| beyond which a sample's update is shrunk to ``clip``.
    warmup
        Samples a series needs before its z-score counts (NaN before).
    """

    def __init__(
        self,
        n: int,
        half_life: float = 96.0,
        scale_half_life: float = 96.0,
        floor: float = 1e-6,
        clip: float = 3.0,
        warmup: int = 8,
    ) -> None:
        self.a, self.b = alpha_of(half_life), alpha_of(scale_half_life)
        self.floor, self.clip, self.warmup = floor, clip, warmup
        self.mean = np.full(n, np.nan)
        self.dev = np.zeros(n)
        self.seen = np.zeros(n, dtype=np.int64)

    @property
    def n(self) -> int:
        """Number of series."""
        return int(self.mean.shape[0])

    def resize(self, n: int) -> None:
        """Make room for ``n`` series (new ones start empty)."""
        if n > self.n:
            grow = n - self.n
            self.mean = np.concatenate([self.mean, np.full(grow, np.nan)])
            self.dev = np.concatenate([self.dev, np.zeros(grow)])
            self.seen = np.concatenate([self.seen, np.zeros(grow, dtype=np.int64)])

    def score(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """z-scores of ``x`` against the current baseline (NaN where missing or still warming up)."""
        scale = np.maximum(1.25 * self.dev, self.floor)
        z = (x - self.mean) / scale
        return np.where(self.seen >= self.warmup, z, np.nan)

    def update(self, x: NDArray[np.float64], mask: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
        """Score ``x``, then fold it into the baseline where finite (and ``mask``); returns the z-scores."""
        z = self.score(x)
        ok = np.isfinite(x) if mask is None else np.isfinite(x) & mask
        first = ok & np.isnan(self.mean)
        self.mean[first] = x[first]
        rest = ok & ~first
        if rest.any():
            scale = np.maximum(1.25 * self.dev[rest], self.floor)
            err = x[rest] - self.mean[rest]
            err = np.clip(err, -self.clip * scale, self.clip * scale)
            self.mean[rest] += self.a * err
            self.dev[rest] += self.b * (np.abs(err) - self.dev[rest])
        self.seen[ok] += 1
        return z
