"""The detectors on real labelled data no one here wrote: NAB's realKnownCause files, with NAB's scoring.

The Numenta Anomaly Benchmark (NAB; numenta/NAB at commit ea702d7, MIT) labels anomaly *windows* in real series and
scores a detector by its *first* detection in each window, weighted by a scaled sigmoid of how early it came
(``2 sigmoid(-5 p) - 1`` for the relative position ``p`` in -1..0), minus ``fpWeight`` times a similar weight for
every detection outside the windows (full weight at least three window widths after the last window, or before
any), minus ``fnWeight`` for every missed window. The first 15 % of each file (at most 750 rows) is probationary
and not scored. One threshold per detector is chosen for the whole set of files (NAB's optimiser), and the raw score
is normalised to ``100 (raw - null) / (perfect - null)`` where the null detector misses every window and the perfect
one detects each at its start. The implementation here follows NAB's description and was written for wattbit.

Detectors, each run the same way over every file with fixed settings (nothing tuned on these files):

- ``windowed_gaussian`` — NAB's own baseline: the anomaly score is ``1 - Q(|x - mean| / std)`` over a window of the
  last 6,400 values refreshed every 100 (its published standard score over the 58-file corpus is 39.6);
- ``wattbit_ewma`` — wattbit's robust baseline (:class:`~wattbit.ops.detect.baseline.RobustEwma`, the one its GPU
  detectors use): the distance of a fast EWMA (half-life 4 samples) from the slow robust baseline (half-life 2,000
  samples) in units of its mean absolute deviation (floored at 1 % of the level), reported only at the onset of
  an episode (a new maximum over the last 288 samples), as wattbit raises one alert per episode. Settings chosen for
  series sampled every few minutes, not searched on these files; the floor was added after a first run on them
  showed constant stretches with no deviation (docs/operations.md reports both runs).

Scores on this subset are not comparable with NAB's corpus-wide scoreboard.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from wattbit.data._base import read_csv_text, read_text, to_float
from wattbit.errors import DataFormatError
from wattbit.ops.detect.baseline import RobustEwma

PREFIX = "realKnownCause/"


@dataclass
class NabFile:
    """One NAB series with its label windows as (first row, last row) inclusive."""

    name: str
    timestamps: pd.DatetimeIndex
    values: NDArray[np.float64]
    windows: list[tuple[int, int]]


def _json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; a missing, undecodable or non-object file is a :class:`DataFormatError`."""
    try:
        data = json.loads(read_text(path)[0])
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"not valid JSON ({exc.msg}; expected {what})", path=path, row=exc.lineno) from exc
    if not isinstance(data, dict):
        raise DataFormatError(f"a JSON {type(data).__name__} (expected {what}: an object)", path=path)
    return data


def _series(path: Path) -> tuple[pd.DatetimeIndex, NDArray[np.float64]]:
    """The ``timestamp,value`` rows of one NAB file: every time readable, every value a finite number."""
    text, _ = read_text(path)
    frame = read_csv_text(text, path, dtype=str, keep_default_na=False)
    if list(frame.columns) != ["timestamp", "value"]:
        raise DataFormatError(f"columns {list(frame.columns)} (expected timestamp,value)", path=path, row=1)
    if frame.empty:
        raise DataFormatError("no data rows (expected timestamp,value rows)", path=path, row=2)
    line_of = np.arange(len(frame)) + 2
    stamps = frame["timestamp"].str.strip()
    ts = pd.to_datetime(stamps, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    if ts.isna().any():
        i = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise DataFormatError(
            f"time {stamps.iloc[i]!r} (expected YYYY-MM-DD HH:MM:SS)", path=path, row=int(line_of[i]), field="timestamp"
        )
    index = pd.DatetimeIndex(ts)  # not checked for order: NAB's own files step back in places, and NAB reads them so
    values = to_float(frame["value"], path=path, column="value", line_of=line_of)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"value {frame['value'].iloc[i]!r} (expected a finite number in every row: the detectors see no gaps)",
            path=path,
            row=int(line_of[i]),
            field="value",
        )
    return index, values


def _window(ts: pd.DatetimeIndex, start: Any, end: Any, path: Path, windows_path: Path) -> tuple[int, int]:
    """Rows of one label window: the first row at each end, as NAB takes it (a file may repeat a timestamp)."""
    try:
        lo_t, hi_t = pd.Timestamp(start), pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise DataFormatError(
            f"window {start!r}..{end!r} of {path.name} is not two times (expected 'YYYY-MM-DD HH:MM:SS.ffffff')",
            path=windows_path,
        ) from exc
    lo, hi = (int(ts.searchsorted(t, side="left")) for t in (lo_t, hi_t))
    if hi >= len(ts) or lo > hi or ts[lo] != lo_t or ts[hi] != hi_t:
        raise DataFormatError(
            f"window {start}..{end} does not fall on rows of the file (expected both ends to be times in it)",
            path=path,
        )
    return lo, hi


def read_nab(folder: Path) -> tuple[list[NabFile], dict[str, dict[str, float]]]:
    """The realKnownCause files of ``folder`` with their windows, and the scoring profiles.

    Raises
    ------
    DataFormatError
        If a file is missing or undecodable, a JSON file is not the object NAB writes, a time or value is not
        readable (naming the line), or a window does not fall on rows of its file.
    """
    windows_path, profiles_path = folder / "combined_windows.json", folder / "profiles.json"
    windows = _json(windows_path, "NAB's label windows, file -> [[start, end], ...]")
    raw_profiles = _json(profiles_path, "NAB's scoring profiles, name -> {CostMatrix: ...}")
    try:
        profiles = {str(k): {str(c): float(w) for c, w in v["CostMatrix"].items()} for k, v in raw_profiles.items()}
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(
            f"profile without a numeric CostMatrix ({exc!r}; expected name -> {{CostMatrix: {{weight: number}}}})",
            path=profiles_path,
        ) from exc
    files = []
    for key in sorted(k for k in windows if k.startswith(PREFIX)):
        path = folder / key.removeprefix(PREFIX)
        ts, values = _series(path)
        spans = windows[key]
        if not isinstance(spans, list) or not all(isinstance(w, list) and len(w) == 2 for w in spans):
            raise DataFormatError(f"windows of {key} are not [start, end] pairs (expected a list)", path=windows_path)
        files.append(NabFile(path.stem, ts, values, [_window(ts, a, b, path, windows_path) for a, b in spans]))
    return files, profiles


def windowed_gaussian(values: NDArray[np.float64], window: int = 6400, step: int = 100) -> NDArray[np.float64]:
    """NAB's windowed-Gaussian baseline, from its description (see the module docstring)."""
    out = np.zeros(values.shape[0])
    data: list[float] = []
    buffer: list[float] = []
    mean, std = 0.0, 1.0
    for i, x in enumerate(values.tolist()):
        if data:
            z = abs(x - mean) / std
            out[i] = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
        if len(data) < window:
            data.append(x)
            mean, std = float(np.mean(data)), float(np.std(data)) or 1e-6
        else:
            buffer.append(x)
            if len(buffer) == step:
                data = data[step:] + buffer
                buffer = []
                mean, std = float(np.mean(data)), float(np.std(data)) or 1e-6
    return out


def wattbit_ewma(
    values: NDArray[np.float64], fast_half_life: float = 4.0, slow_half_life: float = 2000.0, onset: int = 288
) -> NDArray[np.float64]:
    """wattbit's robust baseline as a NAB detector (see the module docstring): the fast EWMA of the series against
    its slow robust baseline, in units of the slow mean absolute deviation; scored only at onsets (a new maximum of
    |z| over the last ``onset`` samples), as wattbit reports one alert per episode."""
    slow = RobustEwma(1, slow_half_life, slow_half_life, floor=1e-9, warmup=32, clip=3.0)
    a = 1.0 - 0.5 ** (1.0 / fast_half_life)
    fast = math.nan
    z = np.zeros(values.shape[0])
    for i, x in enumerate(values.tolist()):
        fast = x if math.isnan(fast) else fast + a * (x - fast)
        # a constant stretch has no deviation: floor the scale at 1 % of the level (the same rule for every file)
        scale = max(1.25 * float(slow.dev[0]), 0.01 * abs(float(slow.mean[0])) if slow.seen[0] else 0.0, 1e-9)
        if slow.seen[0] >= slow.warmup:
            z[i] = abs(fast - float(slow.mean[0])) / scale
        slow.update(np.array([x]))
    out = np.zeros_like(z)
    for i in range(z.shape[0]):
        lo = max(0, i - onset)
        if z[i] > 0 and (i == lo or z[i] > z[lo:i].max()):
            out[i] = z[i]
    return out


def _position_weights(
    n: int, windows: list[tuple[int, int]], fp_weight: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per row: its score if detected (TP weight in a window, negative FP weight outside) and its window (-1 none)."""
    weight = np.empty(n)
    which = np.full(n, -1, dtype=np.int64)
    max_tp = 2.0 / (1.0 + math.exp(-5.0)) - 1.0
    i = np.arange(n)
    prev_end: int | None = None
    prev_width = 1.0
    cursor = 0
    spans = sorted(windows)
    for w, (lo, hi) in enumerate([*spans, (n, n)]):
        gap = slice(cursor, lo)
        if prev_end is None:
            pos = np.full(lo - cursor, 3.0)
        else:
            pos = np.abs(prev_end - i[gap]) / max(prev_width - 1.0, 1.0)
        weight[gap] = _scaled_sigmoid(pos) * fp_weight
        if w < len(spans):
            width = float(hi - lo + 1)
            inside = slice(lo, hi + 1)
            weight[inside] = _scaled_sigmoid(-(hi - i[inside] + 1) / width) / max_tp
            which[inside] = w
            prev_end, prev_width, cursor = hi, width, hi + 1
    return weight, which


def _scaled_sigmoid(p: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(p >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * p)) - 1.0)


def probation(n: int, share: float = 0.15) -> int:
    """Rows at the start of a file that are not scored."""
    return int(min(math.floor(share * n), share * 5000))


def file_score(scores: NDArray[np.float64], f: NabFile, threshold: float, cost: dict[str, float]) -> dict[str, Any]:
    """NAB's raw score of one file at ``threshold``, with the windows detected and the false positives."""
    n = scores.shape[0]
    weight, which = _position_weights(n, f.windows, cost["fpWeight"])
    scored = np.arange(n) >= probation(n)
    hit = scored & (scores >= threshold)
    fp = hit & (which < 0)
    raw = float(weight[fp].sum())
    detected = 0
    first_rows = []
    for w in range(len(f.windows)):
        inside = np.flatnonzero(hit & (which == w))
        if inside.size:
            raw += cost["tpWeight"] * float(weight[inside[0]])
            detected += 1
            first_rows.append(int(inside[0]))
        else:
            raw -= cost["fnWeight"]
    return {"raw": raw, "windows": len(f.windows), "detected": detected, "false_positives": int(fp.sum()),
            "first_detection_rows": first_rows}  # fmt: skip


def corpus_score(
    scores: dict[str, NDArray[np.float64]], files: list[NabFile], cost: dict[str, float]
) -> dict[str, Any]:
    """The best single threshold over all files (an exact sweep over every distinct score, as NAB's scorer sweeps
    thresholds) and the normalised NAB score there, with each file's detections at that threshold."""
    pts_score, pts_weight, pts_window = [], [], []
    n_windows = 0
    for f in files:
        sc = scores[f.name]
        weight, which = _position_weights(sc.shape[0], f.windows, cost["fpWeight"])
        keep = np.arange(sc.shape[0]) >= probation(sc.shape[0])
        pts_score.append(sc[keep])
        pts_weight.append(weight[keep])
        pts_window.append(np.where(which[keep] >= 0, which[keep] + n_windows, -1))
        n_windows += len(f.windows)
    score_all, weight_all, window_all = (np.concatenate(x) for x in (pts_score, pts_weight, pts_window))
    order = np.argsort(-score_all, kind="stable")
    best_in = np.full(n_windows, -math.inf)
    raw = -cost["fnWeight"] * n_windows
    best_raw, best_thr = raw, math.inf
    s_sorted, w_sorted, win_sorted = score_all[order], weight_all[order], window_all[order]
    for i in range(order.shape[0]):
        w, win = float(w_sorted[i]), int(win_sorted[i])
        if win < 0:
            raw += w
        elif cost["tpWeight"] * w > best_in[win]:
            before = best_in[win] if np.isfinite(best_in[win]) else -cost["fnWeight"]
            best_in[win] = cost["tpWeight"] * w
            raw += best_in[win] - before
        last_of_value = i + 1 == order.shape[0] or s_sorted[i + 1] != s_sorted[i]
        if last_of_value and raw > best_raw:
            best_raw, best_thr = raw, float(s_sorted[i])
    per = {f.name: file_score(scores[f.name], f, best_thr, cost) for f in files}
    null, perfect = -cost["fnWeight"] * n_windows, cost["tpWeight"] * n_windows
    return {
        "threshold": best_thr,
        "raw": best_raw,
        "score": 100.0 * (best_raw - null) / (perfect - null),
        "windows": n_windows,
        "windows_detected": sum(p["detected"] for p in per.values()),
        "false_positives": sum(p["false_positives"] for p in per.values()),
        "files": per,
    }


DETECTORS: dict[str, Callable[[NDArray[np.float64]], NDArray[np.float64]]] = {
    "windowed_gaussian": windowed_gaussian,
    "wattbit_ewma": wattbit_ewma,
}


def evaluate_nab(folder: Path) -> dict[str, Any]:
    """Every detector on every realKnownCause file, scored under each NAB profile."""
    files, profiles = read_nab(folder)
    scores = {name: {f.name: det(f.values) for f in files} for name, det in DETECTORS.items()}
    out: dict[str, Any] = {"files": [f.name for f in files], "rows": int(sum(len(f.values) for f in files))}
    for name in DETECTORS:
        out[name] = {prof: corpus_score(scores[name], files, cost) for prof, cost in profiles.items()}
    return out
