"""The quarterly inspection: queued when `inspection_interval_days` has passed since the last
report, never twice at once, and run by the in-process runner in embedded mode."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, update

from domain.database import Database, utcnow
from domain.inspection.models import InspectionReport
from domain.job.models import BackgroundJob, JobStatus
from domain.parameter.models import Parameter
from domain.settings import Settings
from jobs.inspection import schedule_inspection
from jobs.runner import InProcessRunner


async def jobs(db: Database) -> list[BackgroundJob]:
    async with db.reader() as session:
        return list((await session.scalars(select(BackgroundJob).order_by(BackgroundJob.id))).all())


async def add_report(db: Database, finished: dt.datetime) -> None:
    async with db.transaction() as session:
        session.add(
            InspectionReport(
                trigger="MANUAL",
                created_by="admin",
                started_at=finished,
                finished_at=finished,
                figures={},
                findings=[],
                comparison={},
                highest_severity="INFO",
            )
        )


async def test_an_inspection_is_queued_when_the_interval_has_passed(
    db: Database, settings: Settings
) -> None:
    ctx = {"db": db, "settings": settings}

    never_inspected = await schedule_inspection(ctx)
    while_queued = await schedule_inspection(ctx)
    async with db.transaction() as session:
        await session.execute(update(BackgroundJob).values(status=JobStatus.SUCCEEDED))
    await add_report(db, utcnow() - dt.timedelta(days=29))
    async with db.transaction() as session:
        await session.execute(
            update(Parameter).where(Parameter.key == "inspection_interval_days").values(value=30)
        )
    within_interval = await schedule_inspection(ctx)
    await add_report(db, utcnow() - dt.timedelta(days=31))  # an older one changes nothing
    still_within = await schedule_inspection(ctx)
    async with db.transaction() as session:
        await session.execute(
            update(Parameter).where(Parameter.key == "inspection_interval_days").values(value=28)
        )
    interval_shortened = await schedule_inspection(ctx)

    queued = await jobs(db)
    assert never_inspected == queued[0].id
    assert while_queued is None
    assert within_interval is None
    assert still_within is None
    assert interval_shortened == queued[1].id
    assert [(j.kind, j.created_by, j.params) for j in queued] == [
        ("INSPECTION", "system", {"trigger": "SCHEDULED"}),
        ("INSPECTION", "system", {"trigger": "SCHEDULED"}),
    ]


async def test_the_embedded_runner_runs_the_scheduled_inspection(
    db: Database, settings: Settings
) -> None:
    runner = InProcessRunner(
        db, heartbeat_s=0.05, settings=settings, jobs_poll_s=0.05, inspection_check_s=0.05
    )
    runner.start()
    try:
        for _ in range(2400):  # the render takes seconds; this bounds a hang, not a speed
            queued = await jobs(db)
            if queued and queued[0].status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.stop()
    async with db.reader() as session:
        report = await session.scalar(select(InspectionReport))

    assert report is not None
    assert report.document_id is not None
    assert (report.trigger, report.created_by) == ("SCHEDULED", "system")
    assert report.figures["mode"] == {"database": db.dialect, "jobs": "inprocess"}
    # The runner's own heartbeat: the inspection saw a live runner.
    assert report.figures["jobs"]["aliveRunners"] == 1
    assert [(j.kind, j.status) for j in await jobs(db)] == [("INSPECTION", "SUCCEEDED")]
