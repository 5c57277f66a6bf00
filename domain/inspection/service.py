"""Inspection reports (巡检报告, 1.4/1.20/1.24): request, schedule, measure, store, render.

A report is produced by a background job (on demand from GraphQL, `mhub inspect`, or
the quarterly schedule driven by the `inspection_interval_days` parameter). It keeps
the measured figures as JSON for trends, the findings with severity and action, the
comparison with the previous report, and a PDF with a signature and seal block for
the paper copy the contract requires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.document.models import DocumentKind, StoredDocument
from domain.document.service import PDF, save_document
from domain.inspection.measure import measure
from domain.inspection.models import SEVERITY_LABELS, InspectionReport, Severity
from domain.inspection.rules import Finding, findings, highest
from domain.job.models import BackgroundJob, JobKind, JobStatus
from domain.job.pool import RenderPool
from domain.job.service import create_job
from domain.parameter.models import Parameter
from domain.settings import Settings

TRIGGER_LABELS = {
    "SCHEDULED": "定期自动巡检",
    "MANUAL": "手动发起",
    "CLI": "命令行（mhub inspect）",
}
DEFAULT_INTERVAL_DAYS = 91
HOSPITAL_TZ = dt.timezone(dt.timedelta(hours=8), "CST")

Progress = Callable[[float, str], Awaitable[None]]


async def _no_progress(_fraction: float, _message: str) -> None:
    return None


async def latest_report(session: AsyncSession) -> InspectionReport | None:
    """The most recently finished report: the one the next report compares with."""
    return await session.scalar(
        select(InspectionReport)
        .order_by(InspectionReport.finished_at.desc(), InspectionReport.id.desc())
        .limit(1)
    )


async def request_inspection(
    db: Database, *, created_by: str, trigger: str, actor: Actor | None = None
) -> BackgroundJob:
    """Queue an inspection job; submit it after this returns."""
    async with db.transaction() as session:
        job = await create_job(
            session, kind=JobKind.INSPECTION, params={"trigger": trigger}, created_by=created_by
        )
        if actor is not None:
            record_change(
                session,
                actor,
                "RUN_INSPECTION",
                entity="background_job",
                entity_id=job.id,
                patient_ids=[],
                detail={"trigger": trigger},
            )
    return job


async def interval_days(session: AsyncSession) -> float:
    value = await session.scalar(
        select(Parameter.value).where(Parameter.key == "inspection_interval_days")
    )
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return float(DEFAULT_INTERVAL_DAYS)


async def inspection_due(db: Database, *, now: dt.datetime | None = None) -> bool:
    """True when no inspection is pending and the last one is older than the interval."""
    now = now or utcnow()
    async with db.reader() as session:
        pending = await session.scalar(
            select(func.count()).where(
                BackgroundJob.kind == JobKind.INSPECTION,
                BackgroundJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
        )
        if pending:
            return False
        last = await latest_report(session)
        days = await interval_days(session)
    return last is None or now - last.finished_at >= dt.timedelta(days=days)


def compare(
    figures: dict[str, Any], found: list[Finding], previous: InspectionReport | None
) -> dict[str, Any]:
    """What changed since the previous report: database size, table rows, findings."""
    if previous is None:
        return {"previousReportId": None}
    before: dict[str, Any] = dict(previous.figures)
    comparison: dict[str, Any] = {
        "previousReportId": previous.id,
        "previousAt": previous.finished_at.isoformat(),
        "days": round((utcnow() - previous.finished_at).total_seconds() / 86400, 1),
    }
    size_now = figures["database"]["size"]
    size_before = before.get("database", {}).get("size", {})
    if size_now.get("available") and size_before.get("available"):
        comparison["databaseBytes"] = {
            "before": size_before["bytes"],
            "now": size_now["bytes"],
            "change": size_now["bytes"] - size_before["bytes"],
        }
    grown = [t for t in figures["database"]["tables"] if t.get("growth") is not None]
    grown.sort(key=lambda t: (-int(t["growth"]), str(t["name"])))
    comparison["tables"] = [
        {
            "name": t["name"],
            "before": t["rows"] - t["growth"],
            "now": t["rows"],
            "growth": t["growth"],
        }
        for t in grown[:10]
    ]
    codes_before = {str(f["code"]) for f in previous.findings}
    codes_now = {f.code for f in found}
    comparison["newFindings"] = sorted(codes_now - codes_before)
    comparison["resolvedFindings"] = sorted(codes_before - codes_now)
    comparison["persistingFindings"] = sorted(codes_now & codes_before)
    return comparison


def report_html(report: InspectionReport) -> str:
    """The report as HTML for `render_pdf` (autoescaped)."""
    from domain.document.pdf import render_template

    counts = dict.fromkeys(SEVERITY_LABELS.values(), 0)
    for finding in report.findings:
        counts[SEVERITY_LABELS[Severity(str(finding["severity"]))]] += 1
    return render_template(
        "inspection.html",
        report=report,
        f=report.figures,
        findings=report.findings,
        comparison=report.comparison,
        severity_labels={s.value: label for s, label in SEVERITY_LABELS.items()},
        severity_counts=counts,
        trigger_label=TRIGGER_LABELS.get(report.trigger, report.trigger),
        finished_local=report.finished_at.astimezone(HOSPITAL_TZ),
    )


async def run_and_store(
    db: Database,
    settings: Settings,
    pool: RenderPool,
    *,
    trigger: str,
    created_by: str,
    job_id: int | None = None,
    progress: Progress = _no_progress,
) -> InspectionReport:
    """Measure, find, compare, store the report, render and attach its PDF."""
    from domain.document.pdf import render_pdf

    started = utcnow()
    async with db.reader() as session:
        previous = await latest_report(session)
    figures = await measure(
        db,
        settings,
        previous=previous.figures if previous else None,
        previous_at=previous.finished_at if previous else None,
        job_mode="arq" if settings.redis_url else "inprocess",
        progress=progress,
    )
    await progress(0.7, "分析巡检结果")
    found = findings(figures)
    report = InspectionReport(
        trigger=trigger,
        created_by=created_by[:64],
        started_at=started,
        finished_at=utcnow(),
        figures=figures,
        findings=[f.to_json() for f in found],
        comparison=compare(figures, found, previous),
        highest_severity=highest(found).value,
        previous_report_id=previous.id if previous else None,
        job_id=job_id,
    )
    await progress(0.8, "生成巡检报告 PDF")
    # The report id is printed on the paper copy: store the row first, then render.
    async with db.transaction() as session:
        session.add(report)
        await session.flush()
    pdf = await pool.run(render_pdf, report_html(report))
    await progress(0.95, "保存巡检报告")
    async with db.transaction() as session:
        local = report.finished_at.astimezone(HOSPITAL_TZ)
        document = await save_document(
            session,
            kind=DocumentKind.INSPECTION_REPORT,
            filename=f"巡检报告-{local:%Y%m%d-%H%M}-{report.id}.pdf",
            media_type=PDF,
            content=pdf,
            created_by=created_by,
        )
        stored = await session.get(InspectionReport, report.id)
        if stored is None:
            raise RuntimeError(f"inspection report {report.id} vanished")
        stored.document_id = document.id
        report.document_id = document.id
    return report


async def report_page(
    session: AsyncSession, *, first: int, after_id: int | None
) -> tuple[list[InspectionReport], bool]:
    query = select(InspectionReport).order_by(InspectionReport.id.desc())
    if after_id is not None:
        query = query.where(InspectionReport.id < after_id)
    rows = list((await session.scalars(query.limit(first + 1))).all())
    return rows[:first], len(rows) > first


async def count_reports(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(InspectionReport)) or 0)


async def report_document(session: AsyncSession, document_id: int) -> StoredDocument | None:
    return await session.scalar(
        select(StoredDocument)
        .options(defer(StoredDocument.content))
        .where(StoredDocument.id == document_id)
    )
