"""`mhub`: migrate, token and schema through `api.cli.main`, configured by the environment."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from api import cli
from domain.auth.models import ApiToken, User
from domain.migrate import head_revision
from tests.conftest import USERS, Api

ROOT = Path(__file__).resolve().parent.parent
VIEWER = "query Me { viewer { username } }"


def configure(monkeypatch: pytest.MonkeyPatch, database_url: str, data_dir: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")
    monkeypatch.delenv("REDIS_URL", raising=False)


def sqlite_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return list(conn.execute(sql).fetchall())


# --- migrate ----------------------------------------------------------------------------------


def test_migrate_creates_the_schema_on_an_empty_sqlite_file_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data" / "fresh.db"
    path.parent.mkdir()
    path.touch()
    url = f"sqlite+aiosqlite:///{path}"
    configure(monkeypatch, url, tmp_path / "data")

    first = cli.main(["migrate"])
    first_out = capsys.readouterr()
    tables = sqlite_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    second = cli.main(["migrate"])
    second_out = capsys.readouterr()

    assert first == 0
    assert second == 0
    assert first_out.out == f"数据库已是最新结构：{url}\n"
    assert second_out.out == first_out.out
    assert sqlite_rows(path, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    # The 2017 national risk-factor table; later migrations add other kinds of entries.
    assert sqlite_rows(
        path, "SELECT count(*) FROM dictionary_entry WHERE kind = 'risk_factor'"
    ) == [(61,)]
    names = {str(row[0]) for row in tables}
    assert {
        "alembic_version",
        "app_user",
        "api_token",
        "audit_event",
        "patient",
        "job_heartbeat",
    } <= names
    assert (
        sqlite_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        == tables
    )
    assert sqlite_rows(path, "SELECT count(*) FROM app_user") == [(0,)]


def test_migrate_creates_the_data_directory_for_the_embedded_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "var" / "mhub"
    configure(monkeypatch, f"sqlite+aiosqlite:///{data_dir / 'mhub.db'}", data_dir)

    code = cli.main(["migrate"])
    capsys.readouterr()

    assert code == 0
    assert sqlite_rows(data_dir / "mhub.db", "SELECT version_num FROM alembic_version") == [
        (head_revision(),)
    ]


async def test_migrate_on_an_up_to_date_database_changes_nothing(
    api: Api,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, database_url, tmp_path)

    code = await asyncio.to_thread(cli.main, ["migrate"])
    capsys.readouterr()

    assert code == 0
    async with api.services.db.reader() as session:
        users = await session.scalar(select(func.count()).select_from(User))
    assert users == len(USERS)
    assert (await api.client.get("/health")).json()["status"] == "ok"


async def test_migrate_does_not_print_the_database_password(
    database_url: str,
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = make_url(database_url)
    if backend == "postgresql":
        # The test server trusts local connections, so any password connects.
        url = url.set(password="s3cret-Passw0rd")
    configure(monkeypatch, url.render_as_string(hide_password=False), tmp_path)

    code = await asyncio.to_thread(cli.main, ["migrate"])
    out = capsys.readouterr().out

    assert code == 0
    assert out.startswith("数据库已是最新结构：")
    assert "s3cret-Passw0rd" not in out


# --- token ------------------------------------------------------------------------------------


async def test_token_prints_a_bearer_token_that_authenticates(
    api: Api,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, database_url, tmp_path)

    code = await asyncio.to_thread(cli.main, ["token", "--user", "doctor", "--label", "HIS 接口"])
    captured = capsys.readouterr()
    token = captured.out.strip()
    response = await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )

    assert code == 0
    assert captured.err == ""
    assert captured.out == token + "\n"
    assert token.startswith("mh_")
    assert response.json() == {"data": {"viewer": {"username": "doctor"}}}
    async with api.services.db.reader() as session:
        row = (await session.scalars(select(ApiToken).where(ApiToken.label == "HIS 接口"))).one()
    assert token.removeprefix("mh_") not in row.secret_hash  # only the hash is stored
    assert row.expires_at is not None
    assert abs(row.expires_at - (dt.datetime.now(dt.UTC) + dt.timedelta(days=365))) < dt.timedelta(
        minutes=5
    )


async def test_token_with_zero_days_never_expires(
    api: Api,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, database_url, tmp_path)

    code = await asyncio.to_thread(
        cli.main, ["token", "--user", "auditor", "--label", "forever", "--days", "0"]
    )
    token = capsys.readouterr().out.strip()

    assert code == 0
    async with api.services.db.reader() as session:
        row = (await session.scalars(select(ApiToken).where(ApiToken.label == "forever"))).one()
    assert row.expires_at is None
    body = await api.gql(VIEWER, as_user=None, headers={"Authorization": f"Bearer {token}"})
    assert body == {"data": {"viewer": {"username": "auditor"}}}


async def test_token_for_an_unknown_user_fails_with_a_chinese_message(
    api: Api,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, database_url, tmp_path)
    async with api.services.db.reader() as session:
        before = await session.scalar(select(func.count()).select_from(ApiToken))

    code = await asyncio.to_thread(cli.main, ["token", "--user", "ghost"])
    captured = capsys.readouterr()

    assert code == 1
    assert captured.out == ""
    assert captured.err == "错误：用户 ghost 不存在或已停用\n"
    async with api.services.db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(ApiToken)) == before


def test_token_requires_a_user(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["token"])

    assert exited.value.code == 2
    assert "--user" in capsys.readouterr().err


# --- schema -----------------------------------------------------------------------------------


def test_schema_prints_the_committed_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["schema"])

    assert code == 0
    assert capsys.readouterr().out == (ROOT / "schema.graphql").read_text(encoding="utf-8")


def test_schema_out_writes_the_committed_sdl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "schema.graphql"

    code = cli.main(["schema", "--out", str(target)])

    assert code == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8") == (ROOT / "schema.graphql").read_text(
        encoding="utf-8"
    )


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["frobnicate"])

    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
