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
        )
