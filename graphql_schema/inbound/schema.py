from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from graphql_schema.base import Connection, UserError, checked_page, connection_of, expect_id
from graphql_schema.inbound.inputs import ReprocessInboundMessagesInput
from graphql_schema.inbound.payloads import ReprocessInboundMessagesPayload
from graphql_schema.inbound.permissions import HANDLE_INBOUND
from graphql_schema.inbound.types import InboundMessage, InboundStatus
from resolvers.inbound import mutations, queries


def _failed(errors: list[FieldError]) -> ReprocessInboundMessagesPayload:
    return ReprocessInboundMessagesPayload(
        processed=0,
        failed=0,
        remaining=0,
        messages=[],
        user_errors=[UserError.of(e) for e in errors],
    )


@strawberry.type
class InboundQuery:
    @strawberry.field(
        permission_classes=HANDLE_INBOUND,
        description="接收的消息（inbound messages），最新的在前；用于监控接口与处理失败的消息（医生、管理员）",
    )
    async def inbound_messages(
        self,
        info: Info,
        status: Annotated[
            InboundStatus | None, strawberry.argument(description="只看该状态的消息")
        ] = None,
        channel: Annotated[
            str | None, strawberry.argument(description="只看该通道的消息，例如 HL7_MLLP")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[InboundMessage]:
        ctx = info.context
        wanted = str(status.value) if status is not None else None
        checked_page(first, after)
        page = await queries.inbound_page(ctx, wanted, channel, first, after)
        reveal = ctx.reveals_identifiers
        return connection_of(
            page,
            [InboundMessage.from_row(row, reveal=reveal) for row in page.rows],
            lambda: queries.inbound_count(ctx, wanted, channel),
        )


@strawberry.type
class InboundMutation:
    @strawberry.mutation(
        permission_classes=HANDLE_INBOUND,
        description="重新处理接收的消息（例如登记孕妇或补充数据字典之后）；按ID或按状态，默认处理全部 ERROR 消息（医生、管理员）",
    )
    async def reprocess_inbound_messages(
        self, info: Info, input: ReprocessInboundMessagesInput
    ) -> ReprocessInboundMessagesPayload:
        ids: list[int] | None = None
        if input.ids is not None:
            found = [expect_id(g, "InboundMessage", f"ids[{i}]") for i, g in enumerate(input.ids)]
            errors = [f for f in found if isinstance(f, FieldError)]
            if errors:
                return _failed(errors)
            ids = [f for f in found if isinstance(f, int)]
        status = str(input.status.value) if input.status is not None else None
        ctx = info.context
        result = await mutations.reprocess_messages(ctx, ids, status)
        if isinstance(result, list):
            return _failed(result)
        reveal = ctx.reveals_identifiers
        return ReprocessInboundMessagesPayload(
            processed=result.summary.processed,
            failed=result.summary.failed,
            remaining=result.summary.remaining,
            messages=[InboundMessage.from_row(row, reveal=reveal) for row in result.rows],
            user_errors=[],
        )
