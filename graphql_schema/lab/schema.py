from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from domain.lab.amend import Amendment
from domain.lab.backfill import BackfillOutcome
from domain.lab.history import BadHistoryCursor, HistoryFilter, PatientRef, encode_cursor
from domain.lab.models import LabResult as LabRow
from graphql_schema.base import Connection, Edge, PageInfo, UserError, expect_id
from graphql_schema.errors import bad_input
from graphql_schema.lab.inputs import AmendLabResultInput
from graphql_schema.lab.payloads import (
    AmendLabResultPayload,
    BackfillLabHistoryPayload,
    RiskFactorProposalPayload,
)
from graphql_schema.lab.types import (
    InfectiousScreening,
    LabHistoryEntry,
    LabResult,
    RiskFactorProposal,
)
from graphql_schema.permissions import WRITE
from graphql_schema.risk.types import RiskFactor
from resolvers.lab import mutations, queries
from resolvers.pagination import page_size

if TYPE_CHECKING:
    from graphql_schema.patient.types import Patient


async def infectious_screening(info: Info, pregnancy_id: int) -> InfectiousScreening:
    """`Pregnancy.infectiousScreening`: one batched statement for every pregnancy asked."""
    latest = await info.context.loaders.screening_by_pregnancy.load(pregnancy_id)
    return InfectiousScreening.of(latest)


async def pending_proposals(info: Info, pregnancy_id: int) -> list[RiskFactorProposal]:
    """`Pregnancy.riskFactorProposals`: the proposals waiting for a doctor."""
    rows = await info.context.loaders.proposals_by_pregnancy.load(pregnancy_id)
    return [RiskFactorProposal.from_row(row, name) for row, name in rows]


async def lab_history(
    info: Info,
    patient: Patient,
    items: list[str] | None,
    since: dt.date | None,
    until: dt.date | None,
    first: int | None,
    after: str | None,
) -> Connection[LabHistoryEntry]:
    """`Patient.labHistory`: merged local + live rows; a silent source is reported as an
    UPSTREAM_UNAVAILABLE error beside the rows that were found."""
    try:
        size = page_size(first)
    except ValueError as exc:
        raise bad_input(str(exc)) from exc
    if since and until and since > until:
        raise bad_input("from 不能晚于 to")
    query = HistoryFilter(
        items=frozenset(code.strip().upper() for code in items) if items is not None else None,
        since=since,
        until=until,
    )
    ref = PatientRef(patient.db_id, patient.lis_record_no, patient.legacy_id)
    try:
        page, total = await queries.lab_history(
            info.context, ref, query, size, after, info.path.as_list()
        )
    except BadHistoryCursor as exc:
        raise bad_input(str(exc)) from exc
    cursors = [encode_cursor(row) for row in page.rows]

    async def count() -> int:
        return total

    return Connection(
        edges=[
            Edge(node=LabHistoryEntry.of(row), cursor=cursor)
            for row, cursor in zip(page.rows, cursors, strict=True)
        ],
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        count=count,
    )


def _amend_payload(result: LabRow | list[FieldError]) -> AmendLabResultPayload:
    if isinstance(result, list):
        return AmendLabResultPayload(lab_result=None, user_errors=[UserError.of(e) for e in result])
    return AmendLabResultPayload(lab_result=LabResult.from_row(result), user_errors=[])


def _backfill_payload(result: BackfillOutcome | list[FieldError]) -> BackfillLabHistoryPayload:
    if isinstance(result, list):
        return BackfillLabHistoryPayload(
            received=0,
            stored=0,
            corrected=0,
            unchanged=0,
            rejected=0,
            proposals=0,
            user_errors=[UserError.of(e) for e in result],
        )
    errors = [UserError.of(e) for e in result.problems]
    if result.unavailable is not None:
        errors.insert(
            0,
            UserError(
                field="patientId", message=result.unavailable.message, code="UPSTREAM_UNAVAILABLE"
            ),
        )
    return BackfillLabHistoryPayload(
        received=result.received,
        stored=result.stored,
        corrected=result.corrected,
        unchanged=result.unchanged,
        rejected=result.rejected,
        proposals=result.proposals,
        user_errors=errors,
    )


def _proposal_errors(errors: list[FieldError]) -> RiskFactorProposalPayload:
    return RiskFactorProposalPayload(
        proposal=None,
        risk_factor=None,
        pregnancy=None,
        user_errors=[UserError.of(e) for e in errors],
    )


@strawberry.type
class LabMutation:
    @strawberry.mutation(
        permission_classes=WRITE,
        description="医生修改检验结果（如传染病筛查结果）；检验系统原始值、修改人和原因保留在修订历史中",
    )
    async def amend_lab_result(
        self, info: Info, input: AmendLabResultInput
    ) -> AmendLabResultPayload:
        lab_result_id = expect_id(input.lab_result_id, "LabResult", "labResultId")
        if isinstance(lab_result_id, FieldError):
            return _amend_payload([lab_result_id])
        amendment = Amendment(
            value_text=input.value_text,
            qualitative=input.result.name if input.result else None,
            reason=input.reason,
        )
        return _amend_payload(await mutations.amend(info.context, lab_result_id, amendment))

    @strawberry.mutation(
        permission_classes=WRITE,
        description="从检验系统（LIS FHIR）回填该患者全部历史检验结果；可重复执行，不会重复入库",
    )
    async def backfill_lab_history(
        self,
        info: Info,
        patient_id: Annotated[strawberry.ID, strawberry.argument(description="患者的全局ID")],
    ) -> BackfillLabHistoryPayload:
        db_id = expect_id(patient_id, "Patient", "patientId")
        if isinstance(db_id, FieldError):
            return _backfill_payload([db_id])
        return _backfill_payload(await mutations.backfill(info.context, db_id))

    @strawberry.mutation(
        permission_classes=WRITE,
        description="确认高危因素建议：添加该高危因素（诊断取自建议原因），孕产档案重新评定（传染病为紫色）",
    )
    async def confirm_risk_factor_proposal(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="建议的全局ID")],
    ) -> RiskFactorProposalPayload:
        from graphql_schema.pregnancy.types import Pregnancy

        proposal_id = expect_id(id, "RiskFactorProposal", "id")
        if isinstance(proposal_id, FieldError):
            return _proposal_errors([proposal_id])
        result = await mutations.confirm(info.context, proposal_id)
        if isinstance(result, list):
            return _proposal_errors(result)
        proposal, factor, pregnancy = result
        return RiskFactorProposalPayload(
            proposal=RiskFactorProposal.from_row(proposal, factor.name),
            risk_factor=RiskFactor.from_row(factor),
            pregnancy=Pregnancy.from_row(pregnancy) if pregnancy else None,
            user_errors=[],
        )

    @strawberry.mutation(permission_classes=WRITE, description="驳回高危因素建议（须填写原因）")
    async def dismiss_risk_factor_proposal(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="建议的全局ID")],
        reason: Annotated[str, strawberry.argument(description="驳回原因（必填）")],
    ) -> RiskFactorProposalPayload:
        proposal_id = expect_id(id, "RiskFactorProposal", "id")
        if isinstance(proposal_id, FieldError):
            return _proposal_errors([proposal_id])
        result = await mutations.dismiss(info.context, proposal_id, reason)
        if isinstance(result, list):
            return _proposal_errors(result)
        return RiskFactorProposalPayload(
            proposal=RiskFactorProposal.from_row(result),
            risk_factor=None,
            pregnancy=None,
            user_errors=[],
        )
