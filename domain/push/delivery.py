"""Delivering the outbox to the 桂妇儿 platform: claim, send, record — at least once.

- **Claim**: due PENDING rows are leased in one short transaction (`SKIP LOCKED` on
  PostgreSQL, so any number of workers share the work). A woman's records other than
  her registration are claimable only once that registration is DELIVERED; patients
  go in parallel.
- **Send**: outside any transaction, concurrently, through the `GuifuerPort`.
- **Record**: each answer, classified by the adapter, updates the row and adds a
  `push_attempt`. `recordId + version` makes a resend harmless (the platform answers
  "duplicate"), so a worker killed between send and record only costs a resend once
  its lease runs out.
- **Back off**: a record that fails waits exponentially longer (with jitter, or what
  `Retry-After` says) without holding up the others; when the platform as a whole is
  unavailable the channel waits and then probes with a single record. Signature and
  clock errors pause the channel (an alert) instead of burning retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from domain.database import Database, utcnow
from domain.parameter.service import Parameters
from domain.push.models import PushAttempt, PushChannel, PushRecord, PushStatus
from integrations.guifuer.port import (
    GuifuerPort,
    Outcome,
    PatientRef,
    PushResult,
    Record,
    RecordType,
)

log = logging.getLogger(__name__)

CHANNEL = "guifuer"
REGISTRATION = RecordType.MATERNAL_REGISTRATION.value
PAUSED_PROBE_S = 60.0  # a paused channel tries one record this often (clock fixed? secret fixed?)


@dataclass
class Claimed:
    id: int
    record_type: RecordType
    record_id: str
    version: int
    body: dict[str, Any]


@dataclass
class DrainStats:
    """What one `drain` did."""

    attempted: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.attempted += 1
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1


def backoff_s(attempts: int, base_s: float, max_s: float, rng: Callable[[], float]) -> float:
    """Exponential back-off with jitter: between half and all of base·2^(n−1), capped."""
    ceiling = min(max_s, base_s * 2.0 ** max(0, attempts - 1))
    return float(ceiling * (0.5 + 0.5 * rng()))


async def channel_row(session: Any) -> PushChannel:
    row: PushChannel | None = await session.get(PushChannel, CHANNEL, with_for_update=True)
    if row is None:
        # Workers starting together on a new database all find no row: the inserts that
        # lose the race do nothing, and every one of them then locks the same row.
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(
            insert(PushChannel)
            .values(name=CHANNEL, paused=False, failures=0, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = await session.get(PushChannel, CHANNEL, with_for_update=True)
        if row is None:
            raise RuntimeError("push_channel row missing after insert")
    return row


class Deliverer:
    """Delivers due outbox rows through `port`; many may run at once, in many processes."""

    def __init__(
        self,
        db: Database,
        port: GuifuerPort,
        *,
        worker: str,
        lease_s: float = 60.0,
        batch: int = 50,
        concurrency: int = 8,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.port = port
        self.worker = worker
        self.lease_s = lease_s
        self.batch = batch
        self.concurrency = concurrency
        self.rng = rng
        self.parameters = Parameters(db)

    async def drain(self, *, budget_s: float = 60.0) -> DrainStats:
        """Deliver batches until nothing is due (or the budget is spent)."""
        stats = DrainStats()
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            claimed = await self.claim()
            if not claimed:
                break
            results = await self.send(claimed)
            await self.record(claimed, results, stats)
        return stats

    async def claim(self) -> list[Claimed]:
        now = utcnow()
        async with self.db.transaction() as session:
            channel = await channel_row(session)
            limit = self.batch
            if channel.paused:
                probe_due = channel.retry_at is None or channel.retry_at <= now
                if not probe_due:
                    return []
                channel.retry_at = now + dt.timedelta(seconds=PAUSED_PROBE_S)
                limit = 1
            elif channel.retry_at is not None and channel.retry_at > now:
                return []
            elif channel.failures > 0:
                limit = 1  # the platform was unavailable: one record finds out if it is back
            query = (
                select(PushRecord)
                .where(claimable(now))
                .order_by(
                    case((PushRecord.record_type == REGISTRATION, 0), else_=1),
                    PushRecord.next_attempt_at,
                    PushRecord.id,
                )
                .limit(limit)
            )
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=PushRecord)
            rows = (await session.scalars(query)).all()
            lease_until = now + dt.timedelta(seconds=self.lease_s)
            claimed = []
            for row in rows:
                row.lease_owner = self.worker
                row.lease_until = lease_until
                row.sent_version = max(row.sent_version or 0, row.version)
                claimed.append(
                    Claimed(
                        row.id,
                        RecordType(row.record_type),
                        row.record_id,
                        row.version,
                        dict(row.body),
                    )
                )
            return claimed

    async def send(self, claimed: list[Claimed]) -> list[tuple[PushResult, int]]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: Claimed) -> tuple[PushResult, int]:
            async with gate:
                started = time.perf_counter()
                try:
                    result = await self._push(item)
                except Exception as exc:  # an adapter bug must not lose the record
                    log.exception("桂妇儿 push raised", extra={"record_id": item.record_id})
                    result = PushResult(Outcome.TRY_LATER, detail=f"推送出错：{type(exc).__name__}")
                return result, round((time.perf_counter() - started) * 1000)

        return list(await asyncio.gather(*(one(item) for item in claimed)))

    async def _push(self, item: Claimed) -> PushResult:
        patient = item.body["patient"]
        record = Record(
            item.record_id,
            item.version,
            PatientRef(patient["idCardNo"], patient["name"], patient["birthDate"]),
            item.body["data"],
        )
        push = {
            RecordType.MATERNAL_REGISTRATION: self.port.push_registration,
            RecordType.PRENATAL_VISIT: self.port.push_prenatal_visit,
            RecordType.HIGH_RISK_ASSESSMENT: self.port.push_high_risk_assessment,
            RecordType.INFECTIOUS_SCREENING: self.port.push_infectious_screening,
            RecordType.ULTRASOUND_NT: self.port.push_ultrasound_nt,
        }[item.record_type]
        return await push(record)

    async def record(
        self, claimed: list[Claimed], results: list[tuple[PushResult, int]], stats: DrainStats
    ) -> None:
        base_s = await self.parameters.number("push_backoff_base_s", 2.0)
        max_s = await self.parameters.number("push_backoff_max_s", 600.0)
        now = utcnow()
        async with self.db.transaction() as session:
            channel = await channel_row(session)
            ids = [item.id for item in claimed]
            rows = {
                row.id: row
                for row in await session.scalars(
                    select(PushRecord).where(PushRecord.id.in_(ids)).with_for_update()
                )
            }
            registered: list[int] = []
            lost_registration: list[int] = []  # 2004 although her registration was accepted
            for item, (result, duration_ms) in zip(claimed, results, strict=True):
                stats.add(result.outcome)
                row = rows[item.id]
                session.add(
                    PushAttempt(
                        push_record_id=row.id,
                        version=item.version,
                        attempted_at=now,
                        duration_ms=duration_ms,
                        outcome=result.outcome.value,
                        code=result.code,
                        http_status=result.http_status,
                        detail=result.detail,
                        field_errors=[
                            {"field": e.field, "reason": e.reason} for e in result.errors
                        ],
                        worker=self.worker,
                    )
                )
                if row.lease_owner == self.worker:
                    row.lease_owner = row.lease_until = None
                row.last_attempt_at = now
                current = row.version == item.version and row.status == PushStatus.PENDING
                if result.outcome is Outcome.DELIVERED:
                    row.delivered_version = max(row.delivered_version or 0, item.version)
                    row.platform_id = result.platform_id or row.platform_id
                    row.delivered_at = now
                    channel.failures = 0
                    channel.retry_at = None
                    if current:
                        row.status = PushStatus.DELIVERED
                        row.next_attempt_at = None
                        row.attempts = 0
                        row.last_error = None
                        if row.record_type == REGISTRATION:
                            registered.append(row.pregnancy_id)
                    continue
                row.last_error = _error(result)
                if result.outcome is Outcome.SUPERSEDED and current:
                    row.status = PushStatus.SUPERSEDED
                    row.next_attempt_at = None
                elif result.outcome is Outcome.FIX_DATA and current:
                    row.status = PushStatus.REJECTED
                    row.next_attempt_at = None
                elif result.outcome is Outcome.FIX_CONFIGURATION:
                    if not channel.paused:
                        log.error(
                            "桂妇儿 channel paused: %s",
                            result.detail,
                            extra={"code": result.code, "http_status": result.http_status},
                        )
                    channel.paused = True
                    channel.pause_reason = result.detail
                    channel.paused_at = channel.paused_at or now
                    channel.retry_at = now + dt.timedelta(seconds=PAUSED_PROBE_S)
                    if current:
                        row.next_attempt_at = now  # goes first once the channel works again
                elif result.outcome is Outcome.TRY_LATER:
                    if result.waiting_for_registration:
                        lost_registration.append(row.pregnancy_id)
                    row.attempts += 1
                    if result.retry_after_s is not None:
                        delay = result.retry_after_s * (1.0 + 0.2 * self.rng())
                    else:
                        delay = backoff_s(row.attempts, base_s, max_s, self.rng)
                    if current:
                        row.next_attempt_at = now + dt.timedelta(seconds=delay)
                    if _platform_unavailable(result):
                        channel.failures += 1
                        wait = result.retry_after_s or backoff_s(
                            channel.failures, base_s, max_s, self.rng
                        )
                        channel.retry_at = now + dt.timedelta(seconds=wait)
            if channel.paused and any(r.outcome is Outcome.DELIVERED for r, _ in results):
                log.warning("桂妇儿 channel resumed: a probe was accepted")
                channel.paused = False
                channel.pause_reason = None
                channel.paused_at = None
                channel.retry_at = None
            if lost_registration:
                # The platform no longer has her registration: send it again first.
                await session.execute(
                    update(PushRecord)
                    .where(
                        PushRecord.pregnancy_id.in_(lost_registration),
                        PushRecord.record_type == REGISTRATION,
                        PushRecord.status == PushStatus.DELIVERED,
                    )
                    .values(status=PushStatus.PENDING, next_attempt_at=now)
                )
            if registered:
                # Records that met "not registered yet" may go now instead of after their back-off.
                await session.execute(
                    update(PushRecord)
                    .where(
                        PushRecord.pregnancy_id.in_(registered),
                        PushRecord.status == PushStatus.PENDING,
                        PushRecord.next_attempt_at > now,
                    )
                    .values(next_attempt_at=now)
                )

    async def seconds_until_due(self, ceiling_s: float) -> float:
        """How long until the next PENDING row is due (at most `ceiling_s`)."""
        async with self.db.reader() as session:
            nearest = await session.scalar(
                select(func.min(PushRecord.next_attempt_at)).where(claimable(None))
            )
            channel = await session.get(PushChannel, CHANNEL)
        now = utcnow()
        if channel is not None and channel.retry_at is not None and channel.retry_at > now:
            nearest = max(nearest, channel.retry_at) if nearest else channel.retry_at
        if nearest is None:
            return ceiling_s
        return max(0.0, min(ceiling_s, (nearest - now).total_seconds()))


def claimable(now: dt.datetime | None) -> Any:
    """PENDING, due by `now` (any time when None), not leased, and in the woman's order:
    a record after its pregnancy's accepted registration, a registration after her
    earlier pregnancies' records."""
    registration = aliased(PushRecord)
    registered = exists().where(
        registration.pregnancy_id == PushRecord.pregnancy_id,
        registration.record_type == REGISTRATION,
        registration.status == PushStatus.DELIVERED,
    )
    # The platform keeps one registration per woman (the latest accepted): a later
    # pregnancy's registration waits until her earlier pregnancies' records are settled.
    earlier = aliased(PushRecord)
    earlier_unsettled = exists().where(
        earlier.patient_id == PushRecord.patient_id,
        earlier.pregnancy_id < PushRecord.pregnancy_id,
        earlier.status.in_((PushStatus.PENDING, PushStatus.HELD)),
    )
    conditions = [
        PushRecord.status == PushStatus.PENDING,
        PushRecord.next_attempt_at.is_not(None),
        or_(
            and_(PushRecord.record_type == REGISTRATION, ~earlier_unsettled),
            and_(PushRecord.record_type != REGISTRATION, registered),
        ),
    ]
    if now is not None:
        conditions += [
            PushRecord.next_attempt_at <= now,
            or_(PushRecord.lease_until.is_(None), PushRecord.lease_until < now),
        ]
    return and_(*conditions)


def _platform_unavailable(result: PushResult) -> bool:
    """No answer, 5xx or 429: the platform as a whole, not this record."""
    return result.code is None


def _error(result: PushResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome.value,
        "code": result.code,
        "httpStatus": result.http_status,
        "message": result.detail,
        "fieldErrors": [{"field": e.field, "reason": e.reason} for e in result.errors],
    }
