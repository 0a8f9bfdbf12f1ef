"""The dashboard's pages and assets, served by the service itself: no CDN, no build step.

The pages are HTML shells (Jinja2 templates) that hold no data: their script (``static/app.js``) reads the API
with the browser's session cookie and follows the live event stream. Assets are this package's ``static/`` folder
(styles, script, the outline of Japan from Natural Earth) and plotly.js from the installed ``plotly`` wheel.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wattbit import __version__
from wattbit.api.errors import ApiError

router = APIRouter(include_in_schema=False)
HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGES = {
    "/": ("fleet", "Fleet"),
    "/ops": ("ops", "Operations"),
    "/runs": ("runs", "Runs"),
    "/scenarios": ("scenarios", "Scenarios"),
    "/login": ("login", "Log in"),
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".txt": "text/plain"}


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _page(path: str) -> HTMLResponse:
    page, title = PAGES[path]
    html = _env().get_template(f"{page}.html").render(page=page, title=title, version=__version__, nav=PAGES)
    return HTMLResponse(html)


@router.get("/", response_class=HTMLResponse)
def fleet_page() -> HTMLResponse:
    """The fleet: map, sites, live charts, queue."""
    return _page("/")


@router.get("/ops", response_class=HTMLResponse)
def ops_page() -> HTMLResponse:
    """Operations: proposed actions, alerts, nodes, audit log, mode."""
    return _page("/ops")


@router.get("/runs", response_class=HTMLResponse)
def runs_page() -> HTMLResponse:
    """Runs: start one, watch progress, open reports."""
    return _page("/runs")


@router.get("/scenarios", response_class=HTMLResponse)
def scenarios_page() -> HTMLResponse:
    """Scenarios: upload and list."""
    return _page("/scenarios")


@router.get("/login", response_class=HTMLResponse)
def login_page() -> HTMLResponse:
    """Log in with a token."""
    return _page("/login")


@router.get("/static/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly wheel."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    """One asset of ``static/`` by bare name."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        raise ApiError(404, "not_found", f"no asset {name[:100]!r}")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=300"})
