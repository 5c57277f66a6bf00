from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class AuditEvent(Base):
    """Who read or changed which patients' data, when, through which operation."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    operation_name: Mapped[str | None] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    patient_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    detail: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)

    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_user", "user_id", "at"),
    )
