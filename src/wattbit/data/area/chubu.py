"""Chubu Electric Power Grid: ``YYYY_areabalance_current_term.csv`` (fiscal years).

Three note lines (``・…``), a unit row ``…,単位：MWh`` and the label row ``DATE,TIME,エリア需要,原子力,…,
太陽光（実績）,太陽光（出力制御量）,…``; date and time in two cells (``2021/04/01``, ``00:00``). Shift-JIS (cp932).
The publisher notes that from 2018-10-01 the pumped-storage column is the sum of pumped-storage generation and
pumping power (its notes are copied to ``meta.notes``).
"""

from __future__ import annotations

import re

from wattbit.data.area._parse import Layout

LAYOUT = Layout(
    area="chubu",
    utility="Chubu Electric Power Grid",
    description="note lines ・…, unit row 単位：MWh, label row DATE,TIME,エリア需要,原子力,…,太陽光（出力制御量）,…",
    header=re.compile(r"^DATE,TIME,エリア需要,原子力,"),
    expected_header="DATE,TIME,エリア需要,原子力,火力,水力,地熱,バイオマス,太陽光（実績）,太陽光（出力制御量）,…",
    two_time_columns=True,
)


def detect(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is in Chubu's layout."""
    return LAYOUT.matches(text)
