"""Booking pregnancies, their dates and status, and listing them through GraphQL."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from graphql_schema.base import to_global_id
from tests.conftest import Api
from tests.helpers import BOOK, TODAY, add_factor, book, count_rows, register

DELIVER = """
mutation Deliver($input: RecordDeliveryInput!) {
  recordDelivery(input: $input) {
    pregnancy { id status deliveredOn deliveredRecordedBy gestationalAgeToday { text }
                gestationalAgeAtDelivery { weeks days totalDays text } }
    userErrors { field message code }
  }
}
"""

ARCHIVE = """
mutation Archive($input: ArchivePregnancyInput!) {
  archivePregnancy(input: $input) {
    pregnancy { id status archivedAt archivedBy }
    userErrors { field message code }
  }
}
"""

PREGNANCY = """
query Pregnancy($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      id status lmp edd deliveredOn deliveredRecordedBy archivedAt archivedBy
      patient { id }
    }
  }
}
"""

PATIENT_PREGNANCIES = """
query PatientPregnancies($id: ID!) {
  node(id: $id) { ... on Patient { pregnancies { id lmp status } } }
}
"""

PREGNANCIES = """
query Pregnancies($filter: PregnancyFilterInput, $first: Int, $after: String) {
  pregnancies(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id status riskColor infectious bookingDate } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def days_ago(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


def booking_input(patient_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "patientId": patient_id,
        "lmp": days_ago(100),
        "gravidity": 2,
        "parity": 1,
        "bookingDate": TODAY.isoformat(),
    }
    values.update(overrides)
    return values


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def outcome(api: Api, document: str, field: str, input: dict[str, Any]) -> object:
    """The user errors of a mutation as (field, code) pairs, or the GraphQL error codes."""
    body = await api.gql(document, {"input": input})
    if "errors" in body:
        return ("GraphQL errors", [e["extensions"]["code"] for e in body["errors"]])
    payload = body["data"][field]
    assert all(e["message"] for e in payload["userErrors"])
    assert payload["pregnancy"] is None or payload["userErrors"] == []
    return errors_of(payload)


async def test_booking_computes_edd_from_lmp_and_gestational_age_today(api: Api) -> None:
    patient_id = await register(api, 1)
    lmp = TODAY - dt.timedelta(days=100)

    body = await api.gql(
        BOOK, {"input": booking_input(patient_id, lmp=lmp.isoformat(), gravidity=3, parity=1)}
    )

    payload = body["data"]["bookPregnancy"]
    assert payload["userErrors"] == []
    pregnancy = payload["pregnancy"]
    assert pregnancy["lmp"] == lmp.isoformat()
    assert pregnancy["edd"] == (lmp + dt.timedelta(days=280)).isoformat()
    assert pregnancy["eddFromLmp"] is True
    assert pregnancy["gravidity"] == 3
    assert pregnancy["parity"] == 1
    assert pregnancy["bookingDate"] == TODAY.isoformat()
    assert pregnancy["status"] == "ACTIVE"
    assert pregnancy["riskColor"] == "GREEN"
    assert pregnancy["infectious"] is False
    assert pregnancy["gestationalAgeToday"] == {"weeks": 14, "days": 2, "text": "14+2"}
    assert await count_rows(api, "pregnancy") == 1


async def test_an_explicit_edd_is_kept(api: Api) -> None:
    patient_id = await register(api, 1)
    lmp = TODAY - dt.timedelta(days=60)
    edd = lmp + dt.timedelta(days=275)

    body = await api.gql(
        BOOK, {"input": booking_input(patient_id, lmp=lmp.isoformat(), edd=edd.isoformat())}
    )

    pregnancy = body["data"]["bookPregnancy"]["pregnancy"]
    assert pregnancy["edd"] == edd.isoformat()
    assert pregnancy["eddFromLmp"] is False
    assert pregnancy["gestationalAgeToday"] == {"weeks": 8, "days": 4, "text": "8+4"}


async def test_bad_booking_is_refused_with_the_field_and_code_and_nothing_is_written(
    api: Api,
) -> None:
    # given a patient with an active pregnancy (handbook GX-0001) and a patient without one
    booked_patient = await register(api, 1)
    existing = await book(api, booked_patient, handbookNo="GX-0001")
    patient = await register(api, 2)
    cases: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
        "lmp in the future": (
            {"lmp": (TODAY + dt.timedelta(days=1)).isoformat()},
            [("lmp", "DATE_IN_FUTURE"), ("bookingDate", "DATE_ORDER")],
        ),
        "edd before lmp": ({"edd": days_ago(101)}, [("edd", "DATE_ORDER")]),
        "edd implausibly far": (
            {"edd": (TODAY + dt.timedelta(days=300)).isoformat()},
            [("edd", "OUT_OF_RANGE")],
        ),
        "parity = gravidity": (
            {"gravidity": 2, "parity": 2},
            [("parity", "PARITY_NOT_BELOW_GRAVIDITY")],
        ),
        "gravidity 0": (
            {"gravidity": 0, "parity": 0},
            [("gravidity", "OUT_OF_RANGE"), ("parity", "PARITY_NOT_BELOW_GRAVIDITY")],
        ),
        "gravidity 31": ({"gravidity": 31, "parity": 1}, [("gravidity", "OUT_OF_RANGE")]),
        "unknown patient": (
            {"patientId": to_global_id("Patient", 987654)},
            [("patientId", "NOT_FOUND")],
        ),
        "malformed id": ({"patientId": "not-an-id"}, [("patientId", "INVALID_ID")]),
        "pregnancy id as patient id": (
            {"patientId": existing["id"]},
            [("patientId", "INVALID_ID")],
        ),
        "duplicate handbook number": ({"handbookNo": "GX-0001"}, [("handbookNo", "DUPLICATE")]),
        "second active pregnancy": (
            {"patientId": booked_patient, "lmp": days_ago(30)},
            [("patientId", "ACTIVE_PREGNANCY_EXISTS")],
        ),
    }

    # when each is sent
    outcomes = {
        case: await outcome(api, BOOK, "bookPregnancy", booking_input(patient, **overrides))
        for case, (overrides, _) in cases.items()
    }

    # then each is refused with exactly its errors, and only the first pregnancy exists
    assert outcomes == {case: expected for case, (_, expected) in cases.items()}
    assert await count_rows(api, "pregnancy") == 1


async def test_a_patient_id_beyond_64_bits_is_an_invalid_id(api: Api) -> None:
    await register(api, 1)
    too_large = base64.b64encode(b"Patient:99999999999999999999999").decode()

    result = await outcome(api, BOOK, "bookPregnancy", booking_input(too_large))

    assert result == [("patientId", "INVALID_ID")]
    assert await count_rows(api, "pregnancy") == 0


async def test_recording_delivery_closes_the_pregnancy_and_allows_a_new_one(api: Api) -> None:
    patient_id = await register(api, 1)
    old = await book(api, patient_id, weeks=40)
    delivered_on = TODAY - dt.timedelta(days=3)

    body = await api.gql(
        DELIVER,
        {"input": {"pregnancyId": old["id"], "deliveredOn": delivered_on.isoformat()}},
        as_user="doctor2",
    )

    payload = body["data"]["recordDelivery"]
    assert payload["userErrors"] == []
    assert payload["pregnancy"] == {
        "id": old["id"],
        "status": "DELIVERED",
        "deliveredOn": delivered_on.isoformat(),
        "deliveredRecordedBy": "doctor2",
        "gestationalAgeToday": None,
        "gestationalAgeAtDelivery": {"weeks": 39, "days": 4, "totalDays": 277, "text": "39+4"},
    }
    stored = (await api.gql(PREGNANCY, {"id": old["id"]}))["data"]["node"]
    assert stored["status"] == "DELIVERED"
    assert stored["deliveredRecordedBy"] == "doctor2"

    new = await book(api, patient_id, weeks=2)

    assert new["status"] == "ACTIVE"
    listed = (await api.gql(PATIENT_PREGNANCIES, {"id": patient_id}))["data"]["node"]
    assert listed["pregnancies"] == [
        {"id": new["id"], "lmp": new["lmp"], "status": "ACTIVE"},
        {"id": old["id"], "lmp": old["lmp"], "status": "DELIVERED"},
    ]


async def test_bad_delivery_date_is_refused_and_status_is_unchanged(api: Api) -> None:
    patient_id = await register(api, 1)
    pregnancy = await book(api, patient_id, weeks=19)

    def delivered_on(day: dt.date) -> dict[str, Any]:
        return {"pregnancyId": pregnancy["id"], "deliveredOn": day.isoformat()}

    future = await outcome(
        api, DELIVER, "recordDelivery", delivered_on(TODAY + dt.timedelta(days=1))
    )
    too_early = await outcome(api, DELIVER, "recordDelivery", delivered_on(TODAY))

    assert future == [("deliveredOn", "DATE_IN_FUTURE")]
    assert too_early == [("deliveredOn", "OUT_OF_RANGE")]
    stored = (await api.gql(PREGNANCY, {"id": pregnancy["id"]}))["data"]["node"]
    assert stored["status"] == "ACTIVE"
    assert stored["deliveredOn"] is None
    assert stored["deliveredRecordedBy"] is None


async def test_a_delivered_pregnancy_cannot_be_delivered_again(api: Api) -> None:
    patient_id = await register(api, 1)
    pregnancy = await book(api, patient_id, weeks=39)
    first_date = days_ago(2)
    await api.gql(DELIVER, {"input": {"pregnancyId": pregnancy["id"], "deliveredOn": first_date}})

    body = await api.gql(
        DELIVER,
        {"input": {"pregnancyId": pregnancy["id"], "deliveredOn": TODAY.isoformat()}},
        as_user="doctor2",
    )

    payload = body["data"]["recordDelivery"]
    assert errors_of(payload) == [("pregnancyId", "PREGNANCY_CLOSED")]
    stored = (await api.gql(PREGNANCY, {"id": pregnancy["id"]}))["data"]["node"]
    assert stored["deliveredOn"] == first_date
    assert stored["deliveredRecordedBy"] == "doctor"


async def test_archiving_records_who_and_when_and_happens_once(api: Api) -> None:
    patient_id = await register(api, 1)
    pregnancy = await book(api, patient_id)
    before = dt.datetime.now(dt.UTC)

    body = await api.gql(ARCHIVE, {"input": {"pregnancyId": pregnancy["id"]}}, as_user="doctor2")

    after = dt.datetime.now(dt.UTC)
    payload = body["data"]["archivePregnancy"]
    assert payload["userErrors"] == []
    archived = payload["pregnancy"]
    assert archived["status"] == "ARCHIVED"
    assert archived["archivedBy"] == "doctor2"
    archived_at = dt.datetime.fromisoformat(archived["archivedAt"])
    assert before <= archived_at <= after

    again = await api.gql(ARCHIVE, {"input": {"pregnancyId": pregnancy["id"]}})

    assert again["data"]["archivePregnancy"]["pregnancy"] is None
    assert errors_of(again["data"]["archivePregnancy"]) == [("pregnancyId", "ALREADY_ARCHIVED")]
    stored = (await api.gql(PREGNANCY, {"id": pregnancy["id"]}))["data"]["node"]
    assert stored["status"] == "ARCHIVED"
    assert stored["archivedBy"] == "doctor2"
    assert stored["archivedAt"] == archived["archivedAt"]


async def test_after_archiving_a_new_pregnancy_can_be_booked(api: Api) -> None:
    patient_id = await register(api, 1)
    old = await book(api, patient_id, weeks=8)
    await api.gql(ARCHIVE, {"input": {"pregnancyId": old["id"]}})

    new = await book(api, patient_id, weeks=3)

    assert new["status"] == "ACTIVE"
    assert await count_rows(api, "pregnancy") == 2


async def test_pregnancies_are_filtered_and_paged(api: Api) -> None:
    # given four pregnancies of three patients with different status, colour and booking date
    first = await register(api, 1)
    second = await register(api, 2)
    third = await register(api, 3)
    yellow = await book(api, first, weeks=20, bookingDate=days_ago(30))
    await add_factor(api, yellow["id"], "Y-GDM")
    purple = await book(api, second, weeks=10)
    await add_factor(api, purple["id"], "P-HEPATITIS")
    delivered = await book(api, third, weeks=40, bookingDate=days_ago(10))
    await api.gql(DELIVER, {"input": {"pregnancyId": delivered["id"], "deliveredOn": days_ago(1)}})
    current = await book(api, third, weeks=4)

    async def listed(
        filter: dict[str, Any] | None = None, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        body = await api.gql(PREGNANCIES, {"filter": filter, "first": first, "after": after})
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["pregnancies"]
        return result

    async def ids(filter: dict[str, Any] | None) -> tuple[list[str], int]:
        page = await listed(filter)
        return [e["node"]["id"] for e in page["edges"]], page["totalCount"]

    # then each filter picks exactly its pregnancies, newest first, with a matching total
    y, p, d, c = yellow["id"], purple["id"], delivered["id"], current["id"]
    assert await ids(None) == ([c, d, p, y], 4)
    assert await ids({"status": "ACTIVE"}) == ([c, p, y], 3)
    assert await ids({"status": "DELIVERED"}) == ([d], 1)
    assert await ids({"status": "ARCHIVED"}) == ([], 0)
    assert await ids({"riskColors": ["YELLOW"]}) == ([y], 1)
    assert await ids({"riskColors": ["GREEN"]}) == ([c, d, p], 3)
    assert await ids({"riskColors": ["YELLOW", "RED"]}) == ([y], 1)
    assert await ids({"infectious": True}) == ([p], 1)
    assert await ids({"infectious": False}) == ([c, d, y], 3)
    assert await ids({"patientId": third}) == ([c, d], 2)
    assert await ids({"bookedFrom": days_ago(15), "bookedTo": days_ago(5)}) == ([d], 1)
    assert await ids({"bookedFrom": days_ago(10)}) == ([c, d, p], 3)
    assert await ids({"bookedTo": days_ago(10)}) == ([d, y], 2)
    assert await ids({"status": "ACTIVE", "infectious": False}) == ([c, y], 2)

    page_one = await listed({"status": "ACTIVE"}, first=2)
    page_two = await listed({"status": "ACTIVE"}, first=2, after=page_one["pageInfo"]["endCursor"])

    assert [e["node"]["id"] for e in page_one["edges"]] == [c, p]
    assert page_one["totalCount"] == 3
    assert page_one["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": page_one["edges"][0]["cursor"],
        "endCursor": page_one["edges"][-1]["cursor"],
    }
    assert [e["node"]["id"] for e in page_two["edges"]] == [y]
    assert page_two["totalCount"] == 3
    assert page_two["pageInfo"]["hasNextPage"] is False
    assert page_two["pageInfo"]["hasPreviousPage"] is True
    node = page_one["edges"][1]["node"]
    assert node == {
        "id": p,
        "status": "ACTIVE",
        "riskColor": "GREEN",
        "infectious": True,
        "bookingDate": TODAY.isoformat(),
    }


async def test_bad_filter_is_bad_user_input(api: Api) -> None:
    unknown_status = await api.gql(PREGNANCIES, {"filter": {"status": "PENDING"}})
    malformed_patient = await api.gql(PREGNANCIES, {"filter": {"patientId": "not-an-id"}})

    assert unknown_status["data"] is None
    assert unknown_status["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert malformed_patient["data"] is None
    assert malformed_patient["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_roles_without_write_permission_cannot_book(api: Api) -> None:
    patient_id = await register(api, 1)

    refused = {
        user: await api.gql(BOOK, {"input": booking_input(patient_id)}, as_user=user)
        for user in ("auditor", "admin")
    }

    for body in refused.values():
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(api, "pregnancy") == 0


async def test_auditor_cannot_deliver_or_archive(api: Api) -> None:
    patient_id = await register(api, 1)
    pregnancy = await book(api, patient_id, weeks=39)

    delivered = await api.gql(
        DELIVER,
        {"input": {"pregnancyId": pregnancy["id"], "deliveredOn": TODAY.isoformat()}},
        as_user="auditor",
    )
    archived = await api.gql(
        ARCHIVE, {"input": {"pregnancyId": pregnancy["id"]}}, as_user="auditor"
    )

    for body in (delivered, archived):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stored = (await api.gql(PREGNANCY, {"id": pregnancy["id"]}))["data"]["node"]
    assert stored["status"] == "ACTIVE"
    assert stored["deliveredOn"] is None
    assert stored["archivedBy"] is None
