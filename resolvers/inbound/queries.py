from __future__ import annotations

from domain.inbound.models import InboundMessage
from domain.inbound.service import count_inbound, inbound_query
from resolvers.context import Context
from resolvers.pagination import Page, fetch_page


async def inbound_page(
    ctx: Context, status: str | None, channel: str | None, first: int | None, after: str | None
) -> Page[InboundMessage]:
    async with ctx.db.reader() as session:
        page: Page[InboundMessage] = await fetch_page(
            session, inbound_query(status, channel), InboundMessage.id, first=first, after=after
        )
    # The raw text names the patient: reading it is reading her data.
    ctx.read_audit.saw(row.patient_id for row in page.rows if row.patient_id is not None)
    return page


async def inbound_count(ctx: Context, status: str | None, channel: str | None) -> int:
    async with ctx.db.reader() as session:
        return await count_inbound(session, status, channel)
