"""Federated benchmark: the worklist with live EMR diagnoses beside the same worklist without them.

The EMR simulator runs on a local port with the given latency; the API runs in-process
over httpx.ASGITransport on a seeded database, as in `benchmarks/worklist.py`. Each row
is measured in the same run: the worklist without EMR fields (the baseline), the EMR
alone (one adapter call for the same women: the floor the upstream sets), the worklist
with `patient { emrDiagnoses { icd10Code text } }` uncached and with a warm cache, and
with the EMR failing or hanging. Besides latency percentiles it counts SQL statements
and upstream HTTP calls per request: one round per request whatever the page size.
Prints a table and a JSON line.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import event, select, update

from api.app import create_app
from benchmarks.worklist import WORKLIST
from domain.auth.actor import Role
from domain.auth.service import ensure_user, issue_token
from domain.database import Database
from domain.demo.seed import seed_demo
from domain.migrate import upgrade
from domain.parameter.models import Parameter
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy
from domain.settings import Settings
from integrations.emr.fhir import FhirEmr
from integrations.emr.port import EmrPatientId
from integrations.emr.simulator import EmrSimulator, Faults

_PATIENT = "patient { name residentId phone }"
WORKLIST_WITH_EMR = WORKLIST.replace(
    _PATIENT, "patient { name residentId phone emrDiagnoses { icd10Code text } }"
)
HANG_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Figures:
    name: str
    rounds: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    per_second: float
    statements: float
    upstream_calls: float
    ok: bool  # every answer had the shape this row expects


async def _measure(
    name: str,
    rounds: int,
    call: Callable[[], Awaitable[bool]],
    statements: Callable[[], int],
    upstream: Callable[[], int],
) -> Figures:
    samples: list[float] = []
    sql_before, calls_before, ok = statements(), upstream(), True
    started = time.perf_counter()
    for _ in range(rounds):
        t0 = time.perf_counter()
        ok = await call() and ok
        samples.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    samples.sort()
    return Figures(
        name=name,
        rounds=rounds,
        p50_ms=statistics.median(samples),
        p95_ms=samples[max(0, int(len(samples) * 0.95) - 1)],
        mean_ms=statistics.fmean(samples),
        per_second=rounds / elapsed,
        statements=(statements() - sql_before) / rounds,
        upstream_calls=(upstream() - calls_before) / rounds,
        ok=ok,
    )


async def _prepare(url: str, secret_key: str) -> str:
    setup = Database(url)
    try:
        await upgrade(setup.engine)
        await seed_demo(setup, secret_key=secret_key)
        async with setup.transaction() as session:
            await ensure_user(
                session, "bench", display_name="基准测试", roles=[Role.DOCTOR], password=None
            )
            return await issue_token(session, "bench", label="benchmark")
    finally:
        await setup.dispose()


def _nodes(body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data") or {}
    return [edge["node"] for edge in (data.get("pregnancies") or {}).get("edges", [])]


def _healthy(body: dict[str, Any], first: int) -> bool:
    nodes = _nodes(body)
    return (
        "errors" not in body
        and len(nodes) == first
        and all(node["patient"]["emrDiagnoses"] is not None for node in nodes)
    )


def _degraded(body: dict[str, Any], first: int) -> bool:
    """Local data for every row, every EMR field null, and exactly one UPSTREAM_UNAVAILABLE."""
    nodes = _nodes(body)
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    return (
        len(nodes) == first
        and all(n["patient"]["name"] and n["patient"]["emrDiagnoses"] is None for n in nodes)
        and codes == ["UPSTREAM_UNAVAILABLE"]
    )


async def run(
    database_url: str | None, data_dir: str, rounds: int, first: int, latency_ms: int
) -> dict[str, Any]:
    url = database_url or f"sqlite+aiosqlite:///{data_dir}/bench.db"
    # A throwaway key: nothing signed in this run outlives it.
    secret_key = secrets.token_urlsafe(32)
    token = await _prepare(url, secret_key)
    simulator = EmrSimulator(faults=Faults(latency_ms=latency_ms))

    def upstream() -> int:
        return sum(1 for call in simulator.calls if call.path.startswith("/Condition"))

    async with simulator.running() as emr_url:
        settings = Settings(
            data_dir=Path(data_dir),
            database_url=url,
            secret_key=secret_key,
            emr_fhir_base_url=emr_url,
        )
        app = create_app(settings, run_jobs=False, freeze_gc=True)
        services = app.state.services
        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        async def set_parameters(*, ttl_s: float, timeout_s: float) -> None:
            async with services.db.transaction() as session:
                for key, value in (("emr_cache_ttl_s", ttl_s), ("emr_timeout_s", timeout_s)):
                    await session.execute(
                        update(Parameter).where(Parameter.key == key).values(value=value)
                    )
            services.emr.parameters.invalidate()
            services.emr.clear()

        async with services.db.reader() as session:
            women = [
                EmrPatientId.of(record_no, resident_id)
                for record_no, resident_id in (
                    await session.execute(
                        select(Patient.emr_record_no, Patient.resident_id)
                        .join(Pregnancy, Pregnancy.patient_id == Patient.id)
                        .where(Pregnancy.status == "ACTIVE")
                        .order_by(Pregnancy.id.desc())
                        .limit(first)
                    )
                ).all()
            ]

        event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)
        rows: list[Figures] = []
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as client,
            httpx.AsyncClient() as emr_http,
        ):
            headers = {"Authorization": f"Bearer {token}"}

            async def query(document: str) -> dict[str, Any]:
                response = await client.post(
                    "/graphql",
                    json={"query": document, "variables": {"first": first}},
                    headers=headers,
                )
                body: dict[str, Any] = orjson.loads(response.content)
                return body

            async def baseline() -> bool:
                return len(_nodes(await query(WORKLIST))) == first

            async def with_emr() -> bool:
                return _healthy(await query(WORKLIST_WITH_EMR), first)

            async def emr_down() -> bool:
                return _degraded(await query(WORKLIST_WITH_EMR), first)

            adapter = FhirEmr(emr_http, emr_url)

            async def emr_alone() -> bool:
                return len(await adapter.diagnoses_for(women)) == len(set(women))

            def sql() -> int:
                return statements

            await set_parameters(ttl_s=0, timeout_s=max(2.0, 5 * latency_ms / 1000))
            await baseline()  # warm-up: connections, parser and validation caches
            await with_emr()
            rows.append(await _measure("worklist, no EMR fields", rounds, baseline, sql, upstream))
            rows.append(
                await _measure("EMR alone (one adapter call)", rounds, emr_alone, sql, upstream)
            )
            rows.append(await _measure("+ emrDiagnoses, no cache", rounds, with_emr, sql, upstream))
            await set_parameters(ttl_s=600, timeout_s=max(2.0, 5 * latency_ms / 1000))
            await with_emr()
            rows.append(
                await _measure("+ emrDiagnoses, warm cache", rounds, with_emr, sql, upstream)
            )
            await set_parameters(ttl_s=0, timeout_s=max(2.0, 5 * latency_ms / 1000))
            simulator.faults.fail = True
            rows.append(await _measure("+ emrDiagnoses, EMR 500", rounds, emr_down, sql, upstream))
            simulator.faults.fail, simulator.faults.hang = False, True
            await set_parameters(ttl_s=0, timeout_s=HANG_TIMEOUT_S)
            rows.append(
                await _measure(
                    f"+ emrDiagnoses, EMR hangs ({HANG_TIMEOUT_S:g} s)",
                    min(rounds, 10),
                    emr_down,
                    sql,
                    upstream,
                )
            )
            simulator.release()
    by_name = {row.name: row for row in rows}
    uncached = by_name["+ emrDiagnoses, no cache"]
    base = by_name["worklist, no EMR fields"]
    return {
        "database": services.db.dialect,
        "pregnancies": first,
        "rounds": rounds,
        "emr_latency_ms": latency_ms,
        "one_round_per_request": uncached.upstream_calls == 1.0,
        "all_answers_as_expected": all(row.ok for row in rows),
        "rows": [asdict(row) for row in rows],
        "emr_minus_baseline_p50_ms": uncached.p50_ms - base.p50_ms,
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"federated benchmark — {result['pregnancies']} pregnancies, {result['rounds']} rounds, "
        f"{result['database']}, EMR latency {result['emr_latency_ms']} ms, "
        f"one EMR round per request: {result['one_round_per_request']}, "
        f"answers as expected: {result['all_answers_as_expected']}"
    )
    print(
        f"{'variant':<34}{'rounds':>7}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}"
        f"{'req/s':>8}{'SQL/req':>8}{'EMR/req':>8}"
    )
    for f in result["rows"]:
        print(
            f"{f['name']:<34}{f['rounds']:>7}{f['p50_ms']:>9.2f}{f['p95_ms']:>9.2f}"
            f"{f['mean_ms']:>9.2f}{f['per_second']:>8.1f}{f['statements']:>8.1f}"
            f"{f['upstream_calls']:>8.2f}"
        )
    print(
        f"EMR fields add {result['emr_minus_baseline_p50_ms']:.1f} ms at p50 "
        f"(EMR latency {result['emr_latency_ms']} ms)"
    )
    print(orjson.dumps(result).decode())


def main(database_url: str | None, data_dir: str, rounds: int, first: int, latency_ms: int) -> int:
    # The failure rows make the adapter log a warning per request; the table says it all.
    emr_log = logging.getLogger("integrations.emr")
    level = emr_log.level
    emr_log.setLevel(logging.ERROR)
    try:
        result = asyncio.run(run(database_url, data_dir, rounds, first, latency_ms))
    finally:
        emr_log.setLevel(level)
    print_report(result)
    return 0 if result["one_round_per_request"] and result["all_answers_as_expected"] else 1
