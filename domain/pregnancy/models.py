from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, UTCDateTime, utcnow


class PregnancyStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DELIVERED = "DELIVERED"
    ARCHIVED = "ARCHIVED"


class Pregnancy(Base):
    """One pregnancy record (孕产档案), opened at booking (建档)."""

    __tablename__ = "pregnancy"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    lmp: Mapped[dt.date] = mapped_column(Date)
    edd: Mapped[dt.date] = mapped_column(Date)
    edd_from_lmp: Mapped[bool] = mapped_column(Boolean, default=True)
    gravidity: Mapped[int] = mapped_column(Integer)
    parity: Mapped[int] = mapped_column(Integer)
    booking_date: Mapped[dt.date] = mapped_column(Date)
    booking_unit: Mapped[str | None] = mapped_column(String(128))
    handbook_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    # The previous system's record id, for pregnancies moved over by `mhub import-legacy`.
    legacy_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PregnancyStatus.ACTIVE)
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)
    delivered_recorded_by: Mapped[str | None] = mapped_column(String(64))
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    archived_by: Mapped[str | None] = mapped_column(String(64))
    # Derived from the current risk factors in the same transaction that changes them.
    risk_color: Mapped[str] = mapped_column(String(8), default="GREEN")
    infectious_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_pregnancy_status_risk", "status", "risk_color"),
        Index("ix_pregnancy_booking_date", "booking_date"),
    )
