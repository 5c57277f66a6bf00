"""What the data dictionary (数据字典) accepts: codes, names, colours."""

from __future__ import annotations

import re

from domain import validation as check
from domain.errors import FieldError
from domain.risk.rules import FACTOR_COLORS

RISK_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,63}$")
# A LIS item code as laboratories spell them: letters (any script), digits, a few marks.
LOCAL_CODE = re.compile(r"^[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]{0,63}$")
NAME_MAX = 256
CATEGORY_MAX = 64


def normalise_code(raw: str) -> str:
    return raw.strip().upper()


def check_risk_factor(code: str, name: str, color: str, category: str | None) -> list[FieldError]:
    errors = check.collect(
        check.text("name", name, label="高危因素名称", max_len=NAME_MAX, required=True),
        check.text("category", category, label="分类", max_len=CATEGORY_MAX),
    )
    if not RISK_CODE.match(code):
        errors.insert(
            0,
            FieldError(
                "code",
                "高危因素编码应以字母或数字开头，只含大写字母、数字、- 和 _，最长64个字符",
                "INVALID_FORMAT",
            ),
        )
    if color not in FACTOR_COLORS:
        errors.append(
            FieldError("color", f"颜色 {color} 无效：应为黄、橙、红或紫", "INVALID_COLOR")
        )
    return errors


def check_local_code(local_code: str) -> FieldError | None:
    if not local_code:
        return FieldError("localCode", "检验系统本地编码不能为空", "REQUIRED")
    if not LOCAL_CODE.match(local_code):
        return FieldError(
            "localCode",
            "检验系统本地编码不能含控制字符或以空白开头，最长64个字符",
            "INVALID_FORMAT",
        )
    return None
