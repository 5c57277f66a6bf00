"""Factor proposals: a positive HBsAg proposes the purple factor; a doctor confirms it
(the factor is recorded and the pregnancy turns infectious) or dismisses it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from domain.audit.models import AuditEvent
from domain.database import Database
from domain.lab.mapping import LabDictionary
from domain.lab.service import StoreOutcome, store_results
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from domain.risk.models import RiskFactor
from domain.risk.proposal_models import RiskFactorProposal
from tests.conftest import Api
from tests.helpers import PREGNANCY_RISK, add_factor
from tests.lab_helpers import cst, gid, incoming, seed_patient

PROPOSALS = """
query Proposals($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      infectious
      riskFactorProposals {
        id code factorName reason status proposedAt decidedBy decidedAt
        labResult { itemCode valueText }
      }
    }
  }
}
"""

CONFIRM = """
mutation Confirm($id: ID!) {
  confirmRiskFactorProposal(id: $id) {
    proposal { id code status decidedBy }
    riskFactor { code name color diagnosis diagnosisSource }
    pregnancy { riskColor infectious }
    userErrors { field message code }
  }
}
"""

DISMISS = """
mutation Dismiss($id: ID!, $reason: String!) {
  dismissRiskFactorProposal(id: $id, reason: $reason) {
    proposal { id code status decidedBy }
    riskFactor { code }
    userErrors { field message code }
  }
}
"""

REASON = "乙肝表面抗原阳性（2024-03-01），建议确认传染病（紫色）高危因素"


async def positive_hbsag(db: Database) -> tuple[int, int, StoreOutcome]:
    """A booked pregnancy whose HBsAg came back positive through the LIS ingestion."""
    patient_id, pregnancy_id = await seed_patient(db)
    assert pregnancy_id is not None
    async with db.transaction() as session:
        dictionary = await LabDictionary.load(session)
        outcome = await store_results(
            session,
            dictionary,
            [incoming(patient_id, "LIS-HBSAG-1", "阳性 2563.4 IU/mL", specimen_at=cst(2024, 3, 1))],
        )
    return patient_id, pregnancy_id, outcome


async def pending(api: Api, pregnancy_id: int) -> dict[str, Any]:
    body = await api.gql(PROPOSALS, {"id": gid("Pregnancy", pregnancy_id)})
    assert "errors" not in body, body
    node: dict[str, Any] = body["data"]["node"]
    return node


async def state(db: Database) -> tuple[list[str], list[str], bool]:
    """(proposal statuses, current factor codes, purple flag) — what a denied action must keep."""
    async with db.reader() as session:
        statuses = list((await session.scalars(select(RiskFactorProposal.status))).all())
        codes = list(
            (
                await session.scalars(
                    select(RiskFactor.code).where(RiskFactor.removed_at.is_(None))
                )
            ).all()
        )
        flag = await session.scalar(select(Pregnancy.infectious_flag))
    return statuses, codes, bool(flag)


async def test_a_positive_hbsag_is_proposed_and_visible_to_the_doctor(api: Api) -> None:
    _, pregnancy_id, outcome = await positive_hbsag(api.services.db)
    [proposal] = outcome.proposals

    node = await pending(api, pregnancy_id)

    assert node == {
        "infectious": False,
        "riskFactorProposals": [
            {
                "id": gid("RiskFactorProposal", proposal.id),
                "code": "P-HEPATITIS",
                "factorName": "病毒性肝炎（HBsAg阳性）",
                "reason": REASON,
                "status": "PENDING",
                "proposedAt": proposal.proposed_at.isoformat(),
                "decidedBy": None,
                "decidedAt": None,
                "labResult": {"itemCode": "HBSAG", "valueText": "阳性 2563.4 IU/mL"},
            }
        ],
    }


async def test_confirming_records_the_purple_factor_with_the_finding_as_diagnosis(
    api: Api,
) -> None:
    _, pregnancy_id, outcome = await positive_hbsag(api.services.db)
    proposal_id = gid("RiskFactorProposal", outcome.proposals[0].id)

    confirmed = await api.gql(CONFIRM, {"id": proposal_id})
    again = await api.gql(CONFIRM, {"id": proposal_id})
    risk = await api.gql(PREGNANCY_RISK, {"id": gid("Pregnancy", pregnancy_id)})

    assert confirmed == {
        "data": {
            "confirmRiskFactorProposal": {
                "proposal": {
                    "id": proposal_id,
                    "code": "P-HEPATITIS",
                    "status": "CONFIRMED",
                    "decidedBy": "doctor",
                },
                "riskFactor": {
                    "code": "P-HEPATITIS",
                    "name": "病毒性肝炎（HBsAg阳性）",
                    "color": "PURPLE",
                    "diagnosis": "乙肝表面抗原阳性（2024-03-01）",
                    "diagnosisSource": "MANUAL",
                },
                "pregnancy": {"riskColor": "GREEN", "infectious": True},
                "userErrors": [],
            }
        }
    }
    assert again["data"]["confirmRiskFactorProposal"]["userErrors"] == [
        {"field": "id", "message": "该建议已被确认", "code": "ALREADY_DECIDED"}
    ]
    assert risk["data"]["node"]["infectious"] is True
    assert risk["data"]["node"]["riskAssessment"]["infectiousFactors"] == [{"code": "P-HEPATITIS"}]
    assert (await pending(api, pregnancy_id))["riskFactorProposals"] == []
    assert await state(api.services.db) == (["CONFIRMED"], ["P-HEPATITIS"], True)


async def test_a_factor_already_recorded_by_hand_satisfies_the_proposal(api: Api) -> None:
    _, pregnancy_id, outcome = await positive_hbsag(api.services.db)
    await add_factor(api, gid("Pregnancy", pregnancy_id), "P-HEPATITIS", diagnosis="慢性乙型肝炎")

    body = await api.gql(CONFIRM, {"id": gid("RiskFactorProposal", outcome.proposals[0].id)})

    payload = body["data"]["confirmRiskFactorProposal"]
    assert payload["userErrors"] == []
    assert payload["riskFactor"]["diagnosis"] == "慢性乙型肝炎"
    assert await state(api.services.db) == (["CONFIRMED"], ["P-HEPATITIS"], True)


async def test_dismissing_keeps_the_pregnancy_unchanged_and_records_the_reason(api: Api) -> None:
    _, pregnancy_id, outcome = await positive_hbsag(api.services.db)
    proposal = outcome.proposals[0]
    proposal_id = gid("RiskFactorProposal", proposal.id)

    blank = await api.gql(DISMISS, {"id": proposal_id, "reason": "  "})
    dismissed = await api.gql(DISMISS, {"id": proposal_id, "reason": "复查为假阳性"})
    confirm_after = await api.gql(CONFIRM, {"id": proposal_id})

    assert blank["data"]["dismissRiskFactorProposal"]["userErrors"] == [
        {"field": "reason", "message": "驳回原因不能为空", "code": "REQUIRED"}
    ]
    assert dismissed == {
        "data": {
            "dismissRiskFactorProposal": {
                "proposal": {
                    "id": proposal_id,
                    "code": "P-HEPATITIS",
                    "status": "DISMISSED",
                    "decidedBy": "doctor",
                },
                "riskFactor": None,
                "userErrors": [],
            }
        }
    }
    assert confirm_after["data"]["confirmRiskFactorProposal"]["userErrors"] == [
        {"field": "id", "message": "该建议已被驳回", "code": "ALREADY_DECIDED"}
    ]
    assert (await pending(api, pregnancy_id))["riskFactorProposals"] == []
    assert await state(api.services.db) == (["DISMISSED"], [], False)
    async with api.services.db.reader() as session:
        [event] = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "DISMISS"))
        ).all()
    assert (event.username, event.entity, event.entity_id) == (
        "doctor",
        "risk_factor_proposal",
        proposal.id,
    )
    assert event.detail == {"code": "P-HEPATITIS", "reason": "复查为假阳性"}


async def test_an_auditor_can_neither_confirm_nor_dismiss_and_nothing_changes(api: Api) -> None:
    _, _, outcome = await positive_hbsag(api.services.db)
    proposal_id = gid("RiskFactorProposal", outcome.proposals[0].id)

    confirm = await api.gql(CONFIRM, {"id": proposal_id}, as_user="auditor")
    dismiss = await api.gql(DISMISS, {"id": proposal_id, "reason": "x"}, as_user="auditor")

    for body in (confirm, dismiss):
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await state(api.services.db) == (["PENDING"], [], False)


async def test_a_closed_pregnancy_or_a_wrong_id_is_a_user_error(api: Api) -> None:
    db = api.services.db
    _, pregnancy_id, outcome = await positive_hbsag(db)
    proposal_id = gid("RiskFactorProposal", outcome.proposals[0].id)
    async with db.transaction() as session:
        pregnancy = await session.get(Pregnancy, pregnancy_id)
        assert pregnancy is not None
        pregnancy.status = PregnancyStatus.ARCHIVED

    closed = await api.gql(CONFIRM, {"id": proposal_id})
    unknown = await api.gql(CONFIRM, {"id": gid("RiskFactorProposal", 999999)})
    wrong_kind = await api.gql(DISMISS, {"id": gid("Pregnancy", pregnancy_id), "reason": "x"})

    assert closed["data"]["confirmRiskFactorProposal"]["userErrors"] == [
        {
            "field": "pregnancyId",
            "message": "该孕产档案已分娩或归档，只能查看，不能修改",
            "code": "PREGNANCY_CLOSED",
        }
    ]
    assert unknown["data"]["confirmRiskFactorProposal"]["userErrors"] == [
        {"field": "id", "message": "高危因素建议不存在", "code": "NOT_FOUND"}
    ]
    assert wrong_kind["data"]["dismissRiskFactorProposal"]["userErrors"] == [
        {
            "field": "id",
            "message": "ID 指向 Pregnancy，此处需要 RiskFactorProposal",
            "code": "INVALID_ID",
        }
    ]
    assert await state(db) == (["PENDING"], [], False)
