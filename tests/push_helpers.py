"""Shared by the 桂妇儿 push fault tests: a seeded outbox cloned per test, the simulator
with its answers counted, a Redis of the test's own, `mhub worker` as a subprocess, the
checks that follow every fault and the figures each fault test prints and keeps.

The outbox is filled exactly as in production: the demo seed registers women, books
pregnancies and records visits, factors, labs and NT scans, and each pregnancy's records
enter `push_record` through `refresh_pregnancy` in the seed's transaction. Seeding takes
seconds, so it is done once per session into a PostgreSQL template that each test clones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.database import Database
from domain.demo.seed import seed_demo
from domain.parameter.models import Parameter
from domain.push.models import PushAttempt, PushRecord, PushStatus
from integrations.guifuer.simulator import (
    DEMO_APP_ID,
    DEMO_APP_SECRET,
    DEMO_ORG_CODE,
    Faults,
    GuifuerSimulator,
)
from integrations.simulators import serve_locally
from tests.conftest import pg_url, unavailable

ARTEFACTS = Path(__file__).resolve().parent / "artefacts"
FIGURES_FILE = ARTEFACTS / "push-faults.json"
REGISTRATION = "MATERNAL_REGISTRATION"
# Demo patients per outbox: about 12 records each (registration, assessment, visits,
# screening, NT), so LARGE holds a little over 1,000 records and SMALL about 300.
LARGE_PATIENTS = 82
SMALL_PATIENTS = 24
# Fast enough for a test, still exponential: 0.2 s, 0.4 s … at most 2 s.
FAST_BACKOFF = {"push_backoff_base_s": 0.2, "push_backoff_max_s": 2.0}


# ---------------------------------------------------------------------------- the outbox


@dataclass(frozen=True)
class Outbox:
    """A seeded PostgreSQL template: its name and how many records its outbox holds."""

    template: str
    records: int


def _url(database: str) -> str:
    return make_url(pg_url()).set(database=database).render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    dsn = make_url(pg_url()).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed_template(base: str, name: str, patients: int) -> int:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
    db = Database(_url(name))
    try:
        await seed_demo(db, secret_key="push-fault-tests", patients=patients)
        async with db.reader() as session:
            return int(await session.scalar(select(func.count()).select_from(PushRecord)) or 0)
    finally:
        await db.dispose()


def seeded_outbox(postgres_template: str | None, patients: int) -> Iterator[Outbox]:
    """A template database holding the demo seed of `patients` women (dropped at the end)."""
    if postgres_template is None:
        unavailable("PostgreSQL", f"cannot connect to {pg_url()}")
    assert postgres_template is not None
    name = f"mhub_push_{patients}_{os.getpid()}"
    records = asyncio.run(_seed_template(postgres_template, name, patients))
    yield Outbox(name, records)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.asynccontextmanager
async def cloned(outbox: Outbox) -> AsyncIterator[str]:
    """A database of this test's own, a copy of the seeded template."""
    name = f"mhub_t_{uuid.uuid4().hex[:16]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{outbox.template}"')
    try:
        yield _url(name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def set_parameters(db: Database, **values: float) -> None:
    """Set system parameters in the `parameter` table, which every process reads."""
    async with db.transaction() as session:
        known = set(await session.scalars(select(Parameter.key).where(Parameter.key.in_(values))))
        assert known == set(values)
        for key, value in values.items():
            await session.execute(update(Parameter).where(Parameter.key == key).values(value=value))


async def delivered(db: Database) -> int:
    async with db.reader() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(PushRecord)
                .where(PushRecord.status == PushStatus.DELIVERED)
            )
            or 0
        )


async def wait_until_delivered(
    db: Database,
    total: int,
    *,
    timeout_s: float,
    why: Callable[[], str] = lambda: "",
) -> float:
    """Poll the outbox until `total` records are DELIVERED; the seconds it took."""
    started = time.monotonic()
    done = 0
    while time.monotonic() - started < timeout_s:
        done = await delivered(db)
        if done >= total:
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    pytest.fail(f"{done}/{total} records delivered after {timeout_s:.0f} s {why()}")


# ---------------------------------------------------------------------------- the platform


@dataclass
class Tap:
    """The simulator's ASGI app with every answer counted, and a hook called on each one
    after the simulator has decided it (an acceptance is already in `accepted`)."""

    app: ASGIApp
    answers: Counter[int] = field(default_factory=Counter)
    duplicates: int = 0  # answers 0 with "duplicate": true — a resend of an accepted version
    on_answer: Callable[[int], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.answers[message["status"]] += 1
                if self.on_answer is not None:
                    self.on_answer(message["status"])
            elif message["type"] == "http.response.body" and b'"duplicate":true' in message.get(
                "body", b""
            ):
                self.duplicates += 1
            await send(message)

        await self.app(scope, receive, counted)


@contextlib.asynccontextmanager
async def platform(simulator: GuifuerSimulator) -> AsyncIterator[tuple[str, Tap]]:
    """Serve the simulator on a local port behind a `Tap`; yields its base URL and the tap."""
    tap = Tap(simulator.app)
    async with serve_locally(tap, name="桂妇儿模拟器") as url:
        yield url, tap


def strict_simulator(**faults: Any) -> GuifuerSimulator:
    """The platform as the contract has it, refusing any other orgCode, with `faults`."""
    return GuifuerSimulator(org_code=DEMO_ORG_CODE, faults=Faults(**faults))


def platform_env(url: str) -> dict[str, str]:
    return {
        "GUIFUER_BASE_URL": url,
        "GUIFUER_APP_ID": DEMO_APP_ID,
        "GUIFUER_APP_SECRET": DEMO_APP_SECRET,
        "GUIFUER_ORG_CODE": DEMO_ORG_CODE,
    }


# ---------------------------------------------------------------------------- after a fault


async def assert_all_delivered_once_in_order(
    db: Database, simulator: GuifuerSimulator, total: int
) -> list[PushRecord]:
    """Every record delivered at its current version, nothing lost, no `recordId + version`
    accepted twice, and each woman's records after her registration."""
    async with db.reader() as session:
        rows = list((await session.scalars(select(PushRecord))).all())
    assert len(rows) == total
    assert Counter(row.status for row in rows) == {PushStatus.DELIVERED: total}
    assert [r.record_id for r in rows if r.delivered_version != r.version] == []

    accepted = [(a.record_id, a.version) for a in simulator.accepted]
    twice = [key for key, n in Counter(accepted).items() if n > 1]
    assert twice == []
    # nothing lost, nothing extra: the platform holds exactly the outbox's versions
    assert set(accepted) == {(row.record_id, row.version) for row in rows}

    pregnancy_of = {row.record_id: row.pregnancy_id for row in rows}
    registration_of = {
        row.pregnancy_id: row.record_id for row in rows if row.record_type == REGISTRATION
    }
    first_accepted: dict[str, int] = {}
    first_of_woman: dict[str, str] = {}
    out_of_order = []
    for position, record in enumerate(simulator.accepted):
        first_accepted.setdefault(record.record_id, position)
        first_of_woman.setdefault(record.id_card_no, record.record_type.value)
        if record.record_type.value == REGISTRATION:
            continue
        registration = registration_of[pregnancy_of[record.record_id]]
        if first_accepted.get(registration, position) >= position:
            out_of_order.append(record.record_id)
    assert out_of_order == []
    assert set(first_of_woman.values()) == {REGISTRATION}
    return rows


async def attempt_figures(db: Database) -> dict[str, Any]:
    """What the outbox recorded: attempts by outcome and by HTTP status, and retries."""
    async with db.reader() as session:
        attempts = (
            await session.execute(
                select(PushAttempt.push_record_id, PushAttempt.outcome, PushAttempt.http_status)
            )
        ).all()
    records = len({a.push_record_id for a in attempts})
    return {
        "attempts_recorded": len(attempts),
        "retries": len(attempts) - records,
        "outcomes": dict(Counter(a.outcome for a in attempts)),
        "http_status_recorded": {
            str(k): v for k, v in Counter(a.http_status for a in attempts).items()
        },
    }


def platform_figures(simulator: GuifuerSimulator, tap: Tap) -> dict[str, Any]:
    return {
        "requests": simulator.requests,
        "answers": {str(status): n for status, n in sorted(tap.answers.items())},
        "answered_503": tap.answers[503],
        "answered_429": tap.answers[429],
        "duplicate_answers": tap.duplicates,
        "accepted": len(simulator.accepted),
    }


def keep_figures(name: str, figures: dict[str, Any]) -> None:
    """Print the figures (shown with `pytest -s`) and keep them in tests/artefacts."""
    print(f"\n桂妇儿 push fault — {name}")
    for key, value in figures.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"  {key:<34} {shown}")
    ARTEFACTS.mkdir(exist_ok=True)
    kept: dict[str, Any] = {}
    if FIGURES_FILE.exists():
        with contextlib.suppress(ValueError):
            kept = json.loads(FIGURES_FILE.read_text(encoding="utf-8"))
    kept[name] = {**figures, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    FIGURES_FILE.write_text(json.dumps(kept, ensure_ascii=False, indent=2), encoding="utf-8")


# ---------------------------------------------------------------------------- Redis and workers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateRedis:
    """A `redis-server` of this test's own on a free port (no persistence)."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> aioredis.Redis:
        return aioredis.Redis(host="127.0.0.1", port=self.port)

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("Redis", "redis-server is not installed")
        assert binary is not None
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                async with self.client() as client:
                    await client.ping()
                return
            except (RedisError, OSError):
                if time.monotonic() > deadline or self.process.returncode is not None:
                    unavailable("Redis", f"redis-server did not start on port {self.port}")
                await asyncio.sleep(0.05)

    async def shutdown_nosave(self) -> None:
        """SHUTDOWN NOSAVE: whatever was queued is gone."""
        async with self.client() as client:
            with contextlib.suppress(RedisError, OSError):
                await client.shutdown(nosave=True)
        if self.process is not None:
            await asyncio.wait_for(self.process.wait(), timeout=10)
            self.process = None

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), timeout=10)
        self.process = None


@contextlib.asynccontextmanager
async def private_redis(directory: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(directory)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def mhub_executable() -> str:
    """The `mhub` console script of this environment (the real entry point)."""
    script = Path(sys.executable).parent / "mhub"
    return str(script) if script.exists() else shutil.which("mhub") or "mhub"


@dataclass
class Worker:
    """`mhub worker` (arq) running as a subprocess; its log goes to a file."""

    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> int | None:
        """SIGTERM (arq shuts down), SIGKILL if it has not exited within 20 s."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


async def start_worker(env: dict[str, str], log: Path) -> Worker:
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            mhub_executable(),
            "worker",
            env={**os.environ, **env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    return Worker(process, log)


def worker_env(
    *, database_url: str, redis_url: str, platform_url: str, data_dir: Path, lease_s: int
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MHUB_DATA_DIR": str(data_dir),
        "MHUB_SECRET_KEY": "push-fault-worker",
        "MHUB_LOG_LEVEL": "WARNING",
        "PUSH_LEASE_S": str(lease_s),
        **platform_env(platform_url),
    }


async def wait_for(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)
