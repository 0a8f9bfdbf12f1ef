"""The ``wattbit`` command line: a thin layer over the public functions.

One module per group of commands; importing them registers their commands on :data:`wattbit.cli.base.app`.
"""

from __future__ import annotations

from wattbit.cli import heal, runs  # noqa: F401  (their commands register on app and ops_app)
from wattbit.cli.base import LOG_HANDLER, app
from wattbit.cli.data import data_app, scenario_app
from wattbit.cli.ops import ops_app, twin_app
from wattbit.cli.service import token_app

app.add_typer(data_app, name="data")
app.add_typer(scenario_app, name="scenario")
app.add_typer(twin_app, name="twin")
app.add_typer(ops_app, name="ops")
app.add_typer(token_app, name="token")

__all__ = ["LOG_HANDLER", "app", "main"]


def main() -> None:
    """Entry point of the ``wattbit`` script."""
    app(prog_name="wattbit")
