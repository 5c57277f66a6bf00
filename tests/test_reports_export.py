"""Exports: CSV parsed, XLSX read back with openpyxl, PDF text extracted; stored as a document
behind a short-lived signed link, audited; and `mhub report` writes the same files."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from pypdf import PdfReader
from sqlalchemy import select

from api import cli
from domain.audit.models import AuditEvent
from domain.database import Database
from domain.document.models import StoredDocument
from tests.conftest import Api
from tests.test_reports import seed_report_data

EXPORT = """
mutation Export($input: ExportReportInput!) {
  exportReport(input: $input) { filename url mediaType size userErrors { field message code } }
}
"""

HIGH_RISK_HEADER = [
    "月份",
    "孕产妇数",
    "绿色",
    "黄色",
    "橙色",
    "红色",
    "紫色（传染病）",
    "高危孕产妇数",
    "高危比例",
]


async def export(
    api: Api,
    code: str,
    file_format: str,
    parameters: dict[str, Any] | None = None,
    *,
    as_user: str = "admin",
) -> tuple[dict[str, Any], bytes, str]:
    body = await api.gql(
        EXPORT,
        {"input": {"code": code, "format": file_format, "parameters": parameters}},
        as_user=as_user,
    )
    payload: dict[str, Any] = body["data"]["exportReport"]
    assert payload["userErrors"] == [], payload
    response = await api.client.get(payload["url"])
    assert response.status_code == 200, response.text
    return payload, response.content, response.headers["content-type"]


async def test_csv_export_is_utf8_with_bom_and_parses_to_the_table(api: Api, db: Database) -> None:
    await seed_report_data(db)

    payload, content, media_type = await export(api, "high_risk_by_month", "CSV")

    assert payload["filename"].startswith("高危孕产妇五色分级统计_")
    assert payload["filename"].endswith(".csv")
    assert payload["mediaType"] == "text/csv; charset=utf-8"
    assert payload["size"] == len(content)
    assert media_type == "text/csv; charset=utf-8"
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows == [
        HIGH_RISK_HEADER,
        ["2026-01", "2", "1", "1", "0", "0", "1", "1", "50.00%"],
        ["2026-02", "3", "1", "0", "1", "1", "2", "3", "100.00%"],
        ["2026-03", "1", "0", "1", "0", "0", "0", "1", "100.00%"],
        ["合计", "6", "2", "2", "1", "1", "3", "5", "83.33%"],
    ]


async def test_csv_of_a_rate_without_denominator_is_blank(api: Api, db: Database) -> None:
    await seed_report_data(db)

    _, content, _ = await export(api, "nt_screening", "CSV", {"nt_cutoff_mm": 3.5})

    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[1:] == [
        ["2026-01", "2", "2", "2", "100.00%", "100.00%", "0", "0.00%"],
        ["2026-02", "3", "2", "1", "50.00%", "33.33%", "0", "0.00%"],
        ["2026-03", "1", "0", "0", "", "0.00%", "0", ""],
        ["合计", "6", "4", "3", "75.00%", "50.00%", "0", "0.00%"],
    ]


async def test_xlsx_export_reads_back_with_numbers_percentages_and_a_chart(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    payload, content, _ = await export(
        api, "push_success_rate", "XLSX", {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    )

    assert payload["filename"].endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["报表", "图表数据"]
    sheet = workbook["报表"]
    assert sheet["A1"].value == "桂妇儿平台推送成功率"
    assert (
        sheet["A2"].value == "统计条件：开始日期：2026-03-01；结束日期：2026-03-31；记录类型：不限"
    )
    assert sheet["A3"].value.startswith("生成时间：")
    values = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=5, max_row=9)]
    assert values == [
        ["日期", "记录类型", "推送次数", "成功次数", "失败次数", "被取代次数", "推送成功率"],
        ["2026-03-01", "孕产妇建档", 1, 1, 0, 0, 1],
        ["2026-03-01", "产前检查", 3, 1, 2, 0, 0.3333],
        ["2026-03-02", "产前检查", 2, 1, 0, 1, 1],
        ["合计", None, 6, 3, 2, 1, 0.6],
    ]
    assert sheet["G7"].number_format == "0.00%"
    assert len(sheet._charts) == 1
    chart_values = [[c.value for c in row] for row in workbook["图表数据"].iter_rows()]
    # One line per record type (the split dimension), success rate in percent.
    assert chart_values == [
        ["日期", "孕产妇建档", "产前检查"],
        ["2026-03-01", 100, 33.33],
        ["2026-03-02", None, 100],
    ]


async def test_pdf_export_holds_the_chinese_headers_figures_and_chart(
    api: Api, db: Database
) -> None:
    await seed_report_data(db)

    payload, content, media_type = await export(
        api, "infectious_screening_coverage", "PDF", as_user="auditor"
    )

    assert media_type == "application/pdf"
    assert payload["filename"].endswith(".pdf")
    assert content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    compact = "".join(text.split())
    for expected in (
        "孕产妇艾滋病、梅毒、乙肝（三病）检测率",
        "统计条件：开始日期：不限；结束日期：不限；统计周期：按月",
        "建档孕产妇数",
        "三病检测率",
        "孕早期检测率",
        "乙肝表面抗原阳性率",
        "2026-02",
        "66.67%",
        "合计",
    ):
        assert expected in compact, (expected, text)
    async with db.reader() as session:
        document = (await session.scalars(select(StoredDocument))).one()
        event = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "EXPORT"))
        ).one()
    assert (document.kind, document.created_by, document.size) == (
        "REPORT",
        "auditor",
        len(content),
    )
    assert (event.username, event.entity) == ("auditor", "report_definition")
    assert event.detail["format"] == "PDF"
    assert event.detail["documentId"] == document.id


async def test_export_with_bad_parameters_stores_nothing(api: Api, db: Database) -> None:
    body = await api.gql(
        EXPORT,
        {
            "input": {
                "code": "high_risk_by_month",
                "format": "XLSX",
                "parameters": {"date_from": "2026-05-01", "date_to": "2026-04-01"},
            }
        },
        as_user="admin",
    )

    assert body["data"]["exportReport"] == {
        "filename": None,
        "url": None,
        "mediaType": None,
        "size": None,
        "userErrors": [
            {
                "field": "parameters.date_to",
                "message": "结束日期不能早于开始日期",
                "code": "DATE_ORDER",
            }
        ],
    }
    async with db.reader() as session:
        assert (await session.scalars(select(StoredDocument.id))).all() == []
        assert (
            await session.scalars(select(AuditEvent.id).where(AuditEvent.action == "EXPORT"))
        ).all() == []


async def test_the_download_link_is_refused_once_tampered(api: Api, db: Database) -> None:
    payload, _, _ = await export(api, "high_risk_by_month", "CSV")

    response = await api.client.get(payload["url"].replace("sig=", "sig=0"))

    assert response.status_code == 403


# --------------------------------------------------------------------------- mhub report


def configure(monkeypatch: pytest.MonkeyPatch, database_url: str, data_dir: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")


async def test_mhub_report_writes_csv_and_xlsx_files(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await seed_report_data(db)
    configure(monkeypatch, database_url, tmp_path)
    csv_file, xlsx_file, pdf_file = tmp_path / "nt.csv", tmp_path / "nt.xlsx", tmp_path / "nt.pdf"

    # The CLI runs its own event loop: off this test's loop, in a thread.
    import asyncio

    csv_code = await asyncio.to_thread(
        cli.main,
        [
            "report",
            "nt_screening",
            "--param",
            "nt_cutoff_mm=2",
            "--param",
            "group_by=quarter",
            "--out",
            str(csv_file),
        ],
    )
    csv_out = capsys.readouterr().out
    xlsx_code = await asyncio.to_thread(
        cli.main, ["report", "nt_screening", "--format", "xlsx", "--out", str(xlsx_file)]
    )
    pdf_code = await asyncio.to_thread(
        cli.main, ["report", "nt_screening", "--format", "pdf", "--out", str(pdf_file)]
    )
    bad_code = await asyncio.to_thread(
        cli.main,
        ["report", "nt_screening", "--param", "nt_cutoff_mm=thick", "--out", str(csv_file)],
    )
    bad = capsys.readouterr()

    assert (csv_code, xlsx_code, pdf_code, bad_code) == (0, 0, 0, 2)
    assert csv_out == f"已导出「NT（颈项透明层）筛查统计」：1 行 → {csv_file}\n"
    rows = list(csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "季度"
    assert rows[1] == ["2026-Q1", "6", "4", "3", "75.00%", "50.00%", "3", "75.00%"]
    sheet = load_workbook(xlsx_file)["报表"]
    assert [c.value for c in sheet[6]] == ["2026-01", 2, 2, 2, 1, 1, 1, 0.5]
    pdf_text = "".join(page.extract_text() for page in PdfReader(pdf_file).pages)
    assert "孕11+0–13+6周完成NT人数" in "".join(pdf_text.split())
    assert bad.err == "错误：参数「NT界值（mm）」应为数字（parameters.nt_cutoff_mm）\n"
