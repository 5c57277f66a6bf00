"""The arq worker (production job mode) against a real Redis."""

from __future__ import annotations

import dataclasses
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.exceptions import RedisError
from sqlalchemy import select

from domain.database import Database
from domain.ops.models import JobHeartbeat
from domain.settings import Settings
from jobs.worker import redis_settings, worker_settings
from tests.conftest import redis_url, unavailable


@pytest.fixture
async def live_redis() -> str:
    url = redis_url()
    try:
        probe = await create_pool(dataclasses.replace(redis_settings(url), conn_retries=0))
    except (RedisError, OSError) as exc:
        unavailable("Redis", f"cannot reach {url}: {exc}")
    await probe.aclose()
    return url


@pytest.fixture
def queue() -> str:
    return f"mhub:test:{uuid.uuid4().hex}"


@pytest.fixture
def worker_env(
    live_redis: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """What `mhub worker` would read from its environment (startup() calls Settings.from_env)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", live_redis)
    monkeypatch.setenv("MHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MHUB_SECRET_KEY", "worker-test-key")
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="worker-test-key",
        redis_url=live_redis,
    )


def burst_worker(settings: Settings, queue: str) -> Worker:
    """The production settings on a queue of this test's own; no cron ticks during the burst."""
    options: dict[str, Any] = {**worker_settings(settings), "queue_name": queue, "cron_jobs": []}
    return Worker(**options, burst=True, poll_delay=0.05, handle_signals=False)


async def close_worker(worker: Worker) -> None:
    # arq 0.28 closes its redis client with the deprecated close(); that is arq's, not ours.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Call to deprecated close", category=DeprecationWarning
        )
        await worker.close()


async def drop_keys(pool: ArqRedis, queue: str, *job_ids: str) -> None:
    keys = [queue, f"{queue}:health-check"]
    for job_id in job_ids:
        keys += [
            f"arq:result:{job_id}",
            f"arq:job:{job_id}",
            f"arq:in-progress:{job_id}",
            f"arq:retry:{job_id}",
        ]
    await pool.delete(*keys)


async def heartbeat_rows(database_url: str) -> list[JobHeartbeat]:
    db = Database(database_url)
    try:
        async with db.reader() as session:
            return list((await session.scalars(select(JobHeartbeat))).all())
    finally:
        await db.dispose()


async def test_worker_runs_an_enqueued_heartbeat_and_records_it(
    worker_env: Settings, database_url: str, queue: str
) -> None:
    pool = await create_pool(redis_settings(worker_env.redis_url or ""), default_queue_name=queue)
    worker = burst_worker(worker_env, queue)
    job = None
    try:
        job = await pool.enqueue_job("heartbeat", _queue_name=queue)
        assert job is not None

        await worker.main()
        result = await job.result(timeout=10, poll_delay=0.05)
        info = await job.result_info()
    finally:
        await close_worker(worker)
        await drop_keys(pool, queue, *([job.job_id] if job is not None else []))
        await pool.aclose()

    assert isinstance(result, str)
    assert result.startswith("arq@")
    assert info is not None
    assert info.success is True
    assert info.function == "heartbeat"
    assert worker.jobs_complete == 1
    assert worker.jobs_failed == 0
    rows = await heartbeat_rows(database_url)
    assert [row.runner for row in rows] == [result]
    assert rows[0].detail == {"mode": "arq", "job_id": job.job_id}


async def test_worker_with_an_empty_queue_writes_no_heartbeat(
    worker_env: Settings, database_url: str, queue: str
) -> None:
    worker = burst_worker(worker_env, queue)
    try:
        await worker.main()
    finally:
        await close_worker(worker)

    assert worker.jobs_complete == 0
    assert await heartbeat_rows(database_url) == []


def test_settings_point_the_worker_at_redis_and_the_heartbeat_job(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite+aiosqlite://",
        secret_key="k",
        redis_url="redis://cache.internal:6380/3",
    )

    options = worker_settings(settings)

    functions = [f.__name__ for f in options["functions"]]
    crons = [c.name for c in options["cron_jobs"]]
    assert functions[0] == "heartbeat"
    assert crons[0] == "cron:heartbeat"
    # Background jobs (handbook PDFs, inspections), their sweep and the quarterly schedule.
    assert {"run_background_job", "sweep_background_jobs", "schedule_inspection"} <= set(functions)
    assert {"cron:sweep_background_jobs", "cron:schedule_inspection"} <= set(crons)
    assert options["queue_name"] == "mhub:jobs"
    parsed = options["redis_settings"]
    assert (parsed.host, parsed.port, parsed.database) == ("cache.internal", 6380, 3)


def test_worker_settings_without_redis_url_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite+aiosqlite://", secret_key="k")

    with pytest.raises(RuntimeError) as raised:
        worker_settings(settings)

    assert (
        str(raised.value)
        == "REDIS_URL 未设置：嵌入模式下任务由 API 进程内的运行器执行，无需 mhub worker"
    )
