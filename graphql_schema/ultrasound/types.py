from __future__ import annotations

import datetime as dt
import enum

import strawberry

from domain.ultrasound.models import UltrasoundExam as ExamRow
from graphql_schema.base import GestationalAge, Node, to_global_id


@strawberry.enum(description="NT 提取状态")
class NtExtractionStatus(enum.Enum):
    PENDING = strawberry.enum_value("PENDING", description="尚未提取")
    EXTRACTED = strawberry.enum_value("EXTRACTED", description="已提取数值")
    MULTIPLE = strawberry.enum_value("MULTIPLE", description="多胎：每个胎儿一个数值")
    NOT_FOUND = strawberry.enum_value("NOT_FOUND", description="报告中没有 NT")
    NOT_MEASURED = strawberry.enum_value("NOT_MEASURED", description="报告写明未测")
    AMBIGUOUS = strawberry.enum_value("AMBIGUOUS", description="报告含多个或不明确的值，未取值")


@strawberry.type(description="一个胎儿的颈项透明层（NT）测量值（单胎，或多胎中的一胎）")
class FetusNt:
    label: str | None = strawberry.field(
        description="报告中对该胎儿的标注（胎儿A、F1、左侧胎儿…）；报告未标注时为空"
    )
    nt_mm: float = strawberry.field(description="该胎儿的颈项透明层厚度 NT（mm）")

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FetusNt:
        label, value = data.get("label"), data.get("nt_mm")
        return cls(
            label=label if isinstance(label, str) else None,
            nt_mm=float(value) if isinstance(value, int | float) else 0.0,
        )


@strawberry.type(description="超声检查（B超）报告，含颈项透明层（NT）与头臀长（CRL）")
class UltrasoundExam(Node):
    db_id: strawberry.Private[int]
    exam_date: dt.date = strawberry.field(description="检查日期")
    report_text: str = strawberry.field(description="报告原文")
    nt_mm: float | None = strawberry.field(description="颈项透明层厚度 NT（mm）")
    crl_mm: float | None = strawberry.field(description="头臀长 CRL（mm）")
    gestational_age: GestationalAge | None = strawberry.field(description="检查时孕周")
    extraction_status: NtExtractionStatus = strawberry.field(description="NT 提取状态")
    source: str = strawberry.field(description="来源：RIS / LEGACY / MANUAL")
    matched_text: str | None = strawberry.field(
        description="报告中读出 NT 的原文片段（规范化后，便于核对）"
    )
    nt_at_or_above_cutoff: bool | None = strawberry.field(
        description="NT 是否达到或超过系统参数 nt_cutoff_mm（NT 增厚界值）；多胎时任一胎儿达到即为是；"
        "未读出数值时为空"
    )
    fetuses: list[FetusNt] = strawberry.field(
        description="每个胎儿的 NT（单胎读出数值时一项，多胎时每胎一项，未读出时为空列表）"
    )

    @classmethod
    def from_row(cls, row: ExamRow) -> UltrasoundExam:
        return cls(
            id=to_global_id("UltrasoundExam", row.id),
            db_id=row.id,
            exam_date=row.exam_date,
            report_text=row.report_text,
            nt_mm=row.nt_mm,
            crl_mm=row.crl_mm,
            gestational_age=(
                GestationalAge.of(row.gestational_days)
                if row.gestational_days is not None
                else None
            ),
            extraction_status=NtExtractionStatus(row.extraction_status),
            source=row.source,
            matched_text=row.matched_text,
            nt_at_or_above_cutoff=row.nt_at_or_above_cutoff,
            fetuses=[FetusNt.from_json(f) for f in row.fetuses or []],
        )
