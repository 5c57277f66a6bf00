from __future__ import annotations

from collections.abc import Sequence

from domain.errors import FieldError
from domain.push import reconcile, service
from domain.push.models import PushChannel, PushMapping, PushRecord
from domain.push.platform import PushNotConfigured, build_client, new_http
from domain.push.service import PushFilter
from resolvers.context import Context
from resolvers.errors import outcome


async def retry(ctx: Context, ids: Sequence[int]) -> list[PushRecord] | list[FieldError]:
    return await outcome(service.retry(ctx.db, ctx.acting, ids))


async def discard(ctx: Context, record_id: int, reason: str) -> PushRecord | list[FieldError]:
    return await outcome(service.discard(ctx.db, ctx.acting, record_id, reason))


async def replay(
    ctx: Context, f: PushFilter, expected_count: int | None
) -> list[PushRecord] | list[FieldError]:
    return await outcome(service.replay(ctx.db, ctx.acting, f, expected_count))


async def approve(ctx: Context, ids: Sequence[int]) -> list[PushRecord] | list[FieldError]:
    return await outcome(service.approve(ctx.db, ctx.acting, ids))


async def resume(ctx: Context) -> PushChannel:
    return await service.resume_channel(ctx.db, ctx.acting)


async def save_mapping(
    ctx: Context, document: object, note: str | None
) -> PushMapping | list[FieldError]:
    return await outcome(service.save_mapping(ctx.db, ctx.acting, document, note))


async def reconcile_now(ctx: Context) -> reconcile.ReconcileSummary | list[FieldError]:
    async with new_http() as http:
        try:
            client = build_client(ctx.settings, http)
        except PushNotConfigured as exc:
            return [FieldError("channel", str(exc), "NOT_CONFIGURED")]
        return await reconcile.reconcile(ctx.db, client)
