from __future__ import annotations

from dataclasses import dataclass

from domain.archive import service
from domain.pregnancy.models import Pregnancy
from resolvers.context import Context
from resolvers.pagination import Page, page_from


@dataclass(frozen=True)
class Found:
    page: Page[Pregnancy]
    count: service.BoundedCount | None


async def search(
    ctx: Context,
    query: service.ArchiveQuery,
    size: int,
    after: int | None,
    *,
    count_limit: int | None,
) -> Found:
    """One page and, when asked for (`count_limit`), the bounded count: one transaction."""
    async with ctx.db.reader() as session:
        await service.tune_for_search(session)
        rows = (await session.scalars(service.page_statement(query, size, after=after))).all()
        count = None
        if count_limit is not None and after is None and len(rows) <= size:
            # The first page holds every match: that is the count.
            count = service.BoundedCount(min(len(rows), count_limit + 1), count_limit)
        elif count_limit is not None:
            count = await service.bounded_count(session, query, count_limit, tuned=True)
    ctx.read_audit.saw(row.patient_id for row in rows)
    return Found(page_from(rows, size, after=after), count)


async def search_count(
    ctx: Context, query: service.ArchiveQuery, limit: int
) -> service.BoundedCount:
    async with ctx.db.reader() as session:
        return await service.bounded_count(session, query, limit)
