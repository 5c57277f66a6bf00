from __future__ import annotations

import datetime as dt

from domain.errors import FieldError
from domain.pregnancy import service
from domain.pregnancy.models import Pregnancy
from resolvers.context import Context
from resolvers.errors import outcome


async def book(ctx: Context, data: service.BookingInput) -> Pregnancy | list[FieldError]:
    return await outcome(service.book_pregnancy(ctx.db, ctx.acting, data))


async def record_delivery(
    ctx: Context, pregnancy_id: int, delivered_on: dt.date
) -> Pregnancy | list[FieldError]:
    return await outcome(service.record_delivery(ctx.db, ctx.acting, pregnancy_id, delivered_on))


async def archive(ctx: Context, pregnancy_id: int) -> Pregnancy | list[FieldError]:
    return await outcome(service.archive_pregnancy(ctx.db, ctx.acting, pregnancy_id))
