from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, UTCDateTime, utcnow


class RiskFactor(Base):
    """A high-risk factor (高危因素) of a pregnancy, coded from the dictionary.

    `diagnosis` (诊断, formerly 处理意见) comes from the EMR or is typed by a doctor;
    removal is soft so the history of the grading is kept.
    """

    __tablename__ = "risk_factor"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    color: Mapped[str] = mapped_column(String(8))
    diagnosis: Mapped[str | None] = mapped_column(Text)
    diagnosis_source: Mapped[str] = mapped_column(String(8), default="MANUAL")
    icd10_code: Mapped[str | None] = mapped_column(String(16))
    emr_condition_id: Mapped[str | None] = mapped_column(String(128))
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(64))
    removal_reason: Mapped[str | None] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_risk_factor_pregnancy", "pregnancy_id", "removed_at"),)
