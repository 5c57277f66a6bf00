"""Worklist benchmark: the GraphQL executor against hand-written SQL + orjson.

Both endpoints return byte-identical JSON for the same 50-pregnancy worklist,
run in-process over httpx.ASGITransport on the same database, so the figures show
what the GraphQL layer costs (DESIGN.md §7). Prints a table and a JSON line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import event, text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from domain.auth.actor import Role
from domain.auth.service import ensure_user, issue_token
from domain.database import Database
from domain.demo.seed import seed_demo
from domain.migrate import upgrade
from domain.pregnancy.rules import format_gestational_age, gestational_days
from domain.settings import Settings
from graphql_schema.base import to_global_id

WORKLIST = """
query Worklist($first: Int!) {
  pregnancies(first: $first, filter: {status: "ACTIVE"}) {
    edges {
      node {
        id edd riskColor infectious
        gestationalAgeToday { text }
        patient { name residentId phone }
        visits { visitDate remarks }
        riskFactors { code name color diagnosis }
      }
    }
  }
}
"""

_PREGNANCIES = text(
    """
    SELECT pr.id, pr.edd, pr.lmp, pr.risk_color, pr.infectious_flag,
           pa.name, pa.resident_id, pa.phone
    FROM pregnancy pr JOIN patient pa ON pa.id = pr.patient_id
    WHERE pr.status = 'ACTIVE' ORDER BY pr.id DESC LIMIT :first
    """
)


def _date(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


async def hand_written(db: Database, first: int) -> bytes:
    """The same JSON as the GraphQL worklist, from three SQL statements."""
    today = dt.date.today()
    async with db.reader() as session:
        rows = (await session.execute(_PREGNANCIES, {"first": first})).all()
        ids = [row[0] for row in rows]
        params = {f"p{i}": pid for i, pid in enumerate(ids)}
        in_list = ", ".join(f":p{i}" for i in range(len(ids))) or "NULL"
        visits = (
            await session.execute(
                text(
                    f"SELECT pregnancy_id, visit_date, remarks FROM prenatal_visit "  # noqa: S608 (placeholders only)
                    f"WHERE pregnancy_id IN ({in_list}) ORDER BY visit_date, id"
                ),
                params,
            )
        ).all()
        factors = (
            await session.execute(
                text(
                    f"SELECT pregnancy_id, code, name, color, diagnosis FROM risk_factor "  # noqa: S608 (placeholders only)
                    f"WHERE pregnancy_id IN ({in_list}) AND removed_at IS NULL ORDER BY recorded_at, id"
                ),
                params,
            )
        ).all()
    visits_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pid, visit_date, remarks in visits:
        visits_of[pid].append({"visitDate": _date(visit_date), "remarks": remarks})
    factors_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pid, code, name, color, diagnosis in factors:
        factors_of[pid].append({"code": code, "name": name, "color": color, "diagnosis": diagnosis})
    edges = []
    for pid, edd, lmp, color, infectious, name, resident_id, phone in rows:
        lmp_date = lmp if isinstance(lmp, dt.date) else dt.date.fromisoformat(str(lmp))
        days = gestational_days(lmp_date, today)
        edges.append(
            {
                "node": {
                    "id": to_global_id("Pregnancy", pid),
                    "edd": _date(edd),
                    "riskColor": color,
                    "infectious": bool(infectious),
                    "gestationalAgeToday": {"text": format_gestational_age(days)},
                    "patient": {"name": name, "residentId": resident_id, "phone": phone},
                    "visits": visits_of[pid],
                    "riskFactors": factors_of[pid],
                }
            }
        )
    return orjson.dumps({"data": {"pregnancies": {"edges": edges}}})


@dataclass(frozen=True)
class Figures:
    name: str
    p50_ms: float
    p95_ms: float
    mean_ms: float
    per_second: float
    statements: float


async def _measure(
    name: str,
    call: Callable[[], Awaitable[bytes]],
    rounds: int,
    count_statements: Callable[[], int],
) -> tuple[Figures, bytes]:
    body = await call()  # warm-up (and the body to compare)
    samples: list[float] = []
    before = count_statements()
    started = time.perf_counter()
    for _ in range(rounds):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    samples.sort()
    figures = Figures(
        name=name,
        p50_ms=statistics.median(samples),
        p95_ms=samples[max(0, int(len(samples) * 0.95) - 1)],
        mean_ms=statistics.fmean(samples),
        per_second=rounds / elapsed,
        statements=(count_statements() - before) / rounds,
    )
    return figures, body


async def run(database_url: str | None, data_dir: str, rounds: int, first: int) -> dict[str, Any]:
    url = database_url or f"sqlite+aiosqlite:///{data_dir}/bench.db"
    # A throwaway key: nothing signed in this run outlives it.
    settings = Settings(
        data_dir=Path(data_dir), database_url=url, secret_key=secrets.token_urlsafe(32)
    )
    setup = Database(url)
    await upgrade(setup.engine)
    await seed_demo(setup, secret_key=settings.secret_key)
    async with setup.transaction() as session:
        await ensure_user(
            session, "bench", display_name="基准测试", roles=[Role.DOCTOR], password=None
        )
        token = await issue_token(session, "bench", label="benchmark")
    await setup.dispose()

    app = create_app(settings, run_jobs=False, freeze_gc=True)
    services = app.state.services

    async def baseline_endpoint(request: Request) -> Response:
        return Response(await hand_written(services.db, first), media_type="application/json")

    app.router.routes.append(Route("/bench/worklist", baseline_endpoint))
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {token}"}

            async def graphql() -> bytes:
                response = await client.post(
                    "/graphql",
                    json={"query": WORKLIST, "variables": {"first": first}},
                    headers=headers,
                )
                return response.content

            async def baseline() -> bytes:
                return (await client.get("/bench/worklist")).content

            base_figures, base_body = await _measure(
                "hand-written SQL + orjson", baseline, rounds, lambda: statements
            )
            gql_figures, gql_body = await _measure(
                "GraphQL worklist", graphql, rounds, lambda: statements
            )
    same = orjson.loads(base_body) == orjson.loads(gql_body)
    return {
        "database": services.db.dialect,
        "pregnancies": first,
        "rounds": rounds,
        "identical_json": same,
        "baseline": base_figures.__dict__,
        "graphql": gql_figures.__dict__,
        "graphql_vs_baseline_p50": gql_figures.p50_ms / base_figures.p50_ms,
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"worklist benchmark — {result['pregnancies']} pregnancies, {result['rounds']} rounds, "
        f"{result['database']}, identical JSON: {result['identical_json']}"
    )
    print(f"{'endpoint':<28}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'req/s':>9}{'SQL/req':>9}")
    for key in ("baseline", "graphql"):
        f = result[key]
        print(
            f"{f['name']:<28}{f['p50_ms']:>9.2f}{f['p95_ms']:>9.2f}{f['mean_ms']:>9.2f}"
            f"{f['per_second']:>9.1f}{f['statements']:>9.1f}"
        )
    print(f"GraphQL p50 / baseline p50 = {result['graphql_vs_baseline_p50']:.2f} (target ≤ 2.0)")
    print(orjson.dumps(result).decode())


def main(database_url: str | None, data_dir: str, rounds: int, first: int) -> int:
    result = asyncio.run(run(database_url, data_dir, rounds, first))
    print_report(result)
    return 0 if result["identical_json"] else 1
