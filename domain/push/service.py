"""What people do with the push outbox: look, preview, retry, discard, replay, review, resume."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.errors import FieldError, NotFound, ValidationFailed, fail
from domain.push import content, mapping, outbox
from domain.push.delivery import channel_row, claimable
from domain.push.models import PushAttempt, PushChannel, PushMapping, PushRecord, PushStatus

REASON_MAX = 500


@dataclass(frozen=True)
class PushFilter:
    ids: Sequence[int] = ()
    statuses: Sequence[str] = ()
    record_types: Sequence[str] = ()
    pregnancy_id: int | None = None
    record_id: str | None = None
    mismatched: bool | None = None  # reconciliation found another version on the platform
    waiting_for_registration: bool | None = None
    changed_since: dt.datetime | None = None


def filter_condition(f: PushFilter) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if f.ids:
        conditions.append(PushRecord.id.in_(f.ids))
    if f.statuses:
        conditions.append(PushRecord.status.in_(f.statuses))
    if f.record_types:
        conditions.append(PushRecord.record_type.in_(f.record_types))
    if f.pregnancy_id is not None:
        conditions.append(PushRecord.pregnancy_id == f.pregnancy_id)
    if f.record_id:
        conditions.append(PushRecord.record_id == f.record_id)
    if f.changed_since is not None:
        conditions.append(PushRecord.updated_at > f.changed_since)
    if f.mismatched is not None:
        differs = and_(
            PushRecord.reconciled_at.is_not(None),
            or_(
                PushRecord.platform_version.is_(None),
                PushRecord.platform_version != PushRecord.delivered_version,
            ),
        )
        conditions.append(differs if f.mismatched else ~differs)
    if f.waiting_for_registration is not None:
        waiting = and_(
            PushRecord.status == PushStatus.PENDING,
            PushRecord.record_type != "MATERNAL_REGISTRATION",
            ~claimable(None),
        )
        conditions.append(waiting if f.waiting_for_registration else ~waiting)
    return and_(True, *conditions)


def records_query(f: PushFilter) -> Select[PushRecord]:
    return select(PushRecord).where(filter_condition(f))


async def count_records(session: AsyncSession, f: PushFilter) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(PushRecord).where(filter_condition(f))
        )
        or 0
    )


# ---------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    """One record as it would be sent now."""

    record_type: str
    record_id: str
    version: int
    changed: bool  # differs from what the outbox holds (a new version would be written)
    body: dict[str, Any]  # the exact request body (contract §2)
    problems: list[dict[str, str]] = field(default_factory=list)
    status: str | None = None


async def preview(session: AsyncSession, pregnancy_id: int, org_code: str) -> list[Preview]:
    facts = await content.load_facts(session, pregnancy_id)
    if facts is None:
        raise NotFound("pregnancyId", "孕产档案不存在")
    active = await mapping.current_mapping(session)
    rows = {
        row.record_id: row
        for row in await session.scalars(
            select(PushRecord).where(PushRecord.pregnancy_id == pregnancy_id)
        )
    }
    previews = []
    registration: dict[str, Any] | None = None
    now = utcnow()
    for built in content.build_all(facts):
        data, problems = mapping.apply(built, active)
        body: dict[str, object] = {"patient": built.patient, "data": data}
        if built.record_type.value == "MATERNAL_REGISTRATION":
            registration = data
        row = rows.get(built.record_id)
        changed = row is None or row.content_hash != outbox.content_hash(body)
        if row is None:
            version = 1
        elif changed and row.sent_version is not None and row.sent_version >= row.version:
            version = row.version + 1
        else:
            version = row.version
        problems = outbox.preflight(built.record_type, body, registration, now) + problems
        previews.append(
            Preview(
                built.record_type.value,
                built.record_id,
                version,
                changed,
                {
                    "recordType": built.record_type.value,
                    "orgCode": org_code,
                    "recordId": built.record_id,
                    "version": version,
                    **body,
                },
                problems,
                row.status if row is not None else None,
            )
        )
    return previews


# ---------------------------------------------------------------------------- actions


async def _rows(session: AsyncSession, ids: Sequence[int]) -> list[PushRecord]:
    rows = list(
        await session.scalars(select(PushRecord).where(PushRecord.id.in_(ids)).with_for_update())
    )
    if len(rows) != len(set(ids)):
        raise NotFound("ids", "推送记录不存在")
    return rows


async def retry(db: Database, actor: Actor, ids: Sequence[int]) -> list[PushRecord]:
    """Send the current versions now (back-off and a rejection set aside)."""
    if not ids:
        raise fail("ids", "请至少选择一条推送记录", "REQUIRED")
    now = utcnow()
    async with db.transaction() as session:
        rows = await _rows(session, ids)
        for row in rows:
            if row.status in (PushStatus.DELIVERED, PushStatus.DISCARDED, PushStatus.HELD):
                raise fail(
                    "ids",
                    f"记录 {row.record_id} 的状态为 {STATUS_LABELS[row.status]}，不能重试",
                    "INVALID_STATE",
                )
        for row in rows:
            row.status = PushStatus.PENDING
            row.next_attempt_at = now
            row.attempts = 0
        _audit(session, actor, "PUSH_RETRY", rows)
        outbox.mark_changed(session)
    return rows


async def discard(db: Database, actor: Actor, record_id: int, reason: str) -> PushRecord:
    """Decide a record is not to be sent; who and why are kept, nothing is deleted."""
    problem = check.text("reason", reason, label="放弃原因", max_len=REASON_MAX) or (
        None
        if reason and reason.strip()
        else FieldError("reason", "请填写放弃推送的原因", "REQUIRED")
    )
    if problem:
        raise ValidationFailed([problem])
    async with db.transaction() as session:
        (row,) = await _rows(session, [record_id])
        if row.status == PushStatus.DELIVERED:
            raise fail("id", "该记录的当前版本已被平台接收，无需放弃", "INVALID_STATE")
        if row.status == PushStatus.DISCARDED:
            raise fail("id", "该记录已放弃推送", "INVALID_STATE")
        row.status = PushStatus.DISCARDED
        row.next_attempt_at = None
        row.discarded_by = actor.username
        row.discarded_at = utcnow()
        row.discard_reason = reason.strip()
        _audit(session, actor, "PUSH_DISCARD", [row], {"reason": row.discard_reason})
    return row


async def replay(
    db: Database, actor: Actor, f: PushFilter, expected_count: int | None
) -> list[PushRecord]:
    """Send the matching records again as new versions with freshly built content.

    More than one record needs `expected_count` equal to the number matched, so that a
    filter typed wrong cannot re-send thousands of records by surprise.
    """
    async with db.transaction() as session:
        rows = list(
            await session.scalars(
                records_query(f).where(PushRecord.status != PushStatus.DISCARDED).with_for_update()
            )
        )
        if not rows:
            raise fail("filter", "没有符合条件的推送记录", "NOT_FOUND")
        if len(rows) > 1 and expected_count != len(rows):
            raise fail(
                "expectedCount",
                f"将重新推送 {len(rows)} 条记录：请在 expectedCount 中填写 {len(rows)} 以确认",
                "CONFIRMATION_REQUIRED",
            )
        for pregnancy_id in sorted({row.pregnancy_id for row in rows}):
            await outbox.refresh_pregnancy(session, pregnancy_id, changed_by=actor.username)
        now = utcnow()
        for row in rows:
            if row.sent_version is not None and row.sent_version >= row.version:
                row.version += 1
            row.status = PushStatus.REJECTED if row.problems else PushStatus.PENDING
            row.next_attempt_at = None if row.problems else now
            row.attempts = 0
            row.changed_by = actor.username
        _audit(session, actor, "PUSH_REPLAY", rows)
        outbox.mark_changed(session)
    return rows


async def approve(db: Database, actor: Actor, ids: Sequence[int]) -> list[PushRecord]:
    """A second person releases records held for review (parameter push_requires_review)."""
    if not ids:
        raise fail("ids", "请至少选择一条推送记录", "REQUIRED")
    now = utcnow()
    async with db.transaction() as session:
        rows = await _rows(session, ids)
        for row in rows:
            if row.status != PushStatus.HELD:
                raise fail("ids", f"记录 {row.record_id} 不在待审核状态", "INVALID_STATE")
            if row.changed_by == actor.username:
                raise fail("ids", f"记录 {row.record_id} 由您修改，需由另一人审核", "SELF_REVIEW")
        for row in rows:
            row.status = PushStatus.PENDING
            row.next_attempt_at = now
            row.reviewed_by = actor.username
        _audit(session, actor, "PUSH_APPROVE", rows)
        outbox.mark_changed(session)
    return rows


async def resume_channel(db: Database, actor: Actor) -> PushChannel:
    """An operator fixed the configuration or the clock: try again now."""
    async with db.transaction() as session:
        channel = await channel_row(session)
        channel.paused = False
        channel.pause_reason = None
        channel.paused_at = None
        channel.retry_at = None
        channel.failures = 0
        record_change(
            session, actor, "PUSH_RESUME", entity="push_channel", entity_id=0, patient_ids=[]
        )
        outbox.mark_changed(session)
    return channel


async def save_mapping(
    db: Database, actor: Actor, document: object, note: str | None
) -> PushMapping:
    """A new version of the platform mapping; it applies to each record's next change."""
    problems = mapping.check_document(document)
    if problems:
        raise ValidationFailed(
            [FieldError(path, reason, "INVALID_MAPPING") for path, reason in problems]
        )
    assert isinstance(document, dict)  # noqa: S101 (checked above)
    async with db.transaction() as session:
        row = PushMapping(
            version=await mapping.next_version(session),
            document={"fields": document["fields"], "codes": document["codes"]},
            note=(note or "").strip() or None,
            created_by=actor.username,
            created_at=utcnow(),
        )
        session.add(row)
        record_change(
            session,
            actor,
            "UPDATE",
            entity="push_mapping",
            entity_id=row.version,
            patient_ids=[],
            detail={"version": row.version},
        )
    return row


def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    rows: Sequence[PushRecord],
    detail: dict[str, object] | None = None,
) -> None:
    for row in rows:
        record_change(
            session,
            actor,
            action,
            entity="push_record",
            entity_id=row.id,
            patient_ids=[row.patient_id],
            detail={"recordId": row.record_id, "version": row.version, **(detail or {})},
        )


# ---------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class StatusCount:
    status: str
    record_type: str
    count: int


@dataclass(frozen=True)
class Bucket:
    start: dt.datetime
    outcome: str
    count: int


async def status_counts(session: AsyncSession) -> list[StatusCount]:
    rows = await session.execute(
        select(PushRecord.status, PushRecord.record_type, func.count())
        .group_by(PushRecord.status, PushRecord.record_type)
        .order_by(PushRecord.status, PushRecord.record_type)
    )
    return [StatusCount(status, record_type, count) for status, record_type, count in rows.all()]


async def attempt_series(
    session: AsyncSession, since: dt.datetime, until: dt.datetime, bucket_s: int
) -> list[Bucket]:
    """Attempts per outcome per time bucket (bucketed in Python: portable and small)."""
    rows = await session.execute(
        select(PushAttempt.attempted_at, PushAttempt.outcome).where(
            PushAttempt.attempted_at >= since, PushAttempt.attempted_at < until
        )
    )
    counts: dict[tuple[dt.datetime, str], int] = {}
    origin = since.timestamp()
    for attempted_at, outcome_ in rows.all():
        index = int((attempted_at.timestamp() - origin) // bucket_s)
        start = dt.datetime.fromtimestamp(origin + index * bucket_s, dt.UTC)
        counts[(start, outcome_)] = counts.get((start, outcome_), 0) + 1
    return [Bucket(start, outcome_, n) for (start, outcome_), n in sorted(counts.items())]


async def channel_state(session: AsyncSession) -> PushChannel | None:
    return await session.get(PushChannel, "guifuer")


STATUS_LABELS: dict[str, str] = {
    PushStatus.PENDING: "待推送",
    PushStatus.HELD: "待审核",
    PushStatus.DELIVERED: "已接收",
    PushStatus.REJECTED: "需修正数据",
    PushStatus.SUPERSEDED: "已被更高版本取代",
    PushStatus.DISCARDED: "已放弃",
}


async def push_health(db: Database, *, configured: bool) -> dict[str, object]:
    """For /health: the channel, and how long the oldest waiting record has waited."""
    async with db.reader() as session:
        channel = await channel_state(session)
        oldest = await session.scalar(
            select(func.min(PushRecord.created_at)).where(PushRecord.status == PushStatus.PENDING)
        )
        rejected = await count_records(session, PushFilter(statuses=[PushStatus.REJECTED]))
    paused = bool(channel and channel.paused)
    return {
        "status": "paused" if paused else "ok",
        "configured": configured,
        "pauseReason": channel.pause_reason if paused and channel else None,
        "oldestPendingS": round((utcnow() - oldest).total_seconds()) if oldest else None,
        "rejected": rejected,
    }
