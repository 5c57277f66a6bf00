from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, UTCDateTime, utcnow


class CorrectionStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class CorrectionRequest(Base):
    """A data-correction request (数据纠错申请): one field of one record, maker–checker.

    `old_value` is the value the requester saw; approval applies `new_value` only while the
    stored value still equals it. `applied_before`/`applied_after` are the values around
    the change as applied (after the domain's own normalisation).
    """

    __tablename__ = "correction_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(64))
    target_label: Mapped[str] = mapped_column(String(256))
    patient_id: Mapped[int] = mapped_column(BigInteger)
    pregnancy_id: Mapped[int | None] = mapped_column(BigInteger)
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CorrectionStatus.PENDING)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    applied_before: Mapped[str | None] = mapped_column(Text)
    applied_after: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_correction_request_status", "status", "id"),
        Index("ix_correction_request_target", "target_type", "target_id", "field"),
        Index("ix_correction_request_patient", "patient_id", "id"),
        Index("ix_correction_request_requested_by", "requested_by", "id"),
    )
