"""Chugoku Electric Power Transmission & Distribution: ``kako-YYYY.csv`` (fiscal years).

A title row, a group row ``,,需要実績(MWh),供給実績(MWh),…`` and the label row ``DATE,TIME,需要,原子力,…``; date and
time in two cells. The curtailment columns hold the placeholder ``－`` (read as missing) and files end with many
rows of empty cells. Shift-JIS (cp932).
"""

from __future__ import annotations

import re

from wattbit.data.area._parse import Layout

LAYOUT = Layout(
    area="chugoku",
    utility="Chugoku Electric Power Transmission & Distribution",
    description="title row, group row 需要実績(MWh)/供給実績(MWh), label row DATE,TIME,需要,原子力,…",
    header=re.compile(r"^DATE,TIME,需要,原子力,"),
    expected_header="DATE,TIME,需要,原子力,火力,水力,地熱,バイオマス,太陽光(実績),太陽光(抑制量),…,連系線潮流",
    rows_above=1,
    two_time_columns=True,
)


def detect(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is in Chugoku's layout."""
    return LAYOUT.matches(text)
