"""Building blocks of wattbit's HTML reports: one self-contained page with Plotly figures and tables."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from jinja2 import Environment
from plotly.offline import get_plotlyjs

from wattbit.durable import atomic_write_text

_PAGE = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
 table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: .3em .6em; }
 div.wide { overflow-x: auto; max-width: 100%; } div.wide th { white-space: nowrap; }
 th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
 .note { color: #555; font-size: .9em; } section { margin-bottom: 2.5em; }
</style>
<script>{{ plotlyjs | safe }}</script></head>
<body><h1>{{ title }}</h1><p>{{ subtitle }}</p>
{% for s in sections %}<section id="{{ s.id }}"><h2>{{ s.heading }}</h2>{{ s.body | safe }}</section>{% endfor %}
</body></html>"""
)


class Section:
    """A heading and its HTML body (already safe)."""

    def __init__(self, heading: str, body: str, id: str = "") -> None:
        self.heading = heading
        self.body = body
        self.id = id or heading.lower().replace(" ", "-")


def figure_html(fig: go.Figure) -> str:
    """A figure as a ``<div>``; the page loads plotly.js once."""
    return str(fig.to_html(full_html=False, include_plotlyjs=False))


def table_html(headers: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 1) -> str:
    """A table; numbers are right-aligned and rounded to ``digits`` decimals (thousands separated), a missing number
    (NaN, None) shows as a dash, and a table wider than the page scrolls inside its own box."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float | np.floating) and not np.isfinite(value)):
            return '<td class="num">—</td>'
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return f'<td class="num">{value:,d}</td>'
        if isinstance(value, float | np.floating):
            return f'<td class="num">{value:,.{digits}f}</td>'
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def write_page(path: Path, title: str, subtitle: str, sections: Sequence[Section]) -> Path:
    """Write a self-contained HTML page (plotly.js inlined, so it opens offline), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _PAGE.render(title=title, subtitle=subtitle, sections=sections, plotlyjs=get_plotlyjs())
    atomic_write_text(path, text)
    return path
