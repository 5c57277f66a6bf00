from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from graphql_schema.report.types import ReportFormat


@strawberry.input(
    description="保存报表定义的输入：新建报表（expectedVersion 为 null）或保存已有报表的新版本"
)
class SaveReportDefinitionInput:
    code: str = strawberry.field(
        description="报表编码：小写字母开头，只含小写字母、数字和下划线，如 high_risk_by_month"
    )
    name: str = strawberry.field(description="报表名称（中文）")
    description: str = strawberry.field(default="", description="报表说明（统计口径）")
    definition: JSON = strawberry.field(
        description="定义文档：source、parameters、dateRange、dimensions、measures、filters、"
        "arguments、chart、labels；只能选用 reportSources 中声明的内容"
    )
    active: bool = strawberry.field(default=True, description="是否启用")
    expected_version: int | None = strawberry.field(
        default=None,
        description="修改已有报表时为编辑前的版本号（防止覆盖他人的修改）；新建报表时为 null",
    )


@strawberry.input(description="导出报表的输入")
class ExportReportInput:
    code: str = strawberry.field(description="报表编码")
    parameters: JSON | None = strawberry.field(
        default=None, description="报表参数（同 runReport）；不填的参数取默认值"
    )
    format: ReportFormat = strawberry.field(description="导出格式：CSV、XLSX 或 PDF")
