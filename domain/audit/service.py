"""Audit records: written with the change for writes, batched in the background for reads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain import request
from domain.audit.models import AuditEvent
from domain.auth.actor import Actor
from domain.database import Database, utcnow

log = logging.getLogger(__name__)


def record_change(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    entity: str,
    entity_id: int,
    patient_ids: Iterable[int],
    detail: dict[str, object] | None = None,
) -> None:
    """Add the audit event of a write to the transaction that makes the write."""
    session.add(
        AuditEvent(
            at=utcnow(),
            user_id=actor.user_id,
            username=actor.username,
            action=action,
            operation_name=request.operation_name.get(),
            request_id=request.request_id.get(),
            entity=entity,
            entity_id=entity_id,
            patient_ids=sorted(set(patient_ids)),
            detail=detail or {},
        )
    )


@dataclass
class ReadAudit:
    """The patients one request has read; turned into one audit event at its end."""

    patient_ids: set[int] = field(default_factory=set)

    def saw(self, ids: Iterable[int]) -> None:
        self.patient_ids.update(ids)


class AuditBuffer:
    """Collects read events and writes them in batches, off the request path.

    Reads must not wait for an audit insert; a batch is one multi-row INSERT.
    `flush()` is called by the background loop, at shutdown and by tests.
    """

    def __init__(self, db: Database, *, interval_s: float = 0.5, max_batch: int = 500) -> None:
        self._db = db
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._pending: list[dict[str, object]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add_read(self, actor: Actor, patient_ids: Iterable[int], operation: str | None) -> None:
        ids = sorted(set(patient_ids))
        if not ids:
            return
        self._pending.append(
            {
                "at": utcnow(),
                "user_id": actor.user_id,
                "username": actor.username,
                "action": "READ",
                "operation_name": operation,
                "request_id": request.request_id.get(),
                "patient_ids": ids,
                "detail": {},
            }
        )
        if len(self._pending) >= self._max_batch:
            self._wakeup.set()

    async def flush(self) -> int:
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                async with self._db.transaction() as session:
                    await session.execute(insert(AuditEvent), batch)
            except Exception:
                # Keep the events for the next attempt rather than lose them.
                self._pending[:0] = batch
                raise
            return len(batch)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._interval_s)
            self._wakeup.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("audit flush failed; will retry")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-buffer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
