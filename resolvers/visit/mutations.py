from __future__ import annotations

from typing import Any

from domain.errors import FieldError
from domain.visit import service
from domain.visit.models import PrenatalVisit
from resolvers.context import Context
from resolvers.errors import outcome


async def record(
    ctx: Context, pregnancy_id: int, values: service.VisitValues
) -> PrenatalVisit | list[FieldError]:
    return await outcome(service.record_visit(ctx.db, ctx.acting, pregnancy_id, values))


async def edit(
    ctx: Context, visit_id: int, changes: dict[str, Any]
) -> PrenatalVisit | list[FieldError]:
    return await outcome(service.edit_visit(ctx.db, ctx.acting, visit_id, changes))
