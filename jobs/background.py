"""Running `background_job` rows: one entry point for the arq worker and the in-process runner.

A job function receives the runner's context (`db`, `settings`, `runner`,
`render_pool`) and the claimed job row. Claiming is a conditional update, so a job
enqueued twice, or seen by two runners, runs once; a finished job never runs again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain.database import Database, utcnow
from domain.errors import NotFound
from domain.job.models import BackgroundJob, JobKind, JobStatus
from domain.job.pool import RenderFailed, RenderLimits, acquire_shared, release_shared
from domain.job.queue import ARQ_FUNCTION, arq_job_id
from domain.job.service import claim, fail, get_job, runnable_job_ids
from domain.settings import Settings
from jobs.inspection import run_inspection, schedule_inspection
from jobs.render import render_handbook

log = logging.getLogger(__name__)

JobFunction = Callable[[dict[str, Any], BackgroundJob], Awaitable[None]]
HANDLERS: dict[str, JobFunction] = {
    JobKind.RENDER_HANDBOOK: render_handbook,
    JobKind.INSPECTION: run_inspection,
}
# Jobs queued longer than this without being picked up are enqueued again by the sweep.
SWEEP_AFTER = dt.timedelta(seconds=30)


async def run_background_job(ctx: dict[str, Any], job_id: int) -> str:
    """Claim and run one job; returns its final status (or SKIPPED when not ours)."""
    db: Database = ctx["db"]
    job = await claim(db, job_id, str(ctx.get("runner", "unknown")))
    if job is None:
        return "SKIPPED"
    handler = HANDLERS.get(job.kind)
    if handler is None:
        await fail(db, job.id, f"未知的任务类型：{job.kind}")
        return JobStatus.FAILED
    try:
        await handler(ctx, job)
    except RenderFailed as exc:
        await fail(db, job.id, exc.message)
    except NotFound as exc:
        await fail(db, job.id, exc.error.message)
    except asyncio.CancelledError:
        await fail(db, job.id, "任务被中止（服务停止），请重新提交")
        raise
    except Exception as exc:
        log.exception("background job %s (%s) failed", job.id, job.kind)
        await fail(
            db,
            job.id,
            "任务执行出错，错误已记录，请联系信息科",
            error=f"{type(exc).__name__}: {exc}",
        )
    async with db.reader() as session:
        done = await get_job(session, job.id)
    return done.status if done is not None else JobStatus.FAILED


async def run_queued_jobs(ctx: dict[str, Any], *, limit: int = 20, parallel: int = 2) -> int:
    """Embedded mode: run what is queued, `parallel` at a time; the number of jobs run."""
    ids = await runnable_job_ids(ctx["db"], limit=limit)
    if not ids:
        return 0
    gate = asyncio.Semaphore(parallel)

    async def one(job_id: int) -> None:
        async with gate:
            await run_background_job(ctx, job_id)

    await asyncio.gather(*(one(job_id) for job_id in ids))
    return len(ids)


async def sweep_background_jobs(ctx: dict[str, Any]) -> int:
    """arq mode: enqueue jobs that stayed queued (Redis was down at submit); how many."""
    older = utcnow() - SWEEP_AFTER
    ids = await runnable_job_ids(ctx["db"], limit=200, queued_before=older)
    redis = ctx["redis"]
    for job_id in ids:
        await redis.enqueue_job(ARQ_FUNCTION, job_id, _job_id=arq_job_id(job_id))
    return len(ids)


class EmbeddedJobs:
    """What the in-process runner adds in embedded mode: queued jobs and the schedule.

    Renders go to the process's shared render pool, whose worker processes start on
    the first render (not at startup) and stop when the runner stops.
    """

    def __init__(
        self, db: Database, settings: Settings, runner: str, *, limits: RenderLimits | None = None
    ) -> None:
        self.pool = acquire_shared(limits)
        self.context: dict[str, Any] = {
            "db": db,
            "settings": settings,
            "runner": runner,
            "render_pool": self.pool,
        }
        self._started = False

    async def run_queued(self) -> None:
        await run_queued_jobs(self.context, parallel=self.pool.limits.workers)

    async def schedule(self) -> None:
        # The first tick comes at startup: skip it, so that starting the service
        # (a restart, a test, the demo) does not start an inspection at once.
        if not self._started:
            self._started = True
            return
        await schedule_inspection(self.context)

    async def close(self) -> None:
        await release_shared(self.pool)
