from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.report.types import ReportDefinition


@strawberry.type(description="保存报表定义的结果")
class ReportDefinitionPayload:
    report_definition: ReportDefinition | None = strawberry.field(
        description="保存后的报表定义（新的版本号）；有错误时为空"
    )
    user_errors: list[UserError] = strawberry.field(
        description="输入错误（未知的数据来源、维度、指标、筛选条件等）；有错误时什么也没有保存"
    )


@strawberry.type(description="导出报表的结果：文件名与短时有效的下载链接")
class ExportReportPayload:
    filename: str | None = strawberry.field(description="文件名；有错误时为空")
    url: str | None = strawberry.field(
        description="下载链接（签名、几分钟内有效，浏览器可直接打开）；有错误时为空"
    )
    media_type: str | None = strawberry.field(description="文件类型（MIME）；有错误时为空")
    size: int | None = strawberry.field(description="文件大小（字节）；有错误时为空")
    user_errors: list[UserError] = strawberry.field(
        description="输入错误（报表不存在、参数错误等）；有错误时没有生成文件"
    )
