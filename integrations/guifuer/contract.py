"""The rules of the 桂妇儿 push contract (§2, §4), as plain functions.

The simulator answers 2001 with exactly these errors, and MaternityHub runs the same
functions before it saves (pre-flight), so a doctor sees at entry time what the
platform would refuse hours later. Every error is `{"field": path, "reason": 中文}`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from integrations.guifuer.port import RecordType

COLOURS = ("GREEN", "YELLOW", "ORANGE", "RED")
FACTOR_COLOURS = (*COLOURS, "PURPLE")
SCREENING_ITEMS = ("HBSAG", "HBSAB", "HBEAG", "HBEAB", "HBCAB", "HIV", "TP", "RPR", "HCV")
SCREENING_RESULTS = ("NEGATIVE", "POSITIVE", "INDETERMINATE")
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_CARD = re.compile(r"[0-9]{17}[0-9X]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_GESTATION = re.compile(r"([0-9]{1,2})\+([0-9])")
_PHONE = re.compile(r"1[3-9][0-9]{9}|0[0-9]{10}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_card_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append({"field": path, "reason": reason})


def check_body(
    body: dict[str, Any], now: dt.datetime, *, org_code: str | None = None
) -> tuple[RecordType | None, list[dict[str, str]]]:
    """The envelope (§2) and the type's fields (§4) of one request body: every error at once."""
    errors = _Errors()
    record_type = _envelope(body, errors, org_code)
    data = body.get("data")
    if not isinstance(data, dict):
        errors.add("data", "必填，应为对象")
    elif record_type is not None:
        _CHECKS[record_type](data, errors, now)
    return record_type, errors.items


def check_against_registration(
    record_type: RecordType, data: dict[str, Any], registration: dict[str, Any]
) -> list[dict[str, str]]:
    """A record against the woman's registration: a visit not before lmp, GA within 14 days."""
    errors = _Errors()
    _against_registration(record_type, data, registration, errors)
    return errors.items


def _envelope(body: dict[str, Any], errors: _Errors, expected_org: str | None) -> RecordType | None:
    record_type: RecordType | None = None
    try:
        record_type = RecordType(body.get("recordType"))
    except ValueError:
        errors.add("recordType", f"应为 {'、'.join(t.value for t in RecordType)} 之一")
    org_code = body.get("orgCode")
    if not isinstance(org_code, str) or not org_code:
        errors.add("orgCode", "必填")
    elif expected_org is not None and org_code != expected_org:
        errors.add("orgCode", "机构编码与 app id 不符")
    record_id = body.get("recordId")
    if not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id):
        errors.add("recordId", "应为 1–64 位字母、数字、_ 或 -")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        errors.add("version", "应为 ≥ 1 的整数")
    patient = body.get("patient")
    if not isinstance(patient, dict):
        errors.add("patient", "必填，应为对象")
        return record_type
    id_card_no = patient.get("idCardNo")
    born = _date(patient, "birthDate", "patient.birthDate", errors, required=True)
    if not isinstance(id_card_no, str) or not _ID_CARD.fullmatch(id_card_no):
        errors.add("patient.idCardNo", "应为 18 位居民身份证号")
    elif id_card_no[17] != id_card_check_digit(id_card_no[:17]):
        errors.add("patient.idCardNo", "校验位不正确")
    elif born is not None and born.strftime("%Y%m%d") != id_card_no[6:14]:
        errors.add("patient.birthDate", "与身份证号中的出生日期不一致")
    _text(patient, "name", "patient.name", errors, required=True, longest=50)
    return record_type


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _missing(data: dict[str, Any], name: str, path: str, errors: _Errors, required: bool) -> bool:
    """True when the field is absent (an error when required): nothing more to check."""
    if data.get(name) is None:
        if required:
            errors.add(path, "必填")
        return True
    return False


def _date(
    data: dict[str, Any],
    name: str,
    path: str,
    errors: _Errors,
    *,
    required: bool = False,
    today: dt.date | None = None,
) -> dt.date | None:
    if _missing(data, name, path, errors, required):
        return None
    value = data[name]
    try:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError
        day = dt.date.fromisoformat(value)
    except ValueError:
        errors.add(path, "应为 YYYY-MM-DD 日期")
        return None
    if today is not None and day > today:
        errors.add(path, "不能晚于今天")
    return day


def _datetime(
    data: dict[str, Any], name: str, path: str, errors: _Errors, now: dt.datetime
) -> None:
    if _missing(data, name, path, errors, True):
        return
    value = data[name]
    try:
        if not isinstance(value, str) or "T" not in value:
            raise ValueError
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        errors.add(path, "应为带时区的 ISO 8601 时间")
        return
    if moment.tzinfo is None:
        errors.add(path, "应为带时区的 ISO 8601 时间")
    elif moment > now:
        errors.add(path, "不能晚于当前时间")


def _text(
    data: dict[str, Any],
    name: str,
    path: str,
    errors: _Errors,
    *,
    required: bool = False,
    longest: int,
) -> str | None:
    if _missing(data, name, path, errors, required):
        return None
    value = data[name]
    if not isinstance(value, str):
        errors.add(path, "应为字符串")
        return None
    if required and not value.strip():
        errors.add(path, "必填")
        return None
    if len(value) > longest:
        errors.add(path, f"不能超过 {longest} 个字符")
    return value


def _number(
    data: dict[str, Any],
    name: str,
    path: str,
    errors: _Errors,
    low: float,
    high: float,
    *,
    required: bool = False,
    integer: bool = False,
) -> float | None:
    if _missing(data, name, path, errors, required):
        return None
    value = data[name]
    if not (_is_int(value) if integer else _is_number(value)):
        errors.add(path, "应为整数" if integer else "应为数字（不能是字符串）")
        return None
    if not low <= value <= high:
        errors.add(path, f"应在 {low:g}–{high:g} 之间")
    return float(value)


def _enum(
    data: dict[str, Any], name: str, path: str, errors: _Errors, allowed: tuple[str, ...]
) -> str | None:
    if _missing(data, name, path, errors, True):
        return None
    value = data[name]
    if value not in allowed:
        errors.add(path, f"应为 {'、'.join(allowed)} 之一")
        return None
    return str(value)


def _flag(data: dict[str, Any], name: str, path: str, errors: _Errors) -> bool | None:
    if _missing(data, name, path, errors, True):
        return None
    if not isinstance(data[name], bool):
        errors.add(path, "应为 true 或 false")
        return None
    return bool(data[name])


def _gestation(
    data: dict[str, Any], name: str, path: str, errors: _Errors, low: int, high: int
) -> int | None:
    """`W+D` as days, with W in 4–44 and the whole in [low, high] days."""
    if _missing(data, name, path, errors, True):
        return None
    value = data[name]
    match = _GESTATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 4 <= int(match[1]) <= 44 or int(match[2]) > 6:
        errors.add(path, "应为 W+D（W 4–44，D 0–6），如 12+3")
        return None
    days = int(match[1]) * 7 + int(match[2])
    if not low <= days <= high:
        errors.add(path, f"应在 {low // 7}+{low % 7} 与 {high // 7}+{high % 7} 之间")
    return days


def _registration(data: dict[str, Any], errors: _Errors, now: dt.datetime) -> None:
    today = now.date()
    booked = _date(data, "bookingDate", "data.bookingDate", errors, required=True, today=today)
    lmp = _date(data, "lmp", "data.lmp", errors, required=True)
    edd = _date(data, "edd", "data.edd", errors, required=True)
    if lmp is not None and booked is not None and lmp >= booked:
        errors.add("data.lmp", "应早于 bookingDate")
    if lmp is not None and edd is not None and not 240 <= (edd - lmp).days <= 300:
        errors.add("data.edd", "应在 lmp 之后 240–300 天")
    gravidity = _number(
        data, "gravidity", "data.gravidity", errors, 1, 99, required=True, integer=True
    )
    parity = _number(data, "parity", "data.parity", errors, 0, 98, required=True, integer=True)
    if gravidity is not None and parity is not None and parity >= gravidity:
        errors.add("data.parity", "应小于 gravidity")
    if not _missing(data, "phone", "data.phone", errors, True):
        phone = data["phone"]
        if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
            errors.add("data.phone", "应为 11 位手机号或固话号码（仅数字）")
    _text(data, "address", "data.address", errors, longest=200)
    _text(data, "handbookNo", "data.handbookNo", errors, longest=32)


def _colours(data: dict[str, Any], errors: _Errors) -> tuple[str | None, bool | None]:
    colour = _enum(data, "riskColor", "data.riskColor", errors, COLOURS)
    return colour, _flag(data, "infectiousFlag", "data.infectiousFlag", errors)


def _visit(data: dict[str, Any], errors: _Errors, now: dt.datetime) -> None:
    today = now.date()
    visited = _date(data, "visitDate", "data.visitDate", errors, required=True, today=today)
    _gestation(data, "gestationalAge", "data.gestationalAge", errors, 4 * 7, 44 * 7 + 6)
    _number(data, "weightKg", "data.weightKg", errors, 30, 200)
    systolic = _number(data, "systolic", "data.systolic", errors, 60, 250, integer=True)
    diastolic = _number(data, "diastolic", "data.diastolic", errors, 30, 160, integer=True)
    if systolic is not None and diastolic is not None and systolic <= diastolic:
        errors.add("data.systolic", "应大于 diastolic")
    _number(data, "fundalHeightCm", "data.fundalHeightCm", errors, 5, 50)
    _number(data, "abdominalCircumferenceCm", "data.abdominalCircumferenceCm", errors, 50, 150)
    _number(data, "fetalHeartRate", "data.fetalHeartRate", errors, 60, 220, integer=True)
    _text(data, "fetalPosition", "data.fetalPosition", errors, longest=20)
    colour, infectious = _colours(data, errors)
    needs_diagnosis = colour not in (None, "GREEN") or infectious is True
    _text(data, "diagnosis", "data.diagnosis", errors, required=needs_diagnosis, longest=500)
    _text(data, "treatment", "data.treatment", errors, longest=500)
    following = _date(data, "nextVisitDate", "data.nextVisitDate", errors)
    if following is not None and visited is not None and following <= visited:
        errors.add("data.nextVisitDate", "应晚于 visitDate")
    _text(data, "doctorName", "data.doctorName", errors, required=True, longest=20)


def _assessment(data: dict[str, Any], errors: _Errors, now: dt.datetime) -> None:
    _datetime(data, "assessedAt", "data.assessedAt", errors, now)
    colour, _ = _colours(data, errors)
    factors = data.get("factors")
    if not isinstance(factors, list):
        errors.add("data.factors", "必填，应为数组")
        factors = []
    elif not factors and colour not in (None, "GREEN"):
        errors.add("data.factors", "riskColor 不是 GREEN 时不能为空")
    for n, factor in enumerate(factors):
        path = f"data.factors[{n}]"
        if not isinstance(factor, dict):
            errors.add(path, "应为对象")
            continue
        _text(factor, "code", f"{path}.code", errors, required=True, longest=32)
        _text(factor, "name", f"{path}.name", errors, required=True, longest=100)
        _enum(factor, "color", f"{path}.color", errors, FACTOR_COLOURS)
        _text(factor, "diagnosis", f"{path}.diagnosis", errors, longest=500)
        _text(factor, "icd10", f"{path}.icd10", errors, longest=16)
    _text(data, "diagnosis", "data.diagnosis", errors, required=bool(factors), longest=500)
    _text(data, "treatment", "data.treatment", errors, longest=500)


def _screening(data: dict[str, Any], errors: _Errors, now: dt.datetime) -> None:
    today = now.date()
    items = data.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 9:
        errors.add("data.items", "必填，应为 1–9 项的数组")
        return
    seen: set[str] = set()
    for n, item in enumerate(items):
        path = f"data.items[{n}]"
        if not isinstance(item, dict):
            errors.add(path, "应为对象")
            continue
        code = _enum(item, "item", f"{path}.item", errors, SCREENING_ITEMS)
        if code is not None and code in seen:
            errors.add(f"{path}.item", f"{code} 重复：每个项目只能出现一次")
        seen.add(code or "")
        _enum(item, "result", f"{path}.result", errors, SCREENING_RESULTS)
        _number(item, "value", f"{path}.value", errors, float("-inf"), float("inf"))
        _text(item, "unit", f"{path}.unit", errors, longest=20)
        _date(item, "testDate", f"{path}.testDate", errors, required=True, today=today)


def _nt(data: dict[str, Any], errors: _Errors, now: dt.datetime) -> None:
    today = now.date()
    _date(data, "examDate", "data.examDate", errors, required=True, today=today)
    _gestation(data, "gestationalAge", "data.gestationalAge", errors, 11 * 7, 14 * 7)
    nt = _number(data, "ntMm", "data.ntMm", errors, 0.1, 15.0, required=True)
    if nt is not None and round(nt, 1) != nt:
        errors.add("data.ntMm", "最多一位小数")
    _number(data, "crlMm", "data.crlMm", errors, 30, 90)
    _text(data, "conclusion", "data.conclusion", errors, longest=500)


_CHECKS: dict[RecordType, Callable[[dict[str, Any], _Errors, dt.datetime], None]] = {
    RecordType.MATERNAL_REGISTRATION: _registration,
    RecordType.PRENATAL_VISIT: _visit,
    RecordType.HIGH_RISK_ASSESSMENT: _assessment,
    RecordType.INFECTIOUS_SCREENING: _screening,
    RecordType.ULTRASOUND_NT: _nt,
}


def _against_registration(
    record_type: RecordType, data: dict[str, Any], registration: dict[str, Any], errors: _Errors
) -> None:
    """A visit against the woman's accepted registration: not before lmp, GA within 14 days."""
    if record_type is not RecordType.PRENATAL_VISIT:
        return
    lmp = dt.date.fromisoformat(registration["lmp"])
    visited = dt.date.fromisoformat(data["visitDate"])
    if visited < lmp:
        errors.add("data.visitDate", "不能早于末次月经（lmp）")
        return
    match = _GESTATION.fullmatch(data["gestationalAge"])
    assert match is not None  # noqa: S101 (validated before)
    stated = int(match[1]) * 7 + int(match[2])
    if abs(stated - (visited - lmp).days) > 14:
        errors.add("data.gestationalAge", "与末次月经推算的孕周相差超过 14 天")
