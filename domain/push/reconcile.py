"""Reconciliation: read delivered records back from the platform and compare versions.

A mismatch (the platform holds another version, or nothing) is kept on the row
(`platform_version`, `reconciled_at`) for the push monitor; `replay` sends the current
content again as a new version.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field

from sqlalchemy import select

from domain.database import Database, utcnow
from domain.parameter.service import Parameters
from domain.push.delivery import channel_row
from domain.push.models import PushRecord, PushStatus
from integrations.guifuer.port import GuifuerPort, ReadFailed, RecordType


@dataclass
class ReconcileSummary:
    checked: int = 0
    matched: int = 0
    mismatched: int = 0
    missing: int = 0  # the platform has no such record (4004)
    unreadable: int = 0  # no usable answer this time
    mismatches: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def reconcile(
    db: Database, port: GuifuerPort, *, concurrency: int = 8, limit: int | None = None
) -> ReconcileSummary:
    """Compare every delivered record's version with the platform's copy."""
    async with db.reader() as session:
        query = (
            select(
                PushRecord.id,
                PushRecord.record_type,
                PushRecord.record_id,
                PushRecord.delivered_version,
            )
            .where(PushRecord.delivered_version.is_not(None))
            .order_by(PushRecord.id)
        )
        if limit is not None:
            query = query.limit(limit)
        rows = (await session.execute(query)).all()
    gate = asyncio.Semaphore(concurrency)
    summary = ReconcileSummary()

    async def read(record_type: str, record_id: str) -> int | ReadFailed | None:
        async with gate:
            try:
                held = await port.read_record(RecordType(record_type), record_id)
            except ReadFailed as failed:
                return failed
            return held.version if held is not None else None

    found = await asyncio.gather(*(read(r.record_type, r.record_id) for r in rows))
    now = utcnow()
    async with db.transaction() as session:
        for row, platform_version in zip(rows, found, strict=True):
            summary.checked += 1
            if isinstance(platform_version, ReadFailed):
                summary.unreadable += 1
                continue
            record = await session.get(PushRecord, row.id)
            if record is None:
                continue
            record.platform_version = platform_version
            record.reconciled_at = now
            if platform_version == row.delivered_version:
                summary.matched += 1
                continue
            if platform_version is None:
                summary.missing += 1
            else:
                summary.mismatched += 1
            summary.mismatches.append(
                {
                    "recordType": row.record_type,
                    "recordId": row.record_id,
                    "deliveredVersion": row.delivered_version,
                    "platformVersion": platform_version,
                    "status": record.status,
                }
            )
        channel = await channel_row(session)
        channel.last_reconcile_at = now
    return summary


async def reconcile_if_due(
    db: Database, port: GuifuerPort, parameters: Parameters
) -> ReconcileSummary | None:
    """Run `reconcile` when `reconcile_interval_h` has passed since the last run."""
    hours = await parameters.number("reconcile_interval_h", 24.0)
    now = utcnow()
    async with db.transaction() as session:
        channel = await channel_row(session)
        last = channel.last_reconcile_at
        if last is not None and (now - last).total_seconds() < hours * 3600:
            return None
        if last is None:
            # First run: wait a full interval so the first deliveries are not read back at once.
            channel.last_reconcile_at = now
            return None
        channel.last_reconcile_at = now
    return await reconcile(db, port)


def is_mismatch(record: PushRecord) -> bool:
    return (
        record.reconciled_at is not None
        and record.status == PushStatus.DELIVERED
        and record.platform_version != record.delivered_version
    )
