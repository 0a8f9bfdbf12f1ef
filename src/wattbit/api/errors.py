"""Errors the API answers with: one JSON shape for every 4xx, with the same detail as the CLI's messages.

``{"error": CODE, "message": TEXT, "file": ..., "field": ..., "row": ..., "value": ..., "expected": ...,
"problems": [{"field", "value", "message"}]}`` — the keys after ``message`` only where they apply.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from wattbit.errors import WattbitInputError


class ApiError(Exception):
    """An error answered with ``status`` and the body of the module docstring."""

    def __init__(self, status: int, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"error": self.code, "message": self.message, **self.fields}


class Problem(BaseModel):
    """One bad field of a request or a scenario."""

    field: str | None = None
    value: Any = None
    message: str


class ErrorBody(BaseModel):
    """Body of every error answer."""

    error: str
    message: str
    file: str | None = None
    field: str | None = None
    row: int | None = None
    value: Any = None
    expected: str | None = None
    problems: list[Problem] | None = None


def from_input_error(exc: WattbitInputError, status: int = 422, code: str = "invalid_input") -> ApiError:
    """A :class:`~wattbit.errors.WattbitInputError` (what the CLI prints) as an :class:`ApiError`."""
    return ApiError(status, code, str(exc), file=exc.path, field=exc.field, row=exc.row)


#: OpenAPI ``responses`` of the error answers an authenticated endpoint can give.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No token, or a bad, unknown or revoked one"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such object"}}
INVALID: dict[int | str, dict[str, Any]] = {422: {"model": ErrorBody, "description": "Invalid input"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "Not in a state that allows it"}}
