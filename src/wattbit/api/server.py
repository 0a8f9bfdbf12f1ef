"""Running the service: :func:`serve` (``wattbit serve``) and :func:`create_token_at` (``wattbit token create``).

The server is uvicorn on one loopback address by default. Its access log is off: request lines would carry query
strings, and the service's own ``/metrics`` counts requests instead. Tokens never reach a log: ``create_token_at``
returns the new token to its caller, who prints it alone on stdout.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from wattbit.errors import WattbitInputError

if TYPE_CHECKING:  # the service (pandas, the twin) is imported by serve() only: `wattbit token create` starts fast
    from wattbit.api.service import ServiceConfig

log = logging.getLogger(__name__)
#: The database and the runs' folders when ``--db`` and ``--data-dir`` are not given.
DEFAULT_DATA_DIR = Path("out/service")
#: Seconds a stopping server waits for open requests (event streams never end by themselves) [s].
GRACE_S = 3


def default_db_url(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """``sqlite:///DATA_DIR/wattbit.sqlite``, the embedded default."""
    from wattbit.api.db import default_db_url as sqlite_url

    return sqlite_url(data_dir / "wattbit.sqlite")


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); port 0 asks for a free one.

    Raises
    ------
    WattbitInputError
        When ``listen`` is not HOST:PORT with a port in 0-65535.
    """
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65_536:
        raise WattbitInputError(f"expected HOST:PORT such as 127.0.0.1:8000, got {listen!r}", field="listen")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_token_at(db_url: str, name: str, role: str) -> str:
    """Create a token in the database at ``db_url`` (migrated first) and return it; only its hash is stored.

    Raises
    ------
    WattbitInputError
        For a bad role or name, a name already taken, or a database URL of another kind.
    """
    from wattbit.api.auth import check_role, create_token
    from wattbit.api.db import make_engine, migrate, sessions

    check_role(role)
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with sessions(engine)() as db:
            _, secret = create_token(db, name, role, created_by="cli")
            db.commit()
    finally:
        engine.dispose()
    return secret


def serve(config: ServiceConfig, listen: str = "127.0.0.1:8000", ready: Callable[[str], None] | None = None) -> None:
    """Serve the API and the dashboard on ``listen`` until SIGINT/SIGTERM (uvicorn's handlers).

    A non-loopback address is allowed (behind a reverse proxy, docs/service.md) but logged as a warning.
    """
    import uvicorn

    from wattbit.api.app import create_app

    host, port = parse_listen(listen)
    if not is_loopback(host):
        log.warning("listening on %s, not a loopback address: put the service behind an HTTPS reverse proxy", host)
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            access_log=False,
            log_level="info",
            proxy_headers=False,
            timeout_graceful_shutdown=GRACE_S,
        )
    )
    if ready is not None:
        original = server.startup

        async def startup(sockets: object = None) -> None:
            await original(sockets)  # type: ignore[arg-type]
            bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
            ready(f"http://{host}:{bound}")

        server.startup = startup  # type: ignore[method-assign]
    server.run()
