from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.inbound.types import InboundMessage


@strawberry.type(description="重新处理接收消息的结果")
class ReprocessInboundMessagesPayload:
    processed: int = strawberry.field(description="处理成功（PROCESSED）的条数")
    failed: int = strawberry.field(description="仍然失败（ERROR）的条数")
    remaining: int = strawberry.field(description="符合条件但本次未处理的条数（超过单次上限时）")
    messages: list[InboundMessage] = strawberry.field(description="本次处理的消息及其新状态")
    user_errors: list[UserError] = strawberry.field(description="输入错误；有错误时什么也没有处理")
