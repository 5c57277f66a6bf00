from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class NtExtractionStatus(enum.StrEnum):
    PENDING = "PENDING"
    EXTRACTED = "EXTRACTED"
    MULTIPLE = "MULTIPLE"
    NOT_FOUND = "NOT_FOUND"
    NOT_MEASURED = "NOT_MEASURED"
    AMBIGUOUS = "AMBIGUOUS"


class UltrasoundExam(Base):
    """An ultrasound (B超) report with the NT (颈项透明层) and CRL read out of its text."""

    __tablename__ = "ultrasound_exam"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    exam_date: Mapped[dt.date] = mapped_column(Date)
    report_text: Mapped[str] = mapped_column(Text)
    nt_mm: Mapped[float | None] = mapped_column(Float)
    crl_mm: Mapped[float | None] = mapped_column(Float)
    gestational_days: Mapped[int | None] = mapped_column(Integer)
    extraction_status: Mapped[str] = mapped_column(String(16), default=NtExtractionStatus.PENDING)
    matched_text: Mapped[str | None] = mapped_column(String(256))
    nt_at_or_above_cutoff: Mapped[bool | None] = mapped_column(Boolean)
    fetuses: Mapped[list[dict[str, object]]] = mapped_column(JsonDoc, default=list)
    source: Mapped[str] = mapped_column(String(8))
    source_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_ultrasound_exam_source_id"),
        Index("ix_ultrasound_exam_patient_date", "patient_id", "exam_date"),
    )
