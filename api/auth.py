"""Who is calling: a bearer token (API callers) or the session cookie (admin SPA).

The session cookie is signed and HttpOnly; it carries the user id and a CSRF token
that the browser must echo in `X-CSRF-Token` on every state-changing request
(double submit: the readable `mhub_csrf` cookie holds the same token).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from domain.auth import service as auth_service
from domain.auth.actor import Actor
from domain.auth.models import User
from domain.database import Database
from domain.settings import Settings

SESSION_COOKIE = "mhub_session"
CSRF_COOKIE = "mhub_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    actor: Actor | None
    via: str | None  # "bearer", "session" or None
    csrf_token: str | None = None


ANONYMOUS = Caller(actor=None, via=None)


class Sessions:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._serializer = URLSafeTimedSerializer(settings.secret_key, salt="mhub-session")

    @staticmethod
    def new_csrf_token() -> str:
        return secrets.token_urlsafe(24)

    def attach(self, response: Response, user: User, csrf: str) -> None:
        """Set the signed session cookie and the readable CSRF cookie on a response."""
        value = self._serializer.dumps({"uid": user.id, "csrf": csrf})
        max_age = self._settings.session_max_age_s
        secure = self._settings.secure_cookies
        response.set_cookie(
            SESSION_COOKIE, value, max_age=max_age, httponly=True, samesite="strict", secure=secure
        )
        response.set_cookie(
            CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure
        )

    def read(self, raw: str) -> tuple[int, str] | None:
        try:
            data = self._serializer.loads(raw, max_age=self._settings.session_max_age_s)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        uid, csrf = data.get("uid"), data.get("csrf")
        if not isinstance(uid, int) or not isinstance(csrf, str):
            return None
        return uid, csrf

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)


async def identify(conn: HTTPConnection, db: Database, sessions: Sessions) -> Caller:
    """Resolve the caller; a bad or expired credential is treated as none."""
    header = conn.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return ANONYMOUS
        async with db.reader() as session:
            user = await auth_service.user_for_token(session, token.strip())
        return Caller(auth_service.actor_of(user), "bearer") if user else ANONYMOUS
    raw = conn.cookies.get(SESSION_COOKIE)
    if not raw:
        return ANONYMOUS
    found = sessions.read(raw)
    if found is None:
        return ANONYMOUS
    uid, csrf = found
    async with db.reader() as session:
        user = await session.get(User, uid)
    if user is None or not user.active:
        return ANONYMOUS
    return Caller(auth_service.actor_of(user), "session", csrf)


def csrf_failure(request: Request, caller: Caller) -> Response | None:
    """A 403 for a session-authenticated unsafe request without the matching token."""
    if caller.via != "session" or request.method in SAFE_METHODS:
        return None
    sent = request.headers.get(CSRF_HEADER, "")
    if caller.csrf_token and hmac.compare_digest(sent, caller.csrf_token):
        return None
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "CSRF 校验失败：请求头 X-CSRF-Token 缺失或不匹配，请刷新页面后重试",
                    "extensions": {"code": "CSRF_FAILED"},
                }
            ]
        },
        status_code=403,
    )
