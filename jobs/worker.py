"""arq worker settings: `mhub worker` runs these jobs from Redis (production mode)."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from domain.database import Database
from domain.settings import Settings
from jobs.heartbeat import beat, runner_name


async def startup(ctx: dict[str, Any]) -> None:
    settings = Settings.from_env()
    ctx["settings"] = settings
    ctx["db"] = Database(settings.database_url)
    ctx["runner"] = runner_name("arq")


async def shutdown(ctx: dict[str, Any]) -> None:
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
        "functions": [heartbeat],
        "cron_jobs": [cron(heartbeat, second={0, 30}, unique=False)],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(settings.redis_url),
        "queue_name": "mhub:jobs",
        "max_jobs": 20,
        "job_timeout": 300,
        "keep_result": 3600,
    }
