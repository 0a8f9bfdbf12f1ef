"""Errors that wattbit reports to its users.

Every mistake in a user's input (a scenario file, a data file, a command-line argument) is raised as a
:class:`WattbitInputError`, whose message names *where* the problem is (file, row, field), *what* was found and
*what was expected*. The CLI prints these without a traceback and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class WattbitInputError(ValueError):
    """A problem with user-supplied input, reported with its location.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    path
        The file the problem is in, if any.
    row
        1-based line number in that file (as a text editor shows it), if known.
    field
        The column or scenario field path (``sites[0].grid_area``), if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.row = row
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class DataFormatError(WattbitInputError):
    """A data file does not have the layout, encoding or values its reader expects."""


class ScenarioError(WattbitInputError):
    """A scenario file fails validation."""
