"""Background jobs: create (in the caller's transaction), claim, report progress, finish.

Every state change is its own short transaction, so that progress written by a
worker process is visible at once to the API process that a client polls.
A job is claimed with a conditional UPDATE: two runners that see the same queued
job cannot both run it, and a job already finished is never run again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import Database, utcnow
from domain.job.models import BackgroundJob, JobStatus

# A RUNNING job whose row has not moved for this long lost its runner (process
# killed, machine restarted); it may be claimed again.
STALE_AFTER = dt.timedelta(minutes=15)
MESSAGE_MAX = 2000


async def create_job(
    session: AsyncSession, *, kind: str, params: dict[str, object], created_by: str
) -> BackgroundJob:
    """A QUEUED job, added in the caller's transaction; submit it after the commit."""
    now = utcnow()
    job = BackgroundJob(
        kind=kind,
        status=JobStatus.QUEUED,
        progress=0.0,
        message="排队等待",
        params=params,
        attempts=0,
        created_by=created_by[:64],
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: int) -> BackgroundJob | None:
    return await session.get(BackgroundJob, job_id)


async def claim(db: Database, job_id: int, runner: str) -> BackgroundJob | None:
    """Move a queued (or abandoned) job to RUNNING for this runner; None if not ours to run."""
    now = utcnow()
    async with db.transaction() as session:
        claimed = await session.execute(
            update(BackgroundJob)
            .where(
                BackgroundJob.id == job_id,
                or_(
                    BackgroundJob.status == JobStatus.QUEUED,
                    (BackgroundJob.status == JobStatus.RUNNING)
                    & (BackgroundJob.updated_at < now - STALE_AFTER),
                ),
            )
            .values(
                status=JobStatus.RUNNING,
                attempts=BackgroundJob.attempts + 1,
                runner=runner[:128],
                started_at=now,
                updated_at=now,
                message="正在处理",
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        return await session.get(BackgroundJob, job_id)


async def report_progress(db: Database, job_id: int, progress: float, message: str) -> None:
    """Record how far a running job is (0–1) and what it is doing."""
    async with db.transaction() as session:
        await session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == job_id, BackgroundJob.status == JobStatus.RUNNING)
            .values(
                progress=max(0.0, min(1.0, progress)),
                message=message[:MESSAGE_MAX],
                updated_at=utcnow(),
            )
        )


async def complete(db: Database, job_id: int, result: dict[str, object], message: str) -> None:
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == job_id)
            .values(
                status=JobStatus.SUCCEEDED,
                progress=1.0,
                message=message[:MESSAGE_MAX],
                result=result,
                error=None,
                finished_at=now,
                updated_at=now,
            )
        )


async def fail(db: Database, job_id: int, message: str, *, error: str | None = None) -> None:
    """Mark a job failed; `message` is for the user (Chinese), `error` for operators."""
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == job_id)
            .values(
                status=JobStatus.FAILED,
                message=message[:MESSAGE_MAX],
                error=(error or message)[:MESSAGE_MAX],
                finished_at=now,
                updated_at=now,
            )
        )


async def runnable_job_ids(
    db: Database, *, limit: int, queued_before: dt.datetime | None = None
) -> list[int]:
    """Oldest queued jobs first, then abandoned running ones."""
    now = utcnow()
    condition = or_(
        BackgroundJob.status == JobStatus.QUEUED,
        (BackgroundJob.status == JobStatus.RUNNING)
        & (BackgroundJob.updated_at < now - STALE_AFTER),
    )
    query = select(BackgroundJob.id).where(condition)
    if queued_before is not None:
        query = query.where(BackgroundJob.created_at < queued_before)
    async with db.reader() as session:
        rows = await session.scalars(query.order_by(BackgroundJob.id).limit(limit))
        return list(rows.all())


async def jobs_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[BackgroundJob]:
    rows = await session.scalars(select(BackgroundJob).where(BackgroundJob.id.in_(ids)))
    return list(rows.all())
