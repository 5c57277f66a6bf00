from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, JsonDoc, UTCDateTime, utcnow


class InboundStatus(enum.StrEnum):
    RECEIVED = "RECEIVED"  # stored, not yet processed
    PROCESSED = "PROCESSED"
    ERROR = "ERROR"  # kept with its error; reprocessed after the cause is fixed


class InboundMessage(Base):
    """Every message received from a hospital system, stored before it is acknowledged.

    The raw bytes are kept exactly as received, so a message that could not be parsed,
    matched to a patient or mapped can be processed again once the cause is fixed.
    """

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # HL7_MLLP, FHIR_LIS, FHIR_RIS
    message_id: Mapped[str] = mapped_column(String(128))  # MSH-10 or the FHIR resource id
    message_type: Mapped[str | None] = mapped_column(String(32))
    charset: Mapped[str | None] = mapped_column(String(32))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=InboundStatus.RECEIVED)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    error_fields: Mapped[list[dict[str, object]]] = mapped_column(JsonDoc, default=list)
    patient_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("channel", "message_id", name="uq_inbound_message_channel_message_id"),
        Index("ix_inbound_message_status", "status", "received_at"),
    )
