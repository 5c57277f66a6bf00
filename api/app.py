"""The Starlette application: /graphql, /auth, /admin, /health, /metrics."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import documents
from api.auth import ANONYMOUS, csrf_failure, identify
from api.fhir_inbound import post_bundle, post_diagnostic_report
from api.graphql_view import GraphQLEndpoint
from api.services import Services
from domain import request as request_vars
from domain.audit.service import record_change
from domain.auth import service as auth_service
from domain.database import utcnow
from domain.push.platform import push_configured
from domain.push.service import push_health
from domain.settings import Settings
from jobs.heartbeat import latest

STATIC_DIR = Path(__file__).resolve().parent / "static"
ADMIN_DIR = Path(__file__).resolve().parent.parent / "admin_spa"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HEARTBEAT_STALE_S = 120


def _route_label(path: str) -> str:
    for prefix in (
        "/graphql",
        "/health",
        "/metrics",
        "/auth",
        "/admin",
        "/static",
        "/fhir",
        "/documents",
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return "other"


class RequestObservation:
    """Request id for every request (header in, header out, on every log line) and HTTP metrics."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_vars.request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_vars.request_id.reset(token)
            if scope["type"] == "http":
                route = _route_label(scope["path"])
                metrics = self.services.metrics
                metrics.http_requests.labels(scope["method"], route, str(status)).inc()
                metrics.http_seconds.labels(route).observe(time.perf_counter() - started)


async def health(request: Request) -> Response:
    services: Services = request.app.state.services
    body: dict[str, object] = {"status": "ok", "jobs": {"mode": services.job_mode}}
    try:
        async with services.db.reader() as session:
            await session.execute(text("SELECT 1"))
        body["database"] = {"status": "ok", "dialect": services.db.dialect}
    except Exception as exc:
        body["status"] = "error"
        body["database"] = {"status": "error", "error": type(exc).__name__}
        return JSONResponse(body, status_code=503)
    beats = await latest(services.db)
    now = utcnow()
    body["jobs"] = {
        "mode": services.job_mode,
        "runners": [
            {
                "runner": b.runner,
                "lastSeen": b.last_seen.isoformat(),
                "stale": (now - b.last_seen) > dt.timedelta(seconds=HEARTBEAT_STALE_S),
            }
            for b in beats[:10]
        ],
    }
    push = await push_health(services.db, configured=push_configured(services.settings))
    body["push"] = push
    if push["status"] != "ok":
        body["status"] = "degraded"
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")


async def login(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        body = await request.json()
    except ValueError:
        body = None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("username"), str)
        or not isinstance(body.get("password"), str)
    ):
        return JSONResponse(
            {"error": "请求格式错误：需要 JSON {username, password}"}, status_code=400
        )
    async with services.db.transaction() as session:
        user = await auth_service.authenticate(session, body["username"], body["password"])
        if user is None:
            return JSONResponse({"error": "用户名或密码错误"}, status_code=401)
        actor = auth_service.actor_of(user)
        record_change(session, actor, "LOGIN", entity="user", entity_id=user.id, patient_ids=[])
    csrf = services.sessions.new_csrf_token()
    response = JSONResponse(
        {
            "username": user.username,
            "displayName": user.display_name,
            "roles": user.roles,
            "csrfToken": csrf,
        }
    )
    services.sessions.attach(response, user, csrf)
    return response


async def logout(request: Request) -> Response:
    services: Services = request.app.state.services
    caller = await identify(request, services.db, services.sessions)
    refused = csrf_failure(request, caller)
    if refused is not None:
        return refused
    response = JSONResponse({"ok": True})
    services.sessions.clear(response)
    return response


async def session_info(request: Request) -> Response:
    services: Services = request.app.state.services
    caller = await identify(request, services.db, services.sessions)
    if caller is ANONYMOUS or caller.actor is None:
        return JSONResponse({"authenticated": False})
    return JSONResponse(
        {
            "authenticated": True,
            "username": caller.actor.username,
            "roles": sorted(r.value for r in caller.actor.roles),
            "csrfToken": caller.csrf_token,
        }
    )


async def admin_page(request: Request) -> Response:
    """The admin SPA: real files when they exist, index.html for deep links."""
    relative = request.path_params.get("path", "")
    candidate = (ADMIN_DIR / relative).resolve()
    # The SPA's file names carry no content hash: revalidate (ETag) on every load so
    # that an upgrade reaches the browser at once, never half old and half new modules.
    fresh = {"Cache-Control": "no-cache"}
    if relative and candidate.is_file() and ADMIN_DIR in candidate.parents:
        return FileResponse(candidate, headers=fresh)
    if relative.startswith(("js/", "css/")):  # a missing script or style, not a page
        return Response("未找到", status_code=404, media_type="text/plain; charset=utf-8")
    return FileResponse(ADMIN_DIR / "index.html", media_type="text/html", headers=fresh)


def create_app(
    settings: Settings | None = None, *, run_jobs: bool = True, freeze_gc: bool = False
) -> Starlette:
    """The application; `freeze_gc` is for server processes (one app per process)."""
    settings = settings or Settings.from_env()
    services = Services(settings, run_jobs=run_jobs, freeze_gc=freeze_gc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    graphql = GraphQLEndpoint(services)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/health", health),
            Route("/metrics", metrics),
            Route("/auth/login", login, methods=["POST"]),
            Route("/auth/logout", logout, methods=["POST"]),
            Route("/auth/session", session_info),
            Route("/fhir", post_bundle, methods=["POST"]),
            Route("/fhir/DiagnosticReport", post_diagnostic_report, methods=["POST"]),
            *documents.routes,
            Route("/admin", admin_page),
            Route("/admin/{path:path}", admin_page),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(RequestObservation, services=services)
    return app
