"""REST endpoints: health, the session, tokens, scenarios and runs (``/api/v1``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, text

from wattbit.api.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    audit,
    authenticate_token,
    check_role,
    close_session,
    create_token,
    open_session,
    revoke_token,
)
from wattbit.api.db import Run, ScenarioRow, Token, now_s
from wattbit.api.deps import Admin, Db, Operator, Svc, Viewer
from wattbit.api.errors import AUTH_ERRORS, CONFLICT, INVALID, NOT_FOUND, ApiError, ErrorBody, from_input_error
from wattbit.api.runs import RunRequest, list_files, new_run_id, run_dict, served_file
from wattbit.api.scenarios import load_stored, new_id, parse_upload, summary
from wattbit.errors import WattbitInputError

router = APIRouter()
api = APIRouter(prefix="/api/v1")
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; connect-src 'none'; frame-ancestors 'self'"
)


# ------------------------------------------------------------------------------------------------------ health
@router.get("/healthz", tags=["health"], summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """``{"status": "ok"}`` while the process runs (answered on the event loop: it shows the loop is free)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["health"],
    summary="Readiness: the database answers and the service started",
    responses={503: {"model": ErrorBody, "description": "Not ready"}},
)
def readyz(service: Svc) -> Any:
    """200 when the database answers and the service's parts have started, else 503."""
    try:
        with service.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"error": "not_ready", "message": f"database: {type(exc).__name__}"}, status_code=503)
    if not service.ready:
        return JSONResponse({"error": "not_ready", "message": "starting"}, status_code=503)
    return {"status": "ready", "fleet": service.fleet.kind}


# ------------------------------------------------------------------------------------------------------ session
class LoginRequest(BaseModel):
    """A token to open a browser session with."""

    token: str = Field(min_length=1, max_length=200)


class WhoAmI(BaseModel):
    """The caller."""

    name: str
    role: str


@api.post(
    "/session",
    tags=["session"],
    summary="Log in with a token: sets the session cookie",
    response_model=WhoAmI,
    responses={401: {"model": ErrorBody, "description": "Unknown or revoked token"}},
)
def login(body: LoginRequest, response: Response, service: Svc, db: Db) -> WhoAmI:
    """Open a browser session (cookie ``wattbit_session``, HttpOnly, SameSite=Strict) for a valid token."""
    principal = authenticate_token(db, body.token)
    if principal is None:
        raise ApiError(401, "bad_token", "the token is unknown or revoked", field="token", expected="a valid token")
    sid = open_session(db, principal)
    audit(db, principal.name, principal.role, "session.login", principal.name, {})
    db.commit()
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=int(SESSION_TTL_S),
        httponly=True,
        samesite="strict",
        secure=service.config.secure_cookies,
        path="/",
    )
    return WhoAmI(name=principal.name, role=principal.role)


@api.delete("/session", tags=["session"], summary="Log out", status_code=204, responses=AUTH_ERRORS)
def logout(request: Request, response: Response, who: Viewer, db: Db) -> Response:
    """End the browser session."""
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        close_session(db, sid)
        db.commit()
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@api.get("/whoami", tags=["session"], summary="Who the token belongs to", response_model=WhoAmI, responses=AUTH_ERRORS)
def whoami(who: Viewer) -> WhoAmI:
    """The caller's token name and role."""
    return WhoAmI(name=who.name, role=who.role)


# ------------------------------------------------------------------------------------------------------ tokens
class TokenRequest(BaseModel):
    """A token to create."""

    name: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "operator", "admin"]


def token_dict(t: Token) -> dict[str, Any]:
    """A token as the API lists it (never the token itself)."""
    return {
        "id": t.id,
        "name": t.name,
        "role": t.role,
        "prefix": t.prefix,
        "created_s": t.created_s,
        "created_by": t.created_by,
        "revoked_s": t.revoked_s,
    }


@api.get("/tokens", tags=["tokens"], summary="List tokens (admin)", responses=AUTH_ERRORS)
def list_tokens(who: Admin, db: Db) -> list[dict[str, Any]]:
    """Every token's name, role, first characters and state."""
    return [token_dict(t) for t in db.scalars(select(Token).order_by(Token.id))]


@api.post(
    "/tokens", tags=["tokens"], summary="Create a token (admin)", status_code=201, responses={**AUTH_ERRORS, **INVALID}
)
def post_token(body: TokenRequest, who: Admin, db: Db, response: Response) -> dict[str, Any]:
    """Create a token; the answer holds the token itself, this once (``Cache-Control: no-store``)."""
    try:
        row, secret = create_token(db, body.name, check_role(body.role), created_by=who.name)
    except WattbitInputError as exc:
        raise from_input_error(exc, 409 if "exists" in str(exc) else 422) from None
    db.commit()
    response.headers["Cache-Control"] = "no-store"
    return {**token_dict(row), "token": secret}


@api.delete(
    "/tokens/{token_id}", tags=["tokens"], summary="Revoke a token (admin)", responses={**AUTH_ERRORS, **NOT_FOUND}
)
def delete_token(
    token_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], who: Admin, db: Db, service: Svc
) -> dict[str, Any]:
    """Revoke a token and end its browser sessions (at once in this process; within 10 s in others)."""
    row = revoke_token(db, token_id)
    service.principals.clear()
    if row is None:
        raise ApiError(404, "not_found", f"no token {token_id}", field="token_id", value=token_id)
    audit(db, who.name, who.role, "token.revoke", row.name, {"id": token_id})
    db.commit()
    return token_dict(row)


# ---------------------------------------------------------------------------------------------------- scenarios
def scenario_dict(row: ScenarioRow, full: bool = False) -> dict[str, Any]:
    """A scenario as the API returns it."""
    out = {
        "id": row.id,
        "name": row.name,
        "filename": row.filename,
        "source": row.source,
        "created_s": row.created_s,
        "created_by": row.created_by,
        "summary": {k: v for k, v in row.summary.items() if k != "base_dir"},
    }
    if full:
        out["toml"] = row.toml
    return out


@api.get("/scenarios", tags=["scenarios"], summary="List scenarios", responses=AUTH_ERRORS)
def list_scenarios(who: Viewer, service: Svc) -> list[dict[str, Any]]:
    """The built-in scenarios and every uploaded one, newest first."""
    return [scenario_dict(r) for r in service.scenario_rows()]


@api.post(
    "/scenarios",
    tags=["scenarios"],
    summary="Upload a scenario TOML (validated as `wattbit scenario validate` does)",
    status_code=201,
    responses={
        **AUTH_ERRORS,
        **INVALID,
        400: {"model": ErrorBody, "description": "Bad file name"},
        413: {"model": ErrorBody, "description": "Too large"},
    },
)
async def upload_scenario(
    file: Annotated[UploadFile, File(description="A scenario .toml")], who: Operator, service: Svc
) -> dict[str, Any]:
    """Check and store a scenario; errors name the file, the field, the value and what was expected."""
    limit = service.config.max_upload_bytes
    data = await file.read(limit + 1)
    scenario, toml_text, base = parse_upload(file.filename or "", data, service.config.data_roots)
    info = summary(scenario)
    info["base_dir"] = str(base)
    with service.sessions() as db:
        row = ScenarioRow(
            id=new_id(),
            name=scenario.name,
            filename=file.filename or "",
            source="upload",
            toml=toml_text,
            summary=info,
            created_s=now_s(),
            created_by=who.name,
        )
        db.add(row)
        audit(db, who.name, who.role, "scenario.upload", row.id, {"name": row.name, "filename": row.filename})
        db.commit()
        out = scenario_dict(row)
    service.hub.publish("scenario", out)
    return out


def _scenario(db: Db, scenario_id: str) -> ScenarioRow:
    row = db.get(ScenarioRow, scenario_id) if len(scenario_id) <= 32 else None
    if row is None:
        raise ApiError(404, "not_found", f"no scenario {scenario_id!r}", field="scenario_id", value=scenario_id[:64])
    return row


@api.get(
    "/scenarios/{scenario_id}",
    tags=["scenarios"],
    summary="A scenario with its TOML",
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def get_scenario(scenario_id: str, who: Viewer, db: Db) -> dict[str, Any]:
    """One scenario: its summary and its text."""
    return scenario_dict(_scenario(db, scenario_id), full=True)


# --------------------------------------------------------------------------------------------------------- runs
@api.get("/runs", tags=["runs"], summary="List runs", responses=AUTH_ERRORS, response_model=list[dict[str, Any]])
async def list_runs(
    who: Viewer,
    service: Svc,
    request: Request,
    state: Annotated[
        Literal["queued", "starting", "running", "succeeded", "failed", "cancelled"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Runs, newest first."""
    q = select(Run).order_by(Run.created_s.desc()).limit(limit)
    if state is not None:
        q = q.where(Run.state == state)

    def read() -> list[dict[str, Any]]:
        with service.sessions() as db:
            return [run_dict(r) for r in db.scalars(q)]

    return await service.reads.answer(request, read)


@api.post(
    "/runs",
    tags=["runs"],
    summary="Start a simulate, bench or plan run in the background",
    status_code=202,
    responses={**AUTH_ERRORS, **INVALID, **NOT_FOUND},
)
def start_run(body: RunRequest, who: Operator, service: Svc, db: Db) -> dict[str, Any]:
    """Queue a run; it is in the database when this answers, and runs in a worker process of its own."""
    from wattbit.scenario import with_period

    row = _scenario(db, body.scenario_id)
    try:
        scenario = load_stored(row.source, row.filename, row.toml, row.summary.get("base_dir"))
        if body.kind in ("simulate", "bench"):
            with_period(scenario, body.start, body.end)
    except WattbitInputError as exc:
        raise from_input_error(exc) from None
    if body.kind == "plan" and scenario.plan is None:
        raise ApiError(
            422,
            "invalid_input",
            f"scenario {row.name!r} has no [plan] section to plan",
            field="scenario_id",
            value=row.id,
            expected="a scenario with a [plan] section",
        )
    t = now_s()
    run = Run(
        id=new_run_id(),
        kind=body.kind,
        scenario_id=row.id,
        params=body.params(),
        state="queued",
        progress=0.0,
        message="queued",
        created_s=t,
        created_by=who.name,
        updated_s=t,
        attempt=1,
        cancel_requested=False,
    )
    db.add(run)
    audit(db, who.name, who.role, "run.start", run.id, {"kind": body.kind, "scenario": row.id, **run.params})
    db.commit()
    out = run_dict(run)
    service.hub.publish("run", out)
    return out


def _run(db: Db, run_id: str) -> Run:
    row = db.get(Run, run_id) if len(run_id) <= 32 else None
    if row is None:
        raise ApiError(404, "not_found", f"no run {run_id!r}", field="run_id", value=run_id[:64])
    return row


@api.get(
    "/runs/{run_id}",
    tags=["runs"],
    summary="A run: state, progress, result",
    responses={**AUTH_ERRORS, **NOT_FOUND},
    response_model=dict[str, Any],
)
async def get_run(run_id: str, who: Viewer, service: Svc, request: Request) -> Response:
    """One run."""

    def read() -> dict[str, Any]:
        with service.sessions() as db:
            return run_dict(_run(db, run_id))

    return await service.reads.answer(request, read)


@api.post(
    "/runs/{run_id}/cancel", tags=["runs"], summary="Cancel a run", responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT}
)
def cancel_run(run_id: str, who: Operator, service: Svc, db: Db) -> dict[str, Any]:
    """Cancel a queued run at once, or ask a running one's worker to stop (within about a second)."""
    run = _run(db, run_id)
    if run.state in ("succeeded", "failed", "cancelled"):
        raise ApiError(409, "conflict", f"run {run_id} is already {run.state}", field="state", value=run.state)
    t = now_s()
    if run.state == "queued":
        run.state, run.finished_s, run.message = "cancelled", t, "cancelled before it started"
    run.cancel_requested, run.updated_s = True, t
    audit(db, who.name, who.role, "run.cancel", run.id, {"state": run.state})
    db.commit()
    out = run_dict(run)
    service.hub.publish("run", out)
    return out


@api.post(
    "/runs/{run_id}/restart",
    tags=["runs"],
    summary="Start a failed or cancelled run again",
    responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
)
def restart_run(run_id: str, who: Operator, service: Svc, db: Db) -> dict[str, Any]:
    """Queue a failed or cancelled run again (same id, next attempt; its old output is replaced)."""
    run = _run(db, run_id)
    if run.state not in ("failed", "cancelled"):
        raise ApiError(
            409,
            "conflict",
            f"run {run_id} is {run.state}; only failed or cancelled runs restart",
            field="state",
            value=run.state,
            expected="failed or cancelled",
        )
    t = now_s()
    run.state, run.progress, run.message, run.error, run.result = "queued", 0.0, "queued again", None, None
    run.started_s = run.finished_s = run.heartbeat_s = None
    run.worker_pid, run.cancel_requested, run.attempt, run.updated_s = None, False, run.attempt + 1, t
    audit(db, who.name, who.role, "run.restart", run.id, {"attempt": run.attempt})
    db.commit()
    out = run_dict(run)
    service.hub.publish("run", out)
    return out


@api.get("/runs/{run_id}/files", tags=["runs"], summary="A run's result files", responses={**AUTH_ERRORS, **NOT_FOUND})
def run_files(run_id: str, who: Viewer, service: Svc, db: Db) -> list[dict[str, Any]]:
    """Names and sizes of the run's files (JSON, Parquet, CSV, HTML, its log)."""
    _run(db, run_id)
    base = f"/api/v1/runs/{run_id}/files/"
    return [{**f, "url": base + f["name"]} for f in list_files(service.config.data_dir, run_id)]


_MEDIA = {
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".html": "text/html; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
}


@api.get(
    "/runs/{run_id}/files/{name}",
    tags=["runs"],
    summary="Download one result file",
    responses={**AUTH_ERRORS, **NOT_FOUND, 200: {"content": {"application/octet-stream": {}}}},
)
def run_file(run_id: str, name: str, who: Viewer, service: Svc, db: Db) -> FileResponse:
    """One file of the run by its bare name (no folders: ``../`` and the like are refused with 404)."""
    _run(db, run_id)
    path = served_file(service.config.data_dir, run_id, name)
    if path is None:
        raise ApiError(404, "not_found", f"run {run_id} has no file {name[:100]!r}", field="name", value=name[:100])
    media = _MEDIA.get(path.suffix, "application/octet-stream")
    headers = {"Content-Security-Policy": REPORT_CSP} if path.suffix == ".html" else {}
    return FileResponse(path, media_type=media, headers=headers, filename=None if path.suffix == ".html" else path.name)


@api.get(
    "/runs/{run_id}/report",
    tags=["runs"],
    summary="The run's HTML report",
    responses={**AUTH_ERRORS, **NOT_FOUND, 200: {"content": {"text/html": {}}}},
)
def run_report(run_id: str, who: Viewer, service: Svc, db: Db) -> FileResponse:
    """The report of a finished run (``report.html``, or ``bench.html`` for a bench)."""
    run = _run(db, run_id)
    name = "bench.html" if run.kind == "bench" else "report.html"
    path = served_file(service.config.data_dir, run_id, name)
    if path is None:
        raise ApiError(404, "not_found", f"run {run_id} has no report yet (state {run.state})", field="run_id")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": REPORT_CSP})
