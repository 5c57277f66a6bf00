from __future__ import annotations

import strawberry

from graphql_schema.risk.types import FactorColor


@strawberry.input(description="新增或修改高危因素字典条目的输入")
class SaveRiskFactorDefinitionInput:
    code: str = strawberry.field(description="编码，例如 Y-GDM（大写字母、数字、- 与 _）")
    name: str = strawberry.field(description="名称")
    color: FactorColor = strawberry.field(description="颜色：黄、橙、红，或紫（传染病）")
    active: bool = strawberry.field(description="是否启用")
    is_new: bool = strawberry.field(
        description="true：新增（编码已存在则报错）；false：修改已有条目（编码不存在则报错）"
    )
    category: str | None = strawberry.field(default=None, description="分类（可不填）")


@strawberry.input(description="设置检验项目编码对照的输入（本地编码已存在则修改其对照）")
class SaveLabCodeMappingInput:
    local_code: str = strawberry.field(description="检验系统的本地项目编码")
    item_code: str = strawberry.field(description="标准项目编码，见 labItemDefinitions")
