from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from domain.errors import FieldError
from domain.inbound.models import InboundMessage, InboundStatus
from domain.inbound.service import ReprocessSummary, existing_ids, reprocess
from resolvers.context import Context

# One call reprocesses at most this many messages; `remaining` says how many are left.
REPROCESS_LIMIT = 200


@dataclass(frozen=True)
class Reprocessing:
    summary: ReprocessSummary
    rows: list[InboundMessage]


async def reprocess_messages(
    ctx: Context, ids: Sequence[int] | None, status: str | None
) -> Reprocessing | list[FieldError]:
    """Reprocess by ids (any status unless `status` is given) or by status (default ERROR)."""
    if ids is not None:
        if len(ids) > REPROCESS_LIMIT:
            return [FieldError("ids", f"一次最多重新处理 {REPROCESS_LIMIT} 条消息", "TOO_MANY")]
        async with ctx.db.reader() as session:
            found = await existing_ids(session, ids)
        missing = [
            FieldError(f"ids[{i}]", f"消息 {row_id} 不存在", "NOT_FOUND")
            for i, row_id in enumerate(ids)
            if row_id not in found
        ]
        if missing:
            return missing
    elif status is None:
        status = InboundStatus.ERROR
    summary = await reprocess(
        ctx.db, ids=ids, status=status, actor=ctx.acting, limit=REPROCESS_LIMIT
    )
    done = [m.id for m in summary.messages]
    async with ctx.db.reader() as session:
        rows = (
            await session.scalars(
                select(InboundMessage)
                .where(InboundMessage.id.in_(done))
                .order_by(InboundMessage.id)
            )
        ).all()
    ctx.read_audit.saw(row.patient_id for row in rows if row.patient_id is not None)
    return Reprocessing(summary, list(rows))
