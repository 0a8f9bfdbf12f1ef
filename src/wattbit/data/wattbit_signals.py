"""The wattbit signals CSV: a ``time_utc`` column (ISO 8601 with offset) and canonical signal columns.

This is the format of the embedded demo extract, and a convenient one for users who prepare their own series.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import (
    SourceMeta,
    check_plausible,
    check_time_order,
    drop_exact_duplicates,
    finish,
    read_csv_text,
    read_text,
    to_float,
)
from wattbit.errors import DataFormatError

EXTENSIVE_COLUMNS = frozenset({"curtailed_mwh", "solar_curtailed_mwh", "wind_curtailed_mwh"})
SIGNAL_UNITS = {
    "temp_air_c": "degC",
    "rel_humidity_pct": "%",
    "pressure_pa": "Pa",
    "temp_wetbulb_c": "degC",
    "ghi_w_m2": "W/m2",
    "wind_speed_m_s": "m/s",
    "carbon_g_per_kwh": "gCO2eq/kWh",
    "cfe_pct": "%",
    "price_jpy_per_mwh": "JPY/MWh",
    "curtailed_mwh": "MWh per step",
    "wind_cf_area": "MW per installed MW",
    "solar_cf_area": "MW per installed MW",
}


def read_wattbit_signals(path: str | Path) -> tuple[pd.DataFrame, SourceMeta]:
    """Read a wattbit signals CSV: a ``time_utc`` column (ISO 8601 with offset) and canonical signal columns.

    This is the format of the embedded demo extract, and a convenient one for users who prepare their own series.
    The resolution is inferred from the first two rows.
    """
    p = Path(path)
    text, _ = read_text(p, ("utf-8",))
    df = read_csv_text(text, p, dtype=str, keep_default_na=False, comment="#")
    if "time_utc" not in df.columns:
        raise DataFormatError(
            f"missing column 'time_utc' (expected a time_utc column and signal columns; found {list(df.columns)})",
            path=p,
        )
    unknown = [c for c in df.columns if c != "time_utc" and c not in SIGNAL_UNITS and c not in EXTENSIVE_COLUMNS]
    if unknown:
        raise DataFormatError(f"unknown signal column(s) {unknown}; expected some of {sorted(SIGNAL_UNITS)}", path=p)
    line_of = np.arange(len(df)) + 2 + sum(1 for line in text.splitlines()[:50] if line.startswith("#"))
    times = pd.to_datetime(df["time_utc"], utc=True, errors="coerce", format="ISO8601")
    if times.isna().any():
        i = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise DataFormatError(
            f"time {df['time_utc'].iloc[i]!r} is not a time (expected ISO 8601 with offset, e.g. 2022-01-01T00:00Z)",
            path=p,
            row=int(line_of[i]),
            field="time_utc",
        )
    index = pd.DatetimeIndex(times)
    check_time_order(index, path=p, line_of=line_of)
    cols = {c: to_float(df[c], path=p, column=c, line_of=line_of) for c in df.columns if c != "time_utc"}
    frame = pd.DataFrame(cols, index=index)
    check_plausible(frame, path=p, line_of=line_of)
    frame, dropped = drop_exact_duplicates(frame, path=p, line_of=line_of)
    index = pd.DatetimeIndex(frame.index)
    resolution = index[1] - index[0] if len(index) > 1 else pd.Timedelta("1h")
    meta = SourceMeta(
        reader="wattbit_signals",
        paths=[str(p)],
        description="wattbit canonical site signals",
        resolution=resolution,
        source_time_convention="period-beginning UTC",
        units={c: SIGNAL_UNITS.get(c, "MWh per period") for c in frame.columns},
        duplicates_dropped=dropped,
    )
    return finish(frame, meta)


SNIFFERS: dict[str, Callable[[str], bool]] = {
    "wattbit_signals": lambda head: head.lstrip("#").startswith("time_utc") or "\ntime_utc," in head
}
READERS = {"wattbit_signals": read_wattbit_signals}
