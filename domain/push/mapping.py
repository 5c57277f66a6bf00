"""The versioned mapping from MaternityHub's content to the platform's fields and codes.

The mapping is configuration held in `push_mapping` (version 1 ships in
`data/mapping_v1.json`); the newest version is the one in force. A new version takes
effect for the next change of each record — and for all of them with `replay`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.lab.screening import SCREENING_CODES
from domain.push.content import Built
from domain.push.models import PushMapping
from integrations.guifuer.port import RecordType

SHIPPED = Path(__file__).parent / "data" / "mapping_v1.json"
# Nested object lists and the field map their elements use.
_ELEMENT_MAPS = {"factors": "factor", "items": "screeningItem"}
# Our codes each code list translates; every one must be mapped, and nothing else.
KNOWN_CODES: dict[str, frozenset[str]] = {
    "riskColor": frozenset({"GREEN", "YELLOW", "ORANGE", "RED"}),
    "factorColor": frozenset({"YELLOW", "ORANGE", "RED", "PURPLE"}),
    "screeningItem": frozenset(SCREENING_CODES),
    "screeningResult": frozenset({"NEGATIVE", "POSITIVE", "WEAK_POSITIVE", "INDETERMINATE"}),
}
CODE_LISTS = tuple(KNOWN_CODES)
CANONICAL_KEYS: dict[str, frozenset[str]] = {
    RecordType.MATERNAL_REGISTRATION.value: frozenset(
        {"booking_date", "lmp", "edd", "gravidity", "parity", "phone", "address", "handbook_no"}
    ),
    RecordType.PRENATAL_VISIT.value: frozenset(
        {
            "visit_date",
            "gestational_age",
            "weight_kg",
            "systolic_bp",
            "diastolic_bp",
            "fundal_height_cm",
            "abdominal_circumference_cm",
            "fetal_heart_rate",
            "fetal_position",
            "risk_color",
            "infectious_flag",
            "diagnosis",
            "treatment",
            "next_visit_date",
            "doctor_name",
        }
    ),
    RecordType.HIGH_RISK_ASSESSMENT.value: frozenset(
        {"assessed_at", "risk_color", "infectious_flag", "factors", "diagnosis"}
    ),
    RecordType.INFECTIOUS_SCREENING.value: frozenset({"items"}),
    RecordType.ULTRASOUND_NT.value: frozenset(
        {"exam_date", "gestational_age", "nt_mm", "crl_mm", "conclusion"}
    ),
    "factor": frozenset({"code", "name", "color", "diagnosis", "icd10_code"}),
    "screeningItem": frozenset({"item", "result", "value", "unit", "test_date"}),
}


@dataclass(frozen=True)
class Mapping:
    version: int
    fields: dict[str, dict[str, str]]  # record type (or element) → platform field → our key
    codes: dict[str, dict[str, str]]  # code list → our code → platform code


def shipped_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return document


async def current_mapping(session: AsyncSession) -> Mapping:
    row = await session.scalar(select(PushMapping).order_by(PushMapping.version.desc()).limit(1))
    if row is None:
        document = shipped_document()
        return Mapping(int(document["version"]), document["fields"], document["codes"])
    document = dict(row.document)
    return Mapping(row.version, document["fields"], document["codes"])


async def next_version(session: AsyncSession) -> int:
    highest = await session.scalar(select(func.coalesce(func.max(PushMapping.version), 0)))
    return int(highest or 0) + 1


def check_document(document: object) -> list[tuple[str, str]]:
    """A mapping document's problems as (path, 中文 reason); empty when it can be used."""
    if not isinstance(document, dict):
        return [("document", "映射应为 JSON 对象")]
    problems: list[tuple[str, str]] = []
    fields = document.get("fields")
    codes = document.get("codes")
    if not isinstance(fields, dict):
        problems.append(("fields", "缺少 fields（平台字段 → 本系统字段）"))
        fields = {}
    if not isinstance(codes, dict):
        problems.append(("codes", "缺少 codes（本系统代码 → 平台代码）"))
        codes = {}
    for section, allowed in CANONICAL_KEYS.items():
        table = fields.get(section)
        if not isinstance(table, dict) or not table:
            problems.append((f"fields.{section}", "缺少该记录类型的字段映射"))
            continue
        for platform_field, ours in table.items():
            if not isinstance(platform_field, str) or not platform_field:
                problems.append((f"fields.{section}", "平台字段名不能为空"))
            if ours not in allowed:
                problems.append(
                    (
                        f"fields.{section}.{platform_field}",
                        f"未知的本系统字段 {ours!r}，可用：{'、'.join(sorted(allowed))}",
                    )
                )
    for name in CODE_LISTS:
        table = codes.get(name)
        if not isinstance(table, dict) or not table:
            problems.append((f"codes.{name}", "缺少该代码表"))
            continue
        known = KNOWN_CODES[name]
        for ours, theirs in table.items():
            if ours not in known:
                problems.append(
                    (
                        f"codes.{name}.{ours}",
                        f"本系统没有代码 {ours}，可用：{'、'.join(sorted(known))}",
                    )
                )
            elif not isinstance(theirs, str) or not theirs.strip():
                problems.append((f"codes.{name}.{ours}", "平台代码不能为空"))
        for missing in sorted(known - set(table)):
            problems.append((f"codes.{name}.{missing}", f"缺少代码 {missing} 的平台代码"))
    return problems


def apply(built: Built, mapping: Mapping) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The platform `data` of a record, and the codes the mapping could not translate."""
    problems: list[dict[str, str]] = []
    coded = built.coded

    def translate(path: str, key: str, value: Any) -> Any:
        code_list = coded.get(key)
        if code_list is None or value is None:
            return value
        table = mapping.codes.get(code_list, {})
        if value not in table:
            problems.append(
                {"field": path, "reason": f"映射配置的代码表 {code_list} 缺少代码 {value}"}
            )
            return value
        return table[value]

    def render(
        section: str, content: dict[str, Any], prefix: str, key_prefix: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for platform_field, ours in mapping.fields.get(section, {}).items():
            value = content.get(ours)
            if value is None:
                continue
            path = f"{prefix}{platform_field}"
            element_map = _ELEMENT_MAPS.get(ours)
            if element_map is not None and isinstance(value, list):
                out[platform_field] = [
                    render(element_map, element, f"{path}[{n}].", f"{ours}[].")
                    for n, element in enumerate(value)
                ]
            else:
                out[platform_field] = translate(path, f"{key_prefix}{ours}", value)
        return out

    return render(built.record_type.value, built.content, "data.", ""), problems
