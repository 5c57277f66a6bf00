"""The GraphQL endpoint: identifies the caller, checks CSRF, builds the context."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from api.auth import ANONYMOUS, Caller, csrf_failure, identify
from api.graphiql import graphiql_page
from api.services import Services
from domain import request as request_vars
from resolvers.context import Context


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(
            services.schema,
            graphql_ide="graphiql" if services.settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.services = services

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        caller: Caller = request.scope.get("state", {}).get("caller", ANONYMOUS)
        s = self.services
        return Context(
            db=s.db,
            settings=s.settings,
            actor=caller.actor,
            request_id=request_vars.request_id.get() or "-",
            audit_buffer=s.audit,
            observer=s.metrics,
            emr=s.emr,
            legacy=s.legacy,
        )

    def encode_json(self, data: object) -> str:
        # Text, not bytes: strawberry sends bytes as binary WebSocket frames, which
        # graphql-ws clients (GraphiQL's among them) do not read.
        return orjson.dumps(data).decode()

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_page("/graphql", "/static/graphiql"))


class GraphQLEndpoint:
    """ASGI wrapper: authentication and CSRF happen before strawberry sees the request."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.view = GraphQLView(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        if scope["type"] == "http":
            req = Request(scope, receive)
            caller = await identify(req, self.services.db, self.services.sessions)
            refused = csrf_failure(req, caller)
            if refused is not None:
                await refused(scope, receive, send)
                return
        else:
            caller = await identify(
                WebSocket(scope, receive, send), self.services.db, self.services.sessions
            )
        state["caller"] = caller
        await self.view(scope, receive, send)
