from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class JobKind(enum.StrEnum):
    RENDER_HANDBOOK = "RENDER_HANDBOOK"  # 母子健康手册 PDF
    INSPECTION = "INSPECTION"  # 巡检报告


class BackgroundJob(Base):
    """A unit of background work and its progress, readable from any process.

    The row is the truth about a job: the arq worker or the in-process runner moves
    it QUEUED → RUNNING → SUCCEEDED/FAILED, and clients poll it (or subscribe to
    `jobProgress`, which polls it for them).
    """

    __tablename__ = "background_job"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    result: Mapped[dict[str, object] | None] = mapped_column(JsonDoc)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    runner: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_background_job_status", "status", "created_at"),
        Index("ix_background_job_kind", "kind", "created_at"),
    )
