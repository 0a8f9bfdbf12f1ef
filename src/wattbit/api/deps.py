"""Request dependencies: the service, the caller's identity and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session as DbSession

from wattbit.api.auth import CSRF_HEADER, SESSION_COOKIE, Principal, authenticate_session, authenticate_token
from wattbit.api.errors import ApiError
from wattbit.api.service import Service

bearer = HTTPBearer(auto_error=False, description="A token from `wattbit token create` (Authorization: Bearer ...)")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The dashboard's session cookie")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_service(request: Request) -> Service:
    """The running service."""
    service: Service = request.app.state.service
    return service


def get_db(service: Annotated[Service, Depends(get_service)]) -> Iterator[DbSession]:
    """A database session for one request."""
    with service.sessions() as db:
        yield db


async def current_principal(
    request: Request,
    service: Annotated[Service, Depends(get_service)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session_id: Annotated[str | None, Depends(cookie)],
) -> Principal:
    """Who calls: a bearer token, else the session cookie (whose writes need ``X-Wattbit-CSRF: 1``); 401 if neither.

    A token seen in the last seconds is answered from the cache on the event loop; anything else looks in the
    database in a worker thread."""
    if credentials is not None:
        cached = service.principals.get(credentials.credentials)
        if cached is not None:
            return cached
    return await run_in_threadpool(_lookup, request, service, credentials, session_id)


def _lookup(
    request: Request,
    service: Service,
    credentials: HTTPAuthorizationCredentials | None,
    session_id: str | None,
) -> Principal:
    with service.sessions() as db:
        if credentials is not None:
            principal = authenticate_token(db, credentials.credentials)
            if principal is None:
                raise ApiError(401, "bad_token", "the bearer token is unknown or revoked", expected="a valid token")
            service.principals.put(credentials.credentials, principal)
            return principal
        if session_id:
            principal = authenticate_session(db, session_id)
            if principal is not None:
                if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
                    raise ApiError(
                        403,
                        "csrf",
                        "a write with the session cookie needs the header X-Wattbit-CSRF: 1",
                        field=CSRF_HEADER,
                        expected="1",
                    )
                return principal
    raise ApiError(
        401,
        "unauthenticated",
        "authentication required: send Authorization: Bearer TOKEN (wattbit token create) or log in",
        expected="a bearer token",
    )


def require(role: str) -> Callable[..., Any]:
    """A dependency that admits callers with ``role`` or a stronger one (403 otherwise)."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.may(role):
            raise ApiError(
                403,
                "forbidden",
                f"this needs the {role} role; the token {principal.name!r} is {principal.role}",
                expected=role,
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Db = Annotated[DbSession, Depends(get_db)]
Svc = Annotated[Service, Depends(get_service)]
