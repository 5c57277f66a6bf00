"""Keyset pagination over id, with opaque cursors."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_PAGE = 200
# Row ids are 64-bit signed integers; anything larger cannot name a row.
MAX_ROW_ID = 2**63 - 1
DEFAULT_PAGE = 20


RowT = TypeVar("RowT")


class BadCursor(ValueError):
    pass


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"c:{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        row_id = int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor(f"无效的分页游标：{cursor}") from exc
    if kind != "c" or not 1 <= row_id <= MAX_ROW_ID:
        raise BadCursor(f"无效的分页游标：{cursor}")
    return row_id


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise ValueError(f"first 应在0到{MAX_PAGE}之间")
    return first


@dataclass(frozen=True)
class Page(Generic[RowT]):
    rows: Sequence[RowT]
    has_next: bool
    has_previous: bool


def page_from(rows: Sequence[RowT], size: int, *, after: int | None) -> Page[RowT]:
    return Page(rows=rows[:size], has_next=len(rows) > size, has_previous=after is not None)


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    id_column: Any,
    *,
    first: int | None,
    after: str | None,
) -> Page[Any]:
    """Newest first by id; `after` is the cursor of the last row already seen."""
    size = page_size(first)
    after_id = decode_cursor(after) if after else None
    if after_id is not None:
        query = query.where(id_column < after_id)
    rows = (await session.scalars(query.order_by(id_column.desc()).limit(size + 1))).all()
    return page_from(rows, size, after=after_id)
