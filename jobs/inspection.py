"""The inspection-report job (巡检报告): on demand and on the quarterly schedule."""

from __future__ import annotations

import logging
from typing import Any

from domain.database import Database
from domain.inspection.service import inspection_due, request_inspection, run_and_store
from domain.job.models import BackgroundJob
from domain.job.pool import RenderPool
from domain.job.queue import ARQ_FUNCTION, arq_job_id, submit
from domain.job.service import complete, report_progress
from domain.settings import Settings

log = logging.getLogger(__name__)


async def run_inspection(ctx: dict[str, Any], job: BackgroundJob) -> None:
    """Measure the running system, store the figures and findings, render the PDF."""
    db: Database = ctx["db"]
    pool: RenderPool = ctx["render_pool"]

    async def progress(fraction: float, message: str) -> None:
        await report_progress(db, job.id, fraction, message)

    report = await run_and_store(
        db,
        ctx["settings"],
        pool,
        trigger=str(job.params.get("trigger", "MANUAL")),
        created_by=job.created_by,
        job_id=job.id,
        progress=progress,
    )
    await complete(
        db,
        job.id,
        {"inspectionReportId": report.id, "documentId": report.document_id},
        f"巡检完成：{len(report.findings)} 项发现",
    )


async def schedule_inspection(ctx: dict[str, Any]) -> int | None:
    """Queue a scheduled inspection when the last one is older than the interval parameter."""
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    if not await inspection_due(db):
        return None
    job = await request_inspection(db, created_by="system", trigger="SCHEDULED")
    log.info("scheduled inspection queued", extra={"job_id": job.id})
    redis = ctx.get("redis")  # the arq worker's own connection, when run by arq
    if redis is not None:
        await redis.enqueue_job(ARQ_FUNCTION, job.id, _job_id=arq_job_id(job.id))
    else:
        await submit(settings, job.id)  # embedded: nothing to send, the runner polls
    return job.id
