"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, the app over
httpx.ASGITransport, and signed-in users.

PostgreSQL and Redis are reached at MHUB_TEST_POSTGRES_URL / MHUB_TEST_REDIS_URL
(default: the local services). When MHUB_REQUIRE_SERVICES=1 or CI=true a service that
cannot be reached fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from api.app import create_app
from domain.auth.actor import Role
from domain.auth.service import ensure_user, issue_token
from domain.database import Database
from domain.migrate import upgrade
from domain.settings import Settings

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
# In CI a service that cannot be reached is a failure, never a skip.
REQUIRE_SERVICES = os.environ.get("MHUB_REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"
TEMPLATE_DB = f"mhub_test_template_{os.getpid()}"
PASSWORD = "correct horse battery staple"


def unavailable(service: str, why: str) -> None:
    message = f"{service} unavailable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (CI / MHUB_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(message)


def pg_url() -> str:
    return os.environ.get("MHUB_TEST_POSTGRES_URL") or DEFAULT_PG


def redis_url() -> str:
    return os.environ.get("MHUB_TEST_REDIS_URL") or DEFAULT_REDIS


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(pg_url()), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """Migrate one template database; each test clones it (fast, isolated)."""
    try:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"'))
        asyncio.run(_admin(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        yield None
        _ = exc
        return
    url = make_url(pg_url()).set(database=TEMPLATE_DB).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield TEMPLATE_DB
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: str | None,
) -> AsyncIterator[str]:
    """A freshly migrated, empty database for this test only."""
    if backend == "sqlite":
        path = tmp_path / "mhub.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if postgres_template is None:
        unavailable("PostgreSQL", f"cannot connect to {pg_url()}")
    name = f"mhub_t_{uuid.uuid4().hex[:16]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        yield make_url(pg_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, secret_key="test-secret-key")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@dataclass
class Api:
    """GraphQL over HTTP against the app, as a client would call it."""

    client: httpx.AsyncClient
    app: Any
    tokens: dict[str, str]

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_user: str | None = "doctor",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if as_user is not None:
            sent["Authorization"] = f"Bearer {self.tokens[as_user]}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def flush_audit(self) -> int:
        return int(await self.app.state.services.audit.flush())

    @property
    def services(self) -> Any:
        return self.app.state.services


USERS = {
    "doctor": ("李医生", [Role.DOCTOR]),
    "doctor2": ("王医生", [Role.DOCTOR]),
    "admin": ("管理员", [Role.ADMIN]),
    "auditor": ("审计员", [Role.AUDITOR]),
    "approver": ("审核人", [Role.APPROVER]),
}


@pytest.fixture
async def api(settings: Settings, db: Database) -> AsyncIterator[Api]:
    tokens: dict[str, str] = {}
    async with db.transaction() as session:
        for username, (display, roles) in USERS.items():
            await ensure_user(
                session, username, display_name=display, roles=roles, password=PASSWORD
            )
            tokens[username] = await issue_token(session, username, label="tests")
    app = create_app(settings, run_jobs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, app=app, tokens=tokens)
