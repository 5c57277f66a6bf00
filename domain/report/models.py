from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class ReportDefinition(Base):
    """A report (统计报表) defined as data: its current version.

    `document` names a registered data source and the dimensions, measures, filters,
    date range, parameters and chart chosen among what that source declares
    (`domain.report.definition`); it never holds SQL. Every save is a new version,
    kept in `report_definition_version`.
    """

    __tablename__ = "report_definition"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class ReportDefinitionVersion(Base):
    """One saved version of a report definition, as it was saved (never changed)."""

    __tablename__ = "report_definition_version"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("report_definition.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    active: Mapped[bool] = mapped_column(Boolean)
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    saved_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint(
            "definition_id", "version", name="uq_report_definition_version_definition_id"
        ),
    )
