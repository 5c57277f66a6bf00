"""Reading jobs: a job is seen by whoever submitted it and by administrators; auditors
also see inspection jobs (they read the reports)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from domain.auth.actor import Actor, Permission
from domain.job.models import BackgroundJob, JobKind, JobStatus
from domain.job.service import get_job
from resolvers.context import Context


def may_see(actor: Actor, job: BackgroundJob) -> bool:
    if job.created_by == actor.username or actor.can(Permission.ADMINISTER):
        return True
    return job.kind == JobKind.INSPECTION and actor.can(Permission.READ_AUDIT)


async def visible_job(ctx: Context, job_id: int) -> BackgroundJob | None:
    async with ctx.db.reader() as session:
        job = await get_job(session, job_id)
    if job is None or not may_see(ctx.acting, job):
        return None
    return job


# How often a subscription re-reads the job row, and how long it follows one job.
WATCH_INTERVAL_S = 0.5
WATCH_MAX_S = 3600.0


async def watch(
    ctx: Context, job: BackgroundJob, *, interval_s: float = WATCH_INTERVAL_S
) -> AsyncIterator[BackgroundJob]:
    """The job now, then each time its status, progress or message changes, until it ends.

    Reads the `background_job` row, so progress written by any process (an arq worker
    on another machine, the in-process runner) reaches the subscriber.
    """
    seen: tuple[object, ...] | None = None
    deadline = asyncio.get_running_loop().time() + WATCH_MAX_S
    current: BackgroundJob | None = job
    while current is not None:
        state = (current.status, current.progress, current.message)
        if state != seen:
            seen = state
            yield current
        if current.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(interval_s)
        async with ctx.db.reader() as session:
            current = await get_job(session, job.id)
