from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from domain.archive import service
from domain.errors import FieldError
from graphql_schema.archive.inputs import ArchiveSearchInput, ReopenArchiveInput
from graphql_schema.archive.permissions import REOPEN_ARCHIVES
from graphql_schema.archive.types import ArchiveSearchCount
from graphql_schema.base import Connection, UserError, checked_page, connection_of, expect_id
from graphql_schema.errors import bad_input
from graphql_schema.permissions import READ
from graphql_schema.pregnancy.payloads import PregnancyPayload
from graphql_schema.pregnancy.types import Pregnancy
from resolvers.archive import mutations, queries


def _query(f: ArchiveSearchInput) -> service.ArchiveQuery:
    checked = service.check_filter(
        service.ArchiveFilter(
            text=f.text,
            delivered_from=f.delivered_from,
            delivered_to=f.delivered_to,
            archived_from=f.archived_from,
            archived_to=f.archived_to,
        )
    )
    if isinstance(checked, FieldError):
        raise bad_input(checked.message)
    return checked


def _asks_for_total(info: Info) -> bool:
    """Whether the selection names totalCount directly (fragments are counted lazily)."""
    return any(
        isinstance(selection, SelectedField) and selection.name == "totalCount"
        for field in info.selected_fields
        for selection in field.selections
    )


@strawberry.type
class ArchiveQuery:
    @strawberry.field(
        permission_classes=READ,
        description="归档查询（再次查询归档资料，1.28.9）：已归档的孕产档案，最新的在前；"
        "打开结果即可只读查看产检、高危因素、检验、超声等。"
        f"totalCount 只数到 {service.COUNT_LIMIT}：超过时返回 {service.COUNT_LIMIT + 1}，"
        "表示“超过上限”（精确与否见 archiveSearchCount.capped）",
    )
    async def archive_search(
        self,
        info: Info,
        filter: Annotated[ArchiveSearchInput, strawberry.argument(description="查询条件")],
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[Pregnancy]:
        ctx = info.context
        query = _query(filter)
        size, after_id = checked_page(first, after)
        # Counted with the page, in its transaction, only when the caller asks for it.
        counted = _asks_for_total(info)
        found = await queries.search(
            ctx, query, size, after_id, count_limit=service.COUNT_LIMIT if counted else None
        )

        async def count() -> int:
            if found.count is not None:
                return found.count.count
            return (await queries.search_count(ctx, query, service.COUNT_LIMIT)).count

        return connection_of(
            found.page, [Pregnancy.from_row(row) for row in found.page.rows], count
        )

    @strawberry.field(
        permission_classes=READ,
        description=f"归档查询的计数，最多数到 limit（默认 {service.COUNT_LIMIT}，最大 10000）",
    )
    async def archive_search_count(
        self,
        info: Info,
        filter: Annotated[ArchiveSearchInput, strawberry.argument(description="查询条件")],
        limit: Annotated[
            int, strawberry.argument(description="计数上限（1–10000）")
        ] = service.COUNT_LIMIT,
    ) -> ArchiveSearchCount:
        if not 1 <= limit <= 10000:
            raise bad_input("limit 应在1到10000之间")
        found = await queries.search_count(info.context, _query(filter), limit)
        return ArchiveSearchCount(count=found.count, limit=found.limit, capped=found.capped)


@strawberry.type
class ArchiveMutation:
    @strawberry.mutation(
        permission_classes=REOPEN_ARCHIVES,
        description="重新打开归档（须填写原因，记入审计日志）：档案回到归档前的状态——"
        "已登记分娩的为已分娩（数据修改走数据更正申请），否则为管理中，医生可再次修改（医生、管理员）",
    )
    async def reopen_archive(self, info: Info, input: ReopenArchiveInput) -> PregnancyPayload:
        pregnancy_id = expect_id(input.pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(pregnancy_id, FieldError):
            return PregnancyPayload(pregnancy=None, user_errors=[UserError.of(pregnancy_id)])
        result = await mutations.reopen(info.context, pregnancy_id, input.reason)
        if isinstance(result, list):
            return PregnancyPayload(pregnancy=None, user_errors=[UserError.of(e) for e in result])
        return PregnancyPayload(pregnancy=Pregnancy.from_row(result), user_errors=[])
