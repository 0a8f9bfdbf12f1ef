"""Shikoku Electric Power Transmission & Distribution: ``jukyuYYYY.csv`` (fiscal years).

Five note lines, a unit row ``（単位：万ｋW）``, then three header rows: ``DATE,TIME,エリア需要,供給力``, the sources
(``太陽光`` and ``風力`` spanning two columns) and ``実績``/``制御量``; date and time in two cells. Values are
hourly means in 万kW (10 MW), i.e. units of 10 MWh per hour: they are multiplied by 10. A total row
``合計（百万kWh）`` follows the data; the geothermal column holds ``－``. Unlike the others these files are UTF-8 with
a byte-order mark.
"""

from __future__ import annotations

import re

from wattbit.data.area._parse import Layout

LAYOUT = Layout(
    area="shikoku",
    utility="Shikoku Electric Power Transmission & Distribution",
    description="unit row （単位：万ｋW）, header rows DATE,TIME,エリア需要,供給力 / sources / 実績,制御量",
    header=re.compile(r"^DATE,TIME,エリア需要,供給力"),
    expected_header="DATE,TIME,エリア需要,供給力 / ,,,原子力,火力,水力,…,太陽光,,風力,,揚水,連系線,合計 / 実績,制御量",
    rows_below=2,
    two_time_columns=True,
    unit="万kW",
    factor=10.0,
)


def detect(text: str) -> bool:
    """Return whether ``text`` (the beginning of a decoded file) is in Shikoku's layout."""
    return LAYOUT.matches(text)
