"""Shipped reports give exact figures on a small hand-built data set, on SQLite and PostgreSQL.

The data set (`seed_report_data`) is six pregnancies booked January–March 2026 with
their risk factors, infectious-disease screening results, ultrasound exams and platform
push attempts, chosen so that every boundary the reports draw is crossed once: a
factor recorded at 17:00 UTC (the next day in China), a test on day 90 and one on day
91 of gestation, an NT exactly at the cut-off, twins, a superseded push.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from domain.database import Database
from domain.lab.models import LabResult
from domain.parameter.models import Parameter
from domain.patient.models import Patient
from domain.patient.rules import make_resident_id
from domain.pregnancy.models import Pregnancy
from domain.push.models import PushAttempt, PushRecord
from domain.risk.models import RiskFactor
from domain.ultrasound.models import UltrasoundExam
from tests.conftest import Api

UTC = dt.UTC

RUN = """
query Run($code: String!, $parameters: JSON) {
  runReport(code: $code, parameters: $parameters) {
    code name
    columns { key label kind }
    rows totals parameters
    chart { kind x series split }
    userErrors { field message code }
  }
}
"""

DEFINITIONS = """
query Definitions {
  reportDefinitions {
    code name version active dataSource dataSourceLabel
    dimensions { key label kind parameter }
    measures { key label kind }
    parameters { name label type defaultValue required choices { value label } minimum maximum systemParameter }
    chart { kind x series split }
    problems { field code }
  }
}
"""


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# (booking date, LMP, colour, purple)
PREGNANCIES = {
    "P1": (dt.date(2026, 1, 10), dt.date(2025, 11, 20), "GREEN", False),
    "P2": (dt.date(2026, 1, 20), dt.date(2025, 12, 1), "YELLOW", True),
    "P3": (dt.date(2026, 2, 5), dt.date(2025, 12, 10), "ORANGE", False),
    "P4": (dt.date(2026, 2, 15), dt.date(2025, 12, 20), "RED", True),
    "P5": (dt.date(2026, 2, 25), dt.date(2026, 1, 5), "GREEN", True),
    "P6": (dt.date(2026, 3, 3), dt.date(2026, 1, 10), "YELLOW", False),
}
# (pregnancy, code, colour, recorded at (UTC), removed at (UTC))
FACTORS = [
    ("P2", "Y-AGE35", "YELLOW", "2026-01-20 02:00", None),
    # 17:00 UTC on 1 March is 01:00 on 2 March in China: assessed in March.
    ("P2", "P-HEPATITIS", "PURPLE", "2026-03-01 17:00", None),
    ("P3", "O-AGE40", "ORANGE", "2026-02-05 03:00", None),
    # Removed in April: the last change of P3's factors, so assessed in April.
    ("P3", "Y-SCAR", "YELLOW", "2026-02-05 03:00", "2026-04-10 02:00"),
    ("P4", "R-PAH", "RED", "2026-02-15 03:00", None),
    ("P4", "P-SYPHILIS", "PURPLE", "2026-02-16 03:00", None),
    ("P5", "P-HIV", "PURPLE", "2026-02-28 16:30", None),
    ("P6", "Y-AGE35", "YELLOW", "2026-03-03 03:00", None),
]
# (pregnancy, item, reading, specimen time (UTC) or None, reported time (UTC))
RESULTS = [
    ("P1", "HIV", "NEGATIVE", "2026-01-10 01:00", "2026-01-10 06:00"),
    ("P1", "TP", "NEGATIVE", "2026-01-10 01:00", "2026-01-10 06:00"),
    ("P1", "HBSAG", "NEGATIVE", "2026-01-10 01:00", "2026-01-10 06:00"),
    ("P1", "HCV", "POSITIVE", "2026-01-10 01:00", "2026-01-10 06:00"),
    ("P2", "HIV", "NEGATIVE", "2026-01-20 01:00", "2026-01-20 06:00"),
    ("P2", "RPR", "NEGATIVE", "2026-01-20 01:00", "2026-01-20 06:00"),
    ("P2", "HBSAG", "POSITIVE", "2026-01-20 01:00", "2026-01-20 06:00"),
    ("P3", "HIV", "NEGATIVE", "2026-02-05 01:00", "2026-02-05 06:00"),
    # Positive first, negative on retest: the latest result counts.
    ("P3", "TP", "POSITIVE", "2026-02-05 01:00", "2026-02-05 06:00"),
    ("P3", "TP", "NEGATIVE", "2026-03-20 01:00", "2026-03-20 06:00"),
    # Drawn 16:30 UTC on 20 March = 21 March in China = day 91 of gestation: not early.
    ("P4", "HIV", "WEAK_POSITIVE", "2026-03-20 16:30", "2026-03-21 02:00"),
    ("P4", "TP", "NEGATIVE", "2026-02-15 01:00", "2026-02-15 06:00"),
    ("P4", "HBSAG", "NEGATIVE", "2026-02-15 01:00", "2026-02-15 06:00"),
    # 15:00 UTC on 5 April = 23:00 in China, day 90: still early.
    ("P5", "HIV", "NEGATIVE", "2026-04-05 15:00", "2026-04-06 02:00"),
    # No specimen time: the report time is the test date.
    ("P5", "TP", "NEGATIVE", None, "2026-02-25 02:00"),
    ("P5", "HBSAG", "NEGATIVE", "2026-02-25 01:00", "2026-02-25 06:00"),
]
# (pregnancy, exam date, status, NT mm, gestational days stated by the report, fetuses)
EXAMS: list[tuple[str, dt.date, str, float | None, int | None, list[dict[str, object]]]] = [
    ("P1", dt.date(2026, 1, 1), "NOT_FOUND", None, None, []),
    ("P1", dt.date(2026, 2, 10), "EXTRACTED", 1.8, None, []),  # day 82
    ("P2", dt.date(2026, 3, 1), "EXTRACTED", 3.0, 88, []),  # exactly the cut-off
    ("P3", dt.date(2026, 3, 20), "EXTRACTED", 2.0, None, []),  # day 100: too late
    (
        "P4",
        dt.date(2026, 3, 10),
        "MULTIPLE",
        None,
        None,
        [{"label": "A", "nt_mm": 2.1}, {"label": "B", "nt_mm": 3.4}],
    ),  # twins, day 80
    ("P5", dt.date(2026, 3, 20), "NOT_MEASURED", None, None, []),
]
# record id → (type, pregnancy); attempts: (record, attempted at (UTC), outcome)
RECORDS = {
    "R1": ("MATERNAL_REGISTRATION", "P1"),
    "R2": ("PRENATAL_VISIT", "P1"),
    "R3": ("PRENATAL_VISIT", "P2"),
}
ATTEMPTS = [
    ("R1", "2026-03-01 01:00", "DELIVERED"),
    ("R2", "2026-03-01 02:00", "TRY_LATER"),
    ("R2", "2026-03-01 03:00", "DELIVERED"),
    ("R3", "2026-03-01 04:00", "FIX_DATA"),
    ("R3", "2026-03-01 17:00", "DELIVERED"),  # 2 March in China
    ("R2", "2026-03-02 05:00", "SUPERSEDED"),
]


async def seed_report_data(db: Database) -> dict[str, int]:
    """The data set above; returns pregnancy label → id."""
    ids: dict[str, int] = {}
    async with db.transaction() as session:
        for n, (label, (booked, lmp, color, purple)) in enumerate(PREGNANCIES.items(), start=1):
            patient = Patient(
                name=f"测试孕妇{n}",
                name_initials="CSYF",
                resident_id=make_resident_id("450103", dt.date(1994, 5, 17), n),
                birth_date=dt.date(1994, 5, 17),
            )
            session.add(patient)
            await session.flush()
            pregnancy = Pregnancy(
                patient_id=patient.id,
                lmp=lmp,
                edd=lmp + dt.timedelta(days=280),
                gravidity=1,
                parity=0,
                booking_date=booked,
                risk_color=color,
                infectious_flag=purple,
            )
            session.add(pregnancy)
            await session.flush()
            ids[label] = pregnancy.id
        patients = {
            label: (await session.get(Pregnancy, pid)).patient_id  # type: ignore[union-attr]
            for label, pid in ids.items()
        }
        for label, code, color, recorded, removed in FACTORS:
            session.add(
                RiskFactor(
                    pregnancy_id=ids[label],
                    code=code,
                    name=code,
                    color=color,
                    recorded_at=at(recorded),
                    updated_at=at(recorded),
                    removed_at=at(removed) if removed else None,
                )
            )
        for i, (label, item, reading, specimen, reported) in enumerate(RESULTS):
            session.add(
                LabResult(
                    patient_id=patients[label],
                    pregnancy_id=ids[label],
                    item_code=item,
                    item_name=item,
                    value_qualitative=reading,
                    value_text=reading,
                    specimen_at=at(specimen) if specimen else None,
                    reported_at=at(reported),
                    source="LIS",
                    source_id=f"report-test-{i}",
                )
            )
        for i, (label, day, status, nt_mm, days, fetuses) in enumerate(EXAMS):
            session.add(
                UltrasoundExam(
                    patient_id=patients[label],
                    pregnancy_id=ids[label],
                    exam_date=day,
                    report_text="超声报告",
                    nt_mm=nt_mm,
                    gestational_days=days,
                    extraction_status=status,
                    fetuses=fetuses,
                    source="RIS",
                    source_id=f"report-test-{i}",
                )
            )
        records: dict[str, int] = {}
        for record, (record_type, label) in RECORDS.items():
            row = PushRecord(
                record_type=record_type,
                record_id=f"report-test-{record}",
                patient_id=patients[label],
                pregnancy_id=ids[label],
                version=1,
                status="DELIVERED",
                body={},
                content_hash="0" * 64,
                mapping_version=1,
            )
            session.add(row)
            await session.flush()
            records[record] = row.id
        for record, attempted, outcome in ATTEMPTS:
            session.add(
                PushAttempt(
                    push_record_id=records[record],
                    version=1,
                    attempted_at=at(attempted),
                    duration_ms=12,
                    outcome=outcome,
                    detail="",
                    field_errors=[],
                )
            )
    return ids


async def run(api: Api, code: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    body = await api.gql(RUN, {"code": code, "parameters": parameters}, as_user="admin")
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["runReport"]
    return result


def table(result: dict[str, Any]) -> list[list[object]]:
    """The rows as lists in column order (what a person reads)."""
    keys = [c["key"] for c in result["columns"]]
    return [[row[k] for k in keys] for row in result["rows"]]


# --------------------------------------------------------------------------- 1. risk colours


async def test_high_risk_report_counts_colours_by_booking_month_and_purple_separately(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    result = await run(api, "high_risk_by_month")

    assert result["userErrors"] == []
    assert result["name"] == "高危孕产妇五色分级统计"
    assert [(c["key"], c["label"], c["kind"]) for c in result["columns"]] == [
        ("month", "月份", "DIMENSION"),
        ("pregnancies", "孕产妇数", "COUNT"),
        ("green", "绿色", "COUNT"),
        ("yellow", "黄色", "COUNT"),
        ("orange", "橙色", "COUNT"),
        ("red", "红色", "COUNT"),
        ("purple", "紫色（传染病）", "COUNT"),
        ("high_risk", "高危孕产妇数", "COUNT"),
        ("high_risk_rate", "高危比例", "RATE"),
    ]
    assert table(result) == [
        ["2026-01", 2, 1, 1, 0, 0, 1, 1, 0.5],
        ["2026-02", 3, 1, 0, 1, 1, 2, 3, 1.0],
        ["2026-03", 1, 0, 1, 0, 0, 0, 1, 1.0],
    ]
    assert result["totals"] == {
        "pregnancies": 6,
        "green": 2,
        "yellow": 2,
        "orange": 1,
        "red": 1,
        "purple": 3,
        "high_risk": 5,
        "high_risk_rate": 0.8333,
    }
    assert result["chart"] == {
        "kind": "STACKED",
        "x": "month",
        "series": ["green", "yellow", "orange", "red"],
        "split": None,
    }
    assert result["parameters"] == {
        "date_from": None,
        "date_to": None,
        "basis": "booking_date",
        "group_by": "month",
    }


async def test_high_risk_report_by_assessment_month_within_a_date_range(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    result = await run(
        api,
        "high_risk_by_month",
        {"basis": "assessed_on", "date_from": "2026-01-01", "date_to": "2026-03-31"},
    )

    # P3's last change is the removal of a factor in April: outside the range.
    assert table(result) == [
        ["2026-01", 1, 1, 0, 0, 0, 0, 0, 0.0],
        ["2026-02", 1, 0, 0, 0, 1, 1, 1, 1.0],
        ["2026-03", 3, 1, 2, 0, 0, 2, 3, 1.0],
    ]
    assert result["totals"]["pregnancies"] == 5
    assert result["totals"]["purple"] == 3


async def test_high_risk_report_by_quarter(api: Api, db: Database) -> None:
    await seed_report_data(db)

    result = await run(api, "high_risk_by_month", {"group_by": "quarter"})

    assert result["columns"][0] == {"key": "quarter", "label": "季度", "kind": "DIMENSION"}
    assert table(result) == [["2026-Q1", 6, 2, 2, 1, 1, 3, 5, 0.8333]]
    assert result["chart"]["x"] == "quarter"


# --------------------------------------------------------------------------- 2. screening


async def test_screening_coverage_gives_the_three_disease_and_early_detection_rates(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    result = await run(api, "infectious_screening_coverage")

    assert [c["label"] for c in result["columns"]] == [
        "月份",
        "建档孕产妇数",
        "三病检测人数",
        "三病检测率",
        "孕早期三病检测人数",
        "孕早期检测率",
        "HIV阳性人数",
        "HIV阳性率",
        "梅毒阳性人数",
        "梅毒阳性率",
        "乙肝表面抗原阳性人数",
        "乙肝表面抗原阳性率",
    ]
    assert table(result) == [
        ["2026-01", 2, 2, 1.0, 2, 1.0, 0, 0.0, 0, 0.0, 1, 0.5],
        # P4's HIV on day 91 is not early; P3 has no HBsAg; P3's TP retest is negative.
        ["2026-02", 3, 2, 0.6667, 1, 0.3333, 1, 0.3333, 0, 0.0, 0, 0.0],
        # Nobody screened: the positivity rates have no denominator.
        ["2026-03", 1, 0, 0.0, 0, 0.0, 0, None, 0, None, 0, None],
    ]
    assert result["totals"] == {
        "booked": 6,
        "three_screened": 4,
        "three_rate": 0.6667,
        "three_early": 3,
        "early_rate": 0.5,
        "hiv_positive": 1,
        "hiv_positive_rate": 0.2,
        "syphilis_positive": 0,
        "syphilis_positive_rate": 0.0,
        "hbsag_positive": 1,
        "hbsag_positive_rate": 0.25,
    }


async def test_screening_positivity_per_item_uses_each_items_latest_result(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    everything = await run(api, "infectious_screening_positivity")
    march_on = await run(api, "infectious_screening_positivity", {"date_from": "2026-03-01"})

    assert [c["label"] for c in everything["columns"]] == [
        "检测项目",
        "检测人数",
        "阳性人数",
        "弱阳性人数",
        "阳性率",
    ]
    assert table(everything) == [
        ["乙肝表面抗原", 4, 1, 0, 0.25],
        ["HIV抗体", 5, 1, 1, 0.2],
        ["梅毒螺旋体抗体", 4, 0, 0, 0.0],
        ["快速血浆反应素试验", 1, 0, 0, 0.0],
        ["丙肝抗体", 1, 1, 0, 1.0],
    ]
    assert everything["totals"] == {
        "tested": 15,
        "positive": 3,
        "weak_positive": 1,
        "positive_rate": 0.2,
    }
    # Latest results dated from 1 March (China time): P4's and P5's HIV, P3's TP retest.
    assert table(march_on) == [
        ["HIV抗体", 2, 1, 1, 0.5],
        ["梅毒螺旋体抗体", 1, 0, 0, 0.0],
    ]


# --------------------------------------------------------------------------- 3. NT


NT_LABELS = [
    "月份",
    "建档孕产妇数",
    "NT检查人数",
    "孕11+0–13+6周完成NT人数",
    "NT适时检查率",
    "NT筛查率",
    "NT≥界值人数",
    "NT增厚率",
]


async def test_nt_report_counts_the_window_and_the_cutoff_from_the_parameter_table(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    default = await run(api, "nt_screening")
    lower = await run(api, "nt_screening", {"nt_cutoff_mm": 2.0})
    async with db.transaction() as session:
        await session.execute(
            update(Parameter).where(Parameter.key == "nt_cutoff_mm").values(value=3.4)
        )
    from_table = await run(api, "nt_screening")
    definitions = await api.gql(DEFINITIONS, as_user="auditor")

    assert [c["label"] for c in default["columns"]] == NT_LABELS
    assert table(default) == [
        ["2026-01", 2, 2, 2, 1.0, 1.0, 1, 0.5],
        ["2026-02", 3, 2, 1, 0.5, 0.3333, 1, 0.5],
        ["2026-03", 1, 0, 0, None, 0.0, 0, None],
    ]
    assert default["totals"] == {
        "pregnancies": 6,
        "nt_measured": 4,
        "nt_in_window": 3,
        "nt_window_rate": 0.75,
        "nt_coverage_rate": 0.5,
        "nt_thick": 2,
        "nt_thick_rate": 0.5,
    }
    assert default["parameters"]["nt_cutoff_mm"] == 3.0
    assert [row["nt_thick"] for row in lower["rows"]] == [1, 2, 0]
    assert lower["totals"]["nt_thick"] == 3
    # 3.4 from the parameter table: only the twin measured 3.4 mm reaches it.
    assert from_table["parameters"]["nt_cutoff_mm"] == 3.4
    assert [row["nt_thick"] for row in from_table["rows"]] == [0, 1, 0]
    nt = next(d for d in definitions["data"]["reportDefinitions"] if d["code"] == "nt_screening")
    cutoff = next(p for p in nt["parameters"] if p["name"] == "nt_cutoff_mm")
    assert cutoff == {
        "name": "nt_cutoff_mm",
        "label": "NT界值（mm）",
        "type": "NUMBER",
        "defaultValue": 3.4,
        "required": True,
        "choices": [],
        "minimum": 1.0,
        "maximum": 10.0,
        "systemParameter": "nt_cutoff_mm",
    }


async def test_nt_report_by_first_nt_exam_month(api: Api, db: Database) -> None:
    await seed_report_data(db)

    result = await run(api, "nt_screening", {"basis": "nt_exam_date"})

    # Pregnancies without an NT have no first NT date: grouped as （空）, last.
    assert table(result) == [
        ["2026-02", 1, 1, 1, 1.0, 1.0, 0, 0.0],
        ["2026-03", 3, 3, 2, 0.6667, 0.6667, 2, 0.6667],
        ["（空）", 2, 0, 0, None, 0.0, 0, None],
    ]


# --------------------------------------------------------------------------- 4. push


async def test_push_success_rate_by_day_and_record_type(api: Api, db: Database) -> None:
    await seed_report_data(db)

    result = await run(api, "push_success_rate")
    visits_only = await run(api, "push_success_rate", {"record_type": "PRENATAL_VISIT"})

    assert [c["label"] for c in result["columns"]] == [
        "日期",
        "记录类型",
        "推送次数",
        "成功次数",
        "失败次数",
        "被取代次数",
        "推送成功率",
    ]
    assert table(result) == [
        ["2026-03-01", "孕产妇建档", 1, 1, 0, 0, 1.0],
        ["2026-03-01", "产前检查", 3, 1, 2, 0, 0.3333],
        ["2026-03-02", "产前检查", 2, 1, 0, 1, 1.0],
    ]
    assert result["totals"] == {
        "attempts": 6,
        "delivered": 3,
        "failed": 2,
        "superseded": 1,
        "success_rate": 0.6,
    }
    assert result["chart"] == {
        "kind": "LINE",
        "x": "day",
        "series": ["success_rate"],
        "split": "record_type",
    }
    assert table(visits_only) == [
        ["2026-03-01", "产前检查", 3, 1, 2, 0, 0.3333],
        ["2026-03-02", "产前检查", 2, 1, 0, 1, 1.0],
    ]


# --------------------------------------------------------------------------- the list


async def test_shipped_definitions_are_listed_with_their_parameters(api: Api) -> None:
    body = await api.gql(DEFINITIONS, as_user="admin")

    definitions = body["data"]["reportDefinitions"]
    assert [(d["code"], d["dataSource"], d["version"]) for d in definitions] == [
        ("high_risk_by_month", "pregnancy_risk", 1),
        ("infectious_screening_coverage", "screening_coverage", 1),
        ("infectious_screening_positivity", "screening_results", 1),
        ("nt_screening", "nt_screening", 1),
        ("push_success_rate", "push_attempts", 1),
    ]
    assert all(d["problems"] == [] and d["active"] for d in definitions)
    risk = definitions[0]
    assert risk["dimensions"] == [
        {"key": "month", "label": "月份", "kind": "DIMENSION", "parameter": "group_by"}
    ]
    assert [p["name"] for p in risk["parameters"]] == ["date_from", "date_to", "basis", "group_by"]
    assert risk["parameters"][2]["choices"] == [
        {"value": "booking_date", "label": "按建档日期"},
        {"value": "assessed_on", "label": "按评估日期"},
    ]
    assert risk["parameters"][0] == {
        "name": "date_from",
        "label": "开始日期",
        "type": "DATE",
        "defaultValue": None,
        "required": False,
        "choices": [],
        "minimum": None,
        "maximum": None,
        "systemParameter": None,
    }
    assert risk["chart"] == {
        "kind": "STACKED",
        "x": "month",
        "series": ["green", "yellow", "orange", "red"],
        "split": None,
    }
