"""Layouts of the Japanese area supply-demand result files (エリア需給実績), one module per utility.

The public readers are in :mod:`wattbit.data.area_supply_demand`; this package holds what differs between the
utilities (:class:`~wattbit.data.area._parse.Layout` records and their detection) and the shared parsing engine.
"""

from __future__ import annotations

from wattbit.data.area import chubu, chugoku, hokkaido, hokuriku, kyushu, shikoku, tohoku
from wattbit.data.area._parse import COLUMNS, Layout, ParsedFile, parse_raw

LAYOUTS: dict[str, Layout] = {
    "tohoku": tohoku.LAYOUT,
    "hokkaido": hokkaido.LAYOUT,
    "kyushu": kyushu.LAYOUT,
    "hokuriku": hokuriku.LAYOUT,
    "chubu": chubu.LAYOUT,
    "kansai": kyushu.KANSAI,
    "chugoku": chugoku.LAYOUT,
    "shikoku": shikoku.LAYOUT,
}


def detect_area(text: str) -> str | None:
    """Tell which utility's raw area supply-demand layout a file has.

    Parameters
    ----------
    text
        The beginning of the decoded file (the first ~4000 characters are enough).

    Returns
    -------
    str or None
        The area (one of ``LAYOUTS``), or ``None`` when no known header line is found. Kyushu and Kansai share one
        layout: see :func:`wattbit.data.area.kyushu.kyushu_or_kansai` for how they are told apart.
    """
    for module in (tohoku, hokkaido, hokuriku, chubu, chugoku, shikoku):
        if module.detect(text):
            return module.LAYOUT.area
    return kyushu.kyushu_or_kansai(text)


__all__ = ["COLUMNS", "LAYOUTS", "Layout", "ParsedFile", "detect_area", "parse_raw"]
