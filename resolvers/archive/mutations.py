from __future__ import annotations

from domain.archive import service
from domain.errors import FieldError
from domain.pregnancy.models import Pregnancy
from resolvers.context import Context
from resolvers.errors import outcome


async def reopen(ctx: Context, pregnancy_id: int, reason: str) -> Pregnancy | list[FieldError]:
    return await outcome(service.reopen_archive(ctx.db, ctx.acting, pregnancy_id, reason))
