"""Small field checks shared by services; each returns a FieldError or None."""

from __future__ import annotations

from domain.errors import FieldError


def text(
    field: str, value: str | None, *, label: str, max_len: int, required: bool = False
) -> FieldError | None:
    if value is None or value.strip() == "":
        return FieldError(field, f"{label}不能为空", "REQUIRED") if required else None
    if len(value) > max_len:
        return FieldError(
            field, f"{label}不能超过{max_len}个字符（当前{len(value)}个）", "TOO_LONG"
        )
    return None


def number_range(
    field: str, value: float | None, *, label: str, low: float, high: float, unit: str
) -> FieldError | None:
    if value is None:
        return None
    if value != value or not low <= value <= high:  # NaN fails the first test
        return FieldError(
            field, f"{label}应在{low:g}到{high:g}{unit}之间，当前为{value:g}", "OUT_OF_RANGE"
        )
    return None


def collect(*checks: FieldError | None) -> list[FieldError]:
    return [c for c in checks if c is not None]
