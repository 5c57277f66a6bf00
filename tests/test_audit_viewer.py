"""The audit log viewer (审计日志) through GraphQL: for auditors only, filtered and paged.

It answers who read or changed which patient's data, when and through which operation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from domain.audit.models import AuditEvent
from domain.database import Database
from tests.conftest import Api
from tests.helpers import book, register

EVENTS = """
query Events($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges {
      node {
        id at username action operationName entity entityId targetId patientIds detail
        patients { id name residentId }
      }
    }
  }
}
"""

# Without `patients`: listing events then reads no patient data itself, so the auditor's
# own queries add no READ events while a test looks.
PLAIN = """
query Plain($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { id username action patientIds } }
  }
}
"""

READ_PATIENT = """
query Read($id: ID!) { node(id: $id) { ... on Patient { name } } }
"""

CST = dt.timezone(dt.timedelta(hours=8))


def actions(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["node"]["username"], e["node"]["action"]) for e in body["data"]["auditEvents"]["edges"]
    ]


@pytest.fixture
async def history(api: Api) -> dict[str, str]:
    """Two women registered and booked by doctor; doctor2 reads the first one."""
    first = await register(api, 1)
    second = await register(api, 2, name="覃海燕")
    await book(api, first)
    read = await api.gql(READ_PATIENT, {"id": first}, as_user="doctor2")
    assert read["data"]["node"]["name"] == "黄丽萍"
    await api.flush_audit()
    return {"first": first, "second": second}


async def test_auditors_see_who_read_or_changed_which_patient(
    api: Api, history: dict[str, str]
) -> None:
    body = await api.gql(EVENTS, {"first": 10}, as_user="auditor")

    connection = body["data"]["auditEvents"]
    assert connection["totalCount"] == 4
    assert actions(body) == [
        ("doctor2", "READ"),
        ("doctor", "CREATE"),
        ("doctor", "CREATE"),
        ("doctor", "CREATE"),
    ]
    read = connection["edges"][0]["node"]
    assert read["operationName"] == "Read"
    assert read["patientIds"] == [history["first"]]
    # Auditors see names, never full resident IDs.
    assert read["patients"][0]["name"] == "黄丽萍"
    assert read["patients"][0]["residentId"].count("*") == 8
    booking = connection["edges"][1]["node"]
    assert (booking["entity"], booking["targetId"] is not None) == ("pregnancy", True)
    assert booking["patientIds"] == [history["first"]]


async def test_events_are_filtered_by_actor_patient_action_and_time(
    api: Api, db: Database, history: dict[str, str]
) -> None:
    async with db.reader() as session:
        times = (await session.scalars(select(AuditEvent.at).order_by(AuditEvent.id))).all()
    last_write = times[2]

    by_actor = await api.gql(PLAIN, {"filter": {"actor": "doctor2"}}, as_user="auditor")
    by_patient = await api.gql(
        PLAIN, {"filter": {"patientId": history["second"]}}, as_user="auditor"
    )
    first_patient = await api.gql(
        PLAIN, {"filter": {"patientId": history["first"]}}, as_user="auditor"
    )
    by_action = await api.gql(PLAIN, {"filter": {"action": "read"}}, as_user="auditor")
    until = await api.gql(PLAIN, {"filter": {"to": last_write.isoformat()}}, as_user="auditor")
    future = await api.gql(
        PLAIN,
        {"filter": {"from": (dt.datetime.now(CST) + dt.timedelta(hours=1)).isoformat()}},
        as_user="auditor",
    )
    naive_local = await api.gql(
        PLAIN,
        {
            "filter": {
                "from": (dt.datetime.now(CST) - dt.timedelta(hours=1))
                .replace(tzinfo=None)
                .isoformat()
            }
        },
        as_user="auditor",
    )

    assert actions(by_actor) == [("doctor2", "READ")]
    assert actions(by_patient) == [("doctor", "CREATE")]
    assert actions(first_patient) == [
        ("doctor2", "READ"),
        ("doctor", "CREATE"),
        ("doctor", "CREATE"),
    ]
    assert actions(by_action) == [("doctor2", "READ")]
    assert actions(until) == [("doctor", "CREATE")] * 3
    assert actions(future) == []
    assert naive_local["data"]["auditEvents"]["totalCount"] == 4


async def test_events_are_paged_newest_first(api: Api, history: dict[str, str]) -> None:
    first = await api.gql(PLAIN, {"first": 3}, as_user="auditor")
    cursor = first["data"]["auditEvents"]["pageInfo"]["endCursor"]
    second = await api.gql(PLAIN, {"first": 3, "after": cursor}, as_user="auditor")

    assert first["data"]["auditEvents"]["pageInfo"]["hasNextPage"] is True
    assert len(actions(first)) == 3
    assert actions(second) == [("doctor", "CREATE")]
    assert second["data"]["auditEvents"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        ({"patientId": "not-an-id"}, "无效的ID：not-an-id"),
        (
            {"from": "2025-02-01T00:00:00+08:00", "to": "2025-01-01T00:00:00+08:00"},
            "起始时间不能晚于截止时间",
        ),
    ],
)
async def test_bad_filters_are_bad_input(api: Api, filter: dict[str, Any], message: str) -> None:
    body = await api.gql(PLAIN, {"filter": filter}, as_user="auditor")

    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("as_user", "code"),
    [
        ("doctor", "FORBIDDEN"),
        ("admin", "FORBIDDEN"),
        ("approver", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_auditors_read_the_audit_log(api: Api, as_user: str | None, code: str) -> None:
    body = await api.gql(PLAIN, as_user=as_user)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == code
