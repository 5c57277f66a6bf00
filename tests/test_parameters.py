"""System parameters (系统参数, 1.5/1.6) through GraphQL: typed, validated, audited, live.

Every key the system reads is listed with its type, range and default; administrators
change values, everything else is refused; a change reaches every process's cache
within its refresh interval, without a restart.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from domain.audit.models import AuditEvent
from domain.database import Database
from domain.parameter import service as parameter_service
from domain.parameter.models import Parameter
from domain.parameter.service import Parameters
from tests.conftest import Api

PARAMETERS = """
query Parameters {
  parameters {
    key label description valueType value defaultValue minimum maximum unit updatedAt updatedBy
  }
}
"""

SET = """
mutation Set($input: SetParameterInput!) {
  setParameter(input: $input) {
    parameter { key value valueType updatedBy }
    userErrors { field message code }
  }
}
"""

KEYS = [
    "nt_cutoff_mm",
    "emr_timeout_s",
    "emr_cache_ttl_s",
    "push_sweep_interval_s",
    "push_backoff_base_s",
    "push_backoff_max_s",
    "push_coalesce_s",
    "push_requires_review",
    "reconcile_interval_h",
    "inspection_interval_days",
    "backup_max_age_h",
    "backup_dir",
]


async def stored(db: Database) -> tuple[dict[str, object], list[tuple[str, dict[str, object]]]]:
    """The parameter values in the table and the parameter audit events."""
    async with db.reader() as session:
        values = {r.key: r.value for r in (await session.scalars(select(Parameter))).all()}
        events = (
            await session.execute(
                select(AuditEvent.username, AuditEvent.detail).where(
                    AuditEvent.action == "SET_PARAMETER"
                )
            )
        ).all()
    return values, [(str(u), dict(d)) for u, d in events]


async def set_value(
    api: Api, key: str, value: Any, as_user: str | None = "admin"
) -> dict[str, Any]:
    return await api.gql(SET, {"input": {"key": key, "value": value}}, as_user=as_user)


async def test_every_parameter_is_listed_with_its_definition_and_current_value(
    api: Api,
) -> None:
    body = await api.gql(PARAMETERS, as_user="admin")
    auditor = await api.gql(PARAMETERS, as_user="auditor")

    found = {p["key"]: p for p in body["data"]["parameters"]}
    assert list(found) == KEYS
    assert auditor["data"] == body["data"]
    assert found["nt_cutoff_mm"] == {
        "key": "nt_cutoff_mm",
        "label": "NT 增厚界值",
        "description": "NT（颈项透明层）大于或等于该值时标记为增厚并提示医生",
        "valueType": "NUMBER",
        "value": 3.0,
        "defaultValue": 3.0,
        "minimum": 1.0,
        "maximum": 10.0,
        "unit": "mm",
        "updatedAt": found["nt_cutoff_mm"]["updatedAt"],
        "updatedBy": "migration",
    }
    assert {k: (p["valueType"], p["defaultValue"]) for k, p in found.items()} == {
        "nt_cutoff_mm": ("NUMBER", 3.0),
        "emr_timeout_s": ("NUMBER", 2.0),
        "emr_cache_ttl_s": ("NUMBER", 60),
        "push_sweep_interval_s": ("INTEGER", 30),
        "push_backoff_base_s": ("NUMBER", 2),
        "push_backoff_max_s": ("NUMBER", 600),
        "push_coalesce_s": ("NUMBER", 2),
        "push_requires_review": ("BOOLEAN", False),
        "reconcile_interval_h": ("INTEGER", 24),
        "inspection_interval_days": ("INTEGER", 91),
        "backup_max_age_h": ("INTEGER", 26),
        "backup_dir": ("STRING", ""),
    }
    assert all(p["label"] and p["description"] for p in found.values())


@pytest.mark.parametrize(
    ("key", "value", "stored_as"),
    [
        ("nt_cutoff_mm", 3.5, 3.5),
        ("nt_cutoff_mm", 3, 3.0),
        ("push_sweep_interval_s", 45, 45),
        ("push_sweep_interval_s", 45.0, 45),
        ("push_requires_review", True, True),
        ("backup_dir", " /var/backups/mhub ", "/var/backups/mhub"),
        ("backup_dir", "", ""),
        ("push_coalesce_s", 0, 0.0),
    ],
)
async def test_an_administrator_sets_a_value_which_is_typed_and_audited(
    api: Api, db: Database, key: str, value: Any, stored_as: Any
) -> None:
    _, before_events = await stored(db)
    listed = {
        p["key"]: p["value"]
        for p in (await api.gql(PARAMETERS, as_user="admin"))["data"]["parameters"]
    }

    body = await set_value(api, key, value)

    assert body["data"]["setParameter"]["userErrors"] == []
    assert body["data"]["setParameter"]["parameter"]["value"] == stored_as
    assert body["data"]["setParameter"]["parameter"]["updatedBy"] == "admin"
    values, events = await stored(db)
    assert values[key] == stored_as
    assert events == [
        *before_events,
        ("admin", {"key": key, "before": listed[key], "after": stored_as}),
    ]


async def test_a_change_reaches_every_process_cache_within_its_refresh_interval(
    api: Api, db: Database
) -> None:
    # Another process: its own cache, already warm.
    clock = [1000.0]
    other_db = Database(db.url)
    other = Parameters(other_db, clock=lambda: clock[0])
    assert await other.number("nt_cutoff_mm") == 3.0
    assert await other.boolean("push_requires_review") is False

    await set_value(api, "nt_cutoff_mm", 2.8)
    await set_value(api, "push_requires_review", True)
    still_cached = (await other.number("nt_cutoff_mm"), await other.boolean("push_requires_review"))
    clock[0] += parameter_service.CACHE_SECONDS + 0.1
    refreshed = (await other.number("nt_cutoff_mm"), await other.boolean("push_requires_review"))
    await other_db.dispose()

    assert still_cached == (3.0, False)
    assert refreshed == (2.8, True)


async def test_unset_parameters_read_as_their_defaults(db: Database) -> None:
    async with db.transaction() as session:
        row = await session.get(Parameter, "reconcile_interval_h")
        if row is not None:
            await session.delete(row)
    parameters = Parameters(db)

    assert await parameters.integer("reconcile_interval_h") == 24
    assert await parameters.integer("reconcile_interval_h", 12) == 12
    assert await parameters.text("backup_dir") == ""


@pytest.mark.parametrize(
    ("key", "value", "code", "message"),
    [
        ("no_such_key", 1, "UNKNOWN_PARAMETER", None),
        ("nt_cutoff_mm", "3.5", "INVALID_TYPE", '参数「NT 增厚界值」应为数字，收到的是 "3.5"'),
        ("nt_cutoff_mm", 0.5, "OUT_OF_RANGE", "参数「NT 增厚界值」应在1到10mm之间，当前为0.5"),
        ("nt_cutoff_mm", 11, "OUT_OF_RANGE", "参数「NT 增厚界值」应在1到10mm之间，当前为11"),
        ("nt_cutoff_mm", [3], "INVALID_TYPE", "参数「NT 增厚界值」应为数字，收到的是 [3]"),
        ("nt_cutoff_mm", True, "INVALID_TYPE", "参数「NT 增厚界值」应为数字，收到的是 true"),
        (
            "push_sweep_interval_s",
            1.5,
            "INVALID_TYPE",
            "参数「推送扫描间隔」应为整数，收到的是 1.5",
        ),
        (
            "push_sweep_interval_s",
            0,
            "OUT_OF_RANGE",
            "参数「推送扫描间隔」应在1到3600秒之间，当前为0",
        ),
        (
            "inspection_interval_days",
            120,
            "OUT_OF_RANGE",
            "参数「自动巡检间隔」应在1到92天之间，当前为120",
        ),
        (
            "push_requires_review",
            "true",
            "INVALID_TYPE",
            '参数「推送前需复核」应为是/否，收到的是 "true"',
        ),
        ("push_requires_review", 1, "INVALID_TYPE", "参数「推送前需复核」应为是/否，收到的是 1"),
        (
            "backup_dir",
            "backups",
            "INVALID_FORMAT",
            "备份目录应为绝对路径，例如 /var/backups/mhub；留空表示未配置",
        ),
        ("backup_dir", 5, "INVALID_TYPE", "参数「备份目录」应为文字，收到的是 5"),
        (
            "push_backoff_max_s",
            1,
            "OUT_OF_RANGE",
            "「推送重试初始间隔」（2）不能大于「推送重试最长间隔」（1）",
        ),
        (
            "push_backoff_base_s",
            601,
            "OUT_OF_RANGE",
            "参数「推送重试初始间隔」应在0.1到600秒之间，当前为601",
        ),
    ],
)
async def test_bad_values_are_refused_in_chinese_and_nothing_changes(
    api: Api, db: Database, key: str, value: Any, code: str, message: str | None
) -> None:
    before = await stored(db)

    body = await set_value(api, key, value)

    payload = body["data"]["setParameter"]
    assert payload["parameter"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("key" if code == "UNKNOWN_PARAMETER" else "value", code)
    ]
    if message is not None:
        assert payload["userErrors"][0]["message"] == message
    else:
        assert payload["userErrors"][0]["message"].startswith("未知的参数 no_such_key；")
    assert await stored(db) == before


@pytest.mark.parametrize(
    ("as_user", "code"),
    [
        ("doctor", "FORBIDDEN"),
        ("auditor", "FORBIDDEN"),
        ("approver", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_administrators_change_parameters(
    api: Api, db: Database, as_user: str | None, code: str
) -> None:
    before = await stored(db)

    body = await set_value(api, "nt_cutoff_mm", 2.5, as_user=as_user)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == code
    assert await stored(db) == before


@pytest.mark.parametrize("as_user", ["doctor", "approver"])
async def test_parameters_are_not_shown_to_clinical_roles(api: Api, as_user: str) -> None:
    body = await api.gql(PARAMETERS, as_user=as_user)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
