from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.dictionary import service
from domain.errors import ValidationFailed
from graphql_schema.base import UserError
from graphql_schema.dictionary.inputs import SaveLabCodeMappingInput, SaveRiskFactorDefinitionInput
from graphql_schema.dictionary.payloads import LabCodeMappingPayload, RiskFactorDefinitionPayload
from graphql_schema.dictionary.permissions import EDIT_DICTIONARY, READ_DICTIONARY, READ_HISTORY
from graphql_schema.dictionary.types import (
    DictionaryRevision,
    LabCodeMapping,
    LabItemDefinition,
    RiskFactorDefinition,
)
from graphql_schema.errors import bad_input
from resolvers.dictionary import mutations, queries


@strawberry.type
class DictionaryQuery:
    @strawberry.field(
        permission_classes=READ_DICTIONARY,
        description="数据字典中的高危因素表（按颜色、编码排序）；修改即时生效，无需重启",
    )
    async def risk_factor_definitions(
        self,
        info: Info,
        include_inactive: Annotated[
            bool, strawberry.argument(description="是否包括已停用的条目")
        ] = True,
    ) -> list[RiskFactorDefinition]:
        rows = await queries.risk_factors(info.context, include_inactive)
        return [RiskFactorDefinition.from_row(r) for r in rows]

    @strawberry.field(
        permission_classes=READ_DICTIONARY, description="标准检验项目（检验编码对照的目标）"
    )
    async def lab_item_definitions(self, info: Info) -> list[LabItemDefinition]:
        return [LabItemDefinition.from_row(r) for r in await queries.lab_items(info.context)]

    @strawberry.field(
        permission_classes=READ_DICTIONARY,
        description="检验项目编码对照（检验系统本地编码 → 标准项目），按本地编码排序",
    )
    async def lab_code_mappings(self, info: Info) -> list[LabCodeMapping]:
        return [LabCodeMapping.of(m) for m in await queries.lab_code_mappings(info.context)]

    @strawberry.field(
        permission_classes=READ_HISTORY,
        description="数据字典条目的修改记录，最新的在前（管理员、审计员）",
    )
    async def dictionary_revisions(
        self,
        info: Info,
        kind: Annotated[
            str,
            strawberry.argument(
                description="字典类别：risk_factor（高危因素）或 lis_code（检验项目编码对照）"
            ),
        ],
        key: Annotated[str, strawberry.argument(description="条目编码，例如 Y-GDM、HBsAg")],
    ) -> list[DictionaryRevision]:
        try:
            rows = await queries.revisions(info.context, kind.strip(), key)
        except ValidationFailed as exc:
            raise bad_input(exc.errors[0].message) from exc
        return [DictionaryRevision.from_row(r) for r in rows]


@strawberry.type
class DictionaryMutation:
    @strawberry.mutation(
        permission_classes=EDIT_DICTIONARY,
        description="新增或修改高危因素字典条目；每次修改生成新版本并记入审计日志，即时生效（管理员）",
    )
    async def save_risk_factor_definition(
        self, info: Info, input: SaveRiskFactorDefinitionInput
    ) -> RiskFactorDefinitionPayload:
        data = service.RiskFactorDefinition(
            code=input.code,
            name=input.name,
            color=str(input.color.value),
            active=input.active,
            is_new=input.is_new,
            category=input.category,
        )
        result = await mutations.save_risk_factor(info.context, data)
        if isinstance(result, list):
            return RiskFactorDefinitionPayload(
                risk_factor_definition=None, user_errors=[UserError.of(e) for e in result]
            )
        return RiskFactorDefinitionPayload(
            risk_factor_definition=RiskFactorDefinition.from_row(result), user_errors=[]
        )

    @strawberry.mutation(
        permission_classes=EDIT_DICTIONARY,
        description="设置检验项目编码对照（新的本地编码则新增）；每次修改生成新版本并记入审计日志，"
        "此后收到的检验结果即按新对照处理（管理员）",
    )
    async def save_lab_code_mapping(
        self, info: Info, input: SaveLabCodeMappingInput
    ) -> LabCodeMappingPayload:
        result = await mutations.save_lab_code_mapping(
            info.context, input.local_code, input.item_code
        )
        if isinstance(result, list):
            return LabCodeMappingPayload(
                lab_code_mapping=None, user_errors=[UserError.of(e) for e in result]
            )
        return LabCodeMappingPayload(lab_code_mapping=LabCodeMapping.of(result), user_errors=[])
