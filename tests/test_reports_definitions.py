"""Report definitions are data: an administrator adds or changes one through the API, it is
checked against the source registry, versioned and audited; who may do what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from domain.audit.models import AuditEvent
from domain.database import Database
from domain.document.models import StoredDocument
from domain.report.models import ReportDefinition, ReportDefinitionVersion
from tests.conftest import Api
from tests.test_reports import RUN, run, seed_report_data, table

SAVE = """
mutation Save($input: SaveReportDefinitionInput!) {
  saveReportDefinition(input: $input) {
    reportDefinition {
      code name description version active dataSource
      dimensions { key label } measures { key label kind }
      parameters { name type defaultValue }
      chart { kind x series split }
      definition
    }
    userErrors { field message code }
  }
}
"""

VERSIONS = """
query Versions($code: String!) {
  reportDefinitionVersions(code: $code) { version name active definition savedBy }
}
"""

SOURCES = """
query Sources {
  reportSources {
    code label
    dimensions { key label }
    measures { key label kind }
    filters { key kind choices { value label } }
    dateFields { value label }
    arguments { key minimum maximum defaultValue systemParameter }
  }
}
"""

EXPORT = """
mutation Export($input: ExportReportInput!) {
  exportReport(input: $input) { filename url userErrors { field message code } }
}
"""

LIST = "query { reportDefinitions(includeInactive: true) { code version } }"

BY_COLOUR = {
    "source": "pregnancy_risk",
    "parameters": [
        {"name": "booked_from", "label": "建档开始日期", "type": "DATE"},
        {
            "name": "status",
            "label": "档案状态",
            "type": "CHOICE",
            "choices": [{"value": "ACTIVE", "label": "孕期管理中"}],
        },
    ],
    "dateRange": {"field": "booking_date", "from": {"param": "booked_from"}},
    "dimensions": ["risk_color"],
    "measures": ["pregnancies", "purple"],
    "filters": [{"filter": "status", "value": {"param": "status"}}],
    "chart": {"kind": "BAR", "series": ["pregnancies"]},
    "labels": {"pregnancies": "人数"},
}


def save_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": "risk_by_colour",
        "name": "按风险颜色统计孕产妇",
        "description": "当前各风险颜色的孕产妇数",
        "definition": BY_COLOUR,
    }
    values.update(overrides)
    return values


async def counts(db: Database) -> tuple[int, int, int, int]:
    async with db.reader() as session:
        return (
            await session.scalar(select(func.count()).select_from(ReportDefinition)) or 0,
            await session.scalar(select(func.count()).select_from(ReportDefinitionVersion)) or 0,
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.entity == "report_definition")
            )
            or 0,
            await session.scalar(select(func.count()).select_from(StoredDocument)) or 0,
        )


# --------------------------------------------------------------------------- adding a report


async def test_a_definition_added_through_the_api_is_a_new_report_without_code(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    saved = await api.gql(SAVE, {"input": save_input()}, as_user="admin")
    result = await run(api, "risk_by_colour")
    active_only = await run(
        api, "risk_by_colour", {"status": "ACTIVE", "booked_from": "2026-02-01"}
    )

    payload = saved["data"]["saveReportDefinition"]
    assert payload["userErrors"] == []
    definition = payload["reportDefinition"]
    assert definition["version"] == 1
    assert definition["dataSource"] == "pregnancy_risk"
    assert definition["dimensions"] == [{"key": "risk_color", "label": "风险颜色"}]
    assert definition["measures"] == [
        {"key": "pregnancies", "label": "人数", "kind": "COUNT"},
        {"key": "purple", "label": "紫色（传染病）", "kind": "COUNT"},
    ]
    assert definition["chart"] == {
        "kind": "BAR",
        "x": "risk_color",
        "series": ["pregnancies"],
        "split": None,
    }
    assert definition["definition"] == BY_COLOUR
    assert [c["label"] for c in result["columns"]] == ["风险颜色", "人数", "紫色（传染病）"]
    assert table(result) == [["绿色", 2, 1], ["黄色", 2, 1], ["橙色", 1, 0], ["红色", 1, 1]]
    assert result["totals"] == {"pregnancies": 6, "purple": 3}
    assert table(active_only) == [["绿色", 1, 1], ["黄色", 1, 0], ["橙色", 1, 0], ["红色", 1, 1]]


async def test_saving_a_changed_definition_makes_a_new_version_and_is_audited(
    api: Api, db: Database
) -> None:
    await api.gql(SAVE, {"input": save_input()}, as_user="admin")
    changed = {**BY_COLOUR, "measures": ["pregnancies", "purple", "high_risk"]}

    saved = await api.gql(
        SAVE,
        {"input": save_input(name="按颜色统计（含高危）", definition=changed, expectedVersion=1)},
        as_user="admin",
    )
    stale = await api.gql(
        SAVE, {"input": save_input(definition=BY_COLOUR, expectedVersion=1)}, as_user="admin"
    )
    versions = await api.gql(VERSIONS, {"code": "risk_by_colour"}, as_user="auditor")
    result = await run(api, "risk_by_colour")

    assert saved["data"]["saveReportDefinition"]["userErrors"] == []
    assert saved["data"]["saveReportDefinition"]["reportDefinition"]["version"] == 2
    assert stale["data"]["saveReportDefinition"] == {
        "reportDefinition": None,
        "userErrors": [
            {
                "field": "expectedVersion",
                "message": "报表定义已被修改（当前为第 2 版），请刷新后再保存",
                "code": "VERSION_CONFLICT",
            }
        ],
    }
    assert [
        (v["version"], v["name"], v["definition"]["measures"], v["savedBy"])
        for v in versions["data"]["reportDefinitionVersions"]
    ] == [
        (2, "按颜色统计（含高危）", ["pregnancies", "purple", "high_risk"], "admin"),
        (1, "按风险颜色统计孕产妇", ["pregnancies", "purple"], "admin"),
    ]
    assert [c["key"] for c in result["columns"]] == [
        "risk_color",
        "pregnancies",
        "purple",
        "high_risk",
    ]
    async with db.reader() as session:
        events = (
            await session.execute(
                select(AuditEvent.username, AuditEvent.action, AuditEvent.detail)
                .where(AuditEvent.entity == "report_definition")
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [tuple(e) for e in events] == [
        ("admin", "CREATE", {"code": "risk_by_colour", "version": 1}),
        ("admin", "UPDATE", {"code": "risk_by_colour", "version": 2}),
    ]


async def test_a_shipped_report_can_be_changed_and_retired(api: Api) -> None:
    saved = await api.gql(
        SAVE,
        {
            "input": {
                "code": "push_success_rate",
                "name": "平台推送成功率",
                "definition": {
                    "source": "push_attempts",
                    "dimensions": ["record_type"],
                    "measures": ["attempts", "success_rate"],
                },
                "active": False,
                "expectedVersion": 1,
            }
        },
        as_user="admin",
    )
    ran = await api.gql(RUN, {"code": "push_success_rate"}, as_user="admin")
    listed = await api.gql("query { reportDefinitions { code } }", as_user="admin")

    assert saved["data"]["saveReportDefinition"]["reportDefinition"]["version"] == 2
    assert ran["data"]["runReport"]["userErrors"] == [
        {
            "field": "code",
            "message": "报表「push_success_rate」不存在或已停用",
            "code": "NOT_FOUND",
        }
    ]
    assert "push_success_rate" not in [d["code"] for d in listed["data"]["reportDefinitions"]]


# --------------------------------------------------------------------------- bad definitions


async def test_a_definition_naming_what_the_source_does_not_have_is_refused_in_chinese(
    api: Api, db: Database
) -> None:
    before = await counts(db)
    bad = {
        "source": "pregnancy_risk",
        "parameters": [
            {
                "name": "kind",
                "label": "类型",
                "type": "CHOICE",
                "choices": [{"value": "X", "label": "X"}],
            }
        ],
        "dimensions": ["hospital"],
        "measures": ["pregnancies", "deaths"],
        "filters": [
            {"filter": "district", "value": ["A"]},
            {"filter": "risk_color", "value": ["PINK"]},
        ],
        "chart": {"kind": "PIE", "series": ["pregnancies"]},
        "sql": "SELECT 1",
    }

    body = await api.gql(SAVE, {"input": save_input(definition=bad)}, as_user="admin")

    payload = body["data"]["saveReportDefinition"]
    assert payload["reportDefinition"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("definition.sql", "UNKNOWN_KEY"),
        ("definition.dimensions[0]", "UNKNOWN_DIMENSION"),
        ("definition.measures[1]", "UNKNOWN_MEASURE"),
        ("definition.filters[0].filter", "UNKNOWN_FILTER"),
        ("definition.filters[1].value", "INVALID_FILTER_VALUE"),
        ("definition.chart.kind", "INVALID_CHART"),
        ("definition.parameters", "UNUSED_PARAMETER"),
    ]
    messages = {e["code"]: e["message"] for e in payload["userErrors"]}
    assert messages["UNKNOWN_MEASURE"].startswith(
        "数据来源「孕产妇妊娠风险分级（五色管理）」没有统计指标「deaths」，可选：pregnancies（孕产妇数）"
    )
    assert messages["UNKNOWN_DIMENSION"].startswith(
        "数据来源「孕产妇妊娠风险分级（五色管理）」没有分组维度「hospital」，可选：year（年份）"
    )
    assert messages["UNKNOWN_FILTER"] == (
        "数据来源「孕产妇妊娠风险分级（五色管理）」没有筛选条件「district」，"
        "可选：risk_color（风险颜色）、purple（紫色标记）、status（档案状态）"
    )
    assert messages["UNUSED_PARAMETER"] == "参数「类型」（kind）定义了但没有被使用"
    assert await counts(db) == before


async def test_an_unknown_source_and_bad_parameters_are_refused(api: Api, db: Database) -> None:
    before = await counts(db)

    unknown_source = await api.gql(
        SAVE,
        {"input": save_input(definition={"source": "raw_sql", "measures": ["x"]})},
        as_user="admin",
    )
    bad_parameters = await api.gql(
        SAVE,
        {
            "input": save_input(
                code="Bad-Code",
                name=" ",
                definition={
                    "source": "nt_screening",
                    "parameters": [
                        {"name": "cut", "label": "界值", "type": "BOOLEAN"},
                        {"name": "from", "label": "开始", "type": "DATE", "default": "2026-02-30"},
                    ],
                    "dateRange": {
                        "field": "exam_date",
                        "from": {"param": "from"},
                        "to": {"param": "until"},
                    },
                    "dimensions": ["month"],
                    "measures": ["pregnancies"],
                    "arguments": {"nt_cutoff_mm": {"param": "cut"}},
                    "chart": {"kind": "BAR", "series": ["nt_thick"]},
                },
            )
        },
        as_user="admin",
    )
    duplicate = await api.gql(
        SAVE, {"input": save_input(code="nt_screening", definition=BY_COLOUR)}, as_user="admin"
    )

    errors = unknown_source["data"]["saveReportDefinition"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [("definition.source", "UNKNOWN_SOURCE")]
    assert errors[0]["message"].startswith(
        "数据来源「raw_sql」不存在，可选：pregnancy_risk（孕产妇妊娠风险分级（五色管理））"
    )
    assert [
        (e["field"], e["code"])
        for e in bad_parameters["data"]["saveReportDefinition"]["userErrors"]
    ] == [
        ("code", "INVALID_FORMAT"),
        ("name", "REQUIRED"),
        ("definition.parameters[1].default", "INVALID_DATE"),
        ("definition.dateRange.field", "UNKNOWN_DATE_FIELD"),
        ("definition.dateRange.to", "UNKNOWN_PARAMETER"),
        ("definition.arguments.nt_cutoff_mm", "INVALID_PARAMETER"),
        ("definition.chart.series[0]", "UNKNOWN_MEASURE"),
    ]
    assert duplicate["data"]["saveReportDefinition"]["userErrors"] == [
        {"field": "code", "message": "报表编码「nt_screening」已存在", "code": "DUPLICATE"}
    ]
    assert await counts(db) == before


# --------------------------------------------------------------------------- bad parameters


async def test_run_parameters_are_checked_before_anything_runs(api: Api) -> None:
    wrong = await api.gql(
        RUN,
        {
            "code": "nt_screening",
            "parameters": {
                "date_from": "2026-03-01",
                "date_to": "2026-01-31",
                "group_by": "week",
                "nt_cutoff_mm": "3",
                "colour": "RED",
            },
        },
        as_user="auditor",
    )
    out_of_range = await api.gql(
        RUN, {"code": "nt_screening", "parameters": {"nt_cutoff_mm": 12}}, as_user="admin"
    )
    bad_date = await api.gql(
        RUN,
        {"code": "high_risk_by_month", "parameters": {"date_from": "2026-02-30"}},
        as_user="admin",
    )
    not_object = await api.gql(
        RUN, {"code": "high_risk_by_month", "parameters": ["2026-01-01"]}, as_user="admin"
    )
    unknown = await api.gql(RUN, {"code": "births"}, as_user="admin")

    result = wrong["data"]["runReport"]
    assert result["columns"] == []
    assert result["rows"] == []
    assert result["userErrors"] == [
        {
            "field": "parameters.colour",
            "message": "本报表没有参数「colour」，可用：date_from（开始日期）、date_to（结束日期）、"
            "basis（统计口径）、group_by（统计周期）、nt_cutoff_mm（NT界值（mm））",
            "code": "UNKNOWN_PARAMETER",
        },
        {
            "field": "parameters.group_by",
            "message": "参数「统计周期」只能取：month（按月）、quarter（按季度）、year（按年）",
            "code": "INVALID_CHOICE",
        },
        {
            "field": "parameters.nt_cutoff_mm",
            "message": "参数「NT界值（mm）」应为数字",
            "code": "INVALID_TYPE",
        },
        {
            "field": "parameters.date_to",
            "message": "结束日期不能早于开始日期",
            "code": "DATE_ORDER",
        },
    ]
    assert out_of_range["data"]["runReport"]["userErrors"] == [
        {
            "field": "parameters.nt_cutoff_mm",
            "message": "参数「NT界值（mm）」不能大于 10",
            "code": "OUT_OF_RANGE",
        }
    ]
    assert bad_date["data"]["runReport"]["userErrors"] == [
        {
            "field": "parameters.date_from",
            "message": "参数「开始日期」不是有效日期：2026-02-30",
            "code": "INVALID_DATE",
        }
    ]
    assert not_object["data"]["runReport"]["userErrors"] == [
        {"field": "parameters", "message": "报表参数应为 JSON 对象", "code": "INVALID_TYPE"}
    ]
    assert unknown["data"]["runReport"]["userErrors"] == [
        {"field": "code", "message": "报表「births」不存在或已停用", "code": "NOT_FOUND"}
    ]


# --------------------------------------------------------------------------- who may


async def test_doctors_cannot_list_run_export_or_define_reports_and_nothing_changes(
    api: Api, db: Database
) -> None:
    before = await counts(db)

    listed = await api.gql(LIST, as_user="doctor")
    ran = await api.gql(RUN, {"code": "high_risk_by_month"}, as_user="doctor")
    sources = await api.gql(SOURCES, as_user="doctor")
    exported = await api.gql(
        EXPORT, {"input": {"code": "high_risk_by_month", "format": "CSV"}}, as_user="doctor"
    )
    saved = await api.gql(SAVE, {"input": save_input()}, as_user="doctor")
    anonymous = await api.gql(RUN, {"code": "high_risk_by_month"}, as_user=None)

    for body in (listed, ran, sources, exported):
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert (
            body["errors"][0]["message"] == "没有查看或导出统计报表的权限（需要管理员或审计员角色）"
        )
    assert saved["data"] is None
    assert saved["errors"][0]["message"] == "没有修改报表定义的权限（需要管理员角色）"
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await counts(db) == before


async def test_auditors_run_and_export_but_cannot_change_definitions(
    api: Api, db: Database
) -> None:
    before = await counts(db)

    ran = await api.gql(RUN, {"code": "high_risk_by_month"}, as_user="auditor")
    saved = await api.gql(
        SAVE,
        {"input": save_input(code="high_risk_by_month", definition=BY_COLOUR, expectedVersion=1)},
        as_user="auditor",
    )
    versions = await api.gql(VERSIONS, {"code": "high_risk_by_month"}, as_user="auditor")

    assert ran["data"]["runReport"]["userErrors"] == []
    assert saved["data"] is None
    assert [e["extensions"]["code"] for e in saved["errors"]] == ["FORBIDDEN"]
    assert [v["version"] for v in versions["data"]["reportDefinitionVersions"]] == [1]
    assert await counts(db) == before


async def test_the_source_registry_is_published_for_editors(api: Api) -> None:
    body = await api.gql(SOURCES, as_user="admin")

    sources = {s["code"]: s for s in body["data"]["reportSources"]}
    assert list(sources) == [
        "pregnancy_risk",
        "screening_coverage",
        "screening_results",
        "nt_screening",
        "push_attempts",
    ]
    nt = sources["nt_screening"]
    assert nt["arguments"] == [
        {
            "key": "nt_cutoff_mm",
            "minimum": 1.0,
            "maximum": 10.0,
            "defaultValue": 3.0,
            "systemParameter": "nt_cutoff_mm",
        }
    ]
    assert nt["dateFields"] == [
        {"value": "booking_date", "label": "建档日期"},
        {"value": "nt_exam_date", "label": "首次NT检查日期"},
    ]
    assert [d["key"] for d in sources["push_attempts"]["dimensions"]] == [
        "year",
        "quarter",
        "month",
        "day",
        "record_type",
        "outcome",
    ]
    assert sources["pregnancy_risk"]["filters"][0] == {
        "key": "risk_color",
        "kind": "CHOICE",
        "choices": [
            {"value": "GREEN", "label": "绿色"},
            {"value": "YELLOW", "label": "黄色"},
            {"value": "ORANGE", "label": "橙色"},
            {"value": "RED", "label": "红色"},
        ],
    }
