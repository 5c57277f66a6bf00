from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, JsonDoc, UTCDateTime, utcnow


class Parameter(Base):
    """A typed system parameter (系统参数) that takes effect without a restart."""

    __tablename__ = "parameter"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[object] = mapped_column(JsonDoc)
    value_type: Mapped[str] = mapped_column(String(16))  # number, integer, boolean, string
    description: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
