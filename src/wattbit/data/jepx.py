"""JEPX day-ahead spot market results (スポット市場取引結果).

JEPX publishes one CSV per Japanese fiscal year (April..March): one row per delivery date and 30-minute slot
(時刻コード 1..48; slot k covers [(k-1)·30 min, k·30 min) JST), with bid and cleared volumes in kWh and the system
price and nine area prices in JPY/kWh. Area prices split from the system price when interconnectors congest.

:func:`read_jepx_spot` returns period-beginning UTC at 30-minute resolution, prices in JPY/MWh and volumes in MWh.
Source: Japan Electric Power Exchange, https://www.jepx.jp/electricpower/market-data/spot/ (JEPX terms of use;
redistribution may be restricted — wattbit ships only derived hourly series).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import (
    SourceMeta,
    check_plausible,
    check_time_order,
    drop_exact_duplicates,
    expand_paths,
    finish,
    read_csv_text,
    read_text,
    require_columns,
    to_float,
)
from wattbit.errors import DataFormatError

#: JEPX area names (English key -> Japanese as in the column headers).
AREAS: dict[str, str] = {
    "hokkaido": "北海道",
    "tohoku": "東北",
    "tokyo": "東京",
    "chubu": "中部",
    "hokuriku": "北陸",
    "kansai": "関西",
    "chugoku": "中国",
    "shikoku": "四国",
    "kyushu": "九州",
}

_DATE, _SLOT = "受渡日", "時刻コード"
_PRICE_COLUMNS = {
    "システムプライス(円/kWh)": "system",
    **{f"エリアプライス{ja}(円/kWh)": en for en, ja in AREAS.items()},
}
_VOLUME_COLUMNS = {
    "売り入札量(kWh)": "sell_bid_mwh",
    "買い入札量(kWh)": "buy_bid_mwh",
    "約定総量(kWh)": "cleared_mwh",
}


def _read_one(path: Path, area: str | None) -> tuple[pd.DataFrame, str]:
    text, encoding = read_text(path, ("utf-8", "cp932"))
    df = read_csv_text(text, path, dtype=str, keep_default_na=False)
    df.columns = [str(c).strip() for c in df.columns]
    required = [_DATE, _SLOT, "システムプライス(円/kWh)"]
    if area is not None:
        required.append(f"エリアプライス{AREAS[area]}(円/kWh)")
    require_columns(df.columns, required, path, "JEPX spot summary (受渡日, 時刻コード, prices in 円/kWh)")
    line_of = np.arange(len(df)) + 2
    day = pd.to_datetime(df[_DATE].str.strip(), format="%Y/%m/%d", errors="coerce")
    slot = pd.to_numeric(df[_SLOT].str.strip(), errors="coerce")
    bad = day.isna() | slot.isna() | ~slot.between(1, 50)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(
            f"bad date/slot {df[_DATE].iloc[i]!r}/{df[_SLOT].iloc[i]!r} (expected YYYY/MM/DD and slot 1..48)",
            path=path,
            row=int(line_of[i]),
            field=f"{_DATE}/{_SLOT}",
        )
    start_jst = day + pd.to_timedelta((slot - 1) * 30, unit="min")
    times = pd.DatetimeIndex(start_jst).tz_localize("Asia/Tokyo").tz_convert("UTC")
    check_time_order(times, path=path, line_of=line_of)
    out: dict[str, np.ndarray] = {}
    for raw, name in _PRICE_COLUMNS.items():
        if raw in df.columns:
            out[f"price_{name}_jpy_per_mwh"] = to_float(df[raw], path=path, column=raw, line_of=line_of) * 1000.0
    for raw, name in _VOLUME_COLUMNS.items():
        if raw in df.columns:
            out[f"volume_{name}"] = to_float(df[raw], path=path, column=raw, line_of=line_of) / 1000.0
    frame = pd.DataFrame(out, index=times)
    check_plausible(frame, path=path, line_of=line_of)
    frame, dropped = drop_exact_duplicates(frame, path=path, line_of=line_of)
    frame.attrs["duplicates_dropped"] = dropped
    return frame, encoding


def read_jepx_spot(
    paths: str | Path | Iterable[str | Path], area: str | None = None
) -> tuple[pd.DataFrame, SourceMeta]:
    """Read one or more JEPX spot summary files.

    Parameters
    ----------
    paths
        A file, a list of files, or a folder of ``spot_summary_YYYY.csv`` files; read in time order.
    area
        If given (``"tohoku"``), the frame also has ``price_jpy_per_mwh`` = that area's price.

    Returns
    -------
    frame : pandas.DataFrame
        30-minute periods, period-beginning UTC. Columns ``price_system_jpy_per_mwh``,
        ``price_<area>_jpy_per_mwh`` for the nine areas [JPY/MWh], ``volume_sell_bid_mwh``,
        ``volume_buy_bid_mwh``, ``volume_cleared_mwh`` [MWh per slot].
    meta : SourceMeta
    """
    if area is not None and area.lower() not in AREAS:
        raise DataFormatError(f"unknown JEPX area {area!r}; expected one of {', '.join(AREAS)}", field="area")
    key = None if area is None else area.lower()
    files = expand_paths(paths, (".csv", ".csv.gz"), "JEPX spot_summary_*.csv files")
    read = sorted(
        ((f, *_read_one(f, key)) for f in files), key=lambda x: x[1].index[0] if len(x[1]) else pd.Timestamp.min
    )
    files = [f for f, _, _ in read]
    parts = [(frame, enc) for _, frame, enc in read]
    frame = pd.concat([p for p, _ in parts])
    # files are put in time order; one must not start before the previous one ends
    for (prev, _), (cur, _), f in zip(parts, parts[1:], files[1:], strict=False):
        if len(prev) and len(cur) and cur.index[0] <= prev.index[-1]:
            raise DataFormatError(
                f"file overlaps the previous one ({cur.index[0]} <= {prev.index[-1]}); expected consecutive years",
                path=f,
            )
    if key is not None:
        frame["price_jpy_per_mwh"] = frame[f"price_{key}_jpy_per_mwh"]
    units = {c: ("JPY/MWh" if c.startswith("price") else "MWh per 30 min") for c in frame.columns}
    meta = SourceMeta(
        reader="jepx_spot",
        paths=[str(f) for f in files],
        description="JEPX day-ahead spot market, system and area prices" + (f" (area {key})" if key else ""),
        resolution=pd.Timedelta("30min"),
        source_time_convention="delivery date + 30-minute slot code 1..48, JST (slot start = (code-1)*30 min)",
        units=units,
        duplicates_dropped=sum(int(p.attrs.get("duplicates_dropped", 0)) for p, _ in parts),
        conversions=[
            "slot start JST (UTC+9) -> period-beginning UTC",
            "prices JPY/kWh x 1000 -> JPY/MWh",
            "volumes kWh / 1000 -> MWh",
        ],
        attrs={"area": key, "encoding": parts[0][1], "currency": "JPY"},
    )
    return finish(frame, meta)


def _looks_like_jepx(head: str) -> bool:
    first = head.splitlines()[0] if head else ""
    return _DATE in first and _SLOT in first and "システムプライス" in first


SNIFFERS: dict[str, Callable[[str], bool]] = {"jepx_spot": _looks_like_jepx}
READERS: dict[str, Callable[..., tuple[pd.DataFrame, SourceMeta]]] = {"jepx_spot": read_jepx_spot}
