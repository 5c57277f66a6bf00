"""`mhub bench archive` creates its database, loads it, reuses it, and prints its figures.

The timing itself is not asserted (benchmarks are commands, not timed tests); a small
count keeps the run short.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from api.cli import main
from tests.conftest import pg_url, unavailable

SEARCHES = [
    "name (3 chars)",
    "name, unique",
    "given name (2 chars)",
    "surname (1 char)",
    "pinyin initials",
    "initials, 2 letters",
    "resident ID",
    "resident ID prefix",
    "phone",
    "handbook no.",
    "delivered in a month",
    "archived on one day",
    "surname + delivery year",
    "name + initials",
    "no match",
]


async def _execute(sql: str) -> None:
    dsn = make_url(pg_url()).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def bench_url() -> Iterator[str]:
    """A database name of its own; the benchmark creates it, the fixture drops it."""
    name = f"mhub_bench_t_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", str(exc))
    yield make_url(pg_url()).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_bench_archive_loads_once_then_reuses_and_reports_every_search(
    bench_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "bench",
        "archive",
        "--pregnancies",
        "400",
        "--rounds",
        "2",
        "--database-url",
        bench_url,
    ]

    first_code = main(args)
    first = capsys.readouterr()
    second_code = main(args)
    second = capsys.readouterr()

    assert first_code in (0, 1)  # 1 = a p95 at or over 100 ms; not asserted here
    assert second_code in (0, 1)
    assert "loading 400 archived pregnancies" in first.err
    assert "reusing 400 archived pregnancies" in second.err
    report = json.loads(second.out.strip().splitlines()[-1])
    assert report["archived_pregnancies"] == 400
    assert report["loaded_now"] is False
    assert [s["search"] for s in report["searches"]] == SEARCHES
    assert all(s["matches"] >= 1 for s in report["searches"] if s["search"] != "no match")
    assert report["searches"][-1]["matches"] == 0
    assert "baseline: viewer query" in second.out


def test_bench_archive_refuses_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "archive", "--database-url", "sqlite+aiosqlite:///x.db"])

    assert code == 2
    assert "归档查询基准需要 PostgreSQL" in capsys.readouterr().err
