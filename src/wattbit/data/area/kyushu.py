"""Kyushu Electric Power Transmission and Distribution, and Kansai Transmission and Distribution.

Both publish the same layout: a group row ``,,,,,,,太陽光,太陽光,風力,風力,,`` over the label row
``DATE_TIME,エリア需要〔MWh〕,原子力〔MWh〕,…,実績〔MWh〕,抑制量〔MWh〕,…``; the time is one cell ``2022/4/1 0:00``.
Kyushu files are fiscal-year quarters (``area_jyukyu_jisseki_2022_1Q.csv``; before FY2019 the Japanese era,
``…_H30_1Q.csv``); labels vary between years (``火力``/``火力等``, ``揚水``/``揚水等``, ``連系線``/``連系線潮流``), the
FY2018 Q4 file writes thousands separators (``"8,707"``) and FY2017 Q4 ends with rows of empty cells. Kansai files
are fiscal years (``area_jyukyu_jisseki_2021.csv``); from FY2021 a note line precedes the header.

The header cannot tell the two apart: a file is taken for Kansai when it carries Kansai's note line or when its
geothermal column is zero in every row of the sample (Kansai has no geothermal plant, Kyushu's run at 50..190 MWh).
Pass ``area=`` explicitly to skip this guess.
"""

from __future__ import annotations

import csv
import io
import re

from wattbit.data.area._parse import Layout

_HEADER = re.compile(r"^DATE_TIME,エリア需要〔MWh〕,原子力")
_EXPECTED = "DATE_TIME,エリア需要〔MWh〕,原子力〔MWh〕,火力〔MWh〕,…,実績〔MWh〕,抑制量〔MWh〕,… (under 太陽光/風力)"
_DESCRIPTION = "group row 太陽光/風力 over DATE_TIME,エリア需要〔MWh〕,原子力〔MWh〕,…,実績〔MWh〕,抑制量〔MWh〕"

LAYOUT = Layout(
    area="kyushu",
    utility="Kyushu Electric Power Transmission and Distribution",
    description=_DESCRIPTION,
    header=_HEADER,
    expected_header=_EXPECTED,
    rows_above=1,
)
KANSAI = Layout(
    area="kansai",
    utility="Kansai Transmission and Distribution",
    description=_DESCRIPTION,
    header=_HEADER,
    expected_header=_EXPECTED,
    rows_above=1,
)


def kyushu_or_kansai(text: str) -> str | None:
    """Tell whether ``text`` in the shared layout is a Kyushu or a Kansai file; ``None`` if not this layout."""
    if not LAYOUT.matches(text):
        return None
    if "・発電実績は" in text:
        return "kansai"
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if _HEADER.match(line)) + 1
    body = lines[start:] if text.endswith(("\n", "\r")) else lines[start:-1]  # the last line may be cut short
    geothermal = []
    for row in csv.reader(io.StringIO("\n".join(body))):
        try:
            geothermal.append(float(row[5].replace(",", "")))
        except (IndexError, ValueError):
            continue
    if not geothermal:
        return None
    return "kyushu" if max(geothermal) > 0 else "kansai"
