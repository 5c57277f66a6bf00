"""The push monitor's API: list, statistics, retry, discard, replay, mapping, live updates."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from sqlalchemy import select

from domain.audit.models import AuditEvent
from tests.conftest import Api
from tests.helpers import RECORD_VISIT, TODAY, book, count_rows, register
from tests.test_jobs import Served, served  # noqa: F401 (the served-app fixture)
from tests.test_push import booked, records

DISCARD = """
mutation($input: DiscardPushRecordInput!) {
  discardPushRecord(input: $input) {
    records { status discardedBy discardReason } userErrors { field code message }
  }
}
"""
REPLAY = """
mutation($input: ReplayPushRecordsInput!) {
  replayPushRecords(input: $input) { records { recordId version status } userErrors { field code message } }
}
"""
RETRY = """
mutation($input: RetryPushRecordsInput!) {
  retryPushRecords(input: $input) { records { status attempts } userErrors { code message } }
}
"""
STATISTICS = """
{ pushStatistics(bucketMinutes: 60) { byStatus { status recordType count } successRate } }
"""
SAVE_MAPPING = """
mutation($input: SavePushMappingInput!) {
  savePushMapping(input: $input) { mapping { version note createdBy } userErrors { field code message } }
}
"""


async def test_discard_needs_an_admin_and_a_reason_and_keeps_the_record(api: Api) -> None:
    pregnancy = await booked(api)
    record = next(iter((await records(api, pregnancy)).values()))
    # A doctor may not discard: refused, nothing changed
    body = await api.gql(DISCARD, {"input": {"id": record["id"], "reason": "重复"}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await records(api, pregnancy))[record["recordId"]]["status"] == "PENDING"
    # An admin must say why
    body = await api.gql(DISCARD, {"input": {"id": record["id"], "reason": "  "}}, as_user="admin")
    assert [e["code"] for e in body["data"]["discardPushRecord"]["userErrors"]] == ["REQUIRED"]
    body = await api.gql(
        DISCARD, {"input": {"id": record["id"], "reason": "平台已手工录入"}}, as_user="admin"
    )
    assert body["data"]["discardPushRecord"]["records"] == [
        {"status": "DISCARDED", "discardedBy": "admin", "discardReason": "平台已手工录入"}
    ]
    assert await count_rows(api, "push_record") == 2  # nothing deleted
    await api.flush_audit()
    async with api.services.db.reader() as session:
        actions = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.username == "admin"))
        ).all()
    assert "PUSH_DISCARD" in actions


async def test_replaying_several_records_needs_the_expected_count(api: Api) -> None:
    first = await booked(api)
    await booked(api, sequence=2)
    before = {**await records(api, first)}
    replay = {"filter": {"recordTypes": ["MATERNAL_REGISTRATION"]}}
    body = await api.gql(REPLAY, {"input": replay}, as_user="admin")
    errors = body["data"]["replayPushRecords"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [("expectedCount", "CONFIRMATION_REQUIRED")]
    assert "2" in errors[0]["message"]
    assert await records(api, first) == before
    body = await api.gql(REPLAY, {"input": {**replay, "expectedCount": 2}}, as_user="admin")
    replayed = body["data"]["replayPushRecords"]["records"]
    assert sorted((r["version"], r["status"]) for r in replayed) == [(1, "PENDING"), (1, "PENDING")]


async def test_retry_refuses_delivered_or_discarded_records(api: Api) -> None:
    pregnancy = await booked(api)
    record = next(iter((await records(api, pregnancy)).values()))
    body = await api.gql(RETRY, {"input": {"ids": [record["id"]]}}, as_user="admin")
    assert body["data"]["retryPushRecords"]["records"] == [{"status": "PENDING", "attempts": 0}]
    await api.gql(DISCARD, {"input": {"id": record["id"], "reason": "测试"}}, as_user="admin")
    body = await api.gql(RETRY, {"input": {"ids": [record["id"]]}}, as_user="admin")
    assert body["data"]["retryPushRecords"]["userErrors"][0]["code"] == "INVALID_STATE"


async def test_statistics_count_records_by_status_and_type(api: Api) -> None:
    await booked(api)
    body = await api.gql(STATISTICS, as_user="auditor")
    stats = body["data"]["pushStatistics"]
    assert sorted((c["status"], c["recordType"], c["count"]) for c in stats["byStatus"]) == [
        ("PENDING", "HIGH_RISK_ASSESSMENT", 1),
        ("PENDING", "MATERNAL_REGISTRATION", 1),
    ]
    assert stats["successRate"] is None


async def test_admins_see_masked_identifiers_in_payloads(api: Api) -> None:
    pregnancy = await booked(api)
    as_doctor = await records(api, pregnancy)
    body = await api.gql(
        "query($f: PushRecordFilter) { pushRecords(filter: $f) { edges { node { recordId payload } } } }",
        {"f": {"pregnancyId": pregnancy}},
        as_user="admin",
    )
    as_admin = {
        e["node"]["recordId"]: e["node"]["payload"] for e in body["data"]["pushRecords"]["edges"]
    }
    for record_id, record in as_doctor.items():
        shown = as_admin[record_id]["patient"]["idCardNo"]
        assert shown != record["payload"]["patient"]["idCardNo"]
        assert "*" in shown


async def test_a_new_mapping_version_is_validated_and_applies_to_the_next_change(api: Api) -> None:
    body = await api.gql("{ pushMappings { version document } }", as_user="admin")
    current = body["data"]["pushMappings"][0]
    assert current["version"] == 1
    broken = {
        "fields": {**current["document"]["fields"], "PRENATAL_VISIT": {"treatment": "no_such"}},
        "codes": current["document"]["codes"],
    }
    body = await api.gql(SAVE_MAPPING, {"input": {"document": broken}}, as_user="admin")
    errors = body["data"]["savePushMapping"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("fields.PRENATAL_VISIT.treatment", "INVALID_MAPPING")
    ]
    # The operator's document renames the handbook number field
    fields = dict(current["document"]["fields"])
    registration = dict(fields["MATERNAL_REGISTRATION"])
    registration["handbookNumber"] = registration.pop("handbookNo")
    fields["MATERNAL_REGISTRATION"] = registration
    document = {"fields": fields, "codes": current["document"]["codes"]}
    body = await api.gql(
        SAVE_MAPPING, {"input": {"document": document, "note": "平台 v1.1"}}, as_user="admin"
    )
    assert body["data"]["savePushMapping"]["mapping"] == {
        "version": 2,
        "note": "平台 v1.1",
        "createdBy": "admin",
    }
    # A doctor cannot change it
    body = await api.gql(SAVE_MAPPING, {"input": {"document": document}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    pregnancy = await booked(api)
    registration_record = next(
        r
        for r in (await records(api, pregnancy)).values()
        if r["recordType"] == "MATERNAL_REGISTRATION"
    )
    assert registration_record["payload"]["data"]["handbookNumber"] == "GX00000001"
    assert "handbookNo" not in registration_record["payload"]["data"]


async def test_status_changes_arrive_over_graphql_ws(served: Served) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=f"http://{served.url}") as client:
        api = Api(client=client, app=None, tokens=served.tokens)
        patient = await register(api, 4)
        pregnancy = (await book(api, patient, weeks=20))["id"]
        async with websockets.connect(
            f"ws://{served.url}/graphql",
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
            additional_headers={"Authorization": f"Bearer {served.tokens['admin']}"},
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            query = """subscription($f: PushRecordFilter) { pushStatusChanged(filter: $f) {
                         recordType version status statusLabel } }"""
            await socket.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": query, "variables": {"f": {"pregnancyId": pregnancy}}},
                    }
                )
            )
            await asyncio.sleep(1.5)  # subscribed before the change
            body = await api.gql(
                RECORD_VISIT,
                {
                    "input": {
                        "pregnancyId": pregnancy,
                        "visitDate": TODAY.isoformat(),
                        "remarks": "随访",
                    }
                },
            )
            assert body["data"]["recordVisit"]["userErrors"] == []
            raw = await asyncio.wait_for(socket.recv(), timeout=15)
            assert isinstance(raw, str)  # a text frame, as graphql-ws clients expect
            message = json.loads(raw)
    update: dict[str, Any] = message["payload"]["data"]["pushStatusChanged"]
    assert message["type"] == "next"
    assert update == {
        "recordType": "PRENATAL_VISIT",
        "version": 1,
        "status": "PENDING",
        "statusLabel": "待推送",
    }


async def test_a_bad_filter_or_time_range_is_a_clear_input_error(api: Api) -> None:
    body = await api.gql(
        "query($f: PushRecordFilter) { pushRecords(filter: $f) { totalCount } }",
        {"f": {"pregnancyId": "not-an-id"}},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await api.gql(
        '{ pushStatistics(since: "2026-01-02T00:00:00Z", until: "2026-01-01T00:00:00Z") { successRate } }'
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "开始时间须早于结束时间" in body["errors"][0]["message"]


async def test_a_mapping_with_unknown_or_missing_codes_is_refused(api: Api) -> None:
    body = await api.gql("{ pushMappings { document } }", as_user="admin")
    document = body["data"]["pushMappings"][0]["document"]
    codes = {
        **document["codes"],
        "riskColor": {"GREEN": "G", "YELLOW": "Y", "ORANGE": "O", "FOO": "BAR"},
    }
    body = await api.gql(
        SAVE_MAPPING, {"input": {"document": {**document, "codes": codes}}}, as_user="admin"
    )
    errors = body["data"]["savePushMapping"]["userErrors"]
    assert [e["field"] for e in errors] == ["codes.riskColor.FOO", "codes.riskColor.RED"]
    assert "本系统没有代码 FOO" in errors[0]["message"]
    body = await api.gql("{ pushMappings { version } }", as_user="admin")
    assert [m["version"] for m in body["data"]["pushMappings"]] == [1]
