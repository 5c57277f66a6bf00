"""统计报表: run a report with parameters (table + chart) and export it as CSV, XLSX and PDF."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import login

REPORT = "高危孕产妇五色分级统计"


def test_run_a_report_with_parameters_and_export_it(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given the administrator on the report list
    login(page, server.passwords, "admin", "/admin/reports")
    cards = page.locator("a.link-card")
    expect(cards).to_have_count(5)
    shot(page, "list")

    # When the high-risk report is opened it runs with its default parameters
    page.get_by_role("link", name=REPORT).click()
    expect(page.get_by_role("heading", name=REPORT, level=1)).to_be_visible()
    results = page.get_by_role("region", name="报表结果")
    expect(results.locator("table.data caption")).to_contain_text(REPORT)
    expect(results.locator("figure.chart svg rect").first).to_be_attached()
    monthly = results.locator("table.data tbody tr").count()
    assert monthly > 1
    expect(results.locator("table.data tfoot")).to_contain_text("合计")
    expect(results.locator("table.data thead")).to_contain_text("紫色（传染病）")
    shot(page, "by-month")

    # When the period is changed to quarters and the report is run again
    page.get_by_label("统计周期").select_option(label="按季度")
    page.get_by_role("button", name="运行报表").click()

    # Then fewer rows come back, and the URL keeps the parameters
    expect(results.locator("table.data tbody tr")).not_to_have_count(monthly)
    assert "group_by=quarter" in page.url
    shot(page, "by-quarter")

    # A wrong date range is explained beside the field by the server
    page.get_by_label("开始日期").fill("2026-03-01")
    page.get_by_label("结束日期").fill("2025-01-01")
    page.get_by_role("button", name="运行报表").click()
    expect(page.locator("[data-field=date_to] .field-error")).to_have_text(
        "结束日期不能早于开始日期"
    )
    page.get_by_label("开始日期").fill("")
    page.get_by_label("结束日期").fill("")
    page.get_by_role("button", name="运行报表").click()
    expect(page.locator("[data-field=date_to] .field-error")).to_be_hidden()
    expect(results.locator("table.data tfoot")).to_contain_text("合计")

    # When it is exported in each format
    for label, format_, media, magic in (
        ("导出 CSV", "CSV", "text/csv", "\ufeff".encode()),
        ("导出 Excel（XLSX）", "XLSX", "spreadsheetml", b"PK"),
        ("导出 PDF", "PDF", "application/pdf", b"%PDF"),
    ):
        # Generous: a PDF is rendered in a worker process, slow on a busy machine
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name=label).click()
        link = page.locator(f"a[data-format={format_}]")
        expect(link).to_be_visible()
        shot(page, f"export-{format_.lower()}")

        # Then the browser downloads the file, and its URL answers with the file itself
        assert download.value.suggested_filename.lower().endswith(f".{format_.lower()}")
        url = link.get_attribute("href")
        assert url is not None
        response = page.request.get(url)
        assert response.status == 200
        assert media in response.headers["content-type"]
        body = response.body()
        assert body.startswith(magic), body[:20]
        if format_ == "CSV":
            assert "孕产妇数" in body.decode("utf-8-sig").splitlines()[0]
