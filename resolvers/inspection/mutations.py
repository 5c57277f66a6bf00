from __future__ import annotations

from domain.errors import FieldError
from domain.inspection.service import request_inspection
from domain.job.models import BackgroundJob, JobKind, JobStatus
from domain.job.queue import submit
from resolvers.context import Context


async def run_inspection(ctx: Context) -> BackgroundJob | list[FieldError]:
    """Queue an inspection unless one is already queued or running."""
    from sqlalchemy import func, select

    async with ctx.db.reader() as session:
        pending = await session.scalar(
            select(func.count()).where(
                BackgroundJob.kind == JobKind.INSPECTION,
                BackgroundJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
        )
    if pending:
        return [FieldError("", "已有巡检任务在排队或执行中，请等待其完成", "ALREADY_RUNNING")]
    actor = ctx.acting
    job = await request_inspection(ctx.db, created_by=actor.username, trigger="MANUAL", actor=actor)
    await submit(ctx.settings, job.id)
    return job
