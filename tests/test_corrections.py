"""Data corrections (数据纠错, 1.18) through GraphQL: request → approve/reject by another person.

A doctor asks for one field of one record to be changed, with a reason; the value seen
then is kept. An approver who did not ask applies it — through the domain's own edit,
in one transaction, before/after kept, re-pushed — or rejects it with a reason. A value
that changed since the request makes approval fail and change nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.audit.models import AuditEvent
from domain.auth.actor import Role
from domain.auth.service import ensure_user, issue_token
from domain.correction.models import CorrectionRequest
from domain.database import Database
from domain.history.models import Revision
from domain.lab.models import LabResult, LabResultAmendment
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy
from domain.push.models import PushRecord
from domain.visit.models import PrenatalVisit
from graphql_schema.base import from_global_id, to_global_id
from tests.conftest import PASSWORD, Api
from tests.helpers import RECORD_VISIT, TODAY, add_factor, book, register

FIELDS = """
query Fields { correctableFields { targetType targetLabel field label valueType unit required } }
"""

CORRECTION = """
id targetId targetType targetLabel field fieldLabel valueType oldValue newValue currentValue
targetExists reason status requestedBy decidedBy decisionReason appliedBefore appliedAfter
"""

REQUEST = f"""
mutation Request($input: RequestCorrectionInput!) {{
  requestCorrection(input: $input) {{
    correction {{ {CORRECTION} }}
    userErrors {{ field message code }}
  }}
}}
"""

APPROVE = f"""
mutation Approve($id: ID!) {{
  approveCorrection(input: {{correctionId: $id}}) {{
    correction {{ {CORRECTION} }}
    userErrors {{ field message code }}
  }}
}}
"""

REJECT = f"""
mutation Reject($id: ID!, $reason: String!) {{
  rejectCorrection(input: {{correctionId: $id, reason: $reason}}) {{
    correction {{ {CORRECTION} }}
    userErrors {{ field message code }}
  }}
}}
"""

LIST = """
query List($filter: CorrectionFilter, $first: Int, $after: String) {
  corrections(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id field status requestedBy oldValue newValue currentValue } }
  }
}
"""

EDIT_VISIT = """
mutation Edit($input: EditVisitInput!) {
  editVisit(input: $input) { visit { weightKg version } userErrors { code } }
}
"""

DELIVER = """
mutation Deliver($id: ID!, $on: Date!) {
  recordDelivery(input: {pregnancyId: $id, deliveredOn: $on}) { userErrors { code } }
}
"""

ARCHIVE = """
mutation Archive($id: ID!) { archivePregnancy(input: {pregnancyId: $id}) { userErrors { code } } }
"""


def db_id(global_id: str) -> int:
    return from_global_id(global_id)[1]


@pytest.fixture
async def chief(api: Api) -> str:
    """A doctor who is also an approver (主任): may ask, may approve others' requests."""
    async with api.services.db.transaction() as session:
        await ensure_user(
            session,
            "chief",
            display_name="陈主任",
            roles=[Role.DOCTOR, Role.APPROVER],
            password=PASSWORD,
        )
        api.tokens["chief"] = await issue_token(session, "chief", label="tests")
    return "chief"


@pytest.fixture
async def record(api: Api) -> dict[str, str]:
    """A patient, a pregnancy (30 weeks) with one visit (60 kg) and one factor: delivered."""
    patient = await register(api, 1)
    pregnancy = await book(api, patient, weeks=30, handbookNo="450103202500001")
    body = await api.gql(
        RECORD_VISIT,
        {
            "input": {
                "pregnancyId": pregnancy["id"],
                "visitDate": (TODAY - dt.timedelta(days=7)).isoformat(),
                "weightKg": 60,
                "systolicBp": 118,
                "diastolicBp": 76,
                "remarks": "一般情况好",
            }
        },
    )
    factor = await add_factor(api, pregnancy["id"], "Y-AGE", diagnosis="高龄")
    delivered = await api.gql(DELIVER, {"id": pregnancy["id"], "on": TODAY.isoformat()})
    assert delivered["data"]["recordDelivery"]["userErrors"] == []
    return {
        "patient": patient,
        "pregnancy": pregnancy["id"],
        "visit": body["data"]["recordVisit"]["visit"]["id"],
        "factor": factor["id"],
    }


async def request(
    api: Api,
    target: str,
    field: str,
    value: str,
    *,
    as_user: str = "doctor",
    reason: str = "录入错误",
) -> dict[str, Any]:
    body = await api.gql(
        REQUEST,
        {"input": {"targetId": target, "field": field, "newValue": value, "reason": reason}},
        as_user=as_user,
    )
    return dict(body["data"]["requestCorrection"]) if body.get("data") else body


async def snapshot(db: Database) -> tuple[Any, ...]:
    """What a correction could change: the clinical rows, history, requests, audit, outbox."""
    async with db.reader() as session:
        visits = (
            await session.execute(
                select(PrenatalVisit.id, PrenatalVisit.weight_kg, PrenatalVisit.version)
            )
        ).all()
        patients = (await session.execute(select(Patient.name, Patient.phone))).all()
        requests = (
            await session.execute(
                select(CorrectionRequest.id, CorrectionRequest.status, CorrectionRequest.decided_by)
            )
        ).all()
        counts = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (Revision, LabResultAmendment)
        ]
        changes = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "READ")
        )
        outbox = (await session.execute(select(PushRecord.record_id, PushRecord.version))).all()
    return tuple(visits), tuple(patients), tuple(requests), (*counts, changes), tuple(outbox)


# --- the whitelist ---------------------------------------------------------------------------


async def test_correctable_fields_are_a_typed_whitelist(api: Api) -> None:
    body = await api.gql(FIELDS, as_user="approver")

    fields = body["data"]["correctableFields"]
    assert {(f["targetType"], f["field"]) for f in fields} >= {
        ("Patient", "name"),
        ("Patient", "phone"),
        ("Patient", "address"),
        ("Pregnancy", "lmp"),
        ("Pregnancy", "handbookNo"),
        ("Pregnancy", "bookingUnit"),
        ("PrenatalVisit", "weightKg"),
        ("PrenatalVisit", "systolicBp"),
        ("PrenatalVisit", "fundalHeightCm"),
        ("PrenatalVisit", "remarks"),
        ("RiskFactor", "diagnosis"),
        ("LabResult", "valueText"),
    }
    weight = next(f for f in fields if f["field"] == "weightKg")
    assert weight == {
        "targetType": "PrenatalVisit",
        "targetLabel": "产前检查",
        "field": "weightKg",
        "label": "体重",
        "valueType": "NUMBER",
        "unit": "kg",
        "required": False,
    }


# --- request and approve -----------------------------------------------------------------------


async def test_an_approved_correction_changes_a_closed_record_in_one_go_and_is_re_pushed(
    api: Api, db: Database, record: dict[str, str]
) -> None:
    asked = await request(api, record["visit"], "weightKg", "62.50", reason="体重误录为60kg")
    correction = asked["correction"]
    async with db.reader() as session:
        pushed_before = await session.scalar(
            select(PushRecord.version).where(PushRecord.record_type == "PRENATAL_VISIT")
        )

    approved = await api.gql(APPROVE, {"id": correction["id"]}, as_user="approver")

    assert asked["userErrors"] == []
    assert correction == {
        "id": correction["id"],
        "targetId": record["visit"],
        "targetType": "PrenatalVisit",
        "targetLabel": f"产前检查 黄丽萍 {(TODAY - dt.timedelta(days=7)).isoformat()}",
        "field": "weightKg",
        "fieldLabel": "体重",
        "valueType": "NUMBER",
        "oldValue": "60",
        "newValue": "62.5",
        "currentValue": "60",
        "targetExists": True,
        "reason": "体重误录为60kg",
        "status": "PENDING",
        "requestedBy": "doctor",
        "decidedBy": None,
        "decisionReason": None,
        "appliedBefore": None,
        "appliedAfter": None,
    }
    payload = approved["data"]["approveCorrection"]
    assert payload["userErrors"] == []
    assert payload["correction"]["status"] == "APPROVED"
    assert payload["correction"]["decidedBy"] == "approver"
    assert payload["correction"]["appliedBefore"] == "60"
    assert payload["correction"]["appliedAfter"] == "62.5"
    assert payload["correction"]["currentValue"] == "62.5"
    async with db.reader() as session:
        visit = await session.get(PrenatalVisit, db_id(record["visit"]))
        revision = await session.scalar(
            select(Revision).where(
                Revision.entity == "prenatal_visit", Revision.entity_id == db_id(record["visit"])
            )
        )
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action != "READ")
                .order_by(AuditEvent.id.desc())
                .limit(3)
            )
        ).all()
        pushed = await session.scalar(
            select(PushRecord).where(PushRecord.record_type == "PRENATAL_VISIT")
        )
    assert visit is not None
    assert (visit.weight_kg, visit.version) == (62.5, 2)
    assert revision is not None
    assert (revision.before, revision.after, revision.changed_by) == (
        {"weight_kg": 60.0},
        {"weight_kg": 62.5},
        "approver",
    )
    assert list(actions) == ["APPROVE_CORRECTION", "UPDATE", "REQUEST_CORRECTION"]
    assert pushed is not None
    assert pushed.changed_by == "approver"
    assert pushed.body["data"]["weightKg"] == 62.5  # type: ignore[index]
    assert pushed_before is not None
    assert pushed.version >= pushed_before


async def test_an_archived_patients_phone_and_name_are_corrected(
    api: Api, db: Database, record: dict[str, str]
) -> None:
    await api.gql(ARCHIVE, {"id": record["pregnancy"]})
    phone = await request(api, record["patient"], "phone", "13977100088")
    name = await request(api, record["patient"], "name", "覃丽萍")

    for asked in (phone, name):
        done = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user="approver")
        assert done["data"]["approveCorrection"]["userErrors"] == []

    async with db.reader() as session:
        patient = await session.get(Patient, db_id(record["patient"]))
        versions = (
            await session.scalars(
                select(Revision.version)
                .where(Revision.entity == "patient")
                .order_by(Revision.version)
            )
        ).all()
    assert patient is not None
    assert (patient.name, patient.name_initials, patient.phone) == ("覃丽萍", "QLP", "13977100088")
    assert list(versions) == [1, 2]


async def test_correcting_the_lmp_recomputes_the_edd_and_gestational_ages(
    api: Api, db: Database, record: dict[str, str]
) -> None:
    async with db.reader() as session:
        pregnancy = await session.get(Pregnancy, db_id(record["pregnancy"]))
    assert pregnancy is not None
    new_lmp = pregnancy.lmp - dt.timedelta(days=7)

    asked = await request(api, record["pregnancy"], "lmp", new_lmp.isoformat())
    await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user="approver")

    async with db.reader() as session:
        corrected = await session.get(Pregnancy, db_id(record["pregnancy"]))
        visit = await session.get(PrenatalVisit, db_id(record["visit"]))
    assert corrected is not None
    assert visit is not None
    assert corrected.lmp == new_lmp
    assert corrected.edd == new_lmp + dt.timedelta(days=280)
    assert visit.gestational_days == (visit.visit_date - new_lmp).days


async def test_a_lab_value_is_corrected_through_the_amendment_history(
    api: Api, db: Database, record: dict[str, str]
) -> None:
    async with db.transaction() as session:
        pregnancy = await session.get(Pregnancy, db_id(record["pregnancy"]))
        assert pregnancy is not None
        lab = LabResult(
            patient_id=pregnancy.patient_id,
            pregnancy_id=pregnancy.id,
            item_code="HBSAG",
            item_name="乙肝表面抗原",
            value_text="阳性",
            value_qualitative="POSITIVE",
            reported_at=dt.datetime.now(dt.UTC),
            source="LIS",
            source_id="LIS-77",
        )
        session.add(lab)
        await session.flush()
        lab_id = to_global_id("LabResult", lab.id)
    await api.gql(ARCHIVE, {"id": record["pregnancy"]})

    asked = await request(api, lab_id, "valueText", "阴性", reason="标本错号，复查为阴性")
    done = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user="approver")

    assert done["data"]["approveCorrection"]["correction"]["appliedAfter"] == "阴性"
    async with db.reader() as session:
        amended = await session.get(LabResult, db_id(lab_id))
        amendment = await session.scalar(select(LabResultAmendment))
    assert amended is not None
    assert (amended.value_text, amended.value_qualitative) == ("阴性", "NEGATIVE")
    assert amendment is not None
    assert amendment.amended_by == "approver"
    assert amendment.reason is not None
    assert amendment.reason.endswith("：标本错号，复查为阴性")


async def test_a_factor_diagnosis_is_corrected(api: Api, record: dict[str, str]) -> None:
    asked = await request(api, record["factor"], "diagnosis", "高龄初产")
    done = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user="approver")

    assert done["data"]["approveCorrection"]["correction"]["appliedBefore"] == "高龄"
    assert done["data"]["approveCorrection"]["correction"]["appliedAfter"] == "高龄初产"


# --- refusals --------------------------------------------------------------------------------


async def test_approval_of_a_value_changed_since_the_request_fails_and_changes_nothing(
    api: Api, db: Database
) -> None:
    pregnancy = await book(api, await register(api, 2), weeks=20)
    visit = await api.gql(
        RECORD_VISIT,
        {"input": {"pregnancyId": pregnancy["id"], "visitDate": TODAY.isoformat(), "weightKg": 55}},
    )
    visit_id = visit["data"]["recordVisit"]["visit"]["id"]
    asked = await request(api, visit_id, "weightKg", "56")
    await api.gql(EDIT_VISIT, {"input": {"visitId": visit_id, "weightKg": 57}}, as_user="doctor2")
    before = await snapshot(db)

    body = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user="approver")

    assert body["data"]["approveCorrection"] == {
        "correction": None,
        "userErrors": [
            {
                "field": "correctionId",
                "message": "值已被修改，请重新提交更正申请（申请时为「55」，现在为「57」）",
                "code": "STALE",
            }
        ],
    }
    assert await snapshot(db) == before
    listed = await api.gql(LIST, {"filter": {"status": "PENDING"}}, as_user="approver")
    node = listed["data"]["corrections"]["edges"][0]["node"]
    assert (node["oldValue"], node["newValue"], node["currentValue"]) == ("55", "56", "57")


async def test_a_requester_can_never_decide_their_own_request(
    api: Api, db: Database, record: dict[str, str], chief: str
) -> None:
    asked = await request(api, record["visit"], "weightKg", "61", as_user=chief)
    before = await snapshot(db)

    approve = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user=chief)
    reject = await api.gql(
        REJECT, {"id": asked["correction"]["id"], "reason": "撤回"}, as_user=chief
    )

    for body, name in ((approve, "approveCorrection"), (reject, "rejectCorrection")):
        assert body["data"][name]["correction"] is None
        assert [e["code"] for e in body["data"][name]["userErrors"]] == ["OWN_REQUEST"]
    assert approve["data"]["approveCorrection"]["userErrors"][0]["message"] == (
        "不能审核自己提交的更正申请，请由其他审核人处理"
    )
    assert await snapshot(db) == before
    # Another approver may.
    other = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user="approver")
    assert other["data"]["approveCorrection"]["correction"]["status"] == "APPROVED"


@pytest.mark.parametrize(
    ("as_user", "code"),
    [
        ("doctor", "FORBIDDEN"),
        ("admin", "FORBIDDEN"),
        ("auditor", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_approvers_decide(
    api: Api, db: Database, record: dict[str, str], as_user: str | None, code: str
) -> None:
    asked = await request(api, record["visit"], "weightKg", "61")
    before = await snapshot(db)

    approve = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user=as_user)
    reject = await api.gql(
        REJECT, {"id": asked["correction"]["id"], "reason": "不同意"}, as_user=as_user
    )

    assert approve["errors"][0]["extensions"]["code"] == code
    assert reject["errors"][0]["extensions"]["code"] == code
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    ("as_user", "code"),
    [("auditor", "FORBIDDEN"), ("approver", "FORBIDDEN"), (None, "UNAUTHENTICATED")],
)
async def test_auditors_and_approvers_cannot_request(
    api: Api, db: Database, record: dict[str, str], as_user: str | None, code: str
) -> None:
    before = await snapshot(db)

    body = await api.gql(
        REQUEST,
        {
            "input": {
                "targetId": record["visit"],
                "field": "weightKg",
                "newValue": "61",
                "reason": "错",
            }
        },
        as_user=as_user,
    )

    assert body["errors"][0]["extensions"]["code"] == code
    assert await snapshot(db) == before


async def test_a_rejection_needs_a_reason_and_changes_no_data(
    api: Api, db: Database, record: dict[str, str]
) -> None:
    asked = await request(api, record["visit"], "weightKg", "61")
    blank = await api.gql(
        REJECT, {"id": asked["correction"]["id"], "reason": " "}, as_user="approver"
    )
    rejected = await api.gql(
        REJECT,
        {"id": asked["correction"]["id"], "reason": "原值与纸质病历一致"},
        as_user="approver",
    )
    again = await api.gql(APPROVE, {"id": asked["correction"]["id"]}, as_user="approver")

    assert [e["code"] for e in blank["data"]["rejectCorrection"]["userErrors"]] == ["REQUIRED"]
    correction = rejected["data"]["rejectCorrection"]["correction"]
    assert (correction["status"], correction["decidedBy"], correction["decisionReason"]) == (
        "REJECTED",
        "approver",
        "原值与纸质病历一致",
    )
    assert again["data"]["approveCorrection"]["userErrors"] == [
        {
            "field": "correctionId",
            "message": "该更正申请已被 approver 驳回",
            "code": "ALREADY_DECIDED",
        }
    ]
    async with db.reader() as session:
        visit = await session.get(PrenatalVisit, db_id(record["visit"]))
    assert visit is not None
    assert (visit.weight_kg, visit.version) == (60.0, 1)


@pytest.mark.parametrize(
    ("target", "field", "value", "reason", "errors"),
    [
        (
            "visit",
            "weightKg",
            "abc",
            "错",
            [("newValue", "INVALID_FORMAT", "体重应为数字，收到的是「abc」")],
        ),
        (
            "visit",
            "weightKg",
            "300",
            "错",
            [("newValue", "OUT_OF_RANGE", "体重应在30到200kg之间，当前为300")],
        ),
        (
            "visit",
            "diastolicBp",
            "130",
            "错",
            [("newValue", "INCONSISTENT", "舒张压必须低于收缩压")],
        ),
        (
            "visit",
            "weightKg",
            "60.0",
            "错",
            [("newValue", "NO_CHANGE", "新值与体重的当前值相同，无需更正")],
        ),
        ("visit", "weightKg", "61", " ", [("reason", "REQUIRED", "更正原因不能为空")]),
        ("visit", "doctorName", "张三", "错", [("field", "UNKNOWN_FIELD", None)]),
        (
            "visit",
            "visitDate",
            "2025-13-01",
            "错",
            [
                (
                    "newValue",
                    "INVALID_FORMAT",
                    "检查日期应为日期（YYYY-MM-DD），收到的是「2025-13-01」",
                )
            ],
        ),
        (
            "patient",
            "phone",
            "12345",
            "错",
            [
                (
                    "newValue",
                    "INVALID_FORMAT",
                    "电话号码格式不正确：应为11位手机号或带区号的固定电话",
                )
            ],
        ),
        ("patient", "name", "", "错", [("newValue", "REQUIRED", "姓名不能为空")]),
        (
            "pregnancy",
            "parity",
            "2",
            "错",
            [("newValue", "PARITY_NOT_BELOW_GRAVIDITY", "产次必须小于孕次（本次妊娠计入孕次）")],
        ),
        (
            "missing",
            "weightKg",
            "61",
            "错",
            [("targetId", "NOT_FOUND", "要更正的产前检查不存在或已删除")],
        ),
        ("ultrasound", "ntMm", "1.2", "错", [("targetId", "NOT_CORRECTABLE", None)]),
        ("garbage", "weightKg", "61", "错", [("targetId", "INVALID_ID", "无效的ID：not-an-id")]),
    ],
)
async def test_bad_requests_are_refused_in_chinese_and_nothing_is_written(
    api: Api,
    db: Database,
    record: dict[str, str],
    target: str,
    field: str,
    value: str,
    reason: str,
    errors: list[tuple[str, str, str | None]],
) -> None:
    targets = {
        **record,
        "missing": to_global_id("PrenatalVisit", 999999),
        "ultrasound": to_global_id("UltrasoundExam", 1),
        "garbage": "not-an-id",
    }
    before = await snapshot(db)

    body = await request(api, targets[target], field, value, reason=reason)

    assert body["correction"] is None
    found = [(e["field"], e["code"], e["message"]) for e in body["userErrors"]]
    assert [(f, c) for f, c, _ in found] == [(f, c) for f, c, _ in errors]
    for (_, _, message), (_, _, expected) in zip(found, errors, strict=True):
        if expected is not None:
            assert message == expected
    assert await snapshot(db) == before


async def test_a_second_pending_request_for_the_same_field_and_a_taken_handbook_number_are_refused(
    api: Api, db: Database, record: dict[str, str]
) -> None:
    other = await book(api, await register(api, 3), handbookNo="450103202500002")
    await request(api, record["visit"], "weightKg", "61")
    before = await snapshot(db)

    twice = await request(api, record["visit"], "weightKg", "62")
    taken = await request(api, other["id"], "handbookNo", "450103202500001")

    assert [e["code"] for e in twice["userErrors"]] == ["PENDING_EXISTS"]
    assert taken["userErrors"] == [
        {"field": "newValue", "message": "手册编号 450103202500001 已被使用", "code": "DUPLICATE"}
    ]
    assert await snapshot(db) == before


# --- the list --------------------------------------------------------------------------------


async def test_requests_are_listed_newest_first_with_filters_and_masked_phones(
    api: Api, record: dict[str, str]
) -> None:
    first = await request(api, record["visit"], "weightKg", "61")
    second = await request(api, record["patient"], "phone", "13977100088", as_user="admin")
    third = await request(api, record["factor"], "diagnosis", "高龄初产")
    await api.gql(REJECT, {"id": third["correction"]["id"], "reason": "不需要"}, as_user="approver")

    everything = await api.gql(LIST, {"first": 2})
    page_two = await api.gql(
        LIST, {"first": 2, "after": everything["data"]["corrections"]["pageInfo"]["endCursor"]}
    )
    pending = await api.gql(LIST, {"filter": {"status": "PENDING"}}, as_user="approver")
    by_admin = await api.gql(LIST, {"filter": {"requestedBy": "admin"}}, as_user="auditor")
    visits = await api.gql(LIST, {"filter": {"targetType": "PrenatalVisit"}})
    for_patient = await api.gql(LIST, {"filter": {"patientId": record["patient"]}})
    bad_type = await api.gql(LIST, {"filter": {"targetType": "Ultrasound"}})

    def ids(body: dict[str, Any]) -> list[str]:
        return [e["node"]["id"] for e in body["data"]["corrections"]["edges"]]

    assert everything["data"]["corrections"]["totalCount"] == 3
    assert ids(everything) + ids(page_two) == [
        third["correction"]["id"],
        second["correction"]["id"],
        first["correction"]["id"],
    ]
    assert ids(pending) == [second["correction"]["id"], first["correction"]["id"]]
    assert ids(visits) == [first["correction"]["id"]]
    assert len(ids(for_patient)) == 3
    # The auditor does not see identifiers; the approver (who must judge) and doctors do.
    assert by_admin["data"]["corrections"]["edges"][0]["node"]["newValue"] == "139****0088"
    assert pending["data"]["corrections"]["edges"][0]["node"]["newValue"] == "13977100088"
    assert bad_type["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
