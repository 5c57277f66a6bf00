from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select

from domain.correction import rules, targets
from domain.correction.models import CorrectionRequest
from resolvers.context import Context
from resolvers.pagination import Page, fetch_page

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class CorrectionFilter:
    status: str | None = None
    target_type: str | None = None
    requested_by: str | None = None
    patient_id: int | None = None
    requested_from: dt.datetime | None = None
    requested_to: dt.datetime | None = None


def _filtered(query: SelectT, f: CorrectionFilter) -> SelectT:
    if f.status is not None:
        query = query.where(CorrectionRequest.status == f.status)
    if f.target_type is not None:
        query = query.where(CorrectionRequest.target_type == f.target_type)
    if f.requested_by is not None:
        query = query.where(CorrectionRequest.requested_by == f.requested_by)
    if f.patient_id is not None:
        query = query.where(CorrectionRequest.patient_id == f.patient_id)
    if f.requested_from is not None:
        query = query.where(CorrectionRequest.requested_at >= f.requested_from)
    if f.requested_to is not None:
        query = query.where(CorrectionRequest.requested_at <= f.requested_to)
    return query


async def corrections_page(
    ctx: Context, f: CorrectionFilter, first: int | None, after: str | None
) -> tuple[Page[CorrectionRequest], list[Any]]:
    """A page of requests, newest first, with each target field's value now."""
    async with ctx.db.reader() as session:
        page: Page[CorrectionRequest] = await fetch_page(
            session,
            _filtered(select(CorrectionRequest), f),
            CorrectionRequest.id,
            first=first,
            after=after,
        )
        current = await current_values(session, page.rows)
    ctx.read_audit.saw(row.patient_id for row in page.rows)
    return page, current


async def corrections_count(ctx: Context, f: CorrectionFilter) -> int:
    async with ctx.db.reader() as session:
        query = _filtered(select(func.count(CorrectionRequest.id)), f)
        return int(await session.scalar(query) or 0)


async def current_values(session: Any, rows: Sequence[CorrectionRequest]) -> list[Any]:
    refs = [
        targets.FieldRef(
            r.target_type, r.target_id, rules.BY_TARGET[r.target_type][r.field].attribute
        )
        for r in rows
    ]
    found = await targets.current_values(session, refs)
    return [found[ref] for ref in refs]


async def with_current(ctx: Context, row: CorrectionRequest) -> Any:
    async with ctx.db.reader() as session:
        return (await current_values(session, [row]))[0]
