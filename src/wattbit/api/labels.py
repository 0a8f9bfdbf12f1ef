"""Names of places in Japanese and English: the grid areas (the ten general transmission and distribution areas)
and the sites of the built-in scenarios. A site not listed here is shown by its scenario name."""

from __future__ import annotations

#: Grid area -> (English, Japanese) as the utilities name their areas (エリア).
AREAS: dict[str, tuple[str, str]] = {
    "hokkaido": ("Hokkaido", "北海道"),
    "tohoku": ("Tohoku", "東北"),
    "tokyo": ("Tokyo", "東京"),
    "chubu": ("Chubu", "中部"),
    "hokuriku": ("Hokuriku", "北陸"),
    "kansai": ("Kansai", "関西"),
    "chugoku": ("Chugoku", "中国"),
    "shikoku": ("Shikoku", "四国"),
    "kyushu": ("Kyushu", "九州"),
    "okinawa": ("Okinawa", "沖縄"),
}

#: Site name -> (English, Japanese) for the sites of the built-in scenarios and the planner's examples.
SITES: dict[str, tuple[str, str]] = {
    "fukushima": ("Fukushima (Okuma)", "福島（大熊町）"),
    "ishikari": ("Ishikari", "石狩"),
    "inzai": ("Inzai", "印西"),
    "tomakomai": ("Tomakomai", "苫小牧"),
    "sendai": ("Sendai", "仙台"),
    "kitakyushu": ("Kitakyushu", "北九州"),
    "osaka": ("Osaka", "大阪"),
    "tokyo": ("Tokyo", "東京"),
}


def area_label(area: str) -> dict[str, str]:
    """``{"id", "en", "ja"}`` of a grid area (the id itself where it is unknown)."""
    en, ja = AREAS.get(area, (area.title(), ""))
    return {"id": area, "en": en, "ja": ja}


def site_label(site: str) -> dict[str, str]:
    """``{"id", "en", "ja"}`` of a site (the id itself where it is unknown)."""
    en, ja = SITES.get(site, (site.replace("-", " ").title(), ""))
    return {"id": site, "en": en, "ja": ja}
