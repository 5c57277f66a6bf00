from __future__ import annotations

from domain.patient.models import Patient
from domain.patient.service import count_patients, patient_query
from resolvers.context import Context
from resolvers.pagination import Page, fetch_page


async def patients_page(
    ctx: Context, search: str | None, first: int | None, after: str | None
) -> Page[Patient]:
    async with ctx.db.reader() as session:
        page: Page[Patient] = await fetch_page(
            session, patient_query(search), Patient.id, first=first, after=after
        )
    ctx.read_audit.saw(row.id for row in page.rows)
    return page


async def patients_count(ctx: Context, search: str | None) -> int:
    async with ctx.db.reader() as session:
        return await count_patients(session, search)
