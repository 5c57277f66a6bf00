from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, UTCDateTime, utcnow


class PrenatalVisit(Base):
    """An antenatal visit (产前检查). `remarks` (备注/特殊记录) is the one free-text field."""

    __tablename__ = "prenatal_visit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"))
    visit_date: Mapped[dt.date] = mapped_column(Date)
    gestational_days: Mapped[int] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    systolic_bp: Mapped[int | None] = mapped_column(Integer)
    diastolic_bp: Mapped[int | None] = mapped_column(Integer)
    fundal_height_cm: Mapped[float | None] = mapped_column(Float)
    abdominal_circumference_cm: Mapped[float | None] = mapped_column(Float)
    fetal_heart_rate: Mapped[int | None] = mapped_column(Integer)
    fetal_position: Mapped[str | None] = mapped_column(String(16))
    remarks: Mapped[str | None] = mapped_column(Text)
    next_visit_date: Mapped[dt.date | None] = mapped_column(Date)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    doctor_name: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_prenatal_visit_pregnancy_date", "pregnancy_id", "visit_date"),)
