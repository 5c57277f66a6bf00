from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from domain.database import Base, JsonDoc, UTCDateTime, utcnow


class JobHeartbeat(Base):
    """The last time a job runner (in-process or an arq worker) proved it was alive."""

    __tablename__ = "job_heartbeat"

    runner: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
