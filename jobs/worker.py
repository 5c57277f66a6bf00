"""arq worker settings: `mhub worker` runs these jobs from Redis (production mode)."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from domain.database import Database
from domain.job.pool import RenderLimits, RenderPool
from domain.settings import Settings
from jobs.background import run_background_job, sweep_background_jobs
from jobs.heartbeat import beat, runner_name
from jobs.inspection import schedule_inspection
from jobs.push import (
    SWEEP_EVERY_S,
    push_drain,
    push_reconcile,
    push_shutdown,
    push_startup,
    push_sweep,
)


async def startup(ctx: dict[str, Any]) -> None:
    settings = Settings.from_env()
    ctx["settings"] = settings
    ctx["db"] = Database(settings.database_url)
    ctx["runner"] = runner_name("arq")
    # PDF renders (handbooks, inspection reports) run in worker processes with limits.
    ctx["render_pool"] = RenderPool(RenderLimits.from_env())
    await push_startup(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    await push_shutdown(ctx)
    await ctx["render_pool"].aclose()
    await ctx["db"].dispose()


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Record that this worker is alive and consuming jobs."""
    await beat(ctx["db"], ctx["runner"], {"mode": "arq", "job_id": ctx.get("job_id")})
    return str(ctx["runner"])


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


def worker_settings(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url:
        raise RuntimeError(
            "REDIS_URL 未设置：嵌入模式下任务由 API 进程内的运行器执行，无需 mhub worker"
        )
    return {
        "functions": [
            heartbeat,
            run_background_job,
            sweep_background_jobs,
            schedule_inspection,
            push_drain,
            push_sweep,
            push_reconcile,
        ],
        "cron_jobs": [
            cron(heartbeat, second={0, 30}, unique=False),
            # Jobs whose enqueue failed (Redis down at submit) are enqueued again.
            cron(sweep_background_jobs, second={15}),
            # The quarterly inspection: queued when `inspection_interval_days` has passed.
            cron(schedule_inspection, minute={5}, second={0}),
            # The 桂妇儿 outbox's safety net; `push_sweep_interval_s` decides how often it acts.
            cron(push_sweep, second=set(range(0, 60, SWEEP_EVERY_S)), unique=True),
            cron(push_reconcile, minute={20}, second={0}),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(settings.redis_url),
        "queue_name": "mhub:jobs",
        "max_jobs": 20,
        "job_timeout": 300,
        "keep_result": 3600,
    }
