"""Handbook PDF benchmark: one 12-page 母子健康手册, and a batch with two worker processes.

Everything runs through the production render pool (`domain.job.pool.RenderPool`) and
the production template; the baseline, measured in the same run and the same kind of
worker process, is an empty page. Figures:

- time of one render (median of `rounds`, warm worker), handbook and empty page;
- peak memory (ru_maxrss) of a fresh worker after one render, handbook and empty page;
- batch throughput: handbooks per minute with two worker processes.

Prints a table and a JSON line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import platform
import statistics
import time
from typing import Any

import orjson

from domain.document.pdf import RenderedPdf, render_pdf_document
from domain.handbook.service import (
    BLOOD_ITEMS,
    FactorLine,
    HandbookContent,
    LabLine,
    UltrasoundLine,
    VisitLine,
    handbook_html,
)
from domain.job.pool import RenderLimits, RenderPool
from domain.lab.screening import SCREENING_ITEMS
from domain.pregnancy.rules import format_gestational_age

TARGET_PAGES = 12
BATCH = 8
EMPTY_PAGE = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
    '<link rel="stylesheet" href="mhub-asset:document.css"></head><body></body></html>'
)
_REMARKS = (
    "无特殊不适，胎动好，继续补充铁剂和钙剂，注意休息，按时产检。",
    "血压偏高（复测仍偏高），嘱低盐饮食、左侧卧位休息，每日自测血压并记录；"
    "如有头痛、视物模糊、上腹痛立即就诊。",
    "OGTT：空腹 5.0，1小时 9.8，2小时 8.2 mmol/L，诊断妊娠期糖尿病，转营养门诊，"
    "饮食控制及运动指导，一周后复查空腹及餐后2小时血糖。",
    "B超：单活胎，头位，胎盘后壁，羊水指数 12.5cm，估计胎儿体重约 2300g。",
    "宫高腹围增长正常，胎心监护反应型；告知临产征兆，见红、破水、规律宫缩及时入院。",
)


def synthetic_handbook(visits: int) -> HandbookContent:
    """A realistic handbook with `visits` visit rows (the remarks vary in length)."""
    lmp = dt.date(2025, 1, 6)
    lines = []
    for index in range(visits):
        day = lmp + dt.timedelta(days=56 + 3 * index)
        days = (day - lmp).days
        lines.append(
            VisitLine(
                visit_date=day,
                gestational_age=format_gestational_age(days),
                weight_kg=f"{55 + index * 0.1:.1f}",
                blood_pressure=f"{110 + index % 15}/{70 + index % 8}",
                fundal_height_cm=str(12 + index % 24),
                abdominal_circumference_cm=f"{80 + index % 20}",
                fetal_heart_rate=str(130 + index % 25),
                fetal_position="LOA" if index % 3 else "头位",
                remarks=_REMARKS[index % len(_REMARKS)],
                next_visit_date=day + dt.timedelta(days=14),
                doctor="李医生",
            )
        )
    tested = lmp + dt.timedelta(days=60)
    return HandbookContent(
        pregnancy_id=1,
        patient_name="韦春燕",
        age_at_booking=31,
        ethnicity="壮族",
        resident_id="450103199405170016",
        phone="13877100001",
        address="广西南宁市青秀区民族大道100号",
        booking_unit="南宁市妇幼保健院",
        booking_date=lmp + dt.timedelta(days=56),
        handbook_no="4501072025000001",
        lmp=lmp,
        edd=lmp + dt.timedelta(days=280),
        gravidity=2,
        parity=1,
        risk_color="ORANGE",
        risk_color_label="橙色",
        risk_meaning="较高风险",
        infectious=True,
        factors=(
            FactorLine("妊娠期糖尿病（需药物治疗）", "ORANGE", "橙色", "妊娠期糖尿病 O24.4"),
            FactorLine("乙型病毒性肝炎病毒携带者", "PURPLE", "紫色", "HBsAg阳性 O98.4"),
        ),
        first_visit=lines[0] if lines else None,
        blood_tests=tuple(LabLine(name, "118 g/L", tested) for _, name in BLOOD_ITEMS),
        blood_type=(LabLine("ABO血型", "O", tested), LabLine("Rh(D)血型", "阳性", tested)),
        screening=tuple(
            LabLine(name, "阴性", tested + dt.timedelta(days=i))
            for i, (_, name) in enumerate(SCREENING_ITEMS)
        ),
        ultrasound=(UltrasoundLine(lmp + dt.timedelta(days=88), "12+4", "1.8 mm", "62 mm"),),
        visits=tuple(lines),
        printed_on=dt.date(2025, 10, 1),
    )


async def _calibrate(pool: RenderPool) -> tuple[str, int, RenderedPdf]:
    """The visit count whose handbook has exactly TARGET_PAGES pages."""
    visits = 60
    tried: dict[int, int] = {}
    while True:
        html = handbook_html(synthetic_handbook(visits))
        rendered = await pool.run(render_pdf_document, html)
        tried[visits] = rendered.pages
        if rendered.pages == TARGET_PAGES:
            return html, visits, rendered
        per_page = max(visits / max(rendered.pages - 3, 1), 1.0)
        step = round((TARGET_PAGES - rendered.pages) * per_page) or (
            1 if rendered.pages < TARGET_PAGES else -1
        )
        visits = max(visits + step, 1)
        while visits in tried:  # oscillating around a page break: walk one row at a time
            visits += 1 if tried[visits] < TARGET_PAGES else -1
        if len(tried) > 12:
            raise RuntimeError(f"no visit count gives {TARGET_PAGES} pages: {tried}")


async def _fresh_peak(html: str) -> tuple[float, int]:
    """(seconds, peak RSS KiB) of one render in a worker process that did nothing before."""
    pool = RenderPool(RenderLimits(workers=1))
    try:
        rendered = await pool.run(render_pdf_document, html)
    finally:
        await pool.aclose()
    return rendered.seconds, rendered.peak_rss_kib


async def _median(pool: RenderPool, html: str, rounds: int) -> dict[str, float]:
    inside, around = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        rendered = await pool.run(render_pdf_document, html)
        around.append(time.perf_counter() - started)
        inside.append(rendered.seconds)
    return {
        "median_ms": round(statistics.median(inside) * 1000, 1),
        "min_ms": round(min(inside) * 1000, 1),
        "max_ms": round(max(inside) * 1000, 1),
        "median_round_trip_ms": round(statistics.median(around) * 1000, 1),
    }


async def _batch(html: str, count: int) -> dict[str, float]:
    pool = RenderPool(RenderLimits(workers=2))
    try:
        # Both workers up and warm before the clock starts.
        await asyncio.gather(*(pool.run(render_pdf_document, EMPTY_PAGE) for _ in range(2)))
        started = time.perf_counter()
        rendered = await asyncio.gather(
            *(pool.run(render_pdf_document, html) for _ in range(count))
        )
        seconds = time.perf_counter() - started
    finally:
        await pool.aclose()
    pages = sum(r.pages for r in rendered)
    return {
        "handbooks": count,
        "workers": 2,
        "seconds": round(seconds, 2),
        "handbooks_per_minute": round(count / seconds * 60, 1),
        "pages_per_second": round(pages / seconds, 2),
    }


async def run(rounds: int) -> dict[str, Any]:
    pool = RenderPool(RenderLimits(workers=1))
    try:
        html, visits, rendered = await _calibrate(pool)
        started = time.perf_counter()
        for _ in range(20):
            handbook_html(synthetic_handbook(visits))
        templating_ms = (time.perf_counter() - started) / 20 * 1000
        empty = await _median(pool, EMPTY_PAGE, rounds)
        handbook = await _median(pool, html, rounds)
    finally:
        await pool.aclose()
    empty_cold_s, empty_peak = await _fresh_peak(EMPTY_PAGE)
    handbook_cold_s, handbook_peak = await _fresh_peak(html)
    batch = await _batch(html, BATCH)
    return {
        "benchmark": "handbook",
        "python": platform.python_version(),
        "pages": rendered.pages,
        "visits": visits,
        "pdf_bytes": len(rendered.pdf),
        "rounds": rounds,
        "templating_ms": round(templating_ms, 2),
        "empty_page": {
            **empty,
            "cold_ms": round(empty_cold_s * 1000, 1),
            "peak_rss_mib": round(empty_peak / 1024, 1),
        },
        "handbook": {
            **handbook,
            "cold_ms": round(handbook_cold_s * 1000, 1),
            "peak_rss_mib": round(handbook_peak / 1024, 1),
        },
        "handbook_vs_empty_median": round(handbook["median_ms"] / empty["median_ms"], 1),
        "batch": batch,
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"handbook benchmark — {result['pages']} pages ({result['visits']} visits, "
        f"{result['pdf_bytes']} bytes), {result['rounds']} rounds, warm worker process"
    )
    print(
        f"{'render':<22}{'median ms':>11}{'min ms':>9}{'max ms':>9}"
        f"{'cold ms':>10}{'peak RSS MiB':>14}"
    )
    for key, name in (("empty_page", "empty page (baseline)"), ("handbook", "12-page handbook")):
        f = result[key]
        print(
            f"{name:<22}{f['median_ms']:>11.1f}{f['min_ms']:>9.1f}{f['max_ms']:>9.1f}"
            f"{f['cold_ms']:>10.1f}{f['peak_rss_mib']:>14.1f}"
        )
    batch = result["batch"]
    print(
        f"batch: {batch['handbooks']} handbooks, {batch['workers']} worker processes: "
        f"{batch['seconds']} s = {batch['handbooks_per_minute']} handbooks/min, "
        f"{batch['pages_per_second']} pages/s"
    )
    print(
        f"handbook / empty page (median) = {result['handbook_vs_empty_median']}×; "
        f"HTML templating {result['templating_ms']} ms"
    )
    print(orjson.dumps(result).decode())


def main(rounds: int) -> int:
    print_report(asyncio.run(run(rounds)))
    return 0
