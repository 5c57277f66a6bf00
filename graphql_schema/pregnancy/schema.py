from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from domain.pregnancy.models import Pregnancy as PregnancyRow
from domain.pregnancy.models import PregnancyStatus
from domain.pregnancy.service import BookingInput
from graphql_schema.base import Connection, UserError, checked_page, connection_of, expect_id
from graphql_schema.errors import bad_input
from graphql_schema.permissions import READ, WRITE
from graphql_schema.pregnancy.inputs import (
    ArchivePregnancyInput,
    BookPregnancyInput,
    PregnancyFilterInput,
    RecordDeliveryInput,
)
from graphql_schema.pregnancy.payloads import PregnancyPayload
from graphql_schema.pregnancy.types import Pregnancy
from resolvers.pregnancy import mutations, queries
from resolvers.push import queries as push_queries


def _payload(result: PregnancyRow | list[FieldError]) -> PregnancyPayload:
    if isinstance(result, list):
        return PregnancyPayload(pregnancy=None, user_errors=[UserError.of(e) for e in result])
    return PregnancyPayload(pregnancy=Pregnancy.from_row(result), user_errors=[])


def _filter(f: PregnancyFilterInput | None) -> queries.PregnancyFilter:
    if f is None:
        return queries.PregnancyFilter()
    if f.status is not None and f.status not in PregnancyStatus.__members__:
        raise bad_input(f"未知的状态 {f.status}，可选 ACTIVE、DELIVERED、ARCHIVED")
    patient_id = None
    if f.patient_id is not None:
        found = expect_id(f.patient_id, "Patient", "filter.patientId")
        if isinstance(found, FieldError):
            raise bad_input(found.message)
        patient_id = found
    return queries.PregnancyFilter(
        status=f.status,
        risk_colors=tuple(str(c.value) for c in f.risk_colors or ()),
        infectious=f.infectious,
        patient_id=patient_id,
        booked_from=f.booked_from,
        booked_to=f.booked_to,
        edd_from=f.edd_from,
        edd_to=f.edd_to,
    )


@strawberry.type
class PregnancyQuery:
    @strawberry.field(
        permission_classes=READ, description="孕产档案列表（pregnancies），可筛选，最新的在前"
    )
    async def pregnancies(
        self,
        info: Info,
        filter: Annotated[
            PregnancyFilterInput | None, strawberry.argument(description="筛选条件")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[Pregnancy]:
        ctx = info.context
        f = _filter(filter)
        checked_page(first, after)
        page = await queries.pregnancies_page(ctx, f, first, after)
        return connection_of(
            page,
            [Pregnancy.from_row(row) for row in page.rows],
            lambda: queries.pregnancies_count(ctx, f),
        )


@strawberry.type
class PregnancyMutation:
    @strawberry.mutation(permission_classes=WRITE, description="建档：为孕妇开立孕产档案")
    async def book_pregnancy(self, info: Info, input: BookPregnancyInput) -> PregnancyPayload:
        patient_id = expect_id(input.patient_id, "Patient", "patientId")
        if isinstance(patient_id, FieldError):
            return _payload([patient_id])
        data = BookingInput(
            patient_id=patient_id,
            lmp=input.lmp,
            gravidity=input.gravidity,
            parity=input.parity,
            edd=input.edd,
            booking_date=input.booking_date,
            booking_unit=input.booking_unit,
            handbook_no=input.handbook_no,
        )
        payload = _payload(await mutations.book(info.context, data))
        if payload.pregnancy is not None:
            warnings = await push_queries.preflight_warnings(info.context, payload.pregnancy.db_id)
            payload.push_warnings = [UserError.of(w) for w in warnings]
        return payload

    @strawberry.mutation(permission_classes=WRITE, description="登记分娩")
    async def record_delivery(self, info: Info, input: RecordDeliveryInput) -> PregnancyPayload:
        pregnancy_id = expect_id(input.pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(pregnancy_id, FieldError):
            return _payload([pregnancy_id])
        return _payload(
            await mutations.record_delivery(info.context, pregnancy_id, input.delivered_on)
        )

    @strawberry.mutation(permission_classes=WRITE, description="归档孕产档案（归档后只读）")
    async def archive_pregnancy(self, info: Info, input: ArchivePregnancyInput) -> PregnancyPayload:
        pregnancy_id = expect_id(input.pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(pregnancy_id, FieldError):
            return _payload([pregnancy_id])
        return _payload(await mutations.archive(info.context, pregnancy_id))
