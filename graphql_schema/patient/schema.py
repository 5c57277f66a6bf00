from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql_schema.base import Connection, UserError, checked_page, connection_of
from graphql_schema.patient.inputs import RegisterPatientInput
from graphql_schema.patient.payloads import RegisterPatientPayload
from graphql_schema.patient.types import Patient
from graphql_schema.permissions import READ, WRITE
from resolvers.patient import mutations, queries


@strawberry.type
class PatientQuery:
    @strawberry.field(
        permission_classes=READ,
        description="孕妇列表（patients），可按姓名、拼音首字母、身份证号、电话检索，最新登记的在前",
    )
    async def patients(
        self,
        info: Info,
        search: Annotated[
            str | None, strawberry.argument(description="姓名、拼音首字母、身份证号或电话")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[Patient]:
        ctx = info.context
        checked_page(first, after)
        page = await queries.patients_page(ctx, search, first, after)
        reveal = ctx.reveals_identifiers
        return connection_of(
            page,
            [Patient.from_row(row, reveal=reveal) for row in page.rows],
            lambda: queries.patients_count(ctx, search),
        )


@strawberry.type
class PatientMutation:
    @strawberry.mutation(permission_classes=WRITE, description="登记孕妇（register patient）")
    async def register_patient(
        self, info: Info, input: RegisterPatientInput
    ) -> RegisterPatientPayload:
        ctx = info.context
        result = await mutations.register(ctx, input.to_domain())
        if isinstance(result, list):
            return RegisterPatientPayload(
                patient=None, user_errors=[UserError.of(e) for e in result]
            )
        return RegisterPatientPayload(
            patient=Patient.from_row(result, reveal=ctx.reveals_identifiers), user_errors=[]
        )
