"""Archive search benchmark: representative searches over N archived pregnancies (PostgreSQL).

The data lives in its own database (default `mhub_bench_archive` on the test server),
created and migrated on first use, loaded with COPY by `benchmarks/archive_data.py`,
and reused while it holds the requested count. Each search runs through the real
GraphQL executor (the API in-process over httpx.ASGITransport, `totalCount` included)
and, beside it, as the same SQL statements sent straight to asyncpg — the floor the
database sets. Prints p50/p95 per search and a JSON line; the target is p95 < 100 ms.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url

from api.app import create_app
from benchmarks import archive_data
from domain.archive import service
from domain.auth.actor import Role
from domain.auth.service import ensure_user, issue_token
from domain.database import Database
from domain.migrate import upgrade
from domain.settings import Settings

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/mhub_bench_archive"
TARGET_MS = 100.0

BASELINE = "query Baseline { viewer { username } }"
SEARCH = """
query Archive($filter: ArchiveSearchInput!, $first: Int!) {
  archiveSearch(filter: $filter, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id handbookNo deliveredOn archivedAt patient { name residentId phone } } }
  }
}
"""


@dataclass(frozen=True)
class Search:
    name: str
    filter: dict[str, Any]


@dataclass(frozen=True)
class Figures:
    search: str
    filter: dict[str, Any]
    matches: int
    graphql_p50_ms: float
    graphql_p95_ms: float
    sql_p50_ms: float
    sql_p95_ms: float


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _ensure_database(url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _prepare(url: str, pregnancies: int, log: Callable[[str], None]) -> bool:
    """Create, migrate and load the database unless it already holds the data; True if loaded."""
    await _ensure_database(url)
    db = Database(url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()
    dsn = _dsn(url)
    if await archive_data.loaded(dsn) == pregnancies:
        log(f"reusing {pregnancies} archived pregnancies in {make_url(url).database}")
        return False
    log(f"loading {pregnancies} archived pregnancies into {make_url(url).database} …")
    started = time.perf_counter()
    last = [0.0]

    def progress(table: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 5 or done == total:
            last[0] = now
            shown = f"{done}/{total}" if total else ""
            log(f"  {table} {shown} ({now - started:.0f} s)")

    await archive_data.load(dsn, archive_data.Plan(pregnancies), progress)
    log(f"loaded in {time.perf_counter() - started:.0f} s")
    return True


async def _searches(dsn: str) -> list[Search]:
    """Representative searches whose terms are taken from the data itself."""
    conn = await asyncpg.connect(dsn)
    try:
        pick = await conn.fetchrow(
            """
            SELECT pa.name, pa.name_initials, pa.resident_id, pa.phone, pr.handbook_no,
                   pr.delivered_on, (pr.archived_at AT TIME ZONE 'Asia/Shanghai')::date AS archived_on
            FROM pregnancy pr JOIN patient pa ON pa.id = pr.patient_id
            WHERE pr.status = 'ARCHIVED' AND char_length(pa.name) = 3
            ORDER BY pr.id LIMIT 1 OFFSET (SELECT count(*) / 3 FROM pregnancy)
            """
        )
        rare = await conn.fetchval(
            """
            SELECT name FROM patient WHERE char_length(name) = 3
            GROUP BY name HAVING count(*) = 1 LIMIT 1
            """
        )
    finally:
        await conn.close()
    if pick is None:
        raise RuntimeError("no archived pregnancy to take search terms from")
    name, initials = str(pick["name"]), str(pick["name_initials"])
    delivered, archived_on = pick["delivered_on"], pick["archived_on"]
    month = delivered.replace(day=1)
    month_end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    return [
        Search("name (3 chars)", {"text": name}),
        Search("name, unique", {"text": str(rare or name)}),
        Search("given name (2 chars)", {"text": name[1:]}),
        Search("surname (1 char)", {"text": name[0]}),
        Search("pinyin initials", {"text": initials}),
        Search("initials, 2 letters", {"text": initials[:2]}),
        Search("resident ID", {"text": str(pick["resident_id"])}),
        Search("resident ID prefix", {"text": str(pick["resident_id"])[:10]}),
        Search("phone", {"text": str(pick["phone"])}),
        Search("handbook no.", {"text": str(pick["handbook_no"])}),
        Search(
            "delivered in a month",
            {"deliveredFrom": month.isoformat(), "deliveredTo": month_end.isoformat()},
        ),
        Search(
            "archived on one day",
            {"archivedFrom": archived_on.isoformat(), "archivedTo": archived_on.isoformat()},
        ),
        Search(
            "surname + delivery year",
            {
                "text": name[0],
                "deliveredFrom": delivered.replace(month=1, day=1).isoformat(),
                "deliveredTo": delivered.replace(month=12, day=31).isoformat(),
            },
        ),
        Search("name + initials", {"text": f"{name} {initials}"}),
        Search("no match", {"text": "查无此人"}),
    ]


def _sql(statement: Any) -> str:
    dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _query(search: Search) -> service.ArchiveQuery:
    def day(key: str) -> dt.date | None:
        raw = search.filter.get(key)
        return dt.date.fromisoformat(raw) if raw else None

    checked = service.check_filter(
        service.ArchiveFilter(
            text=search.filter.get("text"),
            delivered_from=day("deliveredFrom"),
            delivered_to=day("deliveredTo"),
            archived_from=day("archivedFrom"),
            archived_to=day("archivedTo"),
        )
    )
    if not isinstance(checked, service.ArchiveQuery):
        raise ValueError(checked.message)
    return checked


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


# The API's pool holds up to this many connections; each prepares (and plans) a statement
# the first time it runs it, so every search is warmed up on all of them.
WARM_UP = 10


async def _time(call: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    for _ in range(WARM_UP):
        await call()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def run(
    database_url: str | None, data_dir: str, pregnancies: int, rounds: int, first: int = 20
) -> dict[str, Any]:
    url = database_url or os.environ.get("MHUB_BENCH_ARCHIVE_URL") or DEFAULT_URL
    if not url.startswith("postgresql"):
        raise ValueError("归档查询基准需要 PostgreSQL（--database-url postgresql+asyncpg://…）")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    loaded_now = await _prepare(url, pregnancies, log)
    settings = Settings(
        data_dir=Path(data_dir), database_url=url, secret_key=secrets.token_urlsafe(32)
    )
    setup = Database(url)
    async with setup.transaction() as session:
        await ensure_user(
            session, "bench", display_name="基准测试", roles=[Role.DOCTOR], password=None
        )
        token = await issue_token(session, "bench", label="benchmark")
    await setup.dispose()
    dsn = _dsn(url)
    searches = await _searches(dsn)

    app = create_app(settings, run_jobs=False, freeze_gc=True)
    results: list[Figures] = []
    conn = await asyncpg.connect(dsn)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                headers = {"Authorization": f"Bearer {token}"}

                async def viewer() -> None:
                    await client.post("/graphql", json={"query": BASELINE}, headers=headers)

                # What any request costs here (auth, parse, validate, execute, audit): the
                # floor under every search's GraphQL figure, measured in the same run.
                baseline = _percentiles(await _time(viewer, rounds))
                for search in searches:
                    body: dict[str, Any] = {}

                    async def graphql(search: Search = search, body: dict[str, Any] = body) -> None:
                        response = await client.post(
                            "/graphql",
                            json={
                                "query": SEARCH,
                                "variables": {"filter": search.filter, "first": first},
                            },
                            headers=headers,
                        )
                        body.update(orjson.loads(response.content))

                    query = _query(search)
                    page_sql = _sql(service.page_statement(query, first, after=None))
                    count_sql = _sql(service.count_statement(query))

                    async def direct(page: str = page_sql, count: str = count_sql) -> None:
                        # As the API runs them: one transaction, the count only when the
                        # first page does not hold every match.
                        async with conn.transaction():
                            await conn.execute(service.SEARCH_SETTINGS)
                            if len(await conn.fetch(page)) > first:
                                await conn.fetchval(count)

                    gql_samples = await _time(graphql, rounds)
                    if "errors" in body:
                        raise RuntimeError(f"{search.name}: {body['errors']}")
                    sql_samples = await _time(direct, rounds)
                    g50, g95 = _percentiles(gql_samples)
                    s50, s95 = _percentiles(sql_samples)
                    results.append(
                        Figures(
                            search=search.name,
                            filter=search.filter,
                            matches=int(body["data"]["archiveSearch"]["totalCount"]),
                            graphql_p50_ms=g50,
                            graphql_p95_ms=g95,
                            sql_p50_ms=s50,
                            sql_p95_ms=s95,
                        )
                    )
    finally:
        await conn.close()
    return {
        "database": make_url(url).database,
        "archived_pregnancies": pregnancies,
        "loaded_now": loaded_now,
        "rounds": rounds,
        "first": first,
        "count_limit": service.COUNT_LIMIT,
        "target_p95_ms": TARGET_MS,
        "baseline_viewer_p50_ms": baseline[0],
        "baseline_viewer_p95_ms": baseline[1],
        "searches": [asdict(r) for r in results],
        "worst_graphql_p95_ms": max(r.graphql_p95_ms for r in results),
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"archive search benchmark — {result['archived_pregnancies']} archived pregnancies "
        f"({result['database']}), {result['rounds']} rounds, first {result['first']}, "
        f"totalCount counted up to {result['count_limit']}"
    )
    print(
        f"{'search':<26}{'matches':>9}{'GraphQL p50':>13}{'p95':>9}{'SQL p50':>10}{'p95':>9}  (ms)"
    )
    for f in result["searches"]:
        matches = f"{f['matches']}" if f["matches"] <= result["count_limit"] else ">1000"
        print(
            f"{f['search']:<26}{matches:>9}{f['graphql_p50_ms']:>13.1f}{f['graphql_p95_ms']:>9.1f}"
            f"{f['sql_p50_ms']:>10.1f}{f['sql_p95_ms']:>9.1f}"
        )
    print(
        f"{'baseline: viewer query':<26}{'':>9}{result['baseline_viewer_p50_ms']:>13.1f}"
        f"{result['baseline_viewer_p95_ms']:>9.1f}{'':>10}{'':>9}"
    )
    worst = result["worst_graphql_p95_ms"]
    verdict = "met" if worst < result["target_p95_ms"] else "NOT met"
    print(
        f"worst GraphQL p95 = {worst:.1f} ms (target < {result['target_p95_ms']:.0f} ms: {verdict})"
    )
    print(orjson.dumps(result, default=str).decode())


def main(database_url: str | None, data_dir: str, pregnancies: int, rounds: int) -> int:
    try:
        result = asyncio.run(run(database_url, data_dir, pregnancies, rounds))
    except (ValueError, OSError, asyncpg.PostgresError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print_report(result)
    return 0 if result["worst_graphql_p95_ms"] < TARGET_MS else 1
