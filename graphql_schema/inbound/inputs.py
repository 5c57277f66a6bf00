from __future__ import annotations

import strawberry

from graphql_schema.inbound.types import InboundStatus


@strawberry.input(
    description="重新处理接收消息的输入：按ID，或按状态（两者都不填时处理全部 ERROR 消息）"
)
class ReprocessInboundMessagesInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="要重新处理的消息的全局ID（不论状态）；最多200个"
    )
    status: InboundStatus | None = strawberry.field(
        default=None, description="按状态选择；与 ids 同时给出时只处理其中该状态的消息"
    )
