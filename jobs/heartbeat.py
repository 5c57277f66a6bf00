"""A job that proves a runner is alive; /health and the inspection report read it."""

from __future__ import annotations

import os
import socket

from sqlalchemy import select

from domain.database import Database, utcnow
from domain.ops.models import JobHeartbeat


def runner_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


async def beat(db: Database, runner: str, detail: dict[str, object] | None = None) -> None:
    async with db.transaction() as session:
        row = await session.scalar(select(JobHeartbeat).where(JobHeartbeat.runner == runner))
        if row is None:
            session.add(JobHeartbeat(runner=runner, last_seen=utcnow(), detail=detail or {}))
        else:
            row.last_seen = utcnow()
            row.detail = detail or {}


async def latest(db: Database) -> list[JobHeartbeat]:
    async with db.reader() as session:
        rows = await session.scalars(select(JobHeartbeat).order_by(JobHeartbeat.last_seen.desc()))
        return list(rows.all())
