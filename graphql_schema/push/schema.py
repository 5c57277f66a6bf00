from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Sequence
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.database import utcnow
from domain.errors import FieldError
from domain.push.models import PushRecord as PushRecordRow
from domain.push.service import PushFilter
from graphql_schema.base import Connection, UserError, checked_page, connection_of, expect_id
from graphql_schema.errors import bad_input
from graphql_schema.push.inputs import (
    ApprovePushRecordsInput,
    DiscardPushRecordInput,
    PushRecordFilter,
    ReplayPushRecordsInput,
    RetryPushRecordsInput,
    SavePushMappingInput,
)
from graphql_schema.push.payloads import (
    PushChannelPayload,
    PushMappingPayload,
    PushReconciliationPayload,
    PushRecordsPayload,
)
from graphql_schema.push.permissions import OPERATE_PUSH, REVIEW_PUSH, SEE_PUSH
from graphql_schema.push.types import (
    PushChannel,
    PushMapping,
    PushPreview,
    PushReconciliation,
    PushRecord,
    PushRecordType,
    PushSeriesPoint,
    PushStatistics,
    PushStatus,
    PushStatusCount,
)
from resolvers.push import mutations, queries

MAX_BUCKETS = 500


def _filter(raw: PushRecordFilter | None) -> PushFilter | list[FieldError]:
    if raw is None:
        return PushFilter()
    pregnancy_id: int | None = None
    if raw.pregnancy_id is not None:
        found = expect_id(raw.pregnancy_id, "Pregnancy", "filter.pregnancyId")
        if isinstance(found, FieldError):
            return [found]
        pregnancy_id = found
    return PushFilter(
        statuses=[str(s.value) for s in raw.statuses or ()],
        record_types=[str(t.value) for t in raw.record_types or ()],
        pregnancy_id=pregnancy_id,
        record_id=raw.record_id,
        mismatched=raw.mismatched,
        waiting_for_registration=raw.waiting_for_registration,
        changed_since=raw.changed_since,
    )


def _ids(raw: Sequence[strawberry.ID], field: str) -> list[int] | list[FieldError]:
    found = [expect_id(g, "PushRecord", f"{field}[{i}]") for i, g in enumerate(raw)]
    errors = [f for f in found if isinstance(f, FieldError)]
    return errors or [f for f in found if isinstance(f, int)]


def _records(
    info: Info, result: PushRecordRow | Sequence[PushRecordRow] | Sequence[FieldError]
) -> PushRecordsPayload:
    rows = [result] if isinstance(result, PushRecordRow) else list(result)
    errors = [r for r in rows if isinstance(r, FieldError)]
    if errors:
        return _failed(errors)
    reveal = info.context.reveals_identifiers
    return PushRecordsPayload(
        records=[
            PushRecord.from_row(r, reveal=reveal) for r in rows if isinstance(r, PushRecordRow)
        ],
        user_errors=[],
    )


def _failed(errors: Sequence[FieldError]) -> PushRecordsPayload:
    return PushRecordsPayload(records=[], user_errors=[UserError.of(e) for e in errors])


@strawberry.type
class PushQuery:
    @strawberry.field(
        permission_classes=SEE_PUSH,
        description="桂妇儿推送记录（push records），最新的在前：状态、尝试次数、最近错误（含平台字段问题）、版本与时间",
    )
    async def push_records(
        self,
        info: Info,
        filter: Annotated[
            PushRecordFilter | None, strawberry.argument(description="筛选条件")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[PushRecord]:
        ctx = info.context
        checked_page(first, after)
        wanted = _filter(filter)
        if isinstance(wanted, list):
            raise bad_input(wanted[0].message)
        page = await queries.records_page(ctx, wanted, first, after)
        reveal = ctx.reveals_identifiers
        return connection_of(
            page,
            [PushRecord.from_row(row, reveal=reveal) for row in page.rows],
            lambda: queries.records_count(ctx, wanted),
        )

    @strawberry.field(
        permission_classes=SEE_PUSH,
        description="推送预览（push preview）：该孕产档案此刻将发送的全部记录的完整请求体与推送前检查结果",
    )
    async def push_preview(
        self,
        info: Info,
        pregnancy_id: Annotated[strawberry.ID, strawberry.argument(description="孕产档案的全局ID")],
    ) -> list[PushPreview]:
        found = expect_id(pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(found, FieldError):
            raise bad_input(found.message)
        previews = await queries.preview(info.context, found)
        reveal = info.context.reveals_identifiers
        return [PushPreview.of(p, reveal=reveal) for p in previews]

    @strawberry.field(
        permission_classes=SEE_PUSH,
        description="推送统计（push statistics）：各状态记录数，以及时间范围内按时间段、结论统计的尝试次数",
    )
    async def push_statistics(
        self,
        info: Info,
        since: Annotated[
            dt.datetime | None, strawberry.argument(description="开始时间；默认24小时前")
        ] = None,
        until: Annotated[
            dt.datetime | None, strawberry.argument(description="结束时间；默认现在")
        ] = None,
        bucket_minutes: Annotated[
            int, strawberry.argument(description="时间段长度（分钟），默认60")
        ] = 60,
    ) -> PushStatistics:
        end = until or utcnow()
        start = since or end - dt.timedelta(hours=24)
        if bucket_minutes < 1 or start >= end:
            raise bad_input("时间范围无效：开始时间须早于结束时间，时间段至少1分钟")
        if (end - start).total_seconds() / (bucket_minutes * 60) > MAX_BUCKETS:
            raise bad_input(f"时间段过多（最多 {MAX_BUCKETS} 个）：请加大 bucketMinutes 或缩短范围")
        counts, buckets = await queries.statistics(info.context, start, end, bucket_minutes * 60)
        total = sum(b.count for b in buckets)
        delivered = sum(b.count for b in buckets if b.outcome == "DELIVERED")
        return PushStatistics(
            by_status=[
                PushStatusCount(
                    status=PushStatus(c.status),
                    record_type=PushRecordType(c.record_type),
                    count=c.count,
                )
                for c in counts
            ],
            series=[
                PushSeriesPoint(bucket_start=b.start, outcome=b.outcome, count=b.count)
                for b in buckets
            ],
            success_rate=delivered / total if total else None,
        )

    @strawberry.field(
        permission_classes=SEE_PUSH, description="推送通道状态（是否配置、暂停、退避）"
    )
    async def push_channel(self, info: Info) -> PushChannel:
        row, configured = await queries.channel(info.context)
        return PushChannel.of(
            row,  # type: ignore[arg-type]
            configured=configured,
            base_url=info.context.settings.guifuer_base_url,
        )

    @strawberry.field(
        permission_classes=SEE_PUSH, description="推送映射配置的全部版本，最新（生效）的在前"
    )
    async def push_mappings(self, info: Info) -> list[PushMapping]:
        return [
            PushMapping(
                version=row.version,
                document=JSON(row.document),
                note=row.note,
                created_by=row.created_by,
                created_at=row.created_at,
            )
            for row in await queries.mappings(info.context)
        ]


@strawberry.type
class PushMutation:
    @strawberry.mutation(
        permission_classes=OPERATE_PUSH,
        description="立即重试推送记录（跳过退避等待；已接收、已放弃、待审核的记录不能重试）（管理员）",
    )
    async def retry_push_records(
        self, info: Info, input: RetryPushRecordsInput
    ) -> PushRecordsPayload:
        ids = _ids(input.ids, "ids")
        if ids and isinstance(ids[0], FieldError):
            return _failed(ids)
        return _records(info, await mutations.retry(info.context, ids))  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=OPERATE_PUSH,
        description="放弃推送一条记录：记录保留，并记下操作人与原因（管理员）",
    )
    async def discard_push_record(
        self, info: Info, input: DiscardPushRecordInput
    ) -> PushRecordsPayload:
        found = expect_id(input.id, "PushRecord", "id")
        if isinstance(found, FieldError):
            return _failed([found])
        return _records(info, await mutations.discard(info.context, found, input.reason))

    @strawberry.mutation(
        permission_classes=OPERATE_PUSH,
        description="重新推送（replay）：以新版本重新发送所选记录；多于一条时 expectedCount 须等于匹配的记录数（管理员）",
    )
    async def replay_push_records(
        self, info: Info, input: ReplayPushRecordsInput
    ) -> PushRecordsPayload:
        if (input.ids is None) == (input.filter is None):
            return _failed([FieldError("ids", "请指定 ids 或 filter（二选一）", "REQUIRED")])
        if input.ids is not None:
            ids = _ids(input.ids, "ids")
            if not ids:
                return _failed([FieldError("ids", "请至少选择一条推送记录", "REQUIRED")])
            if isinstance(ids[0], FieldError):
                return _failed(ids)
            chosen = PushFilter(ids=ids)
            return _records(
                info, await mutations.replay(info.context, chosen, input.expected_count)
            )
        wanted = _filter(input.filter)
        if isinstance(wanted, list):
            return _failed(wanted)
        return _records(info, await mutations.replay(info.context, wanted, input.expected_count))

    @strawberry.mutation(
        permission_classes=REVIEW_PUSH,
        description="审核放行待审核的推送记录（参数 push_requires_review 打开时；修改人本人不能审核）",
    )
    async def approve_push_records(
        self, info: Info, input: ApprovePushRecordsInput
    ) -> PushRecordsPayload:
        ids = _ids(input.ids, "ids")
        if ids and isinstance(ids[0], FieldError):
            return _failed(ids)
        return _records(info, await mutations.approve(info.context, ids))  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=OPERATE_PUSH,
        description="恢复推送通道（已修正凭据或时钟后）；待推送的记录立即发送（管理员）",
    )
    async def resume_push_channel(self, info: Info) -> PushChannelPayload:
        row = await mutations.resume(info.context)
        return PushChannelPayload(
            channel=PushChannel.of(
                row,
                configured=True,
                base_url=info.context.settings.guifuer_base_url,
            ),
            user_errors=[],
        )

    @strawberry.mutation(
        permission_classes=OPERATE_PUSH,
        description="保存新版本的推送映射（平台字段与代码）；校验通过后立即对之后的修改生效，可用 replay 重新推送（管理员）",
    )
    async def save_push_mapping(
        self, info: Info, input: SavePushMappingInput
    ) -> PushMappingPayload:
        result = await mutations.save_mapping(info.context, input.document, input.note)
        if isinstance(result, list):
            return PushMappingPayload(mapping=None, user_errors=[UserError.of(e) for e in result])
        return PushMappingPayload(
            mapping=PushMapping(
                version=result.version,
                document=JSON(result.document),
                note=result.note,
                created_by=result.created_by,
                created_at=result.created_at,
            ),
            user_errors=[],
        )

    @strawberry.mutation(
        permission_classes=OPERATE_PUSH,
        description="立即与平台核对已接收记录的版本（按 recordId 读回）（管理员）",
    )
    async def reconcile_push_records(self, info: Info) -> PushReconciliationPayload:
        result = await mutations.reconcile_now(info.context)
        if isinstance(result, list):
            return PushReconciliationPayload(
                reconciliation=None, user_errors=[UserError.of(e) for e in result]
            )
        return PushReconciliationPayload(
            reconciliation=PushReconciliation(
                checked=result.checked,
                matched=result.matched,
                mismatched=result.mismatched,
                missing=result.missing,
                unreadable=result.unreadable,
                mismatches=JSON(result.mismatches),
            ),
            user_errors=[],
        )


@strawberry.type
class PushSubscription:
    @strawberry.subscription(
        permission_classes=SEE_PUSH,
        description="推送状态变化（pushStatusChanged，graphql-ws）：记录每次变化时推送其最新状态",
    )
    async def push_status_changed(
        self,
        info: Info,
        filter: Annotated[
            PushRecordFilter | None, strawberry.argument(description="只订阅符合条件的记录")
        ] = None,
    ) -> AsyncGenerator[PushRecord, None]:
        wanted = _filter(filter)
        if isinstance(wanted, list):
            raise bad_input(wanted[0].message)
        reveal = info.context.reveals_identifiers
        async for row in queries.changes(info.context, wanted):
            yield PushRecord.from_row(row, reveal=reveal)
