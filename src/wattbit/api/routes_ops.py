"""REST endpoints of the live fleet and operations, the live event stream, and the service's own metrics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from wattbit.api.deps import Admin, Operator, Svc, Viewer
from wattbit.api.errors import AUTH_ERRORS, CONFLICT, INVALID, NOT_FOUND, ApiError
from wattbit.api.fleet import SITE_FIELDS
from wattbit.api.ops_backend import ACTION_KINDS, ACTION_STATUSES, Conflict, NotFound
from wattbit.errors import WattbitInputError

api = APIRouter(prefix="/api/v1")
ActionKind = Literal[ACTION_KINDS]  # type: ignore[valid-type]
ActionStatus = Literal[ACTION_STATUSES]  # type: ignore[valid-type]
ActionId = Annotated[str, PathParam(min_length=1, max_length=300)]
#: Alerts whose episode saw a candidate within this long of the fleet's clock set a site's state [s].
ACTIVE_ALERT_S = 6 * 3600.0
_RANK = {"ok": 0, "info": 0, "warning": 1, "critical": 2}


def site_states(alerts: list[dict[str, Any]], clock_s: float) -> dict[str, dict[str, Any]]:
    """Per site: ``state`` (ok, warning, critical) from its active alerts, and their count."""
    out: dict[str, dict[str, Any]] = {}
    for a in alerts:
        if a["last_s"] < clock_s - ACTIVE_ALERT_S or a["severity"] == "info":
            continue
        s = out.setdefault(a["site"], {"state": "ok", "active_alerts": 0})
        s["active_alerts"] += 1
        if _RANK[a["severity"]] > _RANK[s["state"]]:
            s["state"] = a["severity"]
    return out


# --------------------------------------------------------------------------------------------------------- fleet
@api.get(
    "/sites",
    tags=["fleet"],
    summary="Sites with their live values and state",
    responses=AUTH_ERRORS,
    response_model=dict[str, Any],
)
async def sites(who: Viewer, service: Svc, request: Request) -> Response:
    """Each site (English and Japanese names, area, position) with its latest values and its state from alerts;
    ``units`` gives each value's unit."""
    return await service.reads.answer(request, lambda: _sites(service))


def _sites(service: Any) -> dict[str, Any]:
    clock = service.clock_s()
    states = site_states(service.ops.alerts(limit=500), clock)
    rows = []
    for s in service.fleet.sites():
        st = states.get(s["id"], {"state": "ok", "active_alerts": 0})
        rows.append({**s, **st})
    return {
        "source": service.fleet.kind,
        "units": {k: {"label": label, "unit": unit} for k, (label, unit) in SITE_FIELDS.items()},
        "sites": rows,
    }


@api.get(
    "/sites/{site}/telemetry",
    tags=["fleet"],
    summary="A site's recent telemetry",
    responses={**AUTH_ERRORS, **NOT_FOUND},
    response_model=dict[str, Any],
)
async def site_telemetry(site: str, who: Viewer, service: Svc, request: Request) -> Response:
    """Columns ``time_utc`` and one per value (units in the names and in ``units``)."""
    return await service.reads.answer(request, lambda: _site_telemetry(site, service))


def _site_telemetry(site: str, service: Any) -> dict[str, Any]:
    hist = service.fleet.history(site[:100])
    if hist is None:
        raise ApiError(404, "not_found", f"no site {site[:100]!r} in the live fleet", field="site", value=site[:100])
    return {"site": site, "units": {k: unit for k, (_, unit) in SITE_FIELDS.items()}, "series": hist}


@api.get(
    "/nodes",
    tags=["fleet"],
    summary="Nodes: GPUs present, power, hottest GPU, state",
    responses=AUTH_ERRORS,
    response_model=list[dict[str, Any]],
)
async def nodes(
    who: Viewer,
    service: Svc,
    request: Request,
    site: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 2000,
) -> Response:
    """Nodes of the live fleet, with ``state``: ``drain approved``/``drain proposed`` from actions, ``suspect`` or
    ``failed`` from active alerts, else ``ok``."""
    return await service.reads.answer(request, lambda: _nodes(service, site, limit))


def _nodes(service: Any, site: str | None, limit: int) -> list[dict[str, Any]]:
    clock = service.clock_s()
    worst: dict[str, str] = {}
    for a in service.ops.alerts(limit=1000):
        if a["node"] and a["last_s"] >= clock - ACTIVE_ALERT_S and a["severity"] != "info":
            state = "failed" if a["severity"] == "critical" else "suspect"
            if worst.get(a["node"]) != "failed":
                worst[a["node"]] = state
    names = {"pending_approval": "drain proposed", "approved": "drain approved", "decided": "draining",
             "applied": "drained"}  # fmt: skip
    for act in reversed(service.ops.actions(limit=1000)):
        if act["kind"] == "drain" and act["state"] in names:
            worst[act["target"]] = names[act["state"]]
    return [{**n, "state": worst.get(n["node"], "ok")} for n in service.fleet.nodes(site)[:limit]]


@api.get(
    "/queue",
    tags=["fleet"],
    summary="The job queue and running jobs",
    responses=AUTH_ERRORS,
    response_model=dict[str, Any],
)
async def queue(who: Viewer, service: Svc, request: Request) -> Response:
    """Counts, and the first queued and running jobs (from the twin's engine; a scheduler adapter otherwise)."""
    return await service.reads.answer(request, service.fleet.queue)


@api.get(
    "/fleet/status",
    tags=["fleet"],
    summary="The live source and how it is doing",
    responses=AUTH_ERRORS,
    response_model=dict[str, Any],
)
async def fleet_status(who: Viewer, service: Svc, request: Request) -> Response:
    """The fleet source's status (the twin's simulated time and step time; Prometheus' URL and readiness)."""
    return await service.reads.answer(request, service.fleet.status)


# ----------------------------------------------------------------------------------------------------------- ops
@api.get(
    "/ops/alerts",
    tags=["operations"],
    summary="Alerts with their evidence",
    responses=AUTH_ERRORS,
    response_model=list[dict[str, Any]],
)
async def alerts(
    who: Viewer,
    service: Svc,
    request: Request,
    since_s: Annotated[float | None, Query(ge=-1e12, le=1e12)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Response:
    """Alerts of the watcher (issue 13's store), newest first."""
    return await service.reads.answer(request, lambda: service.ops.alerts(since_s, limit))


@api.get(
    "/ops/actions",
    tags=["operations"],
    summary="Actions the control loop proposed",
    responses=AUTH_ERRORS,
    response_model=list[dict[str, Any]],
)
async def actions(
    who: Viewer,
    service: Svc,
    request: Request,
    state: Annotated[ActionStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Response:
    """Proposed actions and their decisions, newest first."""
    return await service.reads.answer(request, lambda: service.ops.actions(state, limit))


class Proposal(BaseModel):
    """An action the control loop proposes (it posts with an operator token)."""

    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    site: str = Field(default="", max_length=100)
    target: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field(default="", max_length=2000)
    evidence: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(default="service", min_length=1, max_length=32)
    episode: str = Field(default="", max_length=200)
    data_time_s: float | None = Field(default=None, ge=0, le=1e11)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=300)


@api.post(
    "/ops/actions",
    tags=["operations"],
    summary="Propose an action (the control loop)",
    status_code=201,
    responses={**AUTH_ERRORS, **INVALID, 200: {"description": "Already proposed with this idempotency key"}},
)
def propose(body: Proposal, who: Operator, service: Svc) -> Any:
    """Record a proposal with the status the loop's mode gives it (``pending_approval`` for a destructive action in
    ``approve`` mode); the same ``idempotency_key`` twice returns the first (200) instead of a new one (201)."""
    from fastapi.responses import JSONResponse

    try:
        action, new = service.ops.propose(body.model_dump(), who)
    except WattbitInputError as exc:
        raise ApiError(422, "invalid_input", str(exc), field="kind") from None
    if new:
        service.hub.publish("action", action)
    return JSONResponse(action, status_code=201 if new else 200)


class Decision(BaseModel):
    """An optional comment with a decision."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000)


def _decide(verb: str, action_id: str, body: Decision | None, who: Any, service: Any) -> dict[str, Any]:
    try:
        fn = service.ops.approve if verb == "approve" else service.ops.reject
        action: dict[str, Any] = fn(action_id, who, body.comment if body else None)
    except NotFound:
        raise ApiError(404, "not_found", f"no action {action_id[:64]!r}", field="action_id") from None
    except Conflict as exc:
        raise ApiError(409, "conflict", str(exc), field="state", expected="pending_approval") from None
    service.hub.publish("action", action)
    service.hub.publish("audit", {"action": f"action.{verb}", "target": action_id, "actor": who.name})
    return action


@api.post(
    "/ops/actions/{action_id}/approve",
    tags=["operations"],
    summary="Approve a proposed action",
    responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
)
def approve(action_id: ActionId, who: Operator, service: Svc, body: Decision | None = None) -> dict[str, Any]:
    """Approve (operator): on disk, with its audit entry, before this answers."""
    return _decide("approve", action_id, body, who, service)


@api.post(
    "/ops/actions/{action_id}/reject",
    tags=["operations"],
    summary="Reject a proposed action",
    responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
)
def reject(action_id: ActionId, who: Operator, service: Svc, body: Decision | None = None) -> dict[str, Any]:
    """Reject (operator)."""
    return _decide("reject", action_id, body, who, service)


@api.get("/ops/audit", tags=["operations"], summary="The audit log", responses=AUTH_ERRORS)
def audit_log(
    who: Viewer,
    service: Svc,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    source: Annotated[Literal["all", "service", "loop"], Query()] = "all",
) -> list[dict[str, Any]]:
    """Every change, newest first: who (the token's name, or the loop), role, what, on what, details. ``service``:
    changes made through the API; ``loop``: the control loop's log (proposals, approvals, what it applied)."""
    return service.ops.audit(limit, source)


class ModeRequest(BaseModel):
    """The control loop's mode."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["shadow", "approve", "auto"]


@api.get("/ops/mode", tags=["operations"], summary="The control loop's mode", responses=AUTH_ERRORS)
def get_mode(who: Viewer, service: Svc) -> dict[str, Any]:
    """shadow (recommend only), approve (destructive actions wait for a person) or auto (act)."""
    return service.ops.mode()


@api.put(
    "/ops/mode",
    tags=["operations"],
    summary="Set the control loop's mode (admin)",
    responses={**AUTH_ERRORS, **INVALID},
)
def put_mode(body: ModeRequest, who: Admin, service: Svc) -> dict[str, Any]:
    """Change the mode (admin); audited."""
    out = service.ops.set_mode(body.mode, who)
    service.hub.publish("mode", out)
    service.hub.publish("audit", {"action": "loop.mode", "target": "loop", "actor": who.name})
    return out


# -------------------------------------------------------------------------------------------------------- events
@api.get(
    "/events",
    tags=["events"],
    summary="Live updates (server-sent events)",
    responses={**AUTH_ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "An endless event stream"}},
)
async def events(who: Viewer, service: Svc) -> StreamingResponse:
    """Events ``telemetry`` (each twin step), ``run``, ``alerts``, ``action``, ``audit``, ``mode``, ``scenario``."""
    hello = {"user": who.name, "role": who.role, "fleet": service.fleet.kind}
    return StreamingResponse(
        service.hub.stream(hello),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
