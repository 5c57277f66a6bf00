"""推送监控: counts by status and record type, a filtered list, a record's payload, discard, live updates."""

from __future__ import annotations

import json
import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import ApiSession, gql, login, toast

COUNTS = "{ pushStatistics { byStatus { status recordType count } } }"
COLOURED = """
{ pregnancies(filter: {status: "ACTIVE", riskColors: [YELLOW, ORANGE, RED]}, first: 20) {
    edges { node { id riskFactors { id diagnosis } } } } }"""
CLEAR_DIAGNOSIS = """
mutation($id: ID!) { editRiskFactor(input: {riskFactorId: $id, diagnosis: null}) { userErrors { message } } }"""


def counts(page: Page) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in gql(page, COUNTS)["pushStatistics"]["byStatus"]:
        out[row["status"]] = out.get(row["status"], 0) + row["count"]
    return out


def test_counts_a_filtered_list_and_a_records_payload(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given the administrator on the push monitor
    login(page, server.passwords, "admin", "/admin/push")

    # Then the counts by status are those of the outbox, with charts by type and over time
    expected = counts(page)
    pending = page.locator(".stats [data-status=PENDING] .stat")
    expect(pending).to_have_text(str(expected["PENDING"]))
    expect(page.locator(".stats [data-status=DELIVERED] .stat")).to_have_text(
        str(expected.get("DELIVERED", 0))
    )
    expect(page.get_by_role("img", name=re.compile("^当前各类型记录的状态"))).to_be_visible()
    by_type = page.get_by_role("table", name="当前记录数：按记录类型与状态")
    expect(by_type.locator("tbody tr")).to_have_count(5)
    expect(page.get_by_text("实时更新已连接")).to_be_visible()
    shot(page, "monitor")

    # When the list is filtered to NT records
    page.get_by_label("记录类型").select_option(label="NT 检查")
    page.get_by_role("button", name="筛选").click()

    # Then every row is an NT record, and the count is the outbox's
    rows = page.get_by_role("region", name="推送记录").locator("tbody tr")
    expect(rows.first).to_contain_text("NT 检查")
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"NT 检查"}
    nt = sum(
        r["count"]
        for r in gql(page, COUNTS)["pushStatistics"]["byStatus"]
        if r["recordType"] == "ULTRASOUND_NT"
    )
    expect(page.locator(".pager-info").last).to_contain_text(f"共 {nt} 条")
    shot(page, "filtered")

    # When a record is opened
    record_id = rows.first.locator("td:nth-child(2)").inner_text()
    rows.first.get_by_role("link", name=record_id).click()

    # Then its payload is shown exactly as the API holds it, with the platform's field problems
    expect(page.get_by_role("heading", name=f"推送记录 {record_id}")).to_be_visible()
    payload = page.get_by_label("推送报文")
    expect(payload).to_contain_text('"ntMm"')
    stored = gql(
        page,
        "query($r: String!) { pushRecords(filter: {recordId: $r}) { edges { node { payload } } } }",
        {"r": record_id},
    )["pushRecords"]["edges"][0]["node"]["payload"]
    assert json.loads(payload.inner_text()) == stored
    expect(page.get_by_role("heading", name="平台指出的字段问题")).to_be_visible()
    shot(page, "record")


def test_discarding_needs_a_reason_and_the_monitor_updates_live(
    context: BrowserContext, page: Page, server: Server, shot: Shots
) -> None:
    # Given the monitor open in one tab
    login(page, server.passwords, "admin", "/admin/push")
    before = counts(page)
    discarded = page.locator(".stats [data-status=DISCARDED] .stat")
    expect(discarded).to_have_text(str(before.get("DISCARDED", 0)))
    expect(page.get_by_text("实时更新已连接")).to_be_visible()

    # When a pending record is discarded in another tab, with a reason
    other = context.new_page()
    other.goto("/admin/push?status=PENDING&recordType=HIGH_RISK_ASSESSMENT")
    first = other.get_by_role("region", name="推送记录").locator("tbody tr").first
    record_id = first.locator("td:nth-child(2)").inner_text()
    first.get_by_role("link", name=record_id).click()
    other.get_by_role("button", name="放弃推送…").click()
    dialog = other.get_by_role("dialog", name="放弃推送")
    dialog.get_by_role("button", name="放弃推送").click()
    expect(dialog.get_by_text("请填写原因后再提交")).to_be_visible()
    dialog.get_by_label("放弃原因").fill("该孕妇已转院，由接收医院推送")
    dialog.get_by_role("button", name="放弃推送").click()

    # Then the record shows who discarded it and why
    toast(other, "已放弃推送")
    expect(other.get_by_text("该孕妇已转院，由接收医院推送")).to_be_visible()
    expect(other.get_by_role("button", name="放弃推送…")).to_be_disabled()
    shot(other, "discarded")

    # And the first tab's counts follow without a reload (pushStatusChanged)
    expect(discarded).to_have_text(str(before.get("DISCARDED", 0) + 1), timeout=15_000)
    expect(page.locator(".stats [data-status=PENDING] .stat")).to_have_text(
        str(before["PENDING"] - 1)
    )
    shot(page, "live-update")


def test_a_record_the_platform_would_refuse_shows_its_field_problems(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given a doctor cleared the diagnosis of a pregnancy's only coloured factor: the platform
    # requires a diagnosis on the visits of a coloured pregnancy, so they fail the pre-flight check
    with ApiSession(server.base_url, "doctor", server.passwords["doctor"]) as doctor:
        pregnancies = [e["node"] for e in doctor.gql(COLOURED)["pregnancies"]["edges"]]
        target = next(
            p
            for p in pregnancies
            if len(p["riskFactors"]) == 1 and p["riskFactors"][0]["diagnosis"]
        )
        result = doctor.gql(CLEAR_DIAGNOSIS, {"id": target["riskFactors"][0]["id"]})
        assert result["editRiskFactor"]["userErrors"] == []

    # When the administrator lists the records that need their data fixed
    login(page, server.passwords, "admin", "/admin/push?status=REJECTED")
    rows = page.get_by_role("region", name="推送记录").locator("tbody tr")
    expect(rows.first).to_contain_text("需修正数据")
    expect(rows.first).to_contain_text("推送前检查未通过")
    expect(page.locator(".stats [data-status=REJECTED] .stat")).not_to_have_text("0")
    record_id = rows.first.locator("td:nth-child(2)").inner_text()
    rows.first.get_by_role("link", name=record_id).click()

    # Then the record says which platform field is wrong and what to do about it
    problems = page.get_by_role("region", name="平台指出的字段问题")
    expect(problems).to_contain_text("推送前检查未通过")
    problem = problems.locator("tbody tr").first
    expect(problem).to_contain_text("data.diagnosis")
    expect(problem).to_contain_text("必填")
    expect(problems).to_contain_text("修正办法")
    expect(page.get_by_role("button", name="立即重试")).to_be_enabled()
    shot(page, "field-problems")
