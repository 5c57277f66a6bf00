"""Relay building blocks shared by every domain: global IDs, nodes, connections, user errors."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from domain.errors import FieldError
from domain.pregnancy.rules import format_gestational_age
from graphql_schema.errors import bad_input
from resolvers.pagination import MAX_ROW_ID, Page, decode_cursor, encode_cursor, page_size

T = TypeVar("T")


class BadGlobalId(ValueError):
    pass


def to_global_id(type_name: str, row_id: int) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{row_id}".encode()).decode())


def from_global_id(global_id: str) -> tuple[str, int]:
    try:
        type_name, _, raw = (
            base64.b64decode(global_id.encode(), validate=True).decode().partition(":")
        )
        row_id = int(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadGlobalId(f"无效的ID：{global_id}") from exc
    if not 1 <= row_id <= MAX_ROW_ID:
        raise BadGlobalId(f"无效的ID：{global_id}")
    return type_name, row_id


def expect_id(global_id: str, type_name: str, field: str) -> int | FieldError:
    """The database id inside a global ID of the expected type, or the user error to report."""
    try:
        found_type, row_id = from_global_id(global_id)
    except BadGlobalId:
        return FieldError(field, f"无效的ID：{global_id}", "INVALID_ID")
    if found_type != type_name:
        return FieldError(field, f"ID 指向 {found_type}，此处需要 {type_name}", "INVALID_ID")
    return row_id


@strawberry.interface(description="Relay 节点（Node）：可用全局ID通过 node(id) 重新获取的对象")
class Node:
    id: strawberry.ID = strawberry.field(description="全局唯一ID（global ID）")


@strawberry.type(description="分页信息（page info）")
class PageInfo:
    has_next_page: bool = strawberry.field(description="之后是否还有记录")
    has_previous_page: bool = strawberry.field(description="之前是否还有记录")
    start_cursor: str | None = strawberry.field(description="本页第一条的游标")
    end_cursor: str | None = strawberry.field(description="本页最后一条的游标，传给 after 取下一页")


@strawberry.type(description="连接中的一条边（edge）")
class Edge(Generic[T]):
    node: T = strawberry.field(description="记录")
    cursor: str = strawberry.field(description="该记录的游标")


@strawberry.type(description="分页连接（connection）")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="本页记录")
    page_info: PageInfo = strawberry.field(description="分页信息")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="符合条件的记录总数（请求时才计算）")
    async def total_count(self) -> int:
        return await self.count()


def checked_page(first: int | None, after: str | None) -> tuple[int, int | None]:
    """Page size and cursor id, or BAD_USER_INPUT before any query runs.

    Checking here (not around the query) keeps a ValueError raised by a bug inside
    the query an internal error instead of blaming the caller's input.
    """
    try:
        return page_size(first), decode_cursor(after) if after else None
    except ValueError as exc:  # BadCursor is a ValueError
        raise bad_input(str(exc)) from exc


def connection_of(
    page: Page[Any], nodes: Sequence[T], count: Callable[[], Awaitable[int]]
) -> Connection[T]:
    """Build a connection from a page of rows and the GraphQL objects made from them."""
    cursors = [encode_cursor(row.id) for row in page.rows]
    return Connection(
        edges=[Edge(node=node, cursor=cursor) for node, cursor in zip(nodes, cursors, strict=True)],
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        count=count,
    )


@strawberry.type(description="用户输入错误（user error）：预期内的失败，说明哪个字段违反了什么规则")
class UserError:
    field: str = strawberry.field(description="出错的输入字段")
    message: str = strawberry.field(description="错误说明（中文）")
    code: str = strawberry.field(description="稳定的错误代码，例如 INVALID_CHECK_DIGIT")

    @classmethod
    def of(cls, error: FieldError) -> UserError:
        return cls(field=error.field, message=error.message, code=error.code)


@strawberry.type(description="孕周（gestational age），周+天")
class GestationalAge:
    weeks: int = strawberry.field(description="孕周的整周数")
    days: int = strawberry.field(description="孕周的余天数（0–6）")
    total_days: int = strawberry.field(description="自末次月经起的总天数")
    text: str = strawberry.field(description="文本形式，例如 28+3")

    @classmethod
    def of(cls, total_days: int) -> GestationalAge:
        return cls(
            weeks=total_days // 7,
            days=total_days % 7,
            total_days=total_days,
            text=format_gestational_age(total_days),
        )
