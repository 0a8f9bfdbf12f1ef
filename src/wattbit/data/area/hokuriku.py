"""Hokuriku Electric Power Transmission & Distribution: ``area_jisseki_rikudenYYYYMM[_MM].csv`` (quarters to
September 2018, then months).

Four note lines (``※…``), the label row ``,,エリア需要,原子力,…`` and a unit row ``DATE,TIME,MWh,MWh,…``; date and
time in two cells (``2022/12/1``, ``0:00``). Some years leave the geothermal column empty (no geothermal plant) and
some months give values with one decimal. Shift-JIS (cp932).
"""

from __future__ import annotations

import re

from wattbit.data.area._parse import Layout

LAYOUT = Layout(
    area="hokuriku",
    utility="Hokuriku Electric Power Transmission & Distribution",
    description="note lines ※…, label row ,,エリア需要,原子力,… over DATE,TIME,MWh,…; date and time in two cells",
    header=re.compile(r"^DATE,TIME,MWh,"),
    expected_header=",,エリア需要,原子力,火力,…,揚水,連系線 / DATE,TIME,MWh,MWh,…",
    rows_above=1,
    two_time_columns=True,
)


def detect(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is in Hokuriku's layout."""
    return LAYOUT.matches(text)
