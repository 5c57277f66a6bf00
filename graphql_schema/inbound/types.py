from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.inbound.models import InboundMessage as MessageRow
from domain.inbound.service import mask_identifiers
from graphql_schema.base import to_global_id
from integrations.lis.hl7 import decode_stored

if TYPE_CHECKING:
    from graphql_schema.patient.types import Patient


@strawberry.enum(description="接收消息的状态（inbound status）")
class InboundStatus(enum.Enum):
    RECEIVED = strawberry.enum_value("RECEIVED", description="已保存，尚未处理")
    PROCESSED = strawberry.enum_value("PROCESSED", description="已处理：结果已写入")
    ERROR = strawberry.enum_value(
        "ERROR", description="处理失败：保留原文与错误，原因修正后可重新处理"
    )


@strawberry.type(description="接收消息中的问题（field problem）：位置、说明与代码")
class InboundFieldError:
    field: str = strawberry.field(description="位置，例如 PID-7、OBX[2]-3")
    message: str = strawberry.field(description="问题说明（中文）")
    code: str = strawberry.field(description="稳定的问题代码，例如 INVALID_DATE、UNMAPPED_ITEM")


@strawberry.type(
    description="接收的消息（inbound message）：检验/超声系统发来的 HL7 v2 原文、处理状态与错误"
)
class InboundMessage:
    id: strawberry.ID = strawberry.field(description="全局ID（重新处理时使用）")
    db_id: strawberry.Private[int]
    patient_id: strawberry.Private[int | None]
    channel: str = strawberry.field(description="接收通道，例如 HL7_MLLP")
    message_id: str = strawberry.field(description="消息控制ID（MSH-10）；无则为系统生成的编号")
    message_type: str | None = strawberry.field(description="消息类型（MSH-9），例如 ORU^R01")
    charset: str | None = strawberry.field(description="解码所用字符集，例如 UTF-8、GB18030")
    received_at: dt.datetime = strawberry.field(description="接收时间")
    status: InboundStatus = strawberry.field(description="处理状态")
    error_code: str | None = strawberry.field(
        description="错误代码，例如 UNKNOWN_PATIENT、UNMAPPED_ITEM、PARSE_ERROR"
    )
    error_detail: str | None = strawberry.field(description="错误说明及处理办法（中文）")
    error_fields: list[InboundFieldError] = strawberry.field(
        description="逐项问题（含不影响处理的提示，例如出生日期格式错误）"
    )
    attempts: int = strawberry.field(description="已处理次数（含重新处理）")
    processed_at: dt.datetime | None = strawberry.field(description="处理成功的时间")
    raw_text: str = strawberry.field(
        description="消息原文（按其字符集解码，段之间换行）；无权查看身份证号的角色看到脱敏值"
    )

    @classmethod
    def from_row(cls, row: MessageRow, *, reveal: bool) -> InboundMessage:
        text = decode_stored(row.raw, row.charset).replace("\r\n", "\n").replace("\r", "\n")
        return cls(
            id=to_global_id("InboundMessage", row.id),
            db_id=row.id,
            patient_id=row.patient_id,
            channel=row.channel,
            message_id=row.message_id,
            message_type=row.message_type,
            charset=row.charset,
            received_at=row.received_at,
            status=InboundStatus(row.status),
            error_code=row.error_code,
            error_detail=row.error_detail
            if reveal or not row.error_detail
            else mask_identifiers(row.error_detail),
            error_fields=[
                InboundFieldError(
                    field=str(e.get("field", "")),
                    message=str(e.get("message", ""))
                    if reveal
                    else mask_identifiers(str(e.get("message", ""))),
                    code=str(e.get("code", "")),
                )
                for e in row.error_fields
            ],
            attempts=row.attempts,
            processed_at=row.processed_at,
            raw_text=text if reveal else mask_identifiers(text),
        )

    @strawberry.field(description="匹配到的孕妇；未匹配时为空")
    async def patient(
        self, info: Info
    ) -> Annotated[Patient, strawberry.lazy("graphql_schema.patient.types")] | None:
        from graphql_schema.patient.types import Patient

        if self.patient_id is None:
            return None
        ctx = info.context
        row = await ctx.loaders.patient_by_id.load(self.patient_id)
        return Patient.from_row(row, reveal=ctx.reveals_identifiers) if row else None
