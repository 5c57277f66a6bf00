"""The mapping of the old obstetric system's schema: which table and column holds what.

The old system names its tables and columns by pinyin initials (`YF_BRXX` 病人信息,
`BRXM` 病人姓名, `SFZH` 身份证号 …). `mapping.json` beside this file is the hospital's
mapping; another hospital edits that file, not the code. Queries are built from the
mapping as SQLAlchemy Core `table()` / `column()` objects, never as formatted SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnClause, TableClause, column, table

DEFAULT_MAPPING = Path(__file__).resolve().parent / "mapping.json"

# Every entity and the fields the adapter reads; the mapping must name a column for each.
FIELDS: dict[str, tuple[str, ...]] = {
    "patients": ("id", "name", "resident_id", "phone", "birth_date"),
    "pregnancies": (
        "id",
        "patient_id",
        "lmp",
        "edd",
        "booking_date",
        "gravidity",
        "parity",
        "delivered_on",
    ),
    "lab_results": (
        "id",
        "patient_id",
        "item_code",
        "item_name",
        "value",
        "unit",
        "reference_range",
        "specimen_at",
        "reported_at",
    ),
}
ENTITY_NAMES = {"patients": "病人信息", "pregnancies": "产前档案", "lab_results": "检验结果"}


class LegacyMappingError(Exception):
    """The mapping does not fit the old database (or is itself incomplete)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class TableMapping:
    entity: str
    name: str
    columns: dict[str, str]

    @cached_property
    def table(self) -> TableClause:
        return table(self.name, *(column(name) for name in self.columns.values()))

    def c(self, field: str) -> ColumnClause[Any]:
        """The column holding `field`, bound to this table."""
        found: ColumnClause[Any] = self.table.c[self.columns[field]]
        return found


@dataclass(frozen=True)
class LegacyMapping:
    patients: TableMapping
    pregnancies: TableMapping
    lab_results: TableMapping
    # Times are stored naive, in the hospital's local time.
    timezone_offset_hours: int = 8

    @property
    def tables(self) -> tuple[TableMapping, ...]:
        return (self.patients, self.pregnancies, self.lab_results)

    @classmethod
    def load(cls, path: Path | None = None) -> LegacyMapping:
        path = path or DEFAULT_MAPPING
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LegacyMappingError(f"旧系统映射文件 {path} 无法读取：{exc}") from exc
        return cls.from_json(raw)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LegacyMapping:
        tables = raw.get("tables") if isinstance(raw, dict) else None
        if not isinstance(tables, dict):
            raise LegacyMappingError("旧系统映射缺少 tables 部分")
        found: dict[str, TableMapping] = {}
        for entity, fields in FIELDS.items():
            label = ENTITY_NAMES[entity]
            spec = tables.get(entity)
            if not isinstance(spec, dict) or not isinstance(spec.get("table"), str):
                raise LegacyMappingError(f"旧系统映射缺少{label}（{entity}）的表名")
            columns = spec.get("columns")
            if not isinstance(columns, dict):
                columns = {}
            missing = [f for f in fields if not isinstance(columns.get(f), str)]
            if missing:
                raise LegacyMappingError(
                    f"旧系统映射中{label}表 {spec['table']} 缺少字段 {'、'.join(missing)} 的列名"
                )
            found[entity] = TableMapping(entity, spec["table"], {f: columns[f] for f in fields})
        return cls(
            patients=found["patients"],
            pregnancies=found["pregnancies"],
            lab_results=found["lab_results"],
            timezone_offset_hours=int(raw.get("timezone_offset_hours", 8)),
        )

    def check(self, existing: dict[str, set[str]]) -> None:
        """Raise a clear error for the first mapped table or column the database lacks.

        `existing` is table name → column names as the database reports them; names are
        compared without regard to case (the old system's DBMS may fold them).
        """
        folded = {name.upper(): {c.upper() for c in cols} for name, cols in existing.items()}
        for mapped in self.tables:
            label = ENTITY_NAMES[mapped.entity]
            columns = folded.get(mapped.name.upper())
            if columns is None:
                raise LegacyMappingError(
                    f"旧系统数据库中没有表 {mapped.name}（映射的{label}表），请检查映射文件"
                )
            for field, name in mapped.columns.items():
                if name.upper() not in columns:
                    raise LegacyMappingError(
                        f"旧系统数据库的表 {mapped.name}（{label}）中没有列 {name}"
                        f"（映射字段 {field}），请检查映射文件"
                    )
