"""The 桂妇儿 push outbox: one row per platform record, every attempt, the channel, the mapping."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class PushStatus(enum.StrEnum):
    PENDING = "PENDING"  # the current version waits to be sent (or to be sent again)
    HELD = "HELD"  # waits for a second person's review (parameter push_requires_review)
    DELIVERED = "DELIVERED"  # the platform accepted the current version
    REJECTED = "REJECTED"  # the current version fails the contract's rules: fix the data
    SUPERSEDED = "SUPERSEDED"  # the platform holds a higher version already
    DISCARDED = "DISCARDED"  # a person decided it is not to be sent (who and why kept)


class PushRecord(Base):
    """One platform record (recordId), its current version and its delivery state.

    The row is the truth: queues only say "look again". `body` is what the current
    `version` sends; `sent_version` is the highest version handed to the transport, so
    a change after that is a new version and one before it replaces the content unsent.
    """

    __tablename__ = "push_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    sent_version: Mapped[int | None] = mapped_column(Integer)
    delivered_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=PushStatus.PENDING)
    body: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    content_hash: Mapped[str] = mapped_column(String(64))
    mapping_version: Mapped[int] = mapped_column(Integer)
    # The contract's rules run before sending (pre-flight): what they found, if anything.
    problems: Mapped[list[dict[str, str]]] = mapped_column(JsonDoc, default=list)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[dict[str, object] | None] = mapped_column(JsonDoc)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    platform_id: Mapped[str | None] = mapped_column(String(64))
    platform_version: Mapped[int | None] = mapped_column(Integer)  # from reconciliation
    reconciled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    discarded_by: Mapped[str | None] = mapped_column(String(64))
    discarded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    discard_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_push_record_due", "status", "next_attempt_at"),
        Index("ix_push_record_updated_at", "updated_at"),
    )


class PushAttempt(Base):
    """One request to the platform and its classified answer."""

    __tablename__ = "push_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    push_record_id: Mapped[int] = mapped_column(ForeignKey("push_record.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(24))
    code: Mapped[int | None] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
    field_errors: Mapped[list[dict[str, str]]] = mapped_column(JsonDoc, default=list)
    worker: Mapped[str | None] = mapped_column(String(128))


class PushChannel(Base):
    """The connection to the platform: paused on configuration errors, backing off when down."""

    __tablename__ = "push_channel"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive, channel-wide
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_sweep_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_reconcile_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PushMapping(Base):
    """A version of the field and code mapping to the platform (configuration, not code)."""

    __tablename__ = "push_mapping"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
