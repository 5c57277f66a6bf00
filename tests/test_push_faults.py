"""Faults of the 桂妇儿 push pipeline, with figures (issue 4).

The platform refusing everything for 60 s during 1,000 pushes; every 7th request answered
429; a worker killed with SIGKILL mid-delivery; Redis restarted with jobs queued; the same
records delivered by two workers at once and resent. After each: every record delivered,
no `recordId + version` accepted twice, each woman's registration accepted before her
other records, nothing lost.

Each test prints its figures (`pytest -s`) and keeps them in
tests/artefacts/push-faults.json. They run on PostgreSQL (and Redis): the production
setup in which these faults happen; in CI a missing service fails them. Last, `mhub bench
push` (drain rate beside the simulator's capacity) runs end to end on a tiny outbox.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import select, update

from api.cli import main
from domain.database import Database, utcnow
from domain.job.queue import ARQ_QUEUE
from domain.push.delivery import CHANNEL, Deliverer
from domain.push.models import PushAttempt, PushChannel, PushRecord, PushStatus
from domain.settings import Settings
from integrations.guifuer.client import GuifuerClient
from integrations.guifuer.simulator import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_ORG_CODE
from jobs.push import PushLoop, enqueue_drain
from tests.push_helpers import (
    FAST_BACKOFF,
    LARGE_PATIENTS,
    SMALL_PATIENTS,
    Outbox,
    Worker,
    assert_all_delivered_once_in_order,
    attempt_figures,
    cloned,
    delivered,
    keep_figures,
    platform,
    platform_figures,
    private_redis,
    seeded_outbox,
    set_parameters,
    start_worker,
    strict_simulator,
    wait_for,
    wait_until_delivered,
    worker_env,
)

OUTAGE_S = 60
OUTAGE_AFTER = 150  # accepted records before the platform goes down
RATE_LIMIT_EVERY = 7
LEASE_S = 3


@pytest.fixture(scope="session")
def large_outbox(postgres_template: str | None) -> Iterator[Outbox]:
    """More than 1,000 records (seeded once, cloned by each test)."""
    yield from seeded_outbox(postgres_template, LARGE_PATIENTS)


@pytest.fixture(scope="session")
def small_outbox(postgres_template: str | None) -> Iterator[Outbox]:
    """About 300 records."""
    yield from seeded_outbox(postgres_template, SMALL_PATIENTS)


def embedded_settings(tmp_path: Path, database_url: str, platform_url: str) -> Settings:
    """What the API process of the embedded mode reads (its `PushLoop` delivers)."""
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="push-fault-tests",
        guifuer_base_url=platform_url,
        guifuer_app_id=DEMO_APP_ID,
        guifuer_app_secret=DEMO_APP_SECRET,
        guifuer_org_code=DEMO_ORG_CODE,
    )


async def test_platform_refusing_everything_for_60_s_during_1000_pushes(
    large_outbox: Outbox, tmp_path: Path
) -> None:
    # given: more than 1,000 records in the outbox and the embedded delivery loop running
    assert large_outbox.records >= 1000
    async with cloned(large_outbox) as url:
        db = Database(url)
        try:
            await set_parameters(db, **FAST_BACKOFF)
            simulator = strict_simulator(latency_ms=5)
            opened = time.time()  # the simulator's outage is counted from its start
            async with platform(simulator) as (base, tap):
                loop = PushLoop(db, embedded_settings(tmp_path, url, base))
                started = time.monotonic()
                loop.start()
                try:
                    # when: part-way through, the platform answers 503 (Retry-After) to
                    # everything for 60 s
                    await wait_for(
                        lambda: len(simulator.accepted) >= OUTAGE_AFTER,
                        timeout_s=60,
                        what=f"{OUTAGE_AFTER} acceptances",
                    )
                    accepted_before = len(simulator.accepted)
                    simulator.faults.down_for_s = time.time() - opened + OUTAGE_S
                    outage_began = time.monotonic()
                    await wait_until_delivered(db, large_outbox.records, timeout_s=OUTAGE_S + 90)
                    drained = time.monotonic()
                finally:
                    await loop.stop()

            # then: all delivered once, in order — and the outage was waited out, not
            # hammered: one batch in flight met it, then single probes honouring Retry-After
            await assert_all_delivered_once_in_order(db, simulator, large_outbox.records)
            assert 0 < tap.answers[503] <= loop.deliverer.batch + 5
            attempts = await attempt_figures(db)
            assert attempts["outcomes"]["TRY_LATER"] == tap.answers[503]
            elapsed = drained - started
            keep_figures(
                "platform refusing everything for 60 s (503 + Retry-After)",
                {
                    "records": large_outbox.records,
                    "accepted_before_outage": accepted_before,
                    "outage_s": OUTAGE_S,
                    **platform_figures(simulator, tap),
                    **attempts,
                    "time_to_drain_s": elapsed,
                    "drained_after_outage_end_s": drained - outage_began - OUTAGE_S,
                    "records_per_s_overall": large_outbox.records / elapsed,
                    "records_per_s_outside_outage": large_outbox.records
                    / max(elapsed - OUTAGE_S, 0.001),
                },
            )
        finally:
            await db.dispose()


async def test_every_7th_request_answered_429(small_outbox: Outbox, tmp_path: Path) -> None:
    # given: the outbox and the embedded delivery loop; the platform rate-limits every
    # 7th request with Retry-After: 1
    async with cloned(small_outbox) as url:
        db = Database(url)
        try:
            await set_parameters(db, **FAST_BACKOFF)
            simulator = strict_simulator(rate_limit_every=RATE_LIMIT_EVERY, retry_after_s=1)
            async with platform(simulator) as (base, tap):
                loop = PushLoop(db, embedded_settings(tmp_path, url, base))
                started = time.monotonic()
                # when: it delivers everything
                loop.start()
                try:
                    await wait_until_delivered(db, small_outbox.records, timeout_s=150)
                    elapsed = time.monotonic() - started
                finally:
                    await loop.stop()

            # then: all delivered once, in order; exactly every 7th request was a 429 and
            # each was retried, never sooner than its Retry-After
            await assert_all_delivered_once_in_order(db, simulator, small_outbox.records)
            assert tap.answers[429] == simulator.requests // RATE_LIMIT_EVERY > 0
            assert tap.answers[200] == simulator.requests - tap.answers[429]
            async with db.reader() as session:
                attempts = (
                    await session.execute(
                        select(
                            PushAttempt.push_record_id,
                            PushAttempt.attempted_at,
                            PushAttempt.http_status,
                        ).order_by(PushAttempt.id)
                    )
                ).all()
            by_record: dict[int, list[tuple[dt.datetime, int | None]]] = defaultdict(list)
            for attempt in attempts:
                by_record[attempt.push_record_id].append(
                    (attempt.attempted_at, attempt.http_status)
                )
            limited = [
                (later[0] - earlier[0]).total_seconds()
                for tries in by_record.values()
                for earlier, later in itertools.pairwise(tries)
                if earlier[1] == 429
            ]
            assert len(limited) == tap.answers[429]
            assert min(limited) >= 1.0
            keep_figures(
                "every 7th request answered 429 (Retry-After 1 s)",
                {
                    "records": small_outbox.records,
                    **platform_figures(simulator, tap),
                    **await attempt_figures(db),
                    "shortest_wait_after_429_s": min(limited),
                    "time_to_drain_s": elapsed,
                    "records_per_s": small_outbox.records / elapsed,
                },
            )
        finally:
            await db.dispose()


async def test_a_worker_killed_with_sigkill_mid_delivery(
    small_outbox: Outbox, tmp_path: Path
) -> None:
    # given: `mhub worker` delivering the outbox (arq on Redis, PostgreSQL, 3 s leases)
    # from a platform answering in 50 ms, with a drain job queued as a commit would
    kill_at = small_outbox.records // 3
    async with cloned(small_outbox) as url, private_redis(tmp_path) as redis:
        db = Database(url)
        first: Worker | None = None
        second: Worker | None = None
        killed: list[int] = []
        try:
            await set_parameters(db, **FAST_BACKOFF, push_sweep_interval_s=1)
            simulator = strict_simulator(latency_ms=50)
            async with platform(simulator) as (base, tap):

                def kill_mid_delivery(_status: int) -> None:
                    # The answer that reaches `kill_at` acceptances never reaches the worker.
                    if first is not None and not killed and len(simulator.accepted) >= kill_at:
                        os.kill(first.pid, signal.SIGKILL)
                        killed.append(len(simulator.accepted))

                tap.on_answer = kill_mid_delivery
                env = worker_env(
                    database_url=url,
                    redis_url=redis.url,
                    platform_url=base,
                    data_dir=tmp_path,
                    lease_s=LEASE_S,
                )
                queue = await create_pool(RedisSettings.from_dsn(redis.url))
                try:
                    await enqueue_drain(queue, delay_s=0)
                finally:
                    await queue.aclose()
                started = time.monotonic()
                first = await start_worker(env, tmp_path / "worker-1.log")

                # when: it is killed with SIGKILL mid-delivery
                code = await asyncio.wait_for(first.process.wait(), timeout=120)
                assert code == -signal.SIGKILL, first.tail()
                await asyncio.sleep(0.5)  # requests still in flight are answered
                delivered_at_kill = await delivered(db)
                accepted_at_kill = len(simulator.accepted)
                # ... and a second worker starts
                restarted = time.monotonic()
                second = await start_worker(env, tmp_path / "worker-2.log")
                await wait_until_delivered(
                    db,
                    small_outbox.records,
                    timeout_s=120,
                    why=lambda: second.tail() if second is not None else "",
                )
                elapsed = time.monotonic() - started
                recovered_s = time.monotonic() - restarted
                await second.stop()

            # then: the records the platform accepted but the killed worker never recorded
            # were sent again and answered "duplicate"; none was accepted twice
            unrecorded = accepted_at_kill - delivered_at_kill
            assert len(killed) == 1
            assert unrecorded >= 1
            assert tap.duplicates >= unrecorded
            await assert_all_delivered_once_in_order(db, simulator, small_outbox.records)
            keep_figures(
                "worker killed with SIGKILL mid-delivery (arq, lease 3 s)",
                {
                    "records": small_outbox.records,
                    "accepted_at_kill": accepted_at_kill,
                    "recorded_delivered_at_kill": delivered_at_kill,
                    "accepted_not_recorded_at_kill": unrecorded,
                    **platform_figures(simulator, tap),
                    **await attempt_figures(db),
                    "time_to_drain_s": elapsed,
                    "second_worker_start_to_drained_s": recovered_s,
                    "records_per_s": small_outbox.records / elapsed,
                },
            )
        finally:
            for worker in (first, second):
                if worker is not None:
                    await worker.stop()
            await db.dispose()


async def test_redis_restarted_with_jobs_queued(small_outbox: Outbox, tmp_path: Path) -> None:
    # given: drain jobs queued in a Redis of this test's own, no worker running yet
    async with cloned(small_outbox) as url, private_redis(tmp_path) as redis:
        db = Database(url)
        worker: Worker | None = None
        try:
            await set_parameters(db, **FAST_BACKOFF, push_sweep_interval_s=1)
            queue = await create_pool(RedisSettings.from_dsn(redis.url))
            try:
                for delay_s in (0, 1, 2):
                    await enqueue_drain(queue, delay_s=delay_s)
                queued = await queue.zcard(ARQ_QUEUE)
            finally:
                await queue.aclose()
            assert queued == 3

            # when: Redis stops without saving and starts again, empty
            await redis.shutdown_nosave()
            await redis.start()
            async with redis.client() as client:
                assert await client.dbsize() == 0

            # ... and a worker runs
            simulator = strict_simulator()
            async with platform(simulator) as (base, tap):
                env = worker_env(
                    database_url=url,
                    redis_url=redis.url,
                    platform_url=base,
                    data_dir=tmp_path,
                    lease_s=LEASE_S,
                )
                started = time.monotonic()
                worker = await start_worker(env, tmp_path / "worker.log")
                await wait_until_delivered(
                    db,
                    small_outbox.records,
                    timeout_s=120,
                    why=lambda: worker.tail() if worker is not None else "",
                )
                elapsed = time.monotonic() - started
                await worker.stop()
            queue = await create_pool(RedisSettings.from_dsn(redis.url))
            try:
                results = await queue.all_job_results()
            finally:
                await queue.aclose()

            # then: the outbox was the truth — the sweep found every record and delivered it
            # no drain job ran (its result would be kept); the sweep acted
            assert [r.function for r in results if r.function == "push_drain"] == []
            async with db.reader() as session:
                channel = await session.get(PushChannel, CHANNEL)
            assert channel is not None
            assert channel.last_sweep_at is not None
            await assert_all_delivered_once_in_order(db, simulator, small_outbox.records)
            async with db.reader() as session:
                senders = set((await session.scalars(select(PushAttempt.worker))).all())
            assert len(senders) == 1
            assert all(name is not None and name.startswith("arq:") for name in senders)
            keep_figures(
                "Redis restarted (SHUTDOWN NOSAVE) with drain jobs queued",
                {
                    "records": small_outbox.records,
                    "queued_jobs_lost": queued,
                    **platform_figures(simulator, tap),
                    **await attempt_figures(db),
                    "worker_start_to_drained_s": elapsed,
                    "records_per_s": small_outbox.records / elapsed,
                },
            )
        finally:
            if worker is not None:
                await worker.stop()
            await db.dispose()


async def test_two_workers_at_once_and_a_resent_delivered_version(
    small_outbox: Outbox,
) -> None:
    # given: the outbox and two deliverers, as two worker processes would run them
    async with cloned(small_outbox) as url:
        db = Database(url)
        try:
            await set_parameters(db, **FAST_BACKOFF)
            simulator = strict_simulator()
            async with platform(simulator) as (base, tap), httpx.AsyncClient() as http:
                client = GuifuerClient(
                    http,
                    base,
                    app_id=DEMO_APP_ID,
                    app_secret=DEMO_APP_SECRET,
                    org_code=DEMO_ORG_CODE,
                )
                workers = [Deliverer(db, client, worker=name, batch=20) for name in ("a", "b")]

                async def until_settled(deliverer: Deliverer) -> int:
                    sent = 0
                    while await delivered(db) < small_outbox.records:
                        sent += (await deliverer.drain()).attempted
                        await asyncio.sleep(min(0.2, await deliverer.seconds_until_due(0.2)))
                    return sent

                async def together() -> list[int]:
                    # a TaskGroup: if one fails, the other stops too
                    async with asyncio.TaskGroup() as group:
                        tasks = [group.create_task(until_settled(w)) for w in workers]
                    return [task.result() for task in tasks]

                # when: both drain at once
                started = time.monotonic()
                sent = await together()
                elapsed = time.monotonic() - started

                # then: each record was claimed by one of them and sent exactly once
                assert all(n > 0 for n in sent)
                assert sum(sent) == small_outbox.records
                assert dict(tap.answers) == {200: small_outbox.records}
                assert tap.duplicates == 0
                await assert_all_delivered_once_in_order(db, simulator, small_outbox.records)

                # when: delivered versions are sent again, as after a worker lost the
                # answers (the rows are due again with the same version)
                async with db.transaction() as session:
                    again = list(
                        (
                            await session.scalars(
                                select(PushRecord.id).order_by(PushRecord.id).limit(25)
                            )
                        ).all()
                    )
                    await session.execute(
                        update(PushRecord)
                        .where(PushRecord.id.in_(again))
                        .values(
                            status=PushStatus.PENDING,
                            delivered_version=None,
                            next_attempt_at=utcnow(),
                        )
                    )
                accepted_before = len(simulator.accepted)
                resent = await together()

            # then: the platform answered "duplicate", the rows are DELIVERED again and
            # nothing was accepted twice
            assert sum(resent) == len(again)
            assert tap.duplicates == len(again)
            assert len(simulator.accepted) == accepted_before
            await assert_all_delivered_once_in_order(db, simulator, small_outbox.records)
            keep_figures(
                "two workers at once (SKIP LOCKED) and a resent delivered version",
                {
                    "records": small_outbox.records,
                    "sent_by_each_worker": sent,
                    "resent_delivered_versions": len(again),
                    **platform_figures(simulator, tap),
                    **await attempt_figures(db),
                    "time_to_drain_s": elapsed,
                    "records_per_s": small_outbox.records / elapsed,
                },
            )
        finally:
            await db.dispose()


def test_bench_push_drains_every_record_on_both_paths(capsys: pytest.CaptureFixture[str]) -> None:
    # when: the benchmark runs end to end on a small outbox (temporary SQLite database)
    code = main(["bench", "push", "--records", "26", "--latency-ms", "0"])

    # then: both paths delivered every record in every round, and the figures are printed
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["database"] == "sqlite"
    assert result["all_delivered"] is True
    runs = result["capacity"] + result["outbox"]
    assert len(runs) == 6
    assert {(r["delivered"], r["requests"]) for r in runs} == {
        (result["records"], result["records"])
    }
    assert "simulator capacity (client → simulator) #1" in out
    assert "outbox drain (Deliverer: claim, send, record) #3" in out
