from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from graphql_schema.audit.inputs import AuditEventFilter
from graphql_schema.audit.permissions import READ_AUDIT
from graphql_schema.audit.types import AuditEvent
from graphql_schema.base import Connection, checked_page, connection_of, expect_id
from graphql_schema.errors import bad_input
from resolvers.audit import queries

# Times without an offset are the hospital's local time (Asia/Shanghai).
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=LOCAL_TZ)


def _filter(f: AuditEventFilter | None) -> queries.AuditFilter:
    if f is None:
        return queries.AuditFilter()
    patient_id = None
    if f.patient_id is not None:
        found = expect_id(f.patient_id, "Patient", "filter.patientId")
        if isinstance(found, FieldError):
            raise bad_input(found.message)
        patient_id = found
    start, end = _aware(f.from_), _aware(f.to)
    if start is not None and end is not None and start > end:
        raise bad_input("起始时间不能晚于截止时间")
    return queries.AuditFilter(
        actor=f.actor.strip() if f.actor and f.actor.strip() else None,
        patient_id=patient_id,
        action=f.action.strip().upper() if f.action and f.action.strip() else None,
        start=start,
        end=end,
    )


@strawberry.type
class AuditQuery:
    @strawberry.field(
        permission_classes=READ_AUDIT,
        description="审计日志（audit log）：谁读取或修改了哪些孕妇的数据，最新的在前，可筛选（审计员）",
    )
    async def audit_events(
        self,
        info: Info,
        filter: Annotated[
            AuditEventFilter | None, strawberry.argument(description="筛选条件")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[AuditEvent]:
        ctx = info.context
        f = _filter(filter)
        checked_page(first, after)
        page = await queries.events_page(ctx, f, first, after)
        return connection_of(
            page,
            [AuditEvent.from_row(row) for row in page.rows],
            lambda: queries.events_count(ctx, f),
        )
