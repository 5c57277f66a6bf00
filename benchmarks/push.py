"""Push benchmark: the 桂妇儿 outbox's drain rate beside the simulator's own capacity.

A scratch database is seeded with the demo, whose records enter the outbox through
`refresh_pregnancy` exactly as a doctor's saves do (SQLite in the temporary directory by
default; with `--database-url` a scratch database is created on that PostgreSQL server
and dropped afterwards, so no real outbox is touched). Then, in the same run, each
against a fresh strict simulator served on a local port with the given latency:

1. **simulator capacity** — the same records, pre-built, pushed straight by the client
   at the same concurrency, no database (each round: registrations, then the rest);
2. **outbox drain** — `Deliverer.drain()`: claim, send, record, every record.

Each path runs three times, alternately (the machine may be shared); the best of each is
compared. Prints records/s, their ratio, where the outbox's time went, and a JSON line.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from domain.database import Database, utcnow
from domain.demo.seed import seed_demo
from domain.migrate import upgrade
from domain.push.delivery import Claimed, Deliverer, DrainStats
from domain.push.models import PushRecord, PushStatus
from integrations.guifuer.client import GuifuerClient
from integrations.guifuer.port import Outcome, PatientRef, PushResult, Record, RecordType
from integrations.guifuer.simulator import (
    DEMO_APP_ID,
    DEMO_APP_SECRET,
    DEMO_ORG_CODE,
    Faults,
    GuifuerSimulator,
)

RECORDS_PER_PATIENT = 13  # the demo's women average 12.5–14 records each
REGISTRATION = RecordType.MATERNAL_REGISTRATION.value
ROUNDS = 3  # each path measured three times, alternately; the best of each is compared


@dataclass
class PathFigures:
    name: str
    records: int
    seconds: float
    delivered: int
    requests: int
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------------------- the database


async def _admin(server_url: str, sql: str) -> None:
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed(url: str, records: int) -> None:
    db = Database(url)
    try:
        await upgrade(db.engine)
        patients = max(1, math.ceil(records / RECORDS_PER_PATIENT))
        await seed_demo(db, secret_key=uuid.uuid4().hex, patients=patients)
    finally:
        await db.dispose()


async def _outbox(db: Database) -> list[PushRecord]:
    async with db.reader() as session:
        return list((await session.scalars(select(PushRecord).order_by(PushRecord.id))).all())


# ---------------------------------------------------------------------------- the two paths


def _record(row: PushRecord) -> Record:
    patient = row.body["patient"]
    assert isinstance(patient, dict)  # noqa: S101 (the outbox's own shape)
    data = row.body["data"]
    assert isinstance(data, dict)  # noqa: S101
    return Record(
        row.record_id,
        row.version,
        PatientRef(patient["idCardNo"], patient["name"], patient["birthDate"]),
        data,
    )


def _push_of(client: GuifuerClient, record_type: str) -> Callable[[Record], Awaitable[PushResult]]:
    return {
        RecordType.MATERNAL_REGISTRATION.value: client.push_registration,
        RecordType.PRENATAL_VISIT.value: client.push_prenatal_visit,
        RecordType.HIGH_RISK_ASSESSMENT.value: client.push_high_risk_assessment,
        RecordType.INFECTIOUS_SCREENING.value: client.push_infectious_screening,
        RecordType.ULTRASOUND_NT.value: client.push_ultrasound_nt,
    }[record_type]


def _rounds(rows: list[PushRecord]) -> list[list[PushRecord]]:
    """The platform keeps one registration per woman: her n-th pregnancy goes in round n,
    its registration before its other records (as the outbox orders them)."""
    ordinal: dict[int, int] = {}
    seen: Counter[int] = Counter()
    for pregnancy_id, patient_id in sorted({(r.pregnancy_id, r.patient_id) for r in rows}):
        ordinal[pregnancy_id] = seen[patient_id]
        seen[patient_id] += 1
    waves: list[list[PushRecord]] = []
    for n in range(max(ordinal.values(), default=-1) + 1):
        in_round = [r for r in rows if ordinal[r.pregnancy_id] == n]
        waves.append([r for r in in_round if r.record_type == REGISTRATION])
        waves.append([r for r in in_round if r.record_type != REGISTRATION])
    return waves


async def simulator_capacity(
    rows: list[PushRecord], latency_ms: int, concurrency: int
) -> PathFigures:
    """The client pushing pre-built records straight at the simulator: no database."""
    simulator = GuifuerSimulator(org_code=DEMO_ORG_CODE, faults=Faults(latency_ms=latency_ms))
    gate = asyncio.Semaphore(concurrency)
    outcomes: Counter[Outcome] = Counter()
    async with simulator.running() as base, _http(concurrency) as http:
        client = _client(http, base)

        async def one(row: PushRecord) -> None:
            async with gate:
                result = await _push_of(client, row.record_type)(_record(row))
            outcomes[result.outcome] += 1

        started = time.perf_counter()
        for wave in _rounds(rows):
            await asyncio.gather(*(one(row) for row in wave))
        seconds = time.perf_counter() - started
    return PathFigures(
        "simulator capacity (client → simulator)",
        len(rows),
        seconds,
        outcomes[Outcome.DELIVERED],
        simulator.requests,
    )


class _TimedDeliverer(Deliverer):
    """The real `Deliverer`, with the time of each step added up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phases: defaultdict[str, float] = defaultdict(float)

    async def claim(self) -> list[Claimed]:
        started = time.perf_counter()
        try:
            return await super().claim()
        finally:
            self.phases["claim"] += time.perf_counter() - started

    async def send(self, claimed: list[Claimed]) -> list[tuple[PushResult, int]]:
        started = time.perf_counter()
        try:
            return await super().send(claimed)
        finally:
            self.phases["send"] += time.perf_counter() - started

    async def record(
        self, claimed: list[Claimed], results: list[tuple[PushResult, int]], stats: DrainStats
    ) -> None:
        started = time.perf_counter()
        try:
            await super().record(claimed, results, stats)
        finally:
            self.phases["record"] += time.perf_counter() - started
            self.phases["batches"] += 1


async def outbox_drain(db: Database, total: int, latency_ms: int, concurrency: int) -> PathFigures:
    """The outbox path: `Deliverer.drain()` until every record is delivered."""
    async with db.transaction() as session:  # every record due now, none delivered yet
        await session.execute(
            update(PushRecord).values(
                status=PushStatus.PENDING,
                sent_version=None,
                delivered_version=None,
                delivered_at=None,
                platform_id=None,
                attempts=0,
                last_error=None,
                next_attempt_at=utcnow(),
            )
        )
    simulator = GuifuerSimulator(org_code=DEMO_ORG_CODE, faults=Faults(latency_ms=latency_ms))
    async with simulator.running() as base, _http(concurrency) as http:
        deliverer = _TimedDeliverer(
            db, _client(http, base), worker="bench", concurrency=concurrency
        )
        stats = DrainStats()
        started = time.perf_counter()
        while True:
            drained = await deliverer.drain(budget_s=600.0)
            stats.attempted += drained.attempted
            for outcome, n in drained.outcomes.items():
                stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + n
            wait = await deliverer.seconds_until_due(5.0)
            if drained.attempted == 0 and wait >= 5.0:
                break  # nothing due and nothing coming
            await asyncio.sleep(wait if drained.attempted == 0 else 0)
        seconds = time.perf_counter() - started
    return PathFigures(
        "outbox drain (Deliverer: claim, send, record)",
        total,
        seconds,
        stats.outcomes.get(Outcome.DELIVERED.value, 0),
        simulator.requests,
        {key: round(value, 3) for key, value in deliverer.phases.items()},
    )


def _http(concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=3.0),
        limits=httpx.Limits(max_connections=max(32, concurrency)),
    )


def _client(http: httpx.AsyncClient, base: str) -> GuifuerClient:
    return GuifuerClient(
        http, base, app_id=DEMO_APP_ID, app_secret=DEMO_APP_SECRET, org_code=DEMO_ORG_CODE
    )


# ---------------------------------------------------------------------------- the run


async def run(
    database_url: str | None, data_dir: str, records: int, latency_ms: int, concurrency: int
) -> dict[str, Any]:
    scratch: str | None = None
    if database_url and not database_url.startswith("sqlite"):
        scratch = f"mhub_bench_push_{uuid.uuid4().hex[:12]}"
        await _admin(database_url, f'CREATE DATABASE "{scratch}"')
        url = make_url(database_url).set(database=scratch).render_as_string(hide_password=False)
    else:
        url = database_url or f"sqlite+aiosqlite:///{data_dir}/bench-push.db"
    capacity: list[PathFigures] = []
    outbox: list[PathFigures] = []
    try:
        seeding = time.perf_counter()
        await _seed(url, records)
        seeded_s = time.perf_counter() - seeding
        db = Database(url)
        try:
            rows = await _outbox(db)
            # Alternated, so that a neighbour's load on the machine hits both paths alike.
            for _ in range(ROUNDS):
                capacity.append(await simulator_capacity(rows, latency_ms, concurrency))
                outbox.append(await outbox_drain(db, len(rows), latency_ms, concurrency))
            dialect = db.dialect
        finally:
            await db.dispose()
    finally:
        if scratch is not None:
            await _admin(database_url or "", f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    best_capacity = max(f.per_second for f in capacity)
    best_outbox = max(f.per_second for f in outbox)
    return {
        "database": dialect,
        "records": len(rows),
        "record_types": dict(Counter(row.record_type for row in rows)),
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "seed_s": round(seeded_s, 2),
        "ceiling_per_s": concurrency * 1000 / latency_ms if latency_ms > 0 else None,
        "capacity": [{**asdict(f), "per_second": round(f.per_second, 1)} for f in capacity],
        "outbox": [{**asdict(f), "per_second": round(f.per_second, 1)} for f in outbox],
        "best_capacity_per_s": round(best_capacity, 1),
        "best_outbox_per_s": round(best_outbox, 1),
        "outbox_vs_capacity": round(best_outbox / best_capacity, 3) if best_capacity else None,
        "all_delivered": all(f.delivered == len(rows) for f in capacity + outbox),
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"桂妇儿 push benchmark — {result['records']} records, simulator latency "
        f"{result['latency_ms']} ms, concurrency {result['concurrency']}, {result['database']}"
    )
    print(f"{'path':<52}{'records':>9}{'delivered':>11}{'requests':>10}{'seconds':>9}{'rec/s':>9}")
    for n, pair in enumerate(zip(result["capacity"], result["outbox"], strict=True), start=1):
        for f in pair:
            name = f"{f['name']} #{n}"
            print(
                f"{name:<52}{f['records']:>9}{f['delivered']:>11}{f['requests']:>10}"
                f"{f['seconds']:>9.2f}{f['per_second']:>9.1f}"
            )
    ceiling = result["ceiling_per_s"]
    print(
        f"best: outbox {result['best_outbox_per_s']} records/s, simulator capacity "
        f"{result['best_capacity_per_s']} records/s, outbox / capacity = "
        f"{result['outbox_vs_capacity']}"
        + (f"; latency ceiling concurrency/latency = {ceiling:.0f}/s" if ceiling else "")
    )
    for n, f in enumerate(result["outbox"], start=1):
        phases = f["phases"]
        print(
            f"outbox #{n} time: claim {phases.get('claim', 0):.2f} s, "
            f"send {phases.get('send', 0):.2f} s, record {phases.get('record', 0):.2f} s "
            f"in {int(phases.get('batches', 0))} batches"
        )
    print(orjson.dumps(result).decode())


def main(
    database_url: str | None, data_dir: str, records: int, latency_ms: int, concurrency: int
) -> int:
    # Every non-delivered answer is a warning from the adapter; the table says it all.
    adapter_log = logging.getLogger("integrations.guifuer")
    level = adapter_log.level
    adapter_log.setLevel(logging.ERROR)
    try:
        result = asyncio.run(run(database_url, data_dir, records, latency_ms, concurrency))
    finally:
        adapter_log.setLevel(level)
    print_report(result)
    return 0 if result["all_delivered"] else 1
