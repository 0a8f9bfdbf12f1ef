"""Tohoku Electric Power Network: ``juyo_YYYY_tohoku_NQ.txt`` (fiscal-year quarters, 1Q = April..June).

One header row ``DATE_TIME,エリア需要〔MWh〕,水力〔MWh〕,…``; the time is one cell ``2022/4/1 0:00`` (some years pad
the hour with two spaces: ``2016/10/1  0:00``); MWh; Shift-JIS (cp932), CRLF.
"""

from __future__ import annotations

import re

from wattbit.data.area._parse import Layout

LAYOUT = Layout(
    area="tohoku",
    utility="Tohoku Electric Power Network",
    description="one header row DATE_TIME,エリア需要〔MWh〕,水力〔MWh〕,…; time 'YYYY/M/D H:MM' in one cell",
    header=re.compile(r"^DATE_TIME,エリア需要〔MWh〕,水力"),
    expected_header="DATE_TIME,エリア需要〔MWh〕,水力〔MWh〕,火力〔MWh〕,原子力〔MWh〕,太陽光実績〔MWh〕,…",
)


def detect(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is in Tohoku's layout."""
    return LAYOUT.matches(text)
