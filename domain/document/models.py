from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, UTCDateTime, utcnow


class DocumentKind(enum.StrEnum):
    HANDBOOK = "HANDBOOK"  # 母子健康手册
    INSPECTION_REPORT = "INSPECTION_REPORT"  # 巡检报告


class StoredDocument(Base):
    """A rendered file (a handbook version, an inspection report), kept in the database.

    Rows are never changed: a new rendering is a new version, so what was printed
    on a given day can be shown again. The bytes live in the database so that every
    API replica serves every document.
    """

    __tablename__ = "stored_document"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(256))
    media_type: Mapped[str] = mapped_column(String(128))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("pregnancy.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_stored_document_pregnancy", "pregnancy_id", "kind", "created_at"),
        Index("ix_stored_document_kind", "kind", "created_at"),
    )
