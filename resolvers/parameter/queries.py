from __future__ import annotations

from domain.parameter import service
from resolvers.context import Context


async def parameters(ctx: Context) -> list[service.ParameterValue]:
    return await service.list_parameters(ctx.db)
