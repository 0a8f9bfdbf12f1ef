"""What every ``wattbit`` command shares: the app, its options, user-error handling and the common arguments."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from wattbit import __version__
from wattbit.errors import WattbitInputError

# rich_markup_mode=None: help text is shown as written (plain click help), so that "[plan]" in a docstring is not taken
# for rich console markup and dropped.
app = typer.Typer(
    help="wattbit: plan, simulate and operate renewable-powered AI datacenters.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("wattbit.cli")  # not __name__, which is __main__ under python -m wattbit.cli
#: Name of the stderr handler ``--verbose`` puts on the ``wattbit`` logger (so that a second run replaces it).
LOG_HANDLER = "wattbit-cli-stderr"

ScenarioArg = Annotated[str, typer.Argument(help="A scenario TOML file, or a built-in scenario name (japan-2022).")]
OutOption = Annotated[Path, typer.Option("--out", help="Folder to write the results to.")]


def user_errors(func: F) -> F:
    """Print a :class:`WattbitInputError` without a traceback and exit with status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WattbitInputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def options(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Log at DEBUG level to stderr, the solver's banner and log included (quiet by default). "
            "Give it before the command: wattbit --verbose plan ...",
        ),
    ] = False,
) -> None:
    """Options for every command."""
    configure_logging(verbose)
    log.debug("wattbit %s: %s", __version__, ctx.invoked_subcommand)


def configure_logging(verbose: bool) -> None:
    """Send the ``wattbit`` loggers' records at DEBUG level and above to stderr if ``verbose``, else keep them quiet.

    Quiet means WARNING and above, through Python's last-resort handler. ``wattbit.opt`` shows the HiGHS banner and
    the solver's log only where ``logging.getLogger("wattbit.opt").isEnabledFor(logging.DEBUG)``.
    """
    logger = logging.getLogger("wattbit")
    for handler in [h for h in logger.handlers if h.get_name() == LOG_HANDLER]:
        logger.removeHandler(handler)
    if not verbose:
        logger.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler()  # sys.stderr as it is now
    handler.set_name(LOG_HANDLER)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A transient rich progress display, and the ``progress(task, steps_done, steps)`` that draws a bar per task."""
    from rich.progress import Progress, TaskID

    with Progress(transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(task: str, done: int, steps: int) -> None:
            if task not in tasks:
                tasks[task] = bars.add_task(task, total=steps)
            bars.update(tasks[task], completed=done)

        yield progress


PolicyOption = Annotated[
    str, typer.Option("--policy", help="Control policy: baseline, greedy, mpc or oracle (the offline bound).")
]
StartOption = Annotated[
    str | None, typer.Option("--start", help="Simulate from this date (ISO, scenario time zone) instead.")
]
EndOption = Annotated[str | None, typer.Option("--end", help="Simulate until this date (exclusive) instead.")]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Seed of failures and random choices.")]
ResumeOption = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the run checkpointed in --out DIR (after a crash or kill), with the same command and options; "
        "the result is identical to an uninterrupted run's.",
    ),
]
CheckpointEveryOption = Annotated[
    int, typer.Option("--checkpoint-every", help="Steps between two checkpoints of the engine.", min=1)
]


def seeds(text: str, name: str) -> tuple[int, ...]:
    """The comma-separated integers of option NAME."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise WattbitInputError(f"expected comma-separated integers, got {text!r}", field=name) from None


def print_summary(summary: dict[str, dict[str, float]]) -> None:
    """Print one line per site of its figures."""
    for site, figures in summary.items():
        parts = ", ".join(f"{k}={v:,.1f}" for k, v in figures.items())
        typer.echo(f"{site}: {parts}")
