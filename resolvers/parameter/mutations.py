from __future__ import annotations

from domain.errors import FieldError
from domain.parameter import service
from resolvers.context import Context
from resolvers.errors import outcome


async def set_parameter(
    ctx: Context, key: str, value: object
) -> service.ParameterValue | list[FieldError]:
    return await outcome(service.set_parameter(ctx.db, ctx.acting, key, value))
