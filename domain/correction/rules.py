"""Which stored values may be corrected (a whitelist), their types, and how values are written.

A correction names a record by its GraphQL type and a field by its GraphQL name. Values
travel as text: `parse` turns what was typed into the field's type, `render` turns a
stored value into the text that requests keep and compare (so 62.50 and 62.5 are equal).
The domain's own rules (visit ranges, ID formats…) are applied when the change is made.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import unicodedata
from dataclasses import dataclass

from domain.errors import FieldError

REASON_MAX = 500


class ValueKind(enum.StrEnum):
    STRING = "STRING"
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    INTEGER = "INTEGER"
    DATE = "DATE"


@dataclass(frozen=True)
class CorrectableField:
    target_type: str
    field: str
    label: str
    kind: ValueKind
    attribute: str
    required: bool = False
    unit: str | None = None


PATIENT = "Patient"
PREGNANCY = "Pregnancy"
VISIT = "PrenatalVisit"
RISK_FACTOR = "RiskFactor"
LAB_RESULT = "LabResult"

TARGET_LABELS = {
    PATIENT: "孕妇",
    PREGNANCY: "孕产档案",
    VISIT: "产前检查",
    RISK_FACTOR: "高危因素",
    LAB_RESULT: "检验结果",
}

FIELDS: tuple[CorrectableField, ...] = (
    CorrectableField(PATIENT, "name", "姓名", ValueKind.STRING, "name", required=True),
    CorrectableField(PATIENT, "phone", "联系电话", ValueKind.STRING, "phone"),
    CorrectableField(PATIENT, "address", "地址", ValueKind.STRING, "address"),
    CorrectableField(PATIENT, "ethnicity", "民族", ValueKind.STRING, "ethnicity"),
    CorrectableField(PREGNANCY, "lmp", "末次月经", ValueKind.DATE, "lmp", required=True),
    CorrectableField(PREGNANCY, "handbookNo", "母子健康手册编号", ValueKind.STRING, "handbook_no"),
    CorrectableField(PREGNANCY, "bookingUnit", "建档单位", ValueKind.STRING, "booking_unit"),
    CorrectableField(PREGNANCY, "gravidity", "孕次", ValueKind.INTEGER, "gravidity", required=True),
    CorrectableField(PREGNANCY, "parity", "产次", ValueKind.INTEGER, "parity", required=True),
    CorrectableField(VISIT, "visitDate", "检查日期", ValueKind.DATE, "visit_date", required=True),
    CorrectableField(VISIT, "weightKg", "体重", ValueKind.NUMBER, "weight_kg", unit="kg"),
    CorrectableField(VISIT, "systolicBp", "收缩压", ValueKind.INTEGER, "systolic_bp", unit="mmHg"),
    CorrectableField(
        VISIT, "diastolicBp", "舒张压", ValueKind.INTEGER, "diastolic_bp", unit="mmHg"
    ),
    CorrectableField(
        VISIT, "fundalHeightCm", "宫高", ValueKind.NUMBER, "fundal_height_cm", unit="cm"
    ),
    CorrectableField(
        VISIT,
        "abdominalCircumferenceCm",
        "腹围",
        ValueKind.NUMBER,
        "abdominal_circumference_cm",
        unit="cm",
    ),
    CorrectableField(
        VISIT, "fetalHeartRate", "胎心率", ValueKind.INTEGER, "fetal_heart_rate", unit="次/分"
    ),
    CorrectableField(VISIT, "fetalPosition", "胎位", ValueKind.STRING, "fetal_position"),
    CorrectableField(VISIT, "remarks", "备注（特殊记录）", ValueKind.TEXT, "remarks"),
    CorrectableField(VISIT, "nextVisitDate", "下次随访日期", ValueKind.DATE, "next_visit_date"),
    CorrectableField(RISK_FACTOR, "diagnosis", "诊断", ValueKind.TEXT, "diagnosis"),
    CorrectableField(RISK_FACTOR, "icd10Code", "ICD-10 编码", ValueKind.STRING, "icd10_code"),
    CorrectableField(
        LAB_RESULT, "valueText", "检验结果", ValueKind.STRING, "value_text", required=True
    ),
)

BY_TARGET: dict[str, dict[str, CorrectableField]] = {}
for _f in FIELDS:
    BY_TARGET.setdefault(_f.target_type, {})[_f.field] = _f

Value = str | float | int | dt.date | None

_KIND_LABELS = {
    ValueKind.NUMBER: "数字",
    ValueKind.INTEGER: "整数",
    ValueKind.DATE: "日期（YYYY-MM-DD）",
}


def find(target_type: str, field: str) -> CorrectableField | FieldError:
    fields = BY_TARGET.get(target_type)
    if fields is None:
        return FieldError(
            "targetId",
            f"{target_type} 类型的记录不能申请更正；可更正：{'、'.join(TARGET_LABELS.values())}",
            "NOT_CORRECTABLE",
        )
    found = fields.get(field)
    if found is None:
        allowed = "、".join(f"{f.field}（{f.label}）" for f in fields.values())
        return FieldError(
            "field",
            f"{TARGET_LABELS[target_type]}的字段 {field} 不能申请更正；可更正的字段：{allowed}",
            "UNKNOWN_FIELD",
        )
    return found


def parse(field: CorrectableField, raw: str) -> Value | FieldError:
    """What was typed, in the field's type; empty clears an optional field."""
    text = raw.strip()
    if field.kind is not ValueKind.TEXT:
        text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        if field.required:
            return FieldError("newValue", f"{field.label}不能为空", "REQUIRED")
        return None
    wrong = FieldError(
        "newValue",
        f"{field.label}应为{_KIND_LABELS.get(field.kind, '文字')}，收到的是「{text}」",
        "INVALID_FORMAT",
    )
    if field.kind is ValueKind.NUMBER:
        try:
            number = float(text)
        except ValueError:
            return wrong
        return number if math.isfinite(number) else wrong
    if field.kind is ValueKind.INTEGER:
        try:
            return int(text)
        except ValueError:
            return wrong
    if field.kind is ValueKind.DATE:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return wrong
    return text


def render(value: object) -> str | None:
    """The text a request keeps for a stored value (None for no value)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
