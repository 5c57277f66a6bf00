from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class Revision(Base):
    """The values of a clinical record before and after one change (edits keep history)."""

    __tablename__ = "revision"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    after: Mapped[dict[str, object]] = mapped_column(JsonDoc)

    __table_args__ = (Index("ix_revision_entity", "entity", "entity_id", "version"),)
