"""Hokkaido Electric Power Network: ``sup_dem_results_YYYY_Nq.csv`` (fiscal-year quarters).

A unit row ``単位[MWh]``, a group row (``供給力`` over the sources), the label row ``月日,時刻,エリア需要,…`` and an
empty row; the date is written only on the first hour of each day and hours read ``0時``..``23時``. Some quarters pad
numbers with a trailing space (``2680 ``) or end with rows of empty cells. The extra column ``供給力合計`` (total
supply) is ignored. Shift-JIS (cp932).
"""

from __future__ import annotations

import re

from wattbit.data.area._parse import Layout

LAYOUT = Layout(
    area="hokkaido",
    utility="Hokkaido Electric Power Network",
    description="unit row 単位[MWh], group row 供給力, label row 月日,時刻,…; date only on the first hour; hours 'H時'",
    header=re.compile(r"^月日,時刻,エリア需要,"),
    expected_header="月日,時刻,エリア需要,原子力,火力,水力,地熱,バイオマス,太陽光実績,太陽光抑制量,…,供給力合計",
    rows_above=1,
    two_time_columns=True,
    date_carried=True,
)


def detect(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is in Hokkaido's layout."""
    return LAYOUT.matches(text)
