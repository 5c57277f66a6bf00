"""Recording and editing antenatal visits through GraphQL; edits keep history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from domain.history.models import Revision
from graphql_schema.base import from_global_id, to_global_id
from tests.conftest import Api
from tests.helpers import RECORD_VISIT, TODAY, book, count_rows, register

# Pregnancies in these tests are booked 20 weeks after their LMP.
WEEKS = 20
LMP = TODAY - dt.timedelta(weeks=WEEKS)

VISIT_FIELDS = """
id visitDate gestationalAge { text totalDays } weightKg systolicBp diastolicBp
fundalHeightCm abdominalCircumferenceCm fetalHeartRate fetalPosition remarks
nextVisitDate doctorName version
"""

EDIT_VISIT = f"""
mutation Edit($input: EditVisitInput!) {{
  editVisit(input: $input) {{
    visit {{ {VISIT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""

VISIT = f"""
query Visit($id: ID!) {{
  node(id: $id) {{ ... on PrenatalVisit {{ {VISIT_FIELDS} }} }}
}}
"""

PREGNANCY_VISITS = """
query Visits($id: ID!) {
  node(id: $id) { ... on Pregnancy { visits { id visitDate gestationalAge { text } } } }
}
"""

DELIVER = """
mutation Deliver($input: RecordDeliveryInput!) {
  recordDelivery(input: $input) { userErrors { field code } }
}
"""

ARCHIVE = """
mutation Archive($input: ArchivePregnancyInput!) {
  archivePregnancy(input: $input) { userErrors { field code } }
}
"""


def day(offset: int) -> str:
    """TODAY + offset days, as the API writes dates."""
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def full_values(pregnancy_id: str) -> dict[str, Any]:
    return {
        "pregnancyId": pregnancy_id,
        "visitDate": day(-3),
        "weightKg": 62.5,
        "systolicBp": 118,
        "diastolicBp": 76,
        "fundalHeightCm": 19.5,
        "abdominalCircumferenceCm": 86.0,
        "fetalHeartRate": 142,
        "fetalPosition": "LOA",
        "remarks": "  孕妇自述偶有头晕，嘱左侧卧位休息。  ",
        "nextVisitDate": day(25),
    }


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def outcome(api: Api, document: str, field: str, input: dict[str, Any]) -> object:
    """The user errors of a refused mutation as (field, code) pairs, or its GraphQL error codes."""
    body = await api.gql(document, {"input": input})
    if "errors" in body:
        return ("GraphQL errors", [e["extensions"]["code"] for e in body["errors"]])
    payload = body["data"][field]
    assert payload["visit"] is None, payload
    assert all(e["message"] for e in payload["userErrors"])
    return errors_of(payload)


async def active_pregnancy(api: Api, *, weeks: int = WEEKS) -> str:
    patient_id = await register(api, 1)
    return str((await book(api, patient_id, weeks=weeks))["id"])


async def record(api: Api, values: dict[str, Any], *, as_user: str = "doctor") -> dict[str, Any]:
    body = await api.gql(RECORD_VISIT, {"input": values}, as_user=as_user)
    payload: dict[str, Any] = body["data"]["recordVisit"]
    assert payload["userErrors"] == [], payload
    return dict(payload["visit"])


async def stored_visit(api: Api, visit_id: str) -> dict[str, Any]:
    body = await api.gql(VISIT, {"id": visit_id})
    return dict(body["data"]["node"])


async def revisions(api: Api) -> list[tuple[str, int, int, str | None, Any, Any]]:
    async with api.services.db.reader() as session:
        rows = await session.scalars(select(Revision).order_by(Revision.id))
        return [(r.entity, r.entity_id, r.version, r.changed_by, r.before, r.after) for r in rows]


async def test_record_visit_stores_every_field_and_computes_gestational_age(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)

    body = await api.gql(RECORD_VISIT, {"input": full_values(pregnancy_id)}, as_user="doctor2")

    payload = body["data"]["recordVisit"]
    assert payload["userErrors"] == []
    visit = payload["visit"]
    expected = {
        "id": visit["id"],
        "visitDate": day(-3),
        "gestationalAge": {"text": "19+4", "totalDays": 137},
        "weightKg": 62.5,
        "systolicBp": 118,
        "diastolicBp": 76,
        "fundalHeightCm": 19.5,
        "abdominalCircumferenceCm": 86.0,
        "fetalHeartRate": 142,
        "fetalPosition": "LOA",
        "remarks": "孕妇自述偶有头晕，嘱左侧卧位休息。",
        "nextVisitDate": day(25),
        "doctorName": "doctor2",
        "version": 1,
    }
    assert visit == expected
    assert await stored_visit(api, visit["id"]) == expected
    assert await count_rows(api, "prenatal_visit") == 1


async def test_remarks_of_exactly_the_limit_are_kept(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)
    remarks = "记" * 2000

    visit = await record(
        api, {"pregnancyId": pregnancy_id, "visitDate": day(-1), "remarks": f"  {remarks}\n"}
    )

    assert visit["remarks"] == remarks
    assert (await stored_visit(api, visit["id"]))["remarks"] == remarks


async def test_bad_visit_is_refused_with_the_field_and_code_and_nothing_is_written(
    api: Api,
) -> None:
    # given an active pregnancy 20 weeks after its LMP
    pregnancy_id = await active_pregnancy(api)
    cases: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
        "weight 500 kg": ({"weightKg": 500}, [("weightKg", "OUT_OF_RANGE")]),
        "systolic 400": ({"systolicBp": 400, "diastolicBp": 80}, [("systolicBp", "OUT_OF_RANGE")]),
        "fetal heart rate 20": ({"fetalHeartRate": 20}, [("fetalHeartRate", "OUT_OF_RANGE")]),
        "fundal height -3": ({"fundalHeightCm": -3}, [("fundalHeightCm", "OUT_OF_RANGE")]),
        "diastolic = systolic": (
            {"systolicBp": 110, "diastolicBp": 110},
            [("diastolicBp", "INCONSISTENT")],
        ),
        "only systolic": ({"systolicBp": 110}, [("diastolicBp", "INCOMPLETE")]),
        "only diastolic": ({"diastolicBp": 70}, [("diastolicBp", "INCOMPLETE")]),
        "visit tomorrow": ({"visitDate": day(1)}, [("visitDate", "DATE_IN_FUTURE")]),
        "visit before lmp": (
            {"visitDate": (LMP - dt.timedelta(days=1)).isoformat()},
            [("visitDate", "DATE_ORDER")],
        ),
        "next visit before visit": ({"nextVisitDate": day(-2)}, [("nextVisitDate", "DATE_ORDER")]),
        "next visit same day": ({"nextVisitDate": day(-1)}, [("nextVisitDate", "DATE_ORDER")]),
        "remarks 2001 chars": ({"remarks": "记" * 2001}, [("remarks", "TOO_LONG")]),
        "malformed pregnancy id": ({"pregnancyId": "garbage"}, [("pregnancyId", "INVALID_ID")]),
        "patient id as pregnancy id": (
            {"pregnancyId": to_global_id("Patient", 1)},
            [("pregnancyId", "INVALID_ID")],
        ),
        "unknown pregnancy": (
            {"pregnancyId": to_global_id("Pregnancy", 424242)},
            [("pregnancyId", "NOT_FOUND")],
        ),
    }

    # when each is sent
    outcomes = {
        case: await outcome(
            api,
            RECORD_VISIT,
            "recordVisit",
            {"pregnancyId": pregnancy_id, "visitDate": day(-1), **overrides},
        )
        for case, (overrides, _) in cases.items()
    }

    # then each is refused with exactly its errors and no visit is stored
    assert outcomes == {case: expected for case, (_, expected) in cases.items()}
    assert await count_rows(api, "prenatal_visit") == 0


async def test_editing_remarks_changes_only_remarks_and_keeps_the_old_value(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)
    original = await record(api, full_values(pregnancy_id))

    body = await api.gql(
        EDIT_VISIT,
        {"input": {"visitId": original["id"], "remarks": " 头晕已缓解，继续观察。 "}},
        as_user="doctor2",
    )

    payload = body["data"]["editVisit"]
    assert payload["userErrors"] == []
    expected = {**original, "remarks": "头晕已缓解，继续观察。", "version": 2}
    assert payload["visit"] == expected
    assert await stored_visit(api, original["id"]) == expected
    _, visit_db_id = from_global_id(original["id"])
    assert await revisions(api) == [
        (
            "prenatal_visit",
            visit_db_id,
            2,
            "doctor2",
            {"remarks": "孕妇自述偶有头晕，嘱左侧卧位休息。"},
            {"remarks": "头晕已缓解，继续观察。"},
        )
    ]


async def test_editing_a_value_to_null_clears_it(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)
    original = await record(api, full_values(pregnancy_id))

    body = await api.gql(EDIT_VISIT, {"input": {"visitId": original["id"], "weightKg": None}})

    payload = body["data"]["editVisit"]
    assert payload["userErrors"] == []
    expected = {**original, "weightKg": None, "version": 2}
    assert payload["visit"] == expected
    assert await stored_visit(api, original["id"]) == expected
    _, visit_db_id = from_global_id(original["id"])
    assert await revisions(api) == [
        ("prenatal_visit", visit_db_id, 2, "doctor", {"weight_kg": 62.5}, {"weight_kg": None})
    ]


async def test_editing_the_visit_date_recomputes_gestational_age(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)
    original = await record(api, full_values(pregnancy_id))

    body = await api.gql(EDIT_VISIT, {"input": {"visitId": original["id"], "visitDate": day(-10)}})

    visit = body["data"]["editVisit"]["visit"]
    assert visit["visitDate"] == day(-10)
    assert visit["gestationalAge"] == {"text": "18+4", "totalDays": 130}
    assert visit["version"] == 2
    assert (await stored_visit(api, original["id"]))["gestationalAge"] == visit["gestationalAge"]


async def test_an_edit_that_changes_nothing_keeps_the_version_and_writes_no_history(
    api: Api,
) -> None:
    pregnancy_id = await active_pregnancy(api)
    original = await record(api, full_values(pregnancy_id))
    cases: dict[str, dict[str, Any]] = {
        "nothing given": {},
        "same remarks": {"remarks": "孕妇自述偶有头晕，嘱左侧卧位休息。"},
        "same remarks once trimmed": {"remarks": "  孕妇自述偶有头晕，嘱左侧卧位休息。\n"},
        "same values": {"weightKg": 62.5, "systolicBp": 118, "visitDate": day(-3)},
    }

    returned = {}
    for case, changes in cases.items():
        body = await api.gql(EDIT_VISIT, {"input": {"visitId": original["id"], **changes}})
        assert body["data"]["editVisit"]["userErrors"] == [], case
        returned[case] = body["data"]["editVisit"]["visit"]

    assert returned == dict.fromkeys(cases, original)
    assert await stored_visit(api, original["id"]) == original
    assert await count_rows(api, "revision") == 0


async def test_an_invalid_edit_is_refused_and_the_visit_is_unchanged(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)
    original = await record(api, full_values(pregnancy_id))
    cases: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
        "weight 500 kg": ({"weightKg": 500}, [("weightKg", "OUT_OF_RANGE")]),
        "clearing half the blood pressure": (
            {"diastolicBp": None},
            [("diastolicBp", "INCOMPLETE")],
        ),
        "visit tomorrow": ({"visitDate": day(1)}, [("visitDate", "DATE_IN_FUTURE")]),
        "next visit before visit": ({"nextVisitDate": day(-5)}, [("nextVisitDate", "DATE_ORDER")]),
        "remarks 2001 chars": ({"remarks": "记" * 2001}, [("remarks", "TOO_LONG")]),
        "unknown visit": (
            {"visitId": to_global_id("PrenatalVisit", 4242), "remarks": "x"},
            [("visitId", "NOT_FOUND")],
        ),
        "pregnancy id as visit id": (
            {"visitId": pregnancy_id, "remarks": "x"},
            [("visitId", "INVALID_ID")],
        ),
    }

    outcomes = {
        case: await outcome(api, EDIT_VISIT, "editVisit", {"visitId": original["id"], **changes})
        for case, (changes, _) in cases.items()
    }

    assert outcomes == {case: expected for case, (_, expected) in cases.items()}
    assert await stored_visit(api, original["id"]) == original
    assert await count_rows(api, "revision") == 0


@pytest.mark.parametrize(
    ("document", "extra"),
    [
        pytest.param(DELIVER, {"deliveredOn": TODAY.isoformat()}, id="delivered"),
        pytest.param(ARCHIVE, {}, id="archived"),
    ],
)
async def test_visits_of_a_closed_pregnancy_cannot_be_recorded_or_edited(
    api: Api, document: str, extra: dict[str, str]
) -> None:
    pregnancy_id = await active_pregnancy(api, weeks=38)
    original = await record(api, full_values(pregnancy_id))
    closed = await api.gql(document, {"input": {"pregnancyId": pregnancy_id, **extra}})
    assert "errors" not in closed, closed

    recorded = await api.gql(
        RECORD_VISIT, {"input": {"pregnancyId": pregnancy_id, "visitDate": TODAY.isoformat()}}
    )
    edited = await api.gql(EDIT_VISIT, {"input": {"visitId": original["id"], "remarks": "补记"}})

    assert recorded["data"]["recordVisit"]["visit"] is None
    assert errors_of(recorded["data"]["recordVisit"]) == [("pregnancyId", "PREGNANCY_CLOSED")]
    assert edited["data"]["editVisit"]["visit"] is None
    assert errors_of(edited["data"]["editVisit"]) == [("visitId", "PREGNANCY_CLOSED")]
    assert await count_rows(api, "prenatal_visit") == 1
    assert await stored_visit(api, original["id"]) == original
    assert await count_rows(api, "revision") == 0


async def test_pregnancy_lists_its_visits_by_date(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)
    late = await record(api, {"pregnancyId": pregnancy_id, "visitDate": day(-3)})
    early = await record(api, {"pregnancyId": pregnancy_id, "visitDate": day(-30)})
    middle = await record(api, {"pregnancyId": pregnancy_id, "visitDate": day(-10)})

    body = await api.gql(PREGNANCY_VISITS, {"id": pregnancy_id})

    assert late == {
        "id": late["id"],
        "visitDate": day(-3),
        "gestationalAge": {"text": "19+4", "totalDays": 137},
        "weightKg": None,
        "systolicBp": None,
        "diastolicBp": None,
        "fundalHeightCm": None,
        "abdominalCircumferenceCm": None,
        "fetalHeartRate": None,
        "fetalPosition": None,
        "remarks": None,
        "nextVisitDate": None,
        "doctorName": "doctor",
        "version": 1,
    }

    assert body["data"]["node"]["visits"] == [
        {"id": early["id"], "visitDate": day(-30), "gestationalAge": {"text": "15+5"}},
        {"id": middle["id"], "visitDate": day(-10), "gestationalAge": {"text": "18+4"}},
        {"id": late["id"], "visitDate": day(-3), "gestationalAge": {"text": "19+4"}},
    ]


async def test_auditor_cannot_record_or_edit_visits(api: Api) -> None:
    pregnancy_id = await active_pregnancy(api)
    original = await record(api, full_values(pregnancy_id))

    recorded = await api.gql(RECORD_VISIT, {"input": full_values(pregnancy_id)}, as_user="auditor")
    edited = await api.gql(
        EDIT_VISIT, {"input": {"visitId": original["id"], "remarks": "改"}}, as_user="auditor"
    )

    assert recorded["data"] is None
    assert recorded["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert edited["data"] is None
    assert edited["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(api, "prenatal_visit") == 1
    assert await stored_visit(api, original["id"]) == original
