from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class LabResult(Base):
    """One laboratory result (检验结果) mapped to a standard item.

    The row holds the current value; every edit is a `LabResultAmendment` that keeps
    what was there before, so the LIS original is never lost.
    """

    __tablename__ = "lab_result"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(32))
    item_name: Mapped[str] = mapped_column(String(128))
    loinc: Mapped[str | None] = mapped_column(String(16))
    local_code: Mapped[str | None] = mapped_column(String(64))
    value_numeric: Mapped[float | None] = mapped_column(Float)
    comparator: Mapped[str | None] = mapped_column(String(2))
    value_qualitative: Mapped[str | None] = mapped_column(String(16))
    value_text: Mapped[str | None] = mapped_column(String(256))
    unit: Mapped[str | None] = mapped_column(String(32))
    reference_range: Mapped[str | None] = mapped_column(String(64))
    abnormal_flag: Mapped[str | None] = mapped_column(String(8))
    specimen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(8))
    source_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    amendment_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_lab_result_source_id"),
        Index("ix_lab_result_patient_item_time", "patient_id", "item_code", "reported_at"),
    )


class LabResultAmendment(Base):
    """An edit of a lab result: the values before and after, who, when and why."""

    __tablename__ = "lab_result_amendment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lab_result_id: Mapped[int] = mapped_column(ForeignKey("lab_result.id"), index=True)
    before: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    after: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    reason: Mapped[str | None] = mapped_column(Text)
    amended_by: Mapped[str] = mapped_column(String(64))
    amended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
