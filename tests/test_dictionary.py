"""The data dictionary (数据字典, 1.13) through GraphQL: risk factors and LIS code mappings.

Administrators edit entries with validation; every change is a new version with its
before/after kept and an audit event; a change takes effect at once (no restart): a new
factor can be recorded, a deactivated one cannot, a new code mapping maps results.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.audit.models import AuditEvent
from domain.database import Database
from domain.dictionary.models import DictionaryEntry
from domain.history.models import Revision
from domain.inbound.service import InboundProcessor
from domain.lab.models import LabResult
from integrations.lis import hl7
from tests.conftest import Api
from tests.helpers import add_factor, book, register

DATA = Path(__file__).resolve().parent / "data" / "hl7"

FACTORS = """
query Factors($all: Boolean) {
  riskFactorDefinitions(includeInactive: $all) {
    code name color active category source version updatedAt updatedBy
  }
}
"""

SAVE_FACTOR = """
mutation Save($input: SaveRiskFactorDefinitionInput!) {
  saveRiskFactorDefinition(input: $input) {
    riskFactorDefinition { code name color active category version updatedBy }
    userErrors { field message code }
  }
}
"""

MAPPINGS = """
query Mappings {
  labCodeMappings { localCode itemCode itemName unit active version updatedBy }
  labItemDefinitions { code name unit loinc }
}
"""

SAVE_MAPPING = """
mutation Map($input: SaveLabCodeMappingInput!) {
  saveLabCodeMapping(input: $input) {
    labCodeMapping { localCode itemCode itemName unit version updatedBy }
    userErrors { field message code }
  }
}
"""

REVISIONS = """
query Revisions($kind: String!, $key: String!) {
  dictionaryRevisions(kind: $kind, key: $key) { version changedBy before after }
}
"""

ADD_FACTOR = """
mutation Add($input: AddRiskFactorInput!) {
  addRiskFactor(input: $input) {
    riskFactor { code name color } userErrors { field message code }
  }
}
"""

REPROCESS = """
mutation Reprocess {
  reprocessInboundMessages(input: {status: ERROR}) {
    processed failed messages { status errorCode }
    userErrors { code }
  }
}
"""


async def dictionary_state(db: Database) -> tuple[Any, ...]:
    """Everything an edit could touch: entries, their versions, history and audit."""
    async with db.reader() as session:
        entries = (
            await session.execute(
                select(
                    DictionaryEntry.kind,
                    DictionaryEntry.code,
                    DictionaryEntry.name,
                    DictionaryEntry.active,
                    DictionaryEntry.version,
                ).order_by(DictionaryEntry.id)
            )
        ).all()
        attributes = (
            await session.scalars(select(DictionaryEntry.attributes).order_by(DictionaryEntry.id))
        ).all()
        revisions = await session.scalar(select(func.count()).select_from(Revision))
        events = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity == "dictionary_entry")
        )
    return tuple(entries), tuple(str(a) for a in attributes), revisions, events


def save_factor(**values: Any) -> dict[str, Any]:
    defaults = {
        "code": "Y-NEW",
        "name": "新增因素",
        "color": "YELLOW",
        "active": True,
        "isNew": True,
    }
    return {"input": {**defaults, **values}}


# --- risk factors ---------------------------------------------------------------------------


async def test_the_risk_factor_table_is_listed_for_everyone_signed_in(api: Api) -> None:
    doctor = await api.gql(FACTORS, {"all": True})
    approver = await api.gql(FACTORS, {"all": True}, as_user="approver")
    anonymous = await api.gql(FACTORS, {"all": True}, as_user=None)

    factors = doctor["data"]["riskFactorDefinitions"]
    assert len(factors) == 61
    assert approver["data"] == doctor["data"]
    assert [f["color"] for f in factors[:1]] == ["YELLOW"]
    assert [f["color"] for f in factors[-1:]] == ["PURPLE"]
    gdm = next(f for f in factors if f["code"] == "Y-GDM")
    assert gdm["active"] is True
    assert gdm["version"] == 1
    assert gdm["updatedBy"] == "migration"
    assert gdm["source"] == "孕产妇妊娠风险评估与管理工作规范（2017）"
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_new_factor_is_versioned_audited_and_can_be_recorded_at_once(
    api: Api, db: Database
) -> None:
    saved = await api.gql(
        SAVE_FACTOR,
        save_factor(
            code=" r-hospital-1 ",
            name="凶险性前置胎盘伴胎盘植入",
            color="RED",
            category="妊娠并发症",
        ),
        as_user="admin",
    )
    pregnancy = await book(api, await register(api, 1))
    recorded = await api.gql(
        ADD_FACTOR, {"input": {"pregnancyId": pregnancy["id"], "code": "R-HOSPITAL-1"}}
    )
    revisions = await api.gql(
        REVISIONS, {"kind": "risk_factor", "key": "R-HOSPITAL-1"}, as_user="admin"
    )

    assert saved["data"]["saveRiskFactorDefinition"] == {
        "riskFactorDefinition": {
            "code": "R-HOSPITAL-1",
            "name": "凶险性前置胎盘伴胎盘植入",
            "color": "RED",
            "active": True,
            "category": "妊娠并发症",
            "version": 1,
            "updatedBy": "admin",
        },
        "userErrors": [],
    }
    assert recorded["data"]["addRiskFactor"] == {
        "riskFactor": {"code": "R-HOSPITAL-1", "name": "凶险性前置胎盘伴胎盘植入", "color": "RED"},
        "userErrors": [],
    }
    assert revisions["data"]["dictionaryRevisions"] == [
        {
            "version": 1,
            "changedBy": "admin",
            "before": {"name": None, "color": None, "active": None, "category": None},
            "after": {
                "name": "凶险性前置胎盘伴胎盘植入",
                "color": "RED",
                "active": True,
                "category": "妊娠并发症",
            },
        }
    ]
    async with db.reader() as session:
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.entity == "dictionary_entry", AuditEvent.action == "CREATE"
            )
        )
    assert event is not None
    assert event.username == "admin"
    assert event.detail == {
        "kind": "risk_factor",
        "code": "R-HOSPITAL-1",
        "version": 1,
        "changed": ["active", "category", "color", "name"],
    }


async def test_changing_a_factor_keeps_its_history_and_deactivating_stops_new_records(
    api: Api,
) -> None:
    pregnancy = await book(api, await register(api, 1))
    kept = await add_factor(api, pregnancy["id"], "Y-GDM")

    renamed = await api.gql(
        SAVE_FACTOR,
        save_factor(code="Y-GDM", name="妊娠期糖尿病（A2级）", color="ORANGE", isNew=False),
        as_user="admin",
    )
    deactivated = await api.gql(
        SAVE_FACTOR,
        save_factor(
            code="Y-GDM", name="妊娠期糖尿病（A2级）", color="ORANGE", active=False, isNew=False
        ),
        as_user="admin",
    )
    unchanged = await api.gql(
        SAVE_FACTOR,
        save_factor(
            code="Y-GDM", name="妊娠期糖尿病（A2级）", color="ORANGE", active=False, isNew=False
        ),
        as_user="admin",
    )
    other = await book(api, await register(api, 2))
    refused = await api.gql(ADD_FACTOR, {"input": {"pregnancyId": other["id"], "code": "Y-GDM"}})
    active_only = await api.gql(FACTORS, {"all": False})
    revisions = await api.gql(REVISIONS, {"kind": "risk_factor", "key": "y-gdm"}, as_user="auditor")

    assert renamed["data"]["saveRiskFactorDefinition"]["riskFactorDefinition"]["version"] == 2
    assert deactivated["data"]["saveRiskFactorDefinition"]["riskFactorDefinition"]["version"] == 3
    assert unchanged["data"]["saveRiskFactorDefinition"]["riskFactorDefinition"]["version"] == 3
    assert [e["code"] for e in refused["data"]["addRiskFactor"]["userErrors"]] == ["UNKNOWN_CODE"]
    assert "Y-GDM" not in [f["code"] for f in active_only["data"]["riskFactorDefinitions"]]
    assert kept["color"] == "YELLOW"
    assert revisions["data"]["dictionaryRevisions"] == [
        {
            "version": 3,
            "changedBy": "admin",
            "before": {"active": True},
            "after": {"active": False},
        },
        {
            "version": 2,
            "changedBy": "admin",
            "before": {"name": "妊娠期糖尿病", "color": "YELLOW"},
            "after": {"name": "妊娠期糖尿病（A2级）", "color": "ORANGE"},
        },
    ]


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"code": "Y-GDM"}, [("code", "DUPLICATE", "高危因素编码 Y-GDM 已存在（妊娠期糖尿病）")]),
        ({"code": "y-gdm"}, [("code", "DUPLICATE", "高危因素编码 Y-GDM 已存在（妊娠期糖尿病）")]),
        (
            {"code": "Y-NOPE", "isNew": False},
            [("code", "UNKNOWN_CODE", "高危因素编码 Y-NOPE 不存在")],
        ),
        (
            {"code": "Y GDM!"},
            [
                (
                    "code",
                    "INVALID_FORMAT",
                    "高危因素编码应以字母或数字开头，只含大写字母、数字、- 和 _，最长64个字符",
                )
            ],
        ),
        ({"name": "  "}, [("name", "REQUIRED", "高危因素名称不能为空")]),
        (
            {"name": "名" * 257},
            [("name", "TOO_LONG", "高危因素名称不能超过256个字符（当前257个）")],
        ),
        ({"category": "类" * 65}, [("category", "TOO_LONG", "分类不能超过64个字符（当前65个）")]),
    ],
)
async def test_bad_factor_entries_are_refused_and_nothing_changes(
    api: Api, db: Database, values: dict[str, Any], errors: list[tuple[str, str, str]]
) -> None:
    before = await dictionary_state(db)

    body = await api.gql(SAVE_FACTOR, save_factor(**values), as_user="admin")

    payload = body["data"]["saveRiskFactorDefinition"]
    assert payload["riskFactorDefinition"] is None
    assert [(e["field"], e["code"], e["message"]) for e in payload["userErrors"]] == errors
    assert await dictionary_state(db) == before


async def test_an_unknown_colour_is_refused_by_the_schema(api: Api, db: Database) -> None:
    before = await dictionary_state(db)

    body = await api.gql(SAVE_FACTOR, save_factor(color="GREEN"), as_user="admin")

    assert body["data"] is None
    assert "GREEN" in body["errors"][0]["message"]
    assert await dictionary_state(db) == before


@pytest.mark.parametrize(
    ("as_user", "code"),
    [
        ("doctor", "FORBIDDEN"),
        ("auditor", "FORBIDDEN"),
        ("approver", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_administrators_edit_the_dictionary(
    api: Api, db: Database, as_user: str | None, code: str
) -> None:
    before = await dictionary_state(db)

    factor = await api.gql(SAVE_FACTOR, save_factor(), as_user=as_user)
    mapping = await api.gql(
        SAVE_MAPPING, {"input": {"localCode": "X-1", "itemCode": "HBSAG"}}, as_user=as_user
    )

    assert factor["errors"][0]["extensions"]["code"] == code
    assert mapping["errors"][0]["extensions"]["code"] == code
    assert await dictionary_state(db) == before


@pytest.mark.parametrize("as_user", ["doctor", "approver"])
async def test_revisions_are_for_administrators_and_auditors(api: Api, as_user: str) -> None:
    body = await api.gql(REVISIONS, {"kind": "risk_factor", "key": "Y-GDM"}, as_user=as_user)

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("kind", "key", "message"),
    [
        (
            "colour",
            "Y-GDM",
            "未知的字典类别 colour；可选：risk_factor（高危因素）、lis_code（检验项目编码对照）",
        ),
        ("risk_factor", "Y-NOPE", "高危因素中没有编码 Y-NOPE"),
    ],
)
async def test_revisions_of_unknown_entries_are_bad_input(
    api: Api, kind: str, key: str, message: str
) -> None:
    body = await api.gql(REVISIONS, {"kind": kind, "key": key}, as_user="admin")

    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- LIS code mappings -----------------------------------------------------------------------


def _message(control_id: str) -> bytes:
    """The sample HBV panel with its HBsAg line under a code the dictionary does not know."""
    day = f"{dt.datetime.now(hl7.LOCAL_TZ).date():%Y%m%d}"
    content = (DATA / "oru-r01-hbv-panel-zh.hl7").read_text("utf-8")
    content = content.replace("\n", "\r").replace("20261120", day).replace("LIS-0001", control_id)
    return content.replace("MY-HBSAG^乙肝表面抗原^L", "NEW-77^表抗（新仪器）^L").encode("utf-8")


async def test_a_new_mapping_takes_effect_at_once_for_messages_that_failed(
    api: Api, db: Database
) -> None:
    await register(api, 7, lisRecordNo="LIS0012345")
    processor = InboundProcessor(db)
    await processor.receive(_message("M-1"))
    failed = await api.gql(REPROCESS, as_user="admin")

    saved = await api.gql(
        SAVE_MAPPING, {"input": {"localCode": "NEW-77", "itemCode": "hbsag"}}, as_user="admin"
    )
    fixed = await api.gql(REPROCESS, as_user="admin")
    listed = await api.gql(MAPPINGS)
    async with db.reader() as session:
        stored = (
            await session.execute(
                select(LabResult.item_code, LabResult.value_qualitative).where(
                    LabResult.local_code == "NEW-77"
                )
            )
        ).all()

    assert failed["data"]["reprocessInboundMessages"]["messages"] == [
        {"status": "ERROR", "errorCode": "UNMAPPED_ITEM"}
    ]
    assert saved["data"]["saveLabCodeMapping"] == {
        "labCodeMapping": {
            "localCode": "NEW-77",
            "itemCode": "HBSAG",
            "itemName": "乙肝表面抗原",
            "unit": None,
            "version": 1,
            "updatedBy": "admin",
        },
        "userErrors": [],
    }
    assert fixed["data"]["reprocessInboundMessages"]["messages"] == [
        {"status": "PROCESSED", "errorCode": None}
    ]
    assert stored == [("HBSAG", "POSITIVE")]
    mappings = {m["localCode"]: m for m in listed["data"]["labCodeMappings"]}
    assert mappings["NEW-77"]["itemCode"] == "HBSAG"
    assert mappings["MY-HBSAG"]["itemName"] == "乙肝表面抗原"
    assert "HBSAG" in [i["code"] for i in listed["data"]["labItemDefinitions"]]


async def test_remapping_a_code_changes_every_spelling_and_keeps_the_history(
    api: Api, db: Database
) -> None:
    body = await api.gql(
        SAVE_MAPPING, {"input": {"localCode": "hbsag", "itemCode": "ANTI_HBS"}}, as_user="admin"
    )
    revisions = await api.gql(REVISIONS, {"kind": "lis_code", "key": "HBsAg"}, as_user="admin")
    async with db.reader() as session:
        spellings = (
            await session.execute(
                select(DictionaryEntry.code, DictionaryEntry.attributes, DictionaryEntry.version)
                .where(
                    DictionaryEntry.kind == "lis_code",
                    func.upper(DictionaryEntry.code) == "HBSAG",
                )
                .order_by(DictionaryEntry.code)
            )
        ).all()

    assert body["data"]["saveLabCodeMapping"]["userErrors"] == []
    assert body["data"]["saveLabCodeMapping"]["labCodeMapping"]["itemCode"] == "ANTI_HBS"
    assert body["data"]["saveLabCodeMapping"]["labCodeMapping"]["version"] == 2
    assert [(c, a["item"], v) for c, a, v in spellings] == [
        ("HBSAG", "ANTI_HBS", 2),
        ("HBsAg", "ANTI_HBS", 2),
    ]
    assert revisions["data"]["dictionaryRevisions"] == [
        {
            "version": 2,
            "changedBy": "admin",
            "before": {"item": "HBSAG", "name": "乙肝表面抗原"},
            "after": {"item": "ANTI_HBS", "name": "乙肝表面抗体"},
        }
    ]


@pytest.mark.parametrize(
    ("local", "item", "errors"),
    [
        ("NEW-1", "NOPE", [("itemCode", "UNKNOWN_CODE", "标准检验项目 NOPE 不存在或已停用")]),
        ("   ", "HBSAG", [("localCode", "REQUIRED", "检验系统本地编码不能为空")]),
        (
            "A\tB",
            "HBSAG",
            [
                (
                    "localCode",
                    "INVALID_FORMAT",
                    "检验系统本地编码不能含控制字符或以空白开头，最长64个字符",
                )
            ],
        ),
        (
            "X" * 65,
            "HBSAG",
            [
                (
                    "localCode",
                    "INVALID_FORMAT",
                    "检验系统本地编码不能含控制字符或以空白开头，最长64个字符",
                )
            ],
        ),
    ],
)
async def test_bad_mappings_are_refused_and_nothing_changes(
    api: Api, db: Database, local: str, item: str, errors: list[tuple[str, str, str]]
) -> None:
    before = await dictionary_state(db)

    body = await api.gql(
        SAVE_MAPPING, {"input": {"localCode": local, "itemCode": item}}, as_user="admin"
    )

    payload = body["data"]["saveLabCodeMapping"]
    assert payload["labCodeMapping"] is None
    assert [(e["field"], e["code"], e["message"]) for e in payload["userErrors"]] == errors
    assert await dictionary_state(db) == before
