"""The data sources a report definition may choose from (报表数据来源).

A source is a named row set — a SQLAlchemy Core subquery, one row per pregnancy, per
screening test or per push attempt — together with what may be asked of it: the
dimensions to group by, the measures to aggregate, the filters and the date fields a
date range may apply to, and the arguments the row set needs (the NT cut-off). A
report definition picks among these by key; it never carries SQL, so a definition
saved by an administrator can only ask what a source declares.

Every source with a date field can also be grouped by the period (year, quarter,
month, day) of the date field its date range uses; see `PERIODS`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Subquery, and_, case, func, literal, select, union_all

from domain.lab.models import LabResult
from domain.lab.normalise import NEGATIVE, POSITIVE, WEAK_POSITIVE
from domain.lab.screening import SCREENING_ITEMS
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from domain.push.models import PushAttempt, PushRecord
from domain.push.outbox import RECORD_LABELS
from domain.report.functions import days_between, local_date, max_json_number
from domain.risk.models import RiskFactor
from domain.ultrasound.models import NtExtractionStatus, UltrasoundExam

# 13+0 weeks: a test on day 91 of gestation or later is no longer early pregnancy.
EARLY_PREGNANCY_DAYS = 13 * 7
# The NT window, 11+0 to 13+6 weeks inclusive.
NT_WINDOW_DAYS = (11 * 7, 13 * 7 + 6)
POSITIVE_READINGS = (POSITIVE, WEAK_POSITIVE)


class MeasureKind(enum.StrEnum):
    COUNT = "COUNT"  # a whole number of pregnancies, tests, attempts
    NUMBER = "NUMBER"  # a measured value, e.g. millimetres
    RATE = "RATE"  # a fraction 0–1 of two other measures


class FilterKind(enum.StrEnum):
    CHOICE = "CHOICE"  # value: a list of codes (IN)
    BOOLEAN = "BOOLEAN"  # value: true or false


Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Dimension:
    """A column to group by; `values` gives the Chinese label and the order of each code."""

    key: str
    label: str
    column: str
    values: Labels = ()
    description: str = ""


@dataclass(frozen=True)
class Measure:
    """An aggregate over the rows (`aggregate`), or a rate of two other measures (`ratio`)."""

    key: str
    label: str
    kind: MeasureKind
    description: str
    aggregate: Callable[[Subquery], ColumnElement[Any]] | None = None
    ratio: tuple[str, str] | None = None
    # A colour for charts where the measure has one (the five risk colours).
    color: str | None = None


@dataclass(frozen=True)
class Filter:
    key: str
    label: str
    column: str
    kind: FilterKind
    values: Labels = ()


@dataclass(frozen=True)
class DateField:
    key: str
    label: str
    column: str


@dataclass(frozen=True)
class Argument:
    """A number the row set needs; defaults to a system parameter (系统参数) when set."""

    key: str
    label: str
    minimum: float
    maximum: float
    default: float
    system_parameter: str | None = None


@dataclass(frozen=True)
class Source:
    code: str
    label: str
    description: str
    rows: Callable[[Mapping[str, float]], Subquery]
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    filters: tuple[Filter, ...] = ()
    date_fields: tuple[DateField, ...] = ()
    arguments: tuple[Argument, ...] = ()

    def dimension(self, key: str) -> Dimension | None:
        if key in PERIODS and self.date_fields:
            return PERIODS[key]
        return next((d for d in self.dimensions if d.key == key), None)

    def all_dimensions(self) -> tuple[Dimension, ...]:
        periods = tuple(PERIODS.values()) if self.date_fields else ()
        return periods + self.dimensions

    def measure(self, key: str) -> Measure | None:
        return next((m for m in self.measures if m.key == key), None)

    def filter(self, key: str) -> Filter | None:
        return next((f for f in self.filters if f.key == key), None)

    def date_field(self, key: str) -> DateField | None:
        return next((d for d in self.date_fields if d.key == key), None)

    def argument(self, key: str) -> Argument | None:
        return next((a for a in self.arguments if a.key == key), None)


# Period dimensions are computed from the date range's field, not from a column.
PERIODS: dict[str, Dimension] = {
    "year": Dimension("year", "年份", "", description="日期范围所用日期的年份"),
    "quarter": Dimension("quarter", "季度", "", description="日期范围所用日期的季度，如 2026-Q1"),
    "month": Dimension("month", "月份", "", description="日期范围所用日期的月份，如 2026-03"),
    "day": Dimension("day", "日期", "", description="日期范围所用日期，如 2026-03-07"),
}


# --------------------------------------------------------------------------- measure helpers


def _count(key: str, label: str, description: str) -> Measure:
    return Measure(key, label, MeasureKind.COUNT, description, aggregate=lambda q: func.count())


def _count_flag(key: str, label: str, column: str, description: str, **kw: Any) -> Measure:
    """Rows whose 0/1 flag `column` is 1."""
    return Measure(
        key,
        label,
        MeasureKind.COUNT,
        description,
        aggregate=lambda q: func.count(case((q.c[column] == 1, 1))),
        **kw,
    )


def _count_equal(
    key: str, label: str, column: str, value: str, description: str, **kw: Any
) -> Measure:
    return Measure(
        key,
        label,
        MeasureKind.COUNT,
        description,
        aggregate=lambda q: func.count(case((q.c[column] == value, 1))),
        **kw,
    )


def _count_in(
    key: str, label: str, column: str, values: tuple[str, ...], description: str
) -> Measure:
    return Measure(
        key,
        label,
        MeasureKind.COUNT,
        description,
        aggregate=lambda q: func.count(case((q.c[column].in_(values), 1))),
    )


def _rate(key: str, label: str, numerator: str, denominator: str, description: str) -> Measure:
    return Measure(key, label, MeasureKind.RATE, description, ratio=(numerator, denominator))


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


# --------------------------------------------------------------------------- 孕产档案与风险分级

RISK_COLORS: Labels = (
    ("GREEN", "绿色"),
    ("YELLOW", "黄色"),
    ("ORANGE", "橙色"),
    ("RED", "红色"),
)
PREGNANCY_STATUSES: Labels = (
    (PregnancyStatus.ACTIVE.value, "孕期管理中"),
    (PregnancyStatus.DELIVERED.value, "已分娩"),
    (PregnancyStatus.ARCHIVED.value, "已归档"),
)
_STATUS_DIMENSION = Dimension("status", "档案状态", "status", PREGNANCY_STATUSES)
_STATUS_FILTER = Filter("status", "档案状态", "status", FilterKind.CHOICE, PREGNANCY_STATUSES)
_BOOKING_DATE = DateField("booking_date", "建档日期", "booking_date")


def _pregnancy_risk_rows(arguments: Mapping[str, float]) -> Subquery:
    """One row per pregnancy: its current colour and purple flag, and when it was assessed.

    The assessment date is the last time the set of current factors changed (a factor
    recorded or removed), the booking date when no factor was ever recorded.
    """
    changes = union_all(
        select(RiskFactor.pregnancy_id.label("pregnancy_id"), RiskFactor.recorded_at.label("at")),
        select(RiskFactor.pregnancy_id, RiskFactor.removed_at).where(
            RiskFactor.removed_at.is_not(None)
        ),
    ).subquery("risk_change")
    last = (
        select(changes.c.pregnancy_id, func.max(changes.c.at).label("at"))
        .group_by(changes.c.pregnancy_id)
        .subquery("last_risk_change")
    )
    return (
        select(
            Pregnancy.id.label("pregnancy_id"),
            Pregnancy.booking_date,
            func.coalesce(local_date(last.c.at), Pregnancy.booking_date).label("assessed_on"),
            Pregnancy.risk_color,
            _flag(Pregnancy.infectious_flag.is_(True)).label("purple"),
            Pregnancy.status,
        )
        .select_from(Pregnancy)
        .outerjoin(last, last.c.pregnancy_id == Pregnancy.id)
        .subquery("pregnancy_risk")
    )


PREGNANCY_RISK = Source(
    code="pregnancy_risk",
    label="孕产妇妊娠风险分级（五色管理）",
    description="每个孕产档案一行：当前风险颜色（绿、黄、橙、红取最高）与紫色传染病标记"
    "（紫色独立于颜色单独计数）；评估日期为高危因素最后一次增减的日期，无高危因素时为建档日期。",
    rows=_pregnancy_risk_rows,
    dimensions=(
        Dimension("risk_color", "风险颜色", "risk_color", RISK_COLORS),
        _STATUS_DIMENSION,
    ),
    measures=(
        _count("pregnancies", "孕产妇数", "符合条件的孕产档案数"),
        _count_equal(
            "green",
            "绿色",
            "risk_color",
            "GREEN",
            "当前为绿色（低风险）的孕产妇数",
            color="#2e7d32",
        ),
        _count_equal(
            "yellow",
            "黄色",
            "risk_color",
            "YELLOW",
            "当前为黄色（一般风险）的孕产妇数",
            color="#f9a825",
        ),
        _count_equal(
            "orange",
            "橙色",
            "risk_color",
            "ORANGE",
            "当前为橙色（较高风险）的孕产妇数",
            color="#ef6c00",
        ),
        _count_equal(
            "red", "红色", "risk_color", "RED", "当前为红色（高风险）的孕产妇数", color="#c62828"
        ),
        _count_flag(
            "purple",
            "紫色（传染病）",
            "purple",
            "有紫色标记（传染病）的孕产妇数，与颜色同时存在、单独计数",
            color="#6a1b9a",
        ),
        Measure(
            "high_risk",
            "高危孕产妇数",
            MeasureKind.COUNT,
            "黄、橙、红色或有紫色标记的孕产妇数",
            aggregate=lambda q: func.count(
                case(((q.c.risk_color != "GREEN") | (q.c.purple == 1), 1))
            ),
        ),
        _rate("high_risk_rate", "高危比例", "high_risk", "pregnancies", "高危孕产妇数 / 孕产妇数"),
        Measure(
            "case_managed",
            "专案管理数",
            MeasureKind.COUNT,
            "橙、红色或有紫色标记、需专案管理的孕产妇数",
            aggregate=lambda q: func.count(
                case(((q.c.risk_color.in_(("ORANGE", "RED"))) | (q.c.purple == 1), 1))
            ),
        ),
    ),
    filters=(
        Filter("risk_color", "风险颜色", "risk_color", FilterKind.CHOICE, RISK_COLORS),
        Filter("purple", "紫色标记", "purple", FilterKind.BOOLEAN),
        _STATUS_FILTER,
    ),
    date_fields=(_BOOKING_DATE, DateField("assessed_on", "评估日期", "assessed_on")),
)


# --------------------------------------------------------------------------- 传染病筛查

# 三病: HIV, syphilis (TP or RPR), hepatitis B (HBsAg); HCV reported beside them.
SCREENING_GROUPS: dict[str, tuple[str, ...]] = {
    "hiv": ("HIV",),
    "syphilis": ("TP", "RPR"),
    "hbsag": ("HBSAG",),
    "hcv": ("HCV",),
}
_THREE = ("hiv", "syphilis", "hbsag")
_GROUP_LABELS = {"hiv": "HIV", "syphilis": "梅毒", "hbsag": "乙肝表面抗原", "hcv": "丙肝"}


def _screening_tests() -> Subquery:
    """Every screening test linked to a pregnancy, with its local test date and its rank
    within the pregnancy and item (n = 1: the latest by its own test date)."""
    tested_at = func.coalesce(LabResult.specimen_at, LabResult.reported_at)
    return (
        select(
            LabResult.pregnancy_id,
            LabResult.item_code,
            LabResult.value_qualitative.label("reading"),
            local_date(tested_at).label("tested_on"),
            func.row_number()
            .over(
                partition_by=(LabResult.pregnancy_id, LabResult.item_code),
                order_by=(tested_at.desc(), LabResult.reported_at.desc(), LabResult.id.desc()),
            )
            .label("n"),
        )
        .where(
            LabResult.pregnancy_id.is_not(None),
            LabResult.item_code.in_([code for code, _ in SCREENING_ITEMS]),
        )
        .subquery("screening_test")
    )


def _screening_coverage_rows(arguments: Mapping[str, float]) -> Subquery:
    """One row per pregnancy: for HIV, syphilis, HBsAg and HCV, whether she was tested,
    tested before 13+0 weeks (from the LMP to the test's own date), and whether the
    latest result of any of the group's items is positive (阳性 or 弱阳性)."""
    tests = _screening_tests()
    gestation = days_between(Pregnancy.lmp, tests.c.tested_on)
    columns: list[ColumnElement[Any]] = [tests.c.pregnancy_id]
    for group, codes in SCREENING_GROUPS.items():
        in_group = tests.c.item_code.in_(codes)
        early = and_(in_group, gestation >= 0, gestation < EARLY_PREGNANCY_DAYS)
        positive = and_(in_group, tests.c.n == 1, tests.c.reading.in_(POSITIVE_READINGS))
        columns += [
            func.max(_flag(in_group)).label(f"{group}_screened"),
            func.max(_flag(early)).label(f"{group}_early"),
            func.max(_flag(positive)).label(f"{group}_positive"),
        ]
    per_pregnancy = (
        select(*columns)
        .select_from(tests.join(Pregnancy, Pregnancy.id == tests.c.pregnancy_id))
        .group_by(tests.c.pregnancy_id)
        .subquery("screening_by_pregnancy")
    )
    flags = {
        name: func.coalesce(per_pregnancy.c[name], 0)
        for group in SCREENING_GROUPS
        for name in (f"{group}_screened", f"{group}_early", f"{group}_positive")
    }
    return (
        select(
            Pregnancy.id.label("pregnancy_id"),
            Pregnancy.booking_date,
            Pregnancy.status,
            *(value.label(name) for name, value in flags.items()),
            _flag(and_(*(flags[f"{g}_screened"] == 1 for g in _THREE))).label("three_screened"),
            _flag(and_(*(flags[f"{g}_early"] == 1 for g in _THREE))).label("three_early"),
        )
        .select_from(Pregnancy)
        .outerjoin(per_pregnancy, per_pregnancy.c.pregnancy_id == Pregnancy.id)
        .subquery("screening_coverage")
    )


def _screening_group_measures() -> tuple[Measure, ...]:
    measures: list[Measure] = []
    for group in SCREENING_GROUPS:
        name = _GROUP_LABELS[group]
        items = "、".join(
            label for code, label in SCREENING_ITEMS if code in SCREENING_GROUPS[group]
        )
        measures += [
            _count_flag(
                f"{group}_screened",
                f"{name}检测人数",
                f"{group}_screened",
                f"做过{items}检测的孕产妇数",
            ),
            _count_flag(
                f"{group}_early",
                f"{name}孕早期检测人数",
                f"{group}_early",
                f"孕13周前做过{items}检测的孕产妇数",
            ),
            _count_flag(
                f"{group}_positive",
                f"{name}阳性人数",
                f"{group}_positive",
                f"{items}最近一次结果为阳性或弱阳性的孕产妇数",
            ),
            _rate(
                f"{group}_positive_rate",
                f"{name}阳性率",
                f"{group}_positive",
                f"{group}_screened",
                f"{name}阳性人数 / {name}检测人数",
            ),
        ]
    return tuple(measures)


SCREENING_COVERAGE = Source(
    code="screening_coverage",
    label="孕产妇传染病（三病）检测覆盖",
    description="每个孕产档案一行：艾滋病（HIV抗体）、梅毒（梅毒螺旋体抗体或RPR）、乙肝（乙肝表面抗原）"
    "及丙肝是否检测、是否在孕13周前检测（按末次月经推算检测当日孕周）、最近一次结果是否阳性。",
    rows=_screening_coverage_rows,
    dimensions=(_STATUS_DIMENSION,),
    measures=(
        _count("booked", "建档孕产妇数", "符合条件的孕产档案数（检测率的分母）"),
        _count_flag(
            "three_screened",
            "三病检测人数",
            "three_screened",
            "HIV、梅毒、乙肝表面抗原三项均已检测的孕产妇数",
        ),
        _rate(
            "three_rate", "三病检测率", "three_screened", "booked", "三病检测人数 / 建档孕产妇数"
        ),
        _count_flag(
            "three_early",
            "孕早期三病检测人数",
            "three_early",
            "三项均在孕13周前（13+0之前）检测的孕产妇数",
        ),
        _rate(
            "early_rate",
            "孕早期检测率",
            "three_early",
            "booked",
            "孕早期三病检测人数 / 建档孕产妇数",
        ),
        *_screening_group_measures(),
    ),
    filters=(_STATUS_FILTER,),
    date_fields=(_BOOKING_DATE,),
)


SCREENING_READINGS: Labels = (
    (POSITIVE, "阳性"),
    (WEAK_POSITIVE, "弱阳性"),
    (NEGATIVE, "阴性"),
)


def _screening_result_rows(arguments: Mapping[str, float]) -> Subquery:
    """One row per pregnancy and screening item: the latest result by its own test date."""
    tests = _screening_tests()
    return (
        select(
            tests.c.pregnancy_id,
            tests.c.item_code,
            tests.c.reading,
            tests.c.tested_on,
            Pregnancy.booking_date,
            Pregnancy.status,
            _flag(tests.c.reading.in_(POSITIVE_READINGS)).label("positive"),
        )
        .select_from(tests.join(Pregnancy, Pregnancy.id == tests.c.pregnancy_id))
        .where(tests.c.n == 1)
        .subquery("screening_result")
    )


SCREENING_RESULTS = Source(
    code="screening_results",
    label="孕产妇传染病检测结果（按项目）",
    description="每个孕产档案每个检测项目一行：该项目最近一次（按该项目自己的检测日期）的结果。",
    rows=_screening_result_rows,
    dimensions=(
        Dimension("item", "检测项目", "item_code", SCREENING_ITEMS),
        Dimension("reading", "检测结果", "reading", SCREENING_READINGS),
        _STATUS_DIMENSION,
    ),
    measures=(
        _count("tested", "检测人数", "做过该项目检测的孕产妇数"),
        _count_flag("positive", "阳性人数", "positive", "最近一次结果为阳性或弱阳性的孕产妇数"),
        _count_in(
            "weak_positive",
            "弱阳性人数",
            "reading",
            (WEAK_POSITIVE,),
            "最近一次结果为弱阳性的孕产妇数",
        ),
        _rate("positive_rate", "阳性率", "positive", "tested", "阳性人数 / 检测人数"),
    ),
    filters=(
        Filter("item", "检测项目", "item_code", FilterKind.CHOICE, SCREENING_ITEMS),
        _STATUS_FILTER,
    ),
    date_fields=(_BOOKING_DATE, DateField("tested_on", "检测日期", "tested_on")),
)


# --------------------------------------------------------------------------- NT 筛查

NT_CUTOFF = Argument(
    "nt_cutoff_mm",
    "NT界值（mm）",
    minimum=1.0,
    maximum=10.0,
    default=3.0,
    system_parameter="nt_cutoff_mm",
)


def _nt_rows(arguments: Mapping[str, float]) -> Subquery:
    """One row per pregnancy: whether an NT was measured, whether within 11+0–13+6 weeks,
    and whether the thickest NT measured reaches the cut-off.

    The gestational age of an exam is the one its report states, else counted from the
    LMP to the exam date; for twins the thickest fetus counts.
    """
    cutoff = float(arguments[NT_CUTOFF.key])
    nt_mm = func.coalesce(
        UltrasoundExam.nt_mm,
        case(
            (
                UltrasoundExam.extraction_status == NtExtractionStatus.MULTIPLE.value,
                max_json_number(UltrasoundExam.fetuses, "nt_mm"),
            )
        ),
    )
    exams = (
        select(
            UltrasoundExam.pregnancy_id,
            UltrasoundExam.exam_date,
            nt_mm.label("nt_mm"),
            func.coalesce(
                UltrasoundExam.gestational_days,
                days_between(Pregnancy.lmp, UltrasoundExam.exam_date),
            ).label("gestational_days"),
        )
        .select_from(UltrasoundExam)
        .join(Pregnancy, Pregnancy.id == UltrasoundExam.pregnancy_id)
        .subquery("nt_exam")
    )
    measured = exams.c.nt_mm.is_not(None)
    low, high = NT_WINDOW_DAYS
    in_window = and_(measured, exams.c.gestational_days.between(low, high))
    per_pregnancy = (
        select(
            exams.c.pregnancy_id,
            func.max(_flag(measured)).label("measured"),
            func.max(_flag(in_window)).label("in_window"),
            func.max(exams.c.nt_mm).label("max_nt_mm"),
            func.min(case((measured, exams.c.exam_date))).label("first_nt_on"),
        )
        .group_by(exams.c.pregnancy_id)
        .subquery("nt_by_pregnancy")
    )
    return (
        select(
            Pregnancy.id.label("pregnancy_id"),
            Pregnancy.booking_date,
            Pregnancy.status,
            per_pregnancy.c.first_nt_on.label("nt_exam_date"),
            func.coalesce(per_pregnancy.c.measured, 0).label("measured"),
            func.coalesce(per_pregnancy.c.in_window, 0).label("in_window"),
            per_pregnancy.c.max_nt_mm,
            _flag(per_pregnancy.c.max_nt_mm >= literal(cutoff, Float)).label("thick"),
        )
        .select_from(Pregnancy)
        .outerjoin(per_pregnancy, per_pregnancy.c.pregnancy_id == Pregnancy.id)
        .subquery("nt_screening")
    )


NT_SCREENING = Source(
    code="nt_screening",
    label="NT（颈项透明层）筛查",
    description="每个孕产档案一行：是否测量NT、是否在孕11+0至13+6周内完成、最大NT是否达到界值"
    "（界值默认取系统参数 nt_cutoff_mm）。孕周取超声报告所写孕周，未写时按末次月经推算；双胎取最厚者。",
    rows=_nt_rows,
    dimensions=(_STATUS_DIMENSION,),
    measures=(
        _count("pregnancies", "建档孕产妇数", "符合条件的孕产档案数"),
        _count_flag("nt_measured", "NT检查人数", "measured", "有NT测量值的孕产妇数"),
        _count_flag(
            "nt_in_window",
            "孕11+0–13+6周完成NT人数",
            "in_window",
            "在孕11+0至13+6周内测量NT的孕产妇数",
        ),
        _rate(
            "nt_window_rate",
            "NT适时检查率",
            "nt_in_window",
            "nt_measured",
            "孕11+0–13+6周完成NT人数 / NT检查人数",
        ),
        _rate(
            "nt_coverage_rate",
            "NT筛查率",
            "nt_in_window",
            "pregnancies",
            "孕11+0–13+6周完成NT人数 / 建档孕产妇数",
        ),
        _count_flag("nt_thick", "NT≥界值人数", "thick", "最大NT大于或等于界值的孕产妇数"),
        _rate("nt_thick_rate", "NT增厚率", "nt_thick", "nt_measured", "NT≥界值人数 / NT检查人数"),
        Measure(
            "nt_max_mm",
            "最大NT（mm）",
            MeasureKind.NUMBER,
            "测得的最大NT值（mm）",
            aggregate=lambda q: func.max(q.c.max_nt_mm),
        ),
    ),
    filters=(_STATUS_FILTER,),
    date_fields=(_BOOKING_DATE, DateField("nt_exam_date", "首次NT检查日期", "nt_exam_date")),
    arguments=(NT_CUTOFF,),
)


# --------------------------------------------------------------------------- 桂妇儿平台推送

# The push monitor's names for the record types, in the platform's order.
PUSH_RECORD_TYPES: Labels = tuple(RECORD_LABELS.items())
PUSH_OUTCOMES: Labels = (
    ("DELIVERED", "成功"),
    ("SUPERSEDED", "已被新版本取代"),
    ("FIX_DATA", "数据需修正"),
    ("FIX_CONFIGURATION", "配置需修正"),
    ("TRY_LATER", "稍后重试"),
)
_FAILED = ("FIX_DATA", "FIX_CONFIGURATION", "TRY_LATER")


def _push_rows(arguments: Mapping[str, float]) -> Subquery:
    """One row per attempt to deliver a record to the platform, with the record's type."""
    return (
        select(
            PushAttempt.id.label("attempt_id"),
            PushAttempt.push_record_id,
            PushAttempt.outcome,
            local_date(PushAttempt.attempted_at).label("attempted_on"),
            PushRecord.record_type,
        )
        .select_from(PushAttempt)
        .join(PushRecord, PushRecord.id == PushAttempt.push_record_id)
        .subquery("push_attempts")
    )


PUSH_ATTEMPTS = Source(
    code="push_attempts",
    label="桂妇儿平台推送",
    description="每次向桂妇儿平台推送一行：记录类型、推送结果与推送日期。成功率 = 成功次数 / "
    "（推送次数 − 已被新版本取代的次数）：被取代的版本既不算成功也不算失败。",
    rows=_push_rows,
    dimensions=(
        Dimension("record_type", "记录类型", "record_type", PUSH_RECORD_TYPES),
        Dimension("outcome", "推送结果", "outcome", PUSH_OUTCOMES),
    ),
    measures=(
        _count("attempts", "推送次数", "推送尝试的次数"),
        Measure(
            "records",
            "推送记录数",
            MeasureKind.COUNT,
            "推送涉及的平台记录数（同一记录多次推送计一次）",
            aggregate=lambda q: func.count(q.c.push_record_id.distinct()),
        ),
        _count_equal(
            "delivered", "成功次数", "outcome", "DELIVERED", "平台接收成功的次数", color="#2e7d32"
        ),
        _count_in(
            "failed", "失败次数", "outcome", _FAILED, "数据需修正、配置需修正或稍后重试的次数"
        ),
        _count_equal(
            "fix_data", "数据需修正次数", "outcome", "FIX_DATA", "平台因数据问题拒收的次数"
        ),
        _count_equal(
            "fix_configuration",
            "配置需修正次数",
            "outcome",
            "FIX_CONFIGURATION",
            "因接口配置问题失败的次数",
        ),
        _count_equal(
            "try_later", "稍后重试次数", "outcome", "TRY_LATER", "平台不可用等、稍后重试的次数"
        ),
        _count_equal(
            "superseded",
            "被取代次数",
            "outcome",
            "SUPERSEDED",
            "平台已有更高版本、本次版本被取代的次数",
        ),
        Measure(
            "decided",
            "有结果的推送次数",
            MeasureKind.COUNT,
            "推送次数减去被取代次数（成功率的分母）",
            aggregate=lambda q: func.count(case((q.c.outcome != "SUPERSEDED", 1))),
        ),
        _rate("success_rate", "推送成功率", "delivered", "decided", "成功次数 / 有结果的推送次数"),
    ),
    filters=(
        Filter("record_type", "记录类型", "record_type", FilterKind.CHOICE, PUSH_RECORD_TYPES),
        Filter("outcome", "推送结果", "outcome", FilterKind.CHOICE, PUSH_OUTCOMES),
    ),
    date_fields=(DateField("attempted_on", "推送日期", "attempted_on"),),
)


SOURCES: dict[str, Source] = {
    source.code: source
    for source in (
        PREGNANCY_RISK,
        SCREENING_COVERAGE,
        SCREENING_RESULTS,
        NT_SCREENING,
        PUSH_ATTEMPTS,
    )
}
