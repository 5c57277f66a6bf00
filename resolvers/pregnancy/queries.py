from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select

from domain.pregnancy.models import Pregnancy
from resolvers.context import Context
from resolvers.pagination import Page, fetch_page

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class PregnancyFilter:
    status: str | None = None
    risk_colors: tuple[str, ...] = ()
    infectious: bool | None = None
    patient_id: int | None = None
    booked_from: dt.date | None = None
    booked_to: dt.date | None = None
    edd_from: dt.date | None = None
    edd_to: dt.date | None = None


def _filtered(query: SelectT, f: PregnancyFilter) -> SelectT:
    if f.status:
        query = query.where(Pregnancy.status == f.status)
    if f.risk_colors:
        query = query.where(Pregnancy.risk_color.in_(f.risk_colors))
    if f.infectious is not None:
        query = query.where(Pregnancy.infectious_flag.is_(f.infectious))
    if f.patient_id is not None:
        query = query.where(Pregnancy.patient_id == f.patient_id)
    if f.booked_from:
        query = query.where(Pregnancy.booking_date >= f.booked_from)
    if f.booked_to:
        query = query.where(Pregnancy.booking_date <= f.booked_to)
    if f.edd_from:
        query = query.where(Pregnancy.edd >= f.edd_from)
    if f.edd_to:
        query = query.where(Pregnancy.edd <= f.edd_to)
    return query


async def pregnancies_page(
    ctx: Context, f: PregnancyFilter, first: int | None, after: str | None
) -> Page[Pregnancy]:
    async with ctx.db.reader() as session:
        page: Page[Pregnancy] = await fetch_page(
            session, _filtered(select(Pregnancy), f), Pregnancy.id, first=first, after=after
        )
    ctx.read_audit.saw(row.patient_id for row in page.rows)
    return page


async def pregnancies_count(ctx: Context, f: PregnancyFilter) -> int:
    async with ctx.db.reader() as session:
        return int(await session.scalar(_filtered(select(func.count(Pregnancy.id)), f)) or 0)
