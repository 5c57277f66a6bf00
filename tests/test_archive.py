"""Archive search (归档再次查询, 1.28.9) and reopening an archive, through GraphQL.

Archived pregnancies are found by name, pinyin initials, resident ID, phone, handbook
number and date ranges; only archived ones; newest first, paged, counted up to a limit.
Reopening needs a reason, is audited, and lets doctors edit again; archived records are
read-only otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from domain.archive import service as archive_service
from domain.audit.models import AuditEvent
from domain.database import Database
from domain.patient.models import Patient
from domain.patient.rules import name_initials
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from graphql_schema.base import from_global_id, to_global_id
from tests.conftest import Api
from tests.helpers import RECORD_VISIT, TODAY, book, register, resident_id

CST = dt.timezone(dt.timedelta(hours=8))

SEARCH = """
query Search($filter: ArchiveSearchInput!, $first: Int, $after: String) {
  archiveSearch(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { id handbookNo status deliveredOn archivedAt patient { name } } }
  }
}
"""

COUNT = """
query Count($filter: ArchiveSearchInput!, $limit: Int!) {
  archiveSearchCount(filter: $filter, limit: $limit) { count limit capped }
}
"""

REOPEN = """
mutation Reopen($input: ReopenArchiveInput!) {
  reopenArchive(input: $input) {
    pregnancy { id status archivedAt archivedBy deliveredOn }
    userErrors { field message code }
  }
}
"""

ARCHIVE = """
mutation Archive($id: ID!) {
  archivePregnancy(input: {pregnancyId: $id}) {
    pregnancy { id status } userErrors { field message code }
  }
}
"""

DELIVER = """
mutation Deliver($id: ID!, $on: Date!) {
  recordDelivery(input: {pregnancyId: $id, deliveredOn: $on}) {
    pregnancy { id status } userErrors { field message code }
  }
}
"""

ADD_FACTOR = """
mutation Add($id: ID!) {
  addRiskFactor(input: {pregnancyId: $id, code: "Y-AGE"}) {
    riskFactor { id } userErrors { field message code }
  }
}
"""


async def archived(
    db: Database,
    sequence: int,
    name: str,
    *,
    handbook_no: str | None = None,
    phone: str | None = None,
    delivered_on: dt.date | None = dt.date(2023, 3, 1),
    archived_at: dt.datetime | None = None,
    status: str = PregnancyStatus.ARCHIVED,
) -> int:
    """A patient with one pregnancy in the given state; the pregnancy's id."""
    delivered = delivered_on or dt.date(2023, 3, 1)
    lmp = delivered - dt.timedelta(days=275)
    async with db.transaction() as session:
        patient = Patient(
            name=name,
            name_initials=name_initials(name),
            resident_id=resident_id(sequence),
            birth_date=dt.date(1994, 5, 17),
            phone=phone or f"1387710{sequence:04d}",
        )
        session.add(patient)
        await session.flush()
        pregnancy = Pregnancy(
            patient_id=patient.id,
            lmp=lmp,
            edd=lmp + dt.timedelta(days=280),
            gravidity=1,
            parity=0,
            booking_date=lmp + dt.timedelta(days=60),
            handbook_no=handbook_no or f"4501032023{sequence:05d}",
            status=status,
            delivered_on=delivered_on,
            archived_at=(archived_at or dt.datetime(2023, 6, 1, 10, tzinfo=CST))
            if status == PregnancyStatus.ARCHIVED
            else None,
            archived_by="doctor" if status == PregnancyStatus.ARCHIVED else None,
            risk_color="GREEN",
            infectious_flag=False,
        )
        session.add(pregnancy)
        await session.flush()
        return pregnancy.id


def names(body: dict[str, Any]) -> list[str]:
    return [e["node"]["patient"]["name"] for e in body["data"]["archiveSearch"]["edges"]]


async def search(api: Api, as_user: str | None = "doctor", **filter: Any) -> dict[str, Any]:
    return await api.gql(SEARCH, {"filter": filter, "first": 50}, as_user=as_user)


@pytest.fixture
async def archive(db: Database) -> dict[str, int]:
    """Archived pregnancies with names that exercise every way of matching, plus others."""
    return {
        "黄丽萍": await archived(db, 1, "黄丽萍", phone="13877100001"),
        "黄丽": await archived(db, 2, "黄丽"),
        "覃海燕": await archived(db, 3, "覃海燕", handbook_no="GX2023-0077"),
        "欧阳丽萍娜": await archived(db, 4, "欧阳丽萍娜"),
        "李萍丽": await archived(db, 5, "李萍丽"),
        "王小明": await archived(db, 6, "王小明"),
        "黄丽萍(管理中)": await archived(
            db, 7, "黄丽萍", status=PregnancyStatus.ACTIVE, delivered_on=None
        ),
        "黄丽萍(已分娩)": await archived(db, 8, "黄丽萍", status=PregnancyStatus.DELIVERED),
    }


# --- searching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("黄丽萍", ["黄丽萍"], id="name-three-characters"),
        pytest.param("丽萍", ["欧阳丽萍娜", "黄丽萍"], id="name-two-characters"),
        pytest.param("萍丽", ["李萍丽"], id="name-two-characters-end"),
        pytest.param("黄", ["黄丽", "黄丽萍"], id="surname"),
        pytest.param("qhy", ["覃海燕"], id="initials-覃-is-Q"),
        pytest.param("HL", ["黄丽", "黄丽萍"], id="initials-prefix"),
        pytest.param(resident_id(3), ["覃海燕"], id="resident-id"),
        pytest.param(
            resident_id(3)[:14],
            ["王小明", "李萍丽", "欧阳丽萍娜", "覃海燕", "黄丽", "黄丽萍"],
            id="resident-id-prefix",
        ),
        pytest.param("13877100001", ["黄丽萍"], id="phone"),
        pytest.param("gx2023-0077", ["覃海燕"], id="handbook-any-case"),
        pytest.param("450103202300005", ["李萍丽"], id="handbook-number"),
        pytest.param("黄 13877100002", ["黄丽"], id="two-terms-both-match"),
        pytest.param("ＨＬＰ", ["黄丽萍"], id="full-width-letters"),
        pytest.param("张", [], id="no-match"),
        pytest.param("%", [], id="like-wildcard-is-literal"),
    ],
)
async def test_archived_pregnancies_are_found_by_every_kind_of_term(
    api: Api, archive: dict[str, int], text: str, expected: list[str]
) -> None:
    body = await search(api, text=text)

    assert "errors" not in body, body
    assert names(body) == expected
    assert body["data"]["archiveSearch"]["totalCount"] == len(expected)
    statuses = {e["node"]["status"] for e in body["data"]["archiveSearch"]["edges"]}
    assert statuses <= {"ARCHIVED"}


async def test_results_are_newest_first_and_paged_with_cursors(
    api: Api, archive: dict[str, int]
) -> None:
    first = await api.gql(SEARCH, {"filter": {}, "first": 4})
    page = first["data"]["archiveSearch"]
    second = await api.gql(
        SEARCH, {"filter": {}, "first": 4, "after": page["pageInfo"]["endCursor"]}
    )

    assert names(first) == ["王小明", "李萍丽", "欧阳丽萍娜", "覃海燕"]
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "endCursor": page["pageInfo"]["endCursor"],
    }
    assert page["totalCount"] == 6
    assert names(second) == ["黄丽", "黄丽萍"]
    assert second["data"]["archiveSearch"]["pageInfo"]["hasNextPage"] is False
    assert second["data"]["archiveSearch"]["pageInfo"]["hasPreviousPage"] is True


async def test_date_ranges_on_delivery_and_archive_dates(api: Api, db: Database) -> None:
    await archived(db, 1, "甲一", delivered_on=dt.date(2022, 12, 31))
    await archived(db, 2, "乙二", delivered_on=dt.date(2023, 1, 1))
    await archived(db, 3, "丙三", delivered_on=dt.date(2023, 1, 31))
    # 00:30 on 1 Feb in the hospital is still 31 Jan in UTC: the local day counts.
    await archived(db, 4, "丁四", archived_at=dt.datetime(2023, 2, 1, 0, 30, tzinfo=CST))
    await archived(db, 5, "戊五", archived_at=dt.datetime(2023, 1, 31, 23, 30, tzinfo=CST))

    delivered = await search(api, deliveredFrom="2023-01-01", deliveredTo="2023-01-31")
    archived_feb = await search(api, archivedFrom="2023-02-01", archivedTo="2023-02-01")
    combined = await search(
        api,
        text="乙",
        deliveredFrom="2023-01-01",
        archivedFrom="2023-06-01",
        archivedTo="2023-06-01",
    )

    assert names(delivered) == ["丙三", "乙二"]
    assert names(archived_feb) == ["丁四"]
    assert names(combined) == ["乙二"]


async def test_counting_stops_at_the_limit(api: Api, archive: dict[str, int]) -> None:
    capped = await api.gql(COUNT, {"filter": {"text": "黄"}, "limit": 1})
    exact = await api.gql(COUNT, {"filter": {"text": "黄"}, "limit": 2})
    everything = await api.gql(COUNT, {"filter": {}, "limit": 1000})
    bad = await api.gql(COUNT, {"filter": {}, "limit": 0})

    assert capped["data"]["archiveSearchCount"] == {"count": 2, "limit": 1, "capped": True}
    assert exact["data"]["archiveSearchCount"] == {"count": 2, "limit": 2, "capped": False}
    assert everything["data"]["archiveSearchCount"]["count"] == 6
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_total_count_reports_more_than_the_limit_as_limit_plus_one(
    api: Api, archive: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_service, "COUNT_LIMIT", 3)

    body = await search(api)

    assert body["data"]["archiveSearch"]["totalCount"] == 4
    assert len(names(body)) == 6


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        (
            {"deliveredFrom": "2023-02-01", "deliveredTo": "2023-01-01"},
            "分娩日期的起始日期不能晚于截止日期",
        ),
        (
            {"archivedFrom": "2023-02-01", "archivedTo": "2023-01-01"},
            "归档日期的起始日期不能晚于截止日期",
        ),
        ({"text": "黄" * 65}, "查询文字不能超过64个字符"),
        ({"text": "a b c d e"}, "查询文字最多4个词（以空格分隔）"),
    ],
)
async def test_bad_filters_are_refused_with_a_chinese_message(
    api: Api, filter: dict[str, Any], message: str
) -> None:
    body = await search(api, **filter)

    assert body["data"] is None
    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_search_requires_sign_in_and_is_audited_as_a_read(
    api: Api, archive: dict[str, int]
) -> None:
    anonymous = await search(api, as_user=None, text="黄丽萍")
    approver = await search(api, as_user="approver", text="覃海燕")
    await api.flush_audit()

    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert names(approver) == ["覃海燕"]
    async with api.services.db.reader() as session:
        reads = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.username == "approver", AuditEvent.action == "READ"
                )
            )
        ).all()
        patient_id = await session.scalar(
            select(Pregnancy.patient_id).where(Pregnancy.id == archive["覃海燕"])
        )
    assert [r.patient_ids for r in reads] == [[patient_id]]


# --- reopening --------------------------------------------------------------------------------


async def _archived_via_api(api: Api, *, deliver: bool) -> dict[str, str]:
    patient_id = await register(api, 21)
    pregnancy = await book(api, patient_id, weeks=30)
    visit = await api.gql(
        RECORD_VISIT,
        {"input": {"pregnancyId": pregnancy["id"], "visitDate": TODAY.isoformat(), "weightKg": 60}},
    )
    if deliver:
        delivered = await api.gql(DELIVER, {"id": pregnancy["id"], "on": TODAY.isoformat()})
        assert delivered["data"]["recordDelivery"]["userErrors"] == []
    done = await api.gql(ARCHIVE, {"id": pregnancy["id"]})
    assert done["data"]["archivePregnancy"]["userErrors"] == []
    return {"pregnancy": pregnancy["id"], "visit": visit["data"]["recordVisit"]["visit"]["id"]}


async def state_of(api: Api, pregnancy_id: str) -> tuple[Any, ...]:
    async with api.services.db.reader() as session:
        row = await session.get(Pregnancy, archive_id(pregnancy_id))
        assert row is not None
        events = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "pregnancy"))
        ).all()
    return row.status, row.archived_at is not None, row.archived_by, tuple(events)


def archive_id(global_id: str) -> int:
    return from_global_id(global_id)[1]


async def test_archived_records_are_read_only_until_reopened_with_a_reason(api: Api) -> None:
    ids = await _archived_via_api(api, deliver=False)
    visit_input = {"pregnancyId": ids["pregnancy"], "visitDate": TODAY.isoformat()}

    refused = await api.gql(RECORD_VISIT, {"input": visit_input})
    factor = await api.gql(ADD_FACTOR, {"id": ids["pregnancy"]})
    reopened = await api.gql(
        REOPEN, {"input": {"pregnancyId": ids["pregnancy"], "reason": "补录产后42天检查"}}
    )
    accepted = await api.gql(RECORD_VISIT, {"input": {**visit_input, "remarks": "补录"}})

    assert refused["data"]["recordVisit"]["userErrors"][0]["code"] == "PREGNANCY_CLOSED"
    assert factor["data"]["addRiskFactor"]["userErrors"][0]["code"] == "PREGNANCY_CLOSED"
    assert reopened["data"]["reopenArchive"] == {
        "pregnancy": {
            "id": ids["pregnancy"],
            "status": "ACTIVE",
            "archivedAt": None,
            "archivedBy": None,
            "deliveredOn": None,
        },
        "userErrors": [],
    }
    assert accepted["data"]["recordVisit"]["userErrors"] == []
    async with api.services.db.reader() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "REOPEN"))
    assert event is not None
    assert event.username == "doctor"
    assert event.entity_id == archive_id(ids["pregnancy"])
    assert event.detail["reason"] == "补录产后42天检查"
    assert event.detail["status"] == "ACTIVE"
    assert event.detail["archivedBy"] == "doctor"


async def test_a_delivered_archive_reopens_as_delivered(api: Api) -> None:
    ids = await _archived_via_api(api, deliver=True)

    body = await api.gql(
        REOPEN,
        {"input": {"pregnancyId": ids["pregnancy"], "reason": "核对分娩记录"}},
        as_user="admin",
    )

    pregnancy = body["data"]["reopenArchive"]["pregnancy"]
    assert pregnancy["status"] == "DELIVERED"
    assert pregnancy["deliveredOn"] == TODAY.isoformat()
    assert (await search(api))["data"]["archiveSearch"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("as_user", "reason", "code"),
    [
        ("doctor", "   ", "REQUIRED"),
        ("doctor", "原" * 501, "TOO_LONG"),
    ],
)
async def test_reopening_without_a_proper_reason_changes_nothing(
    api: Api, as_user: str, reason: str, code: str
) -> None:
    ids = await _archived_via_api(api, deliver=False)
    before = await state_of(api, ids["pregnancy"])

    body = await api.gql(
        REOPEN, {"input": {"pregnancyId": ids["pregnancy"], "reason": reason}}, as_user=as_user
    )

    assert body["data"]["reopenArchive"]["pregnancy"] is None
    assert [e["code"] for e in body["data"]["reopenArchive"]["userErrors"]] == [code]
    assert await state_of(api, ids["pregnancy"]) == before


@pytest.mark.parametrize("as_user", ["auditor", "approver", None])
async def test_only_doctors_and_administrators_may_reopen(api: Api, as_user: str | None) -> None:
    ids = await _archived_via_api(api, deliver=False)
    before = await state_of(api, ids["pregnancy"])

    body = await api.gql(
        REOPEN, {"input": {"pregnancyId": ids["pregnancy"], "reason": "想看看"}}, as_user=as_user
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED" if as_user is None else "FORBIDDEN"
    )
    assert await state_of(api, ids["pregnancy"]) == before


async def test_reopening_what_is_not_archived_or_does_not_exist_is_refused(
    api: Api, db: Database
) -> None:
    active = await archived(db, 31, "张三", status=PregnancyStatus.ACTIVE, delivered_on=None)
    missing = to_global_id("Pregnancy", 999999)
    wrong_type = to_global_id("Patient", 1)

    outcomes = [
        (await api.gql(REOPEN, {"input": {"pregnancyId": gid, "reason": "原因"}}))["data"][
            "reopenArchive"
        ]["userErrors"]
        for gid in (to_global_id("Pregnancy", active), missing, wrong_type)
    ]

    assert [[e["code"] for e in errors] for errors in outcomes] == [
        ["NOT_ARCHIVED"],
        ["NOT_FOUND"],
        ["INVALID_ID"],
    ]
    async with db.reader() as session:
        row = await session.get(Pregnancy, active)
    assert row is not None
    assert row.status == PregnancyStatus.ACTIVE


async def test_an_archive_cannot_be_reopened_beside_another_active_pregnancy(
    api: Api, db: Database
) -> None:
    old = await archived(db, 41, "陆小红", delivered_on=None)
    async with db.transaction() as session:
        patient_id = await session.scalar(select(Pregnancy.patient_id).where(Pregnancy.id == old))
        lmp = TODAY - dt.timedelta(weeks=10)
        session.add(
            Pregnancy(
                patient_id=patient_id,
                lmp=lmp,
                edd=lmp + dt.timedelta(days=280),
                gravidity=2,
                parity=0,
                booking_date=TODAY,
                status=PregnancyStatus.ACTIVE,
                risk_color="GREEN",
                infectious_flag=False,
            )
        )

    body = await api.gql(
        REOPEN, {"input": {"pregnancyId": to_global_id("Pregnancy", old), "reason": "补录"}}
    )

    assert [e["code"] for e in body["data"]["reopenArchive"]["userErrors"]] == [
        "ACTIVE_PREGNANCY_EXISTS"
    ]
    async with db.reader() as session:
        row = await session.get(Pregnancy, old)
    assert row is not None
    assert row.status == PregnancyStatus.ARCHIVED
