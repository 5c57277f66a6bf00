"""The audit trail: who read or changed which patients' data, through which operation and request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from domain.audit.models import AuditEvent
from domain.auth.models import User
from graphql_schema.base import from_global_id
from tests.conftest import PASSWORD, Api
from tests.helpers import REGISTER, book, count_rows, patient_input, register

WORKLIST = """
query Worklist($first: Int, $search: String) {
  patients(first: $first, search: $search) { edges { node { id name } } }
}
"""

BOARD = """
query Board {
  pregnancies(first: 10) { edges { node { id patient { id name } } } }
}
"""


async def audit_events(api: Api, action: str | None = None) -> list[AuditEvent]:
    async with api.services.db.reader() as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list((await session.scalars(query)).all())


async def user_id(api: Api, username: str) -> int:
    async with api.services.db.reader() as session:
        found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return int(found)


def db_id(global_id: str, type_name: str) -> int:
    found_type, row_id = from_global_id(global_id)
    assert found_type == type_name
    return row_id


async def post(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    operation_name: str | None = None,
    request_id: str | None = None,
    as_user: str = "doctor",
) -> tuple[dict[str, Any], str]:
    """Send like a GraphQL client that names its operation; return body and echoed request id."""
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation_name is not None:
        payload["operationName"] = operation_name
    headers = {"Authorization": f"Bearer {api.tokens[as_user]}"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    response = await api.client.post("/graphql", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, response.headers["x-request-id"]


async def test_patients_query_writes_one_read_event_with_who_what_and_request(api: Api) -> None:
    for sequence in (1, 2, 3):
        await register(api, sequence)
    await api.flush_audit()

    body, echoed = await post(
        api, WORKLIST, {"first": 2}, operation_name="Worklist", request_id="audit-req-0001"
    )
    await api.flush_audit()

    returned = [db_id(e["node"]["id"], "Patient") for e in body["data"]["patients"]["edges"]]
    assert len(returned) == 2
    assert echoed == "audit-req-0001"
    reads = await audit_events(api, "READ")
    assert len(reads) == 1
    event = reads[0]
    assert event.username == "doctor"
    assert event.user_id == await user_id(api, "doctor")
    assert event.operation_name == "Worklist"
    assert event.request_id == "audit-req-0001"
    assert event.entity is None
    assert event.entity_id is None
    assert event.patient_ids == sorted(returned)
    assert event.detail == {}


async def test_read_event_is_named_after_the_operation_in_the_document(api: Api) -> None:
    """Clients such as curl send only the document; `query Worklist {…}` names the operation."""
    await register(api, 1)
    await api.flush_audit()

    body = await api.gql(WORKLIST, {"first": 5}, headers={"X-Request-ID": "audit-req-0002"})
    await api.flush_audit()

    assert len(body["data"]["patients"]["edges"]) == 1
    [event] = await audit_events(api, "READ")
    assert event.request_id == "audit-req-0002"
    assert event.operation_name == "Worklist"


async def test_query_that_returns_no_patients_writes_no_read_event(api: Api) -> None:
    await register(api, 1)
    await api.flush_audit()
    before = await count_rows(api, "audit_event")

    body, _ = await post(api, WORKLIST, {"search": "不存在的人"}, operation_name="Worklist")
    await api.flush_audit()

    assert body["data"]["patients"]["edges"] == []
    assert await audit_events(api, "READ") == []
    assert await count_rows(api, "audit_event") == before


async def test_nested_reads_record_the_patients_behind_the_records(api: Api) -> None:
    booked_patient = await register(api, 1)
    await register(api, 2)  # registered but never booked: not read by the board
    await book(api, booked_patient)
    await api.flush_audit()

    body, _ = await post(api, BOARD, operation_name="Board", as_user="admin")
    await api.flush_audit()

    nodes = [e["node"] for e in body["data"]["pregnancies"]["edges"]]
    assert [n["patient"]["id"] for n in nodes] == [booked_patient]
    [event] = await audit_events(api, "READ")
    assert event.username == "admin"
    assert event.operation_name == "Board"
    assert event.patient_ids == [db_id(booked_patient, "Patient")]


async def test_node_lookup_of_a_pregnancy_records_its_patient(api: Api) -> None:
    patient = await register(api, 4)
    pregnancy = await book(api, patient)
    await api.flush_audit()

    body, _ = await post(
        api,
        "query One($id: ID!) { node(id: $id) { ... on Pregnancy { edd } } }",
        {"id": pregnancy["id"]},
        operation_name="One",
    )
    await api.flush_audit()

    assert body["data"]["node"] == {"edd": pregnancy["edd"]}
    [event] = await audit_events(api, "READ")
    assert event.patient_ids == [db_id(patient, "Patient")]


async def test_each_request_writes_its_own_read_event(api: Api) -> None:
    await register(api, 1)
    await register(api, 2)
    await api.flush_audit()

    await post(api, WORKLIST, {"first": 1}, operation_name="Worklist", request_id="first-req")
    await post(
        api,
        WORKLIST,
        {"first": 5},
        operation_name="Worklist",
        request_id="second-req",
        as_user="doctor2",
    )
    await api.flush_audit()

    reads = await audit_events(api, "READ")
    assert [(e.request_id, e.username, len(e.patient_ids)) for e in reads] == [
        ("first-req", "doctor", 1),
        ("second-req", "doctor2", 2),
    ]


async def test_registering_a_patient_writes_its_create_event_with_the_change(api: Api) -> None:
    body, echoed = await post(
        api,
        REGISTER,
        {"input": patient_input(5)},
        operation_name="Register",
        request_id="audit-create-1",
    )
    # Written in the mutation's transaction, not by the read buffer: no flush needed.
    creates = await audit_events(api, "CREATE")

    patient_id = db_id(body["data"]["registerPatient"]["patient"]["id"], "Patient")
    assert echoed == "audit-create-1"
    assert len(creates) == 1
    event = creates[0]
    assert event.username == "doctor"
    assert event.user_id == await user_id(api, "doctor")
    assert event.operation_name == "Register"
    assert event.request_id == "audit-create-1"
    assert event.entity == "patient"
    assert event.entity_id == patient_id
    assert event.patient_ids == [patient_id]


async def test_create_event_is_named_after_the_mutation_in_the_document(api: Api) -> None:
    """REGISTER is `mutation Register(…)`; the client sends no separate operationName."""
    body = await api.gql(
        REGISTER, {"input": patient_input(9)}, headers={"X-Request-ID": "audit-create-2"}
    )

    assert body["data"]["registerPatient"]["userErrors"] == []
    [event] = await audit_events(api, "CREATE")
    assert event.request_id == "audit-create-2"
    assert event.operation_name == "Register"


async def test_refused_registrations_write_no_create_event(api: Api) -> None:
    await register(api, 6)
    before = await audit_events(api)

    duplicate, _ = await post(api, REGISTER, {"input": patient_input(6, phone="13900000000")})
    invalid, _ = await post(api, REGISTER, {"input": patient_input(7, name="   ")})
    forbidden, _ = await post(api, REGISTER, {"input": patient_input(8)}, as_user="auditor")
    await api.flush_audit()

    assert [e["code"] for e in duplicate["data"]["registerPatient"]["userErrors"]] == ["DUPLICATE"]
    assert [e["code"] for e in invalid["data"]["registerPatient"]["userErrors"]] == ["REQUIRED"]
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(api, "patient") == 1
    assert [e.id for e in await audit_events(api)] == [e.id for e in before]


async def test_login_writes_a_login_event(api: Api) -> None:
    response = await api.client.post(
        "/auth/login",
        json={"username": "doctor2", "password": PASSWORD},
        headers={"X-Request-ID": "login-req-1"},
    )

    assert response.status_code == 200
    events = await audit_events(api)
    assert len(events) == 1
    event = events[0]
    assert event.action == "LOGIN"
    assert event.username == "doctor2"
    assert event.user_id == await user_id(api, "doctor2")
    assert event.entity == "user"
    assert event.entity_id == event.user_id
    assert event.request_id == "login-req-1"
    assert event.patient_ids == []


async def test_failed_login_writes_no_event(api: Api) -> None:
    response = await api.client.post(
        "/auth/login", json={"username": "doctor", "password": "wrong"}
    )
    await api.flush_audit()

    assert response.status_code == 401
    assert await count_rows(api, "audit_event") == 0


async def test_refused_anonymous_query_writes_no_audit_event(api: Api) -> None:
    await register(api, 1)
    await api.flush_audit()
    before = await count_rows(api, "audit_event")

    body = await api.gql(WORKLIST, {"first": 5}, as_user=None)
    await api.flush_audit()

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await count_rows(api, "audit_event") == before
    assert await audit_events(api, "READ") == []
