from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.errors import FieldError
from domain.report.export import ExportFormat
from domain.report.service import DefinitionDraft
from domain.report.sources import SOURCES
from graphql_schema.base import UserError
from graphql_schema.report.inputs import ExportReportInput, SaveReportDefinitionInput
from graphql_schema.report.payloads import ExportReportPayload, ReportDefinitionPayload
from graphql_schema.report.permissions import EDIT_REPORTS, RUN_REPORTS
from graphql_schema.report.types import (
    ReportDefinition,
    ReportDefinitionVersion,
    ReportResult,
    ReportSource,
)
from resolvers.report import mutations, queries


def _export_failed(errors: list[FieldError]) -> ExportReportPayload:
    return ExportReportPayload(
        filename=None,
        url=None,
        media_type=None,
        size=None,
        user_errors=[UserError.of(e) for e in errors],
    )


@strawberry.type
class ReportQuery:
    @strawberry.field(
        permission_classes=RUN_REPORTS,
        description="报表定义列表（管理员、审计员）；默认只列启用的报表",
    )
    async def report_definitions(
        self,
        info: Info,
        include_inactive: Annotated[
            bool, strawberry.argument(description="是否包括已停用的报表")
        ] = False,
    ) -> list[ReportDefinition]:
        found = await queries.definitions(info.context, include_inactive=include_inactive)
        return [ReportDefinition.from_row(row, found.system) for row in found.rows]

    @strawberry.field(
        permission_classes=RUN_REPORTS,
        description="按编码取一个报表定义（含已停用的）；不存在时为 null（管理员、审计员）",
    )
    async def report_definition(
        self, info: Info, code: Annotated[str, strawberry.argument(description="报表编码")]
    ) -> ReportDefinition | None:
        found = await queries.definition(info.context, code)
        return ReportDefinition.from_row(found.rows[0], found.system) if found.rows else None

    @strawberry.field(
        permission_classes=RUN_REPORTS,
        description="报表定义的全部历史版本，最新的在前（管理员、审计员）",
    )
    async def report_definition_versions(
        self, info: Info, code: Annotated[str, strawberry.argument(description="报表编码")]
    ) -> list[ReportDefinitionVersion]:
        rows = await queries.versions(info.context, code)
        return [ReportDefinitionVersion.from_row(row) for row in rows]

    @strawberry.field(
        permission_classes=RUN_REPORTS,
        description="报表数据来源：定义报表时可选的维度、指标、筛选条件、日期字段（管理员、审计员）",
    )
    def report_sources(self) -> list[ReportSource]:
        return [ReportSource.of(source) for source in SOURCES.values()]

    @strawberry.field(
        permission_classes=RUN_REPORTS,
        description="按参数运行报表，返回列、行、合计与图表；参数错误在 userErrors 中（管理员、审计员）",
    )
    async def run_report(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description="报表编码")],
        parameters: Annotated[
            JSON | None,
            strawberry.argument(
                description='参数对象，如 {"date_from": "2026-01-01", "group_by": "month"}；不填的取默认值'
            ),
        ] = None,
    ) -> ReportResult:
        result = await queries.run(info.context, code, parameters)
        if isinstance(result, list):
            return ReportResult.failed(code, result)
        return ReportResult.of(result)


@strawberry.type
class ReportMutation:
    @strawberry.mutation(
        permission_classes=EDIT_REPORTS,
        description="新建报表或保存报表的新版本（管理员）；定义按数据来源校验，每次保存都有审计记录",
    )
    async def save_report_definition(
        self, info: Info, input: SaveReportDefinitionInput
    ) -> ReportDefinitionPayload:
        draft = DefinitionDraft(
            code=input.code.strip(),
            name=input.name,
            description=input.description,
            document=input.definition,
            active=input.active,
            expected_version=input.expected_version,
        )
        result = await mutations.save(info.context, draft)
        if isinstance(result, list):
            return ReportDefinitionPayload(
                report_definition=None, user_errors=[UserError.of(e) for e in result]
            )
        found = await queries.definition(info.context, result.code)
        return ReportDefinitionPayload(
            report_definition=ReportDefinition.from_row(found.rows[0], found.system),
            user_errors=[],
        )

    @strawberry.mutation(
        permission_classes=RUN_REPORTS,
        description="导出报表为 CSV、XLSX 或 PDF，返回短时有效的下载链接（管理员、审计员）；导出有审计记录",
    )
    async def export_report(self, info: Info, input: ExportReportInput) -> ExportReportPayload:
        result = await mutations.export(
            info.context, input.code, input.parameters, ExportFormat(input.format.name)
        )
        if isinstance(result, list):
            return _export_failed(result)
        return ExportReportPayload(
            filename=result.exported.filename,
            url=result.url,
            media_type=result.exported.media_type,
            size=result.exported.size,
            user_errors=[],
        )
