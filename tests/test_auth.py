"""Signing in: password login with a session cookie + CSRF token, bearer tokens, who the caller is."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update

from api import cli
from api.app import ADMIN_DIR, STATIC_DIR, create_app
from domain.auth.models import ApiToken, User
from domain.database import utcnow
from domain.settings import Settings
from tests.conftest import PASSWORD, Api
from tests.helpers import REGISTER, count_rows, patient_input

VIEWER = "query Me { viewer { username roles permissions seesIdentifiers } }"
PATIENTS = "query Worklist { patients(first: 5) { totalCount edges { node { name } } } }"
CSRF_MESSAGE = "CSRF 校验失败：请求头 X-CSRF-Token 缺失或不匹配，请刷新页面后重试"
BAD_LOGIN = {"error": "用户名或密码错误"}
MALFORMED_LOGIN = {"error": "请求格式错误：需要 JSON {username, password}"}


def cookie_attributes(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Set-Cookie headers as {name: {"value": …, attribute (lower case): value or ""}}."""
    found: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        entry = {"value": value}
        for attribute in attributes:
            key, _, attr_value = attribute.partition("=")
            entry[key.lower()] = attr_value
        found[name] = entry
    return found


@asynccontextmanager
async def browser(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """A separate client with its own cookie jar, as a browser tab on the admin SPA."""
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def login(client: httpx.AsyncClient, username: str = "doctor") -> str:
    response = await client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrfToken"])


async def post_graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )


async def viewer_with(api: Api, authorization: str) -> dict[str, Any]:
    response = await api.client.post(
        "/graphql", json={"query": PATIENTS}, headers={"Authorization": authorization}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def set_token_column(api: Api, username: str, **values: object) -> None:
    async with api.services.db.transaction() as session:
        user_id = (
            await session.execute(select(User.id).where(User.username == username))
        ).scalar_one()
        await session.execute(update(ApiToken).where(ApiToken.user_id == user_id).values(**values))


async def deactivate(api: Api, username: str) -> None:
    async with api.services.db.transaction() as session:
        await session.execute(update(User).where(User.username == username).values(active=False))


async def user_id_of(api: Api, username: str) -> int:
    async with api.services.db.reader() as session:
        return int(
            (await session.execute(select(User.id).where(User.username == username))).scalar_one()
        )


# --- password login ---------------------------------------------------------------------------


async def test_wrong_password_is_refused_without_cookies(api: Api) -> None:
    response = await api.client.post("/auth/login", json={"username": "doctor", "password": "nope"})

    assert response.status_code == 401
    assert response.json() == BAD_LOGIN
    assert response.headers.get_list("set-cookie") == []
    assert dict(api.client.cookies) == {}


async def test_unknown_user_is_refused_like_a_wrong_password(api: Api) -> None:
    response = await api.client.post(
        "/auth/login", json={"username": "ghost", "password": PASSWORD}
    )

    assert response.status_code == 401
    assert response.json() == BAD_LOGIN
    assert response.headers.get_list("set-cookie") == []


MALFORMED_BODIES = [
    b"not json",
    b"",
    b"\xff\xfe\x00",
    b"[]",
    b'"doctor"',
    b'{"username": "doctor"}',
    b'{"password": "x"}',
    b'{"username": "doctor", "password": 12345}',
    b'{"username": ["doctor"], "password": "x"}',
]


async def test_malformed_login_body_is_bad_request(api: Api) -> None:
    responses = {
        body: await api.client.post(
            "/auth/login", content=body, headers={"Content-Type": "application/json"}
        )
        for body in MALFORMED_BODIES
    }

    for body, response in responses.items():
        assert response.status_code == 400, body
        assert response.json() == MALFORMED_LOGIN, body
        assert response.headers.get_list("set-cookie") == [], body
    assert await count_rows(api, "audit_event") == 0


async def test_good_login_sets_http_only_session_and_readable_csrf_cookie(api: Api) -> None:
    response = await api.client.post(
        "/auth/login", json={"username": "doctor", "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    csrf = body["csrfToken"]
    assert isinstance(csrf, str)
    assert len(csrf) >= 24
    assert body == {
        "username": "doctor",
        "displayName": "李医生",
        "roles": ["doctor"],
        "csrfToken": csrf,
    }
    cookies = cookie_attributes(response)
    assert set(cookies) == {"mhub_session", "mhub_csrf"}
    session, readable = cookies["mhub_session"], cookies["mhub_csrf"]
    assert "httponly" in session
    assert session["samesite"].lower() == "strict"
    assert session["path"] == "/"
    assert session["max-age"] == "43200"
    assert "secure" not in session  # secure_cookies is off in the test settings
    assert csrf not in session["value"]  # the CSRF token is inside the signed payload only
    assert "httponly" not in readable
    assert readable["samesite"].lower() == "strict"
    assert readable["value"] == csrf


async def test_cookies_are_secure_when_configured(api: Api, settings: Settings) -> None:
    app = create_app(
        dataclasses.replace(settings, secure_cookies=True, session_max_age_s=600), run_jobs=False
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            response = await client.post(
                "/auth/login", json={"username": "doctor", "password": PASSWORD}
            )

    cookies = cookie_attributes(response)
    assert response.status_code == 200
    assert {name: ("secure" in c, c["max-age"]) for name, c in cookies.items()} == {
        "mhub_session": (True, "600"),
        "mhub_csrf": (True, "600"),
    }


async def test_two_logins_get_different_csrf_tokens(api: Api) -> None:
    async with browser(api) as first, browser(api) as second:
        assert await login(first) != await login(second)


# --- session cookie and CSRF ------------------------------------------------------------------


async def test_session_post_without_csrf_header_is_refused(api: Api) -> None:
    async with browser(api) as client:
        await login(client)

        response = await post_graphql(client, VIEWER)

    assert response.status_code == 403
    assert response.json() == {
        "errors": [{"message": CSRF_MESSAGE, "extensions": {"code": "CSRF_FAILED"}}]
    }


async def test_session_mutation_without_the_right_csrf_header_writes_nothing(api: Api) -> None:
    async with browser(api) as client:
        await login(client)

        responses = {
            str(sent): await post_graphql(
                client,
                REGISTER,
                {"input": patient_input(1)},
                headers={} if sent is None else {"X-CSRF-Token": sent},
            )
            for sent in (None, "", "wrong-token")
        }

    for sent, response in responses.items():
        assert response.status_code == 403, sent
        assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED", sent
    assert await count_rows(api, "patient") == 0
    assert await count_rows(api, "audit_event") == 1  # the LOGIN only


async def test_csrf_token_of_another_session_is_refused(api: Api) -> None:
    async with browser(api) as mine, browser(api) as theirs:
        await login(mine)
        their_csrf = await login(theirs, "doctor2")

        response = await post_graphql(
            mine, REGISTER, {"input": patient_input(1)}, headers={"X-CSRF-Token": their_csrf}
        )

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    assert await count_rows(api, "patient") == 0


async def test_session_post_with_csrf_header_works(api: Api) -> None:
    async with browser(api) as client:
        csrf = await login(client)

        me = await post_graphql(client, VIEWER, headers={"X-CSRF-Token": csrf})
        registered = await post_graphql(
            client, REGISTER, {"input": patient_input(1)}, headers={"X-CSRF-Token": csrf}
        )

    assert me.status_code == 200
    assert me.json()["data"]["viewer"]["username"] == "doctor"
    assert registered.status_code == 200
    assert registered.json()["data"]["registerPatient"]["userErrors"] == []
    assert await count_rows(api, "patient") == 1


async def test_get_query_with_session_needs_no_csrf_header(api: Api) -> None:
    async with browser(api) as client:
        await login(client)

        response = await client.get("/graphql", params={"query": VIEWER})

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "viewer": {
                "username": "doctor",
                "roles": ["doctor"],
                "permissions": ["clinical:write", "patient:identifiers", "patient:read"],
                "seesIdentifiers": True,
            }
        }
    }


async def test_get_cannot_carry_a_mutation_past_the_csrf_check(api: Api) -> None:
    mutation = 'mutation { registerPatient(input: {name: "黄丽萍", residentId: "%s"}) { userErrors { code } } }'
    async with browser(api) as client:
        await login(client)

        response = await client.get(
            "/graphql", params={"query": mutation % patient_input(1)["residentId"]}
        )

    assert response.status_code == 400
    assert response.text == "mutations are not allowed when using GET"
    assert await count_rows(api, "patient") == 0


async def test_session_endpoint_reflects_login_state(api: Api) -> None:
    async with browser(api) as client:
        before = await client.get("/auth/session")
        csrf = await login(client, "admin")
        during = await client.get("/auth/session")
        await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
        after = await client.get("/auth/session")

    assert before.json() == {"authenticated": False}
    assert during.json() == {
        "authenticated": True,
        "username": "admin",
        "roles": ["admin"],
        "csrfToken": csrf,
    }
    assert after.json() == {"authenticated": False}


async def test_session_endpoint_with_bearer_token_has_no_csrf_token(api: Api) -> None:
    response = await api.client.get(
        "/auth/session", headers={"Authorization": f"Bearer {api.tokens['auditor']}"}
    )

    assert response.json() == {
        "authenticated": True,
        "username": "auditor",
        "roles": ["auditor"],
        "csrfToken": None,
    }


async def test_logout_without_csrf_header_is_refused_and_keeps_the_session(api: Api) -> None:
    async with browser(api) as client:
        await login(client)

        refused = await client.post("/auth/logout")
        still = await client.get("/auth/session")

    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    assert refused.headers.get_list("set-cookie") == []
    assert still.json()["authenticated"] is True


async def test_logout_clears_both_cookies(api: Api) -> None:
    async with browser(api) as client:
        csrf = await login(client)

        response = await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
        jar_after = dict(client.cookies)
        me = await client.get("/graphql", params={"query": VIEWER})

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    cleared = cookie_attributes(response)
    assert set(cleared) == {"mhub_session", "mhub_csrf"}
    assert all(c["value"] in ("", '""') and c["max-age"] == "0" for c in cleared.values())
    assert jar_after == {}
    assert me.json() == {"data": {"viewer": None}}


async def test_anonymous_logout_is_harmless(api: Api) -> None:
    response = await api.client.post("/auth/logout")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def _resign_payload(cookie: str, payload: dict[str, object]) -> str:
    """Keep timestamp and signature, swap the payload: the signature no longer matches."""
    _, timestamp, signature = cookie.rsplit(".", 2)
    raw = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    return f"{raw}.{timestamp}.{signature}"


async def test_tampered_session_cookie_is_anonymous(api: Api) -> None:
    admin_id = await user_id_of(api, "admin")
    async with browser(api) as client:
        csrf = await login(client)
        genuine = client.cookies["mhub_session"]
    forged_key = URLSafeTimedSerializer("another-key", salt="mhub-session").dumps(
        {"uid": admin_id, "csrf": csrf}
    )
    # A character inside the signature (the last one carries unused base64 bits).
    flipped = genuine[:-5] + ("A" if genuine[-5] != "A" else "B") + genuine[-4:]
    tampered = {
        "flipped signature": flipped,
        "swapped payload": _resign_payload(genuine, {"uid": admin_id, "csrf": csrf}),
        "signed with another key": forged_key,
        "garbage": "not-a-session",
    }

    for label, value in tampered.items():
        headers = {"Cookie": f"mhub_session={value}; mhub_csrf={csrf}", "X-CSRF-Token": csrf}
        session = await api.client.get("/auth/session", headers=headers)
        read = await api.client.post("/graphql", json={"query": PATIENTS}, headers=headers)
        assert session.json() == {"authenticated": False}, label
        assert read.status_code == 200, label
        assert read.json()["data"] is None, label
        assert read.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", label


class _SignedThirteenHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 13 * 3600


async def test_expired_session_cookie_is_anonymous(api: Api) -> None:
    doctor_id = await user_id_of(api, "doctor")
    # Cookies signed with the right key: 13 hours ago (the session lasts 12 hours) and now.
    stale = URLSafeTimedSerializer(
        "test-secret-key", salt="mhub-session", signer=_SignedThirteenHoursAgo
    ).dumps({"uid": doctor_id, "csrf": "x"})
    fresh = URLSafeTimedSerializer("test-secret-key", salt="mhub-session").dumps(
        {"uid": doctor_id, "csrf": "x"}
    )

    expired = await api.client.get("/auth/session", headers={"Cookie": f"mhub_session={stale}"})
    valid = await api.client.get("/auth/session", headers={"Cookie": f"mhub_session={fresh}"})

    assert expired.json() == {"authenticated": False}
    assert valid.json()["username"] == "doctor"


# --- bearer tokens --------------------------------------------------------------------------


async def test_token_printed_by_the_cli_authenticates(
    api: Api,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MHUB_SECRET_KEY", "test-secret-key")
    monkeypatch.delenv("REDIS_URL", raising=False)

    code = await asyncio.to_thread(cli.main, ["token", "--user", "doctor2", "--label", "ci"])
    token = capsys.readouterr().out.strip()
    response = await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )

    assert code == 0
    assert token.startswith("mh_")
    assert response.json()["data"]["viewer"]["username"] == "doctor2"


async def test_wrong_or_garbage_bearer_token_is_anonymous(api: Api) -> None:
    token = api.tokens["doctor"]
    headers = [
        "Bearer garbage",
        "Bearer mh_" + "x" * 43,
        "Bearer",
        "Basic ZG9jdG9yOmNvcnJlY3Q=",
        f"Token {token}",
        f"Bearer {token}x",
        f"Bearer {token[:-1]}",
        f"Bearer {token.removeprefix('mh_')}",
    ]

    for header in headers:
        body = await viewer_with(api, header)
        assert body["data"] is None, header
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", header


async def test_bearer_token_takes_precedence_over_a_session_cookie(api: Api) -> None:
    async with browser(api) as client:
        await login(client, "doctor")

        response = await post_graphql(
            client, VIEWER, headers={"Authorization": f"Bearer {api.tokens['admin']}"}
        )

    # No CSRF header needed: the caller is the bearer token, not the cookie.
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["username"] == "admin"


async def test_revoked_token_is_unauthenticated(api: Api) -> None:
    await set_token_column(api, "doctor", revoked_at=utcnow())

    revoked = await viewer_with(api, f"Bearer {api.tokens['doctor']}")
    other = await viewer_with(api, f"Bearer {api.tokens['doctor2']}")

    assert revoked["data"] is None
    assert revoked["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "errors" not in other


async def test_expired_token_is_unauthenticated(api: Api) -> None:
    await set_token_column(api, "doctor", expires_at=utcnow() - dt.timedelta(minutes=1))
    await set_token_column(api, "doctor2", expires_at=utcnow() + dt.timedelta(minutes=5))

    expired = await viewer_with(api, f"Bearer {api.tokens['doctor']}")
    not_yet = await viewer_with(api, f"Bearer {api.tokens['doctor2']}")

    assert expired["data"] is None
    assert expired["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not_yet == {"data": {"patients": {"totalCount": 0, "edges": []}}}


async def test_deactivated_user_loses_token_session_and_login(api: Api) -> None:
    async with browser(api) as client:
        csrf = await login(client)
        await deactivate(api, "doctor")

        by_token = await viewer_with(api, f"Bearer {api.tokens['doctor']}")
        by_session = await post_graphql(client, PATIENTS, headers={"X-CSRF-Token": csrf})
        session_info = await client.get("/auth/session")
        relogin = await client.post(
            "/auth/login", json={"username": "doctor", "password": PASSWORD}
        )

    assert by_token["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert by_session.status_code == 200
    assert by_session.json()["data"] is None
    assert by_session.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert session_info.json() == {"authenticated": False}
    assert relogin.status_code == 401
    assert relogin.json() == BAD_LOGIN
    assert relogin.headers.get_list("set-cookie") == []


# --- viewer -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            "doctor",
            {
                "username": "doctor",
                "roles": ["doctor"],
                "permissions": ["clinical:write", "patient:identifiers", "patient:read"],
                "seesIdentifiers": True,
            },
        ),
        (
            "admin",
            {
                "username": "admin",
                "roles": ["admin"],
                "permissions": ["admin", "patient:read"],
                "seesIdentifiers": False,
            },
        ),
        (
            "auditor",
            {
                "username": "auditor",
                "roles": ["auditor"],
                "permissions": ["audit:read", "patient:read"],
                "seesIdentifiers": False,
            },
        ),
    ],
)
async def test_viewer_describes_the_signed_in_user(
    api: Api, user: str, expected: dict[str, object]
) -> None:
    body = await api.gql(VIEWER, as_user=user)

    assert body == {"data": {"viewer": expected}}


async def test_viewer_is_null_for_anonymous_callers(api: Api) -> None:
    body = await api.gql(VIEWER, as_user=None)

    assert body == {"data": {"viewer": None}}


# --- public pages -----------------------------------------------------------------------------


async def test_health_admin_and_static_files_are_public(api: Api) -> None:
    health = await api.client.get("/health")
    admin = await api.client.get("/admin")
    css = await api.client.get("/static/graphiql/graphiql.min.css")

    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert admin.status_code == 200
    assert admin.headers["content-type"].startswith("text/html")
    assert admin.content == (ADMIN_DIR / "index.html").read_bytes()
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.content == (STATIC_DIR / "graphiql" / "graphiql.min.css").read_bytes()


async def test_graphiql_page_is_public_and_offline(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/static/graphiql/graphiql.min.css" in response.text
    assert "https://" not in response.text  # bundled assets only


async def test_admin_deep_link_gets_the_spa_index(api: Api) -> None:
    response = await api.client.get("/admin/some/deep/link")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == (ADMIN_DIR / "index.html").read_bytes()


ADMIN_TRAVERSALS = [
    "/admin/%2e%2e/api/app.py",
    "/admin/..%2Fapi%2Fapp.py",
    "/admin/%2e%2e/%2e%2e/etc/passwd",
    "/admin/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/admin//etc/passwd",
    "/admin/%2Fetc%2Fpasswd",
    "/admin/%2e%2e/pyproject.toml",
]
STATIC_TRAVERSALS = [
    "/static/%2e%2e/app.py",
    "/static/..%2Fapp.py",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
]


async def test_path_traversal_leaks_no_files(api: Api) -> None:
    index = (ADMIN_DIR / "index.html").read_bytes()

    for path in ADMIN_TRAVERSALS:
        response = await api.client.get(path)
        assert response.status_code == 200, path
        assert response.content == index, path
    for path in STATIC_TRAVERSALS:
        response = await api.client.get(path)
        assert response.status_code == 404, path
        assert b"create_app" not in response.content, path
