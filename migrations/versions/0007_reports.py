"""report definitions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:30:00

The shipped reports are data (JSON documents checked against the source registry in
`domain/report/sources.py`), written here as they were at this version; the hospital
changes them, or adds others, through `saveReportDefinition`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)

_DEFINITION = sa.table(
    "report_definition",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("description", sa.Text),
    sa.column("document", sa.JSON),
    sa.column("active", sa.Boolean),
    sa.column("version", sa.Integer),
    sa.column("created_at", _WHEN),
    sa.column("created_by", sa.String),
    sa.column("updated_at", _WHEN),
    sa.column("updated_by", sa.String),
)

_DATE_FROM = {"name": "date_from", "label": "开始日期", "type": "DATE"}
_DATE_TO = {"name": "date_to", "label": "结束日期", "type": "DATE"}
_PERIOD = {
    "name": "group_by",
    "label": "统计周期",
    "type": "CHOICE",
    "default": "month",
    "required": True,
    "choices": [
        {"value": "month", "label": "按月"},
        {"value": "quarter", "label": "按季度"},
        {"value": "year", "label": "按年"},
    ],
}
_RANGE = {"from": {"param": "date_from"}, "to": {"param": "date_to"}}

SHIPPED = [
    {
        "code": "high_risk_by_month",
        "name": "高危孕产妇五色分级统计",
        "description": "按建档或评估月份统计各风险颜色的孕产妇数；紫色（传染病）是与颜色并存的标记，单独计数，不计入颜色合计。",
        "document": {
            "source": "pregnancy_risk",
            "parameters": [
                _DATE_FROM,
                _DATE_TO,
                {
                    "name": "basis",
                    "label": "统计口径",
                    "type": "CHOICE",
                    "default": "booking_date",
                    "required": True,
                    "choices": [
                        {"value": "booking_date", "label": "按建档日期"},
                        {"value": "assessed_on", "label": "按评估日期"},
                    ],
                },
                _PERIOD,
            ],
            "dateRange": {"field": {"param": "basis"}, **_RANGE},
            "dimensions": [{"param": "group_by"}],
            "measures": [
                "pregnancies",
                "green",
                "yellow",
                "orange",
                "red",
                "purple",
                "high_risk",
                "high_risk_rate",
            ],
            "chart": {"kind": "STACKED", "series": ["green", "yellow", "orange", "red"]},
        },
    },
    {
        "code": "infectious_screening_coverage",
        "name": "孕产妇艾滋病、梅毒、乙肝（三病）检测率",
        "description": "按建档月份统计三病检测率（三项均检测人数 / 建档人数）、孕早期检测率（三项均在孕13周前检测 / 建档人数）及各病阳性率。",
        "document": {
            "source": "screening_coverage",
            "parameters": [_DATE_FROM, _DATE_TO, _PERIOD],
            "dateRange": {"field": "booking_date", **_RANGE},
            "dimensions": [{"param": "group_by"}],
            "measures": [
                "booked",
                "three_screened",
                "three_rate",
                "three_early",
                "early_rate",
                "hiv_positive",
                "hiv_positive_rate",
                "syphilis_positive",
                "syphilis_positive_rate",
                "hbsag_positive",
                "hbsag_positive_rate",
            ],
            "chart": {"kind": "LINE", "series": ["three_rate", "early_rate"]},
        },
    },
    {
        "code": "infectious_screening_positivity",
        "name": "传染病检测阳性率（按检测项目）",
        "description": "按检测日期统计每个传染病检测项目的检测人数与阳性率；每人每项取最近一次结果，弱阳性计为阳性。",
        "document": {
            "source": "screening_results",
            "parameters": [_DATE_FROM, _DATE_TO],
            "dateRange": {"field": "tested_on", **_RANGE},
            "dimensions": ["item"],
            "measures": ["tested", "positive", "weak_positive", "positive_rate"],
            "chart": {"kind": "BAR", "series": ["positive_rate"]},
        },
    },
    {
        "code": "nt_screening",
        "name": "NT（颈项透明层）筛查统计",
        "description": "统计孕11+0至13+6周内完成NT检查的人数与比例，以及NT大于或等于界值的人数；界值默认取系统参数 nt_cutoff_mm。",
        "document": {
            "source": "nt_screening",
            "parameters": [
                _DATE_FROM,
                _DATE_TO,
                {
                    "name": "basis",
                    "label": "统计口径",
                    "type": "CHOICE",
                    "default": "booking_date",
                    "required": True,
                    "choices": [
                        {"value": "booking_date", "label": "按建档日期"},
                        {"value": "nt_exam_date", "label": "按首次NT检查日期"},
                    ],
                },
                _PERIOD,
                {
                    "name": "nt_cutoff_mm",
                    "label": "NT界值（mm）",
                    "type": "NUMBER",
                    "default": 3.0,
                    "required": True,
                    "minimum": 1.0,
                    "maximum": 10.0,
                    "systemParameter": "nt_cutoff_mm",
                },
            ],
            "dateRange": {"field": {"param": "basis"}, **_RANGE},
            "dimensions": [{"param": "group_by"}],
            "measures": [
                "pregnancies",
                "nt_measured",
                "nt_in_window",
                "nt_window_rate",
                "nt_coverage_rate",
                "nt_thick",
                "nt_thick_rate",
            ],
            "arguments": {"nt_cutoff_mm": {"param": "nt_cutoff_mm"}},
            "chart": {"kind": "BAR", "series": ["nt_measured", "nt_in_window", "nt_thick"]},
        },
    },
    {
        "code": "push_success_rate",
        "name": "桂妇儿平台推送成功率",
        "description": "按推送日期和记录类型统计推送次数、成功次数与成功率；被新版本取代的推送不计入成功率的分母。",
        "document": {
            "source": "push_attempts",
            "parameters": [
                _DATE_FROM,
                _DATE_TO,
                {
                    "name": "record_type",
                    "label": "记录类型",
                    "type": "CHOICE",
                    "choices": [
                        {"value": "MATERNAL_REGISTRATION", "label": "孕产妇建档"},
                        {"value": "PRENATAL_VISIT", "label": "产前检查"},
                        {"value": "HIGH_RISK_ASSESSMENT", "label": "高危评估"},
                        {"value": "INFECTIOUS_SCREENING", "label": "传染病检测"},
                        {"value": "ULTRASOUND_NT", "label": "NT 检查"},
                    ],
                },
            ],
            "dateRange": {"field": "attempted_on", **_RANGE},
            "dimensions": ["day", "record_type"],
            "measures": ["attempts", "delivered", "failed", "superseded", "success_rate"],
            "filters": [{"filter": "record_type", "value": {"param": "record_type"}}],
            "chart": {"kind": "LINE", "series": ["success_rate"], "split": "record_type"},
        },
    },
]


def upgrade() -> None:
    op.create_table(
        "report_definition",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_definition")),
        sa.UniqueConstraint("code", name=op.f("uq_report_definition_code")),
    )
    op.create_table(
        "report_definition_version",
        sa.Column("id", _ID, nullable=False),
        sa.Column("definition_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("saved_at", _WHEN, nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["report_definition.id"],
            name=op.f("fk_report_definition_version_definition_id_report_definition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_definition_version")),
        sa.UniqueConstraint(
            "definition_id", "version", name="uq_report_definition_version_definition_id"
        ),
    )
    _seed()


def _seed() -> None:
    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(
        _DEFINITION,
        [
            {
                **report,
                "active": True,
                "version": 1,
                "created_at": now,
                "created_by": "migration",
                "updated_at": now,
                "updated_by": "migration",
            }
            for report in SHIPPED
        ],
    )
    # Version 1 of each shipped report, as the history's first entry.
    op.execute(
        "INSERT INTO report_definition_version "
        "(definition_id, version, name, description, document, active, saved_at, saved_by) "
        "SELECT id, version, name, description, document, active, updated_at, updated_by "
        "FROM report_definition"
    )


def downgrade() -> None:
    op.drop_table("report_definition_version")
    op.drop_table("report_definition")
