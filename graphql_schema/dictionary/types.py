from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from domain.dictionary import service
from domain.dictionary.models import DictionaryEntry
from domain.history.models import Revision
from graphql_schema.risk.types import FactorColor


@strawberry.type(
    description="数据字典中的高危因素（risk factor definition）：编码、名称、颜色、是否启用"
)
class RiskFactorDefinition:
    code: str = strawberry.field(description="编码，例如 Y-GDM")
    name: str = strawberry.field(description="名称")
    color: FactorColor = strawberry.field(description="颜色：黄、橙、红，或紫（传染病）")
    active: bool = strawberry.field(description="是否启用；停用后不能再记录该因素，已记录的保留")
    category: str | None = strawberry.field(description="分类（医院自定）")
    source: str | None = strawberry.field(description="来源，例如 2017 年国家规范、医院维护")
    version: int = strawberry.field(description="版本号，每次修改加一")
    updated_at: dt.datetime = strawberry.field(description="最后修改时间")
    updated_by: str | None = strawberry.field(description="最后修改人")

    @classmethod
    def from_row(cls, row: DictionaryEntry) -> RiskFactorDefinition:
        return cls(
            code=row.code,
            name=row.name,
            color=FactorColor(service.color_of(row)),
            active=row.active,
            category=service.category_of(row),
            source=row.source,
            version=row.version,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


@strawberry.type(description="标准检验项目（lab item），本地检验编码映射到它")
class LabItemDefinition:
    code: str = strawberry.field(description="标准项目编码，例如 HBSAG")
    name: str = strawberry.field(description="项目名称")
    unit: str | None = strawberry.field(description="常用单位")
    loinc: list[str] = strawberry.field(description="对应的 LOINC 编码")

    @classmethod
    def from_row(cls, row: DictionaryEntry) -> LabItemDefinition:
        unit = row.attributes.get("unit")
        loinc = row.attributes.get("loinc")
        return cls(
            code=row.code,
            name=row.name,
            unit=unit if isinstance(unit, str) else None,
            loinc=[str(x) for x in loinc] if isinstance(loinc, list) else [],
        )


@strawberry.type(
    description="检验项目编码对照（LIS code mapping）：检验系统的本地项目编码 → 标准检验项目"
)
class LabCodeMapping:
    local_code: str = strawberry.field(description="检验系统的本地项目编码（不区分大小写）")
    item_code: str = strawberry.field(description="标准项目编码")
    item_name: str = strawberry.field(description="标准项目名称")
    unit: str | None = strawberry.field(description="标准项目的常用单位")
    active: bool = strawberry.field(description="是否启用")
    version: int = strawberry.field(description="版本号，每次修改加一")
    updated_at: dt.datetime = strawberry.field(description="最后修改时间")
    updated_by: str | None = strawberry.field(description="最后修改人")

    @classmethod
    def of(cls, mapping: service.LabCodeMapping) -> LabCodeMapping:
        row, item = mapping.entry, mapping.item
        unit = item.attributes.get("unit") if item is not None else None
        return cls(
            local_code=row.code,
            item_code=str(row.attributes.get("item", "")),
            item_name=item.name if item is not None else row.name,
            unit=unit if isinstance(unit, str) else None,
            active=row.active,
            version=row.version,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


@strawberry.type(description="数据字典条目的一个版本（revision）：修改前后的值、修改人与时间")
class DictionaryRevision:
    version: int = strawberry.field(description="修改后的版本号（1 为新增）")
    changed_at: dt.datetime = strawberry.field(description="修改时间")
    changed_by: str | None = strawberry.field(description="修改人")
    before: JSON = strawberry.field(description="被修改字段修改前的值（新增时各字段为 null）")
    after: JSON = strawberry.field(description="被修改字段修改后的值")

    @classmethod
    def from_row(cls, row: Revision) -> DictionaryRevision:
        return cls(
            version=row.version,
            changed_at=row.changed_at,
            changed_by=row.changed_by,
            before=JSON(row.before),
            after=JSON(row.after),
        )
