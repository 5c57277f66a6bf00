from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, literal_column, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from domain.audit.models import AuditEvent
from resolvers.context import Context
from resolvers.pagination import Page, fetch_page

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    patient_id: int | None = None
    action: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


def _concerns(dialect: str, patient_id: int) -> Any:
    """Events whose patient list holds the patient (GIN jsonb_path_ops on PostgreSQL)."""
    if dialect == "postgresql":
        return type_coerce(AuditEvent.patient_ids, JSONB).contains([patient_id])
    each = func.json_each(AuditEvent.patient_ids).table_valued("value")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == patient_id))


def _filtered(query: SelectT, f: AuditFilter, dialect: str) -> SelectT:
    if f.actor is not None:
        query = query.where(AuditEvent.username == f.actor)
    if f.patient_id is not None:
        query = query.where(_concerns(dialect, f.patient_id))
    if f.action is not None:
        query = query.where(AuditEvent.action == f.action)
    if f.start is not None:
        query = query.where(AuditEvent.at >= f.start)
    if f.end is not None:
        query = query.where(AuditEvent.at <= f.end)
    return query


async def events_page(
    ctx: Context, f: AuditFilter, first: int | None, after: str | None
) -> Page[AuditEvent]:
    async with ctx.db.reader() as session:
        page: Page[AuditEvent] = await fetch_page(
            session,
            _filtered(select(AuditEvent), f, ctx.db.dialect),
            AuditEvent.id,
            first=first,
            after=after,
        )
    return page


async def events_count(ctx: Context, f: AuditFilter) -> int:
    async with ctx.db.reader() as session:
        query = _filtered(select(func.count(AuditEvent.id)), f, ctx.db.dialect)
        return int(await session.scalar(query) or 0)
