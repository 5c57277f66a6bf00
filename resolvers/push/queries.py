from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select

from domain.database import utcnow
from domain.errors import FieldError
from domain.push import service
from domain.push.models import PushAttempt, PushMapping, PushRecord, PushStatus
from domain.push.outbox import Problem
from domain.push.platform import push_configured
from domain.push.service import Bucket, PushFilter, StatusCount
from resolvers.context import Context
from resolvers.pagination import Page, fetch_page

POLL_S = 1.0
LOOKBACK = dt.timedelta(seconds=5)  # a transaction may commit a little after its timestamp


async def records_page(
    ctx: Context, f: PushFilter, first: int | None, after: str | None
) -> Page[PushRecord]:
    async with ctx.db.reader() as session:
        page: Page[PushRecord] = await fetch_page(
            session, service.records_query(f), PushRecord.id, first=first, after=after
        )
    ctx.read_audit.saw(row.patient_id for row in page.rows)
    return page


async def records_count(ctx: Context, f: PushFilter) -> int:
    async with ctx.db.reader() as session:
        return await service.count_records(session, f)


async def preflight_warnings(ctx: Context, pregnancy_id: int) -> list[FieldError]:
    """What the platform would refuse among the pregnancy's records, as the doctor saves."""
    async with ctx.db.reader() as session:
        rows = (
            await session.execute(
                select(PushRecord.record_type, PushRecord.record_id, PushRecord.problems)
                .where(
                    PushRecord.pregnancy_id == pregnancy_id,
                    PushRecord.status == PushStatus.REJECTED,
                )
                .order_by(PushRecord.id)
            )
        ).all()
    return [
        FieldError(
            f"{record_id}:{problem['field']}",
            Problem(record_type, record_id, problem["field"], problem["reason"]).message,
            "PUSH_PREFLIGHT",
        )
        for record_type, record_id, problems in rows
        for problem in problems or []
    ]


async def attempts(ctx: Context, record_id: int) -> Sequence[PushAttempt]:
    async with ctx.db.reader() as session:
        return (
            await session.scalars(
                select(PushAttempt)
                .where(PushAttempt.push_record_id == record_id)
                .order_by(PushAttempt.id.desc())
                .limit(100)
            )
        ).all()


async def preview(ctx: Context, pregnancy_id: int) -> list[service.Preview]:
    async with ctx.db.reader() as session:
        previews = await service.preview(session, pregnancy_id, ctx.settings.guifuer_org_code or "")
        patient_id = await session.scalar(
            select(PushRecord.patient_id).where(PushRecord.pregnancy_id == pregnancy_id).limit(1)
        )
    if patient_id is not None:
        ctx.read_audit.saw([patient_id])
    return previews


async def statistics(
    ctx: Context, since: dt.datetime, until: dt.datetime, bucket_s: int
) -> tuple[list[StatusCount], list[Bucket]]:
    async with ctx.db.reader() as session:
        return (
            await service.status_counts(session),
            await service.attempt_series(session, since, until, bucket_s),
        )


async def channel(ctx: Context) -> tuple[object, bool]:
    async with ctx.db.reader() as session:
        return await service.channel_state(session), push_configured(ctx.settings)


async def mappings(ctx: Context) -> Sequence[PushMapping]:
    async with ctx.db.reader() as session:
        return (
            await session.scalars(select(PushMapping).order_by(PushMapping.version.desc()))
        ).all()


async def changes(
    ctx: Context, f: PushFilter, *, poll_s: float = POLL_S
) -> AsyncIterator[PushRecord]:
    """Rows as they change, read from the database (any process may have changed them)."""
    cursor = utcnow()
    seen: dict[int, dt.datetime] = {}
    first = True
    while True:
        if not first:
            await asyncio.sleep(poll_s)
        async with ctx.db.reader() as session:
            rows = (
                await session.scalars(
                    service.records_query(f)
                    .where(PushRecord.updated_at > cursor - LOOKBACK)
                    .order_by(PushRecord.updated_at, PushRecord.id)
                    .limit(500)
                )
            ).all()
        if first:
            # What changed before the subscription began is not news.
            seen = {row.id: row.updated_at for row in rows}
            first = False
            continue
        for row in rows:
            if seen.get(row.id) == row.updated_at:
                continue
            seen[row.id] = row.updated_at
            cursor = max(cursor, row.updated_at)
            ctx.read_audit.saw([row.patient_id])
            yield row
        horizon = cursor - LOOKBACK
        seen = {k: v for k, v in seen.items() if v > horizon}
