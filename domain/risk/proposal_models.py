from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, BigId, UTCDateTime, utcnow


class RiskFactorProposal(Base):
    """A factor the system suggests (e.g. purple after a positive HBsAg) for a doctor to confirm."""

    __tablename__ = "risk_factor_proposal"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"))
    code: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    lab_result_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(
        String(16), default="PENDING"
    )  # PENDING, CONFIRMED, DISMISSED
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_risk_factor_proposal_pregnancy", "pregnancy_id", "status"),)
