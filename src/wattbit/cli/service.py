"""``wattbit serve`` and ``wattbit token``: the service."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from wattbit.cli.base import app, user_errors
from wattbit.errors import WattbitInputError

token_app = typer.Typer(
    help="Bearer tokens of the service (wattbit serve).", no_args_is_help=True, rich_markup_mode=None
)


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL: sqlite:///PATH (default DATA_DIR/wattbit.sqlite) or postgresql://..."),
]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Folder of the runs' output, the alert store and the default database.")
]


@app.command()
@user_errors
def serve(
    db: DbOption = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT (loopback by default; port 0: a free port).")] = (
        "127.0.0.1:8000"
    ),
    data_dir: DataDirOption = Path("out/service"),
    fleet: Annotated[
        str, typer.Option("--fleet", help="Live view: twin (embedded demo), prometheus (--prometheus-url) or none.")
    ] = "twin",
    prometheus_url: Annotated[str | None, typer.Option("--prometheus-url", help="Prometheus to read.")] = None,
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario of the live fleet.")] = "japan-2022",
    speed: Annotated[float, typer.Option("--speed", help="The embedded twin's simulated seconds per second.")] = 1800.0,
    data_root: Annotated[
        list[Path] | None, typer.Option("--data-root", help="Folder uploaded scenarios may read data from (repeat).")
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option("--cors-origin", help="Browser origin allowed to call the API (repeat).")
    ] = None,
    audit_db: Annotated[
        Path | None, typer.Option("--audit-db", help="The control loop's audit store (default DATA_DIR/audit.sqlite).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Runs executed at once.", min=1)] = 1,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark the session cookie Secure (behind HTTPS).")
    ] = False,
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json) and the live dashboard until Ctrl-C."""
    from wattbit.api.server import default_db_url
    from wattbit.api.server import serve as serve_api
    from wattbit.api.service import ServiceConfig

    if fleet not in ("twin", "prometheus", "none"):
        raise WattbitInputError(f"--fleet: expected twin, prometheus or none, got {fleet!r}", field="fleet")
    if fleet == "prometheus" and not prometheus_url:
        raise WattbitInputError("--fleet prometheus needs --prometheus-url URL", field="prometheus_url")
    config = ServiceConfig(
        db_url=db or default_db_url(data_dir),
        data_dir=data_dir,
        fleet=fleet,  # type: ignore[arg-type]
        scenario=scenario,
        prometheus_url=prometheus_url,
        twin_speed=speed,
        max_workers=workers,
        audit_db=audit_db,
        cors_origins=list(cors_origin or []),
        data_roots=list(data_root or []),
        secure_cookies=secure_cookies,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_api(config, listen, ready=lambda url: typer.echo(f"serving {url}/ (API docs {url}/api/docs)", err=True))


@token_app.command("create")
@user_errors
def token_create(
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")],
    name: Annotated[str, typer.Option("--name", help="Who holds it (shown in the audit log).")],
    db: DbOption = None,
    data_dir: DataDirOption = Path("out/service"),
) -> None:
    """Create a token and print it alone on stdout (it is stored hashed and shown only this once)."""
    from wattbit.api.server import create_token_at, default_db_url

    typer.echo(create_token_at(db or default_db_url(data_dir), name, role))
