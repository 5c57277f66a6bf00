from __future__ import annotations

import datetime as dt
import enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.document.service import download_url
from domain.inspection.models import SEVERITY_LABELS
from domain.inspection.models import InspectionReport as ReportRow
from domain.inspection.models import Severity as SeverityValue
from graphql_schema.base import to_global_id


@strawberry.enum(description="巡检发现的严重程度（severity）")
class Severity(enum.Enum):
    INFO = strawberry.enum_value("INFO", description="信息")
    NOTICE = strawberry.enum_value("NOTICE", description="提示")
    WARNING = strawberry.enum_value("WARNING", description="警告")
    CRITICAL = strawberry.enum_value("CRITICAL", description="严重")


@strawberry.type(description="巡检发现（finding）：问题、严重程度与建议措施")
class InspectionFinding:
    code: str = strawberry.field(description="稳定的代码，用于与上次巡检对比，例如 BACKUP_STALE")
    severity: Severity = strawberry.field(description="严重程度")
    severity_label: str = strawberry.field(description="严重程度（中文：信息/提示/警告/严重）")
    title: str = strawberry.field(description="问题")
    detail: str = strawberry.field(description="说明（含测得的数值）")
    action: str = strawberry.field(description="建议措施")


@strawberry.type(
    description="巡检报告（inspection report）：测得的各项数值（JSON）、发现、与上次对比及 PDF"
)
class InspectionReport:
    id: strawberry.ID = strawberry.field(description="巡检报告ID")
    db_id: strawberry.Private[int]
    document_id: strawberry.Private[int | None]
    trigger: str = strawberry.field(description="发起方式：SCHEDULED（定期）、MANUAL（手动）、CLI")
    created_by: str = strawberry.field(description="发起人（定期巡检为 system）")
    started_at: dt.datetime = strawberry.field(description="开始时间")
    finished_at: dt.datetime = strawberry.field(description="完成时间")
    highest_severity: Severity = strawberry.field(description="最高严重程度")
    figures: JSON = strawberry.field(
        description="测得的全部数值（JSON）：版本、数据库、任务、外部系统、推送、错误、磁盘、内存、备份；无法测量的项为 {available: false, reason}"
    )
    findings: list[InspectionFinding] = strawberry.field(description="发现，严重的在前")
    comparison: JSON = strawberry.field(description="与上次巡检的对比（JSON）")
    previous_report_id: strawberry.ID | None = strawberry.field(description="上次巡检报告的ID")

    @classmethod
    def from_row(cls, row: ReportRow) -> InspectionReport:
        return cls(
            id=to_global_id("InspectionReport", row.id),
            db_id=row.id,
            document_id=row.document_id,
            trigger=row.trigger,
            created_by=row.created_by,
            started_at=row.started_at,
            finished_at=row.finished_at,
            highest_severity=Severity(row.highest_severity),
            figures=JSON(row.figures),
            findings=[
                InspectionFinding(
                    code=str(f["code"]),
                    severity=Severity(str(f["severity"])),
                    severity_label=SEVERITY_LABELS[SeverityValue(str(f["severity"]))],
                    title=str(f["title"]),
                    detail=str(f["detail"]),
                    action=str(f["action"]),
                )
                for f in row.findings
            ],
            comparison=JSON(row.comparison),
            previous_report_id=to_global_id("InspectionReport", row.previous_report_id)
            if row.previous_report_id
            else None,
        )

    @strawberry.field(description="报告 PDF 的下载链接（短时有效的签名链接，约5分钟）")
    def download_url(self, info: Info) -> str | None:
        if self.document_id is None:
            return None
        return download_url(info.context.settings, self.document_id)
