"""Rules for patients: GB 11643 resident ID numbers, pinyin initials, masking."""

from __future__ import annotations

import datetime as dt
import re

from pypinyin import Style, lazy_pinyin

from domain.errors import FieldError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Province-level codes of GB/T 2260 (first two digits of the address code).
PROVINCE_CODES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    }
)
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_resident_id(raw: str) -> str:
    return raw.strip().upper().replace(" ", "")


def birth_date_of(resident_id: str) -> dt.date | None:
    try:
        return dt.date(int(resident_id[6:10]), int(resident_id[10:12]), int(resident_id[12:14]))
    except ValueError:
        return None


def validate_resident_id(
    raw: str, *, field: str = "residentId", today: dt.date | None = None
) -> tuple[str, dt.date] | FieldError:
    """Validate an 18-character resident ID; return it normalised with the birth date in it."""
    value = normalise_resident_id(raw)
    today = today or dt.date.today()
    if not _ID_SHAPE.match(value):
        return FieldError(
            field, "身份证号码应为18位：前17位为数字，最后一位为数字或X", "INVALID_FORMAT"
        )
    if int(value[:2]) not in PROVINCE_CODES:
        return FieldError(
            field, f"身份证号码的地区码 {value[:2]} 不是有效的省级代码", "INVALID_REGION"
        )
    birth = birth_date_of(value)
    if birth is None:
        return FieldError(
            field, f"身份证号码中的出生日期 {value[6:14]} 不是有效日期", "INVALID_BIRTH_DATE"
        )
    if birth > today or birth.year < 1900:
        return FieldError(
            field, f"身份证号码中的出生日期 {birth.isoformat()} 不合理", "INVALID_BIRTH_DATE"
        )
    expected = check_digit(value[:17])
    if value[17] != expected:
        return FieldError(
            field,
            f"身份证号码校验位错误：应为 {expected}，实际为 {value[17]}",
            "INVALID_CHECK_DIGIT",
        )
    return value, birth


def make_resident_id(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid ID from a 6-digit region, a birth date and a 3-digit sequence (demo data)."""
    first17 = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_digit(first17)


def valid_phone(raw: str) -> bool:
    return bool(_PHONE.match(raw.strip()))


# Surnames read differently from the character's common reading (覃 is Qín, not tán —
# frequent in Guangxi); compound surnames first so that they win.
SURNAME_INITIALS = {
    "尉迟": "YC",
    "万俟": "MQ",
    "单于": "CY",
    "覃": "Q",
    "单": "S",
    "解": "X",
    "仇": "Q",
    "区": "O",
    "查": "Z",
    "朴": "P",
    "盖": "G",
    "缪": "M",
    "繁": "P",
    "种": "C",
    "乐": "Y",
    "翟": "Z",
    "曾": "Z",
    "隗": "W",
    "员": "Y",
    "秘": "B",
    "黑": "H",
}


def _initials(text: str) -> str:
    letters = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")
    return "".join(ch for part in letters for ch in part if ch.isalnum()).upper()


def name_initials(name: str) -> str:
    """Pinyin initials for search: 王小明 → WXM, 覃海燕 → QHY; latin letters kept."""
    for surname in sorted(SURNAME_INITIALS, key=len, reverse=True):
        if name.startswith(surname):
            return SURNAME_INITIALS[surname] + _initials(name[len(surname) :])
    return _initials(name)


def mask_resident_id(value: str) -> str:
    return value[:6] + "********" + value[-4:] if len(value) == 18 else "*" * len(value)


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)
