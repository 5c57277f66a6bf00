from __future__ import annotations

from domain.errors import FieldError
from domain.lab import amend as amend_service
from domain.lab import backfill as backfill_service
from domain.lab.models import LabResult
from domain.pregnancy.models import Pregnancy
from domain.risk import proposals
from domain.risk.models import RiskFactor
from domain.risk.proposal_models import RiskFactorProposal
from integrations.lis.fhir import LisFhirClient
from resolvers.context import Context
from resolvers.errors import outcome


async def amend(
    ctx: Context, lab_result_id: int, amendment: amend_service.Amendment
) -> LabResult | list[FieldError]:
    return await outcome(
        amend_service.amend_lab_result(ctx.db, ctx.acting, lab_result_id, amendment)
    )


async def backfill(
    ctx: Context, patient_id: int
) -> backfill_service.BackfillOutcome | list[FieldError]:
    lis = LisFhirClient.from_settings(ctx.settings)
    if lis is None:
        message = "未配置检验系统 FHIR 服务（LIS_FHIR_BASE_URL），无法回填"
        return [FieldError("patientId", message, "NOT_CONFIGURED")]
    return await outcome(
        backfill_service.backfill_patient(ctx.db, lis, patient_id, actor=ctx.acting)
    )


async def confirm(
    ctx: Context, proposal_id: int
) -> tuple[RiskFactorProposal, RiskFactor, Pregnancy | None] | list[FieldError]:
    confirmed = await outcome(proposals.confirm_proposal(ctx.db, ctx.acting, proposal_id))
    if isinstance(confirmed, list):
        return confirmed
    proposal, factor = confirmed
    async with ctx.db.reader() as session:
        pregnancy = await session.get(Pregnancy, proposal.pregnancy_id)
    return proposal, factor, pregnancy


async def dismiss(
    ctx: Context, proposal_id: int, reason: str | None
) -> RiskFactorProposal | list[FieldError]:
    return await outcome(proposals.dismiss_proposal(ctx.db, ctx.acting, proposal_id, reason))
