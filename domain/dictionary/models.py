from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class DictionaryEntry(Base):
    """A coded entry of the data dictionary (数据字典), e.g. a risk factor and its colour."""

    __tablename__ = "dictionary_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    attributes: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("kind", "code", name="uq_dictionary_entry_kind_code"),)
