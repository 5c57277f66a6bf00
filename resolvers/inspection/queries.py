from __future__ import annotations

from domain.inspection.models import InspectionReport
from domain.inspection.service import count_reports, report_page
from resolvers.context import Context
from resolvers.pagination import Page


async def inspection_page(ctx: Context, size: int, after_id: int | None) -> Page[InspectionReport]:
    async with ctx.db.reader() as session:
        rows, has_next = await report_page(session, first=size, after_id=after_id)
    return Page(rows=rows, has_next=has_next, has_previous=after_id is not None)


async def inspection_count(ctx: Context) -> int:
    async with ctx.db.reader() as session:
        return await count_reports(session)
