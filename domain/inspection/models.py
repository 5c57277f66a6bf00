from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class Severity(enum.StrEnum):
    INFO = "INFO"  # 信息
    NOTICE = "NOTICE"  # 提示
    WARNING = "WARNING"  # 警告
    CRITICAL = "CRITICAL"  # 严重


SEVERITY_LABELS = {
    Severity.INFO: "信息",
    Severity.NOTICE: "提示",
    Severity.WARNING: "警告",
    Severity.CRITICAL: "严重",
}
SEVERITY_RANK = {Severity.INFO: 0, Severity.NOTICE: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


class InspectionReport(Base):
    """A 巡检报告: what was measured on the running system, the findings, the PDF.

    `figures` keeps every measured value as JSON so that later reports (and trend
    charts) compare against it; a figure that could not be measured is stored as
    unavailable with the reason, never as a number.
    """

    __tablename__ = "inspection_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))  # SCHEDULED, MANUAL, CLI
    created_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    figures: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    findings: Mapped[list[dict[str, object]]] = mapped_column(JsonDoc, default=list)
    comparison: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    highest_severity: Mapped[str] = mapped_column(String(16))
    previous_report_id: Mapped[int | None] = mapped_column(BigInteger)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("stored_document.id"))
