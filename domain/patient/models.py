from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, UTCDateTime, utcnow


class Patient(Base):
    """A pregnant woman (孕妇), identified by her resident ID number."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_initials: Mapped[str] = mapped_column(String(32), index=True)
    resident_id: Mapped[str] = mapped_column(String(18), unique=True)
    birth_date: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    address: Mapped[str | None] = mapped_column(String(256))
    ethnicity: Mapped[str | None] = mapped_column(String(32))
    emr_record_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    lis_record_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    legacy_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_patient_name", "name"),)
