"""数据更正: a doctor requests, another person (approver) approves or rejects; nobody approves their own."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import gql, login, toast

VISIT = "query($id: ID!) { node(id: $id) { ... on PrenatalVisit { weightKg version } } }"


def open_archived_record(page: Page, row: int) -> str:
    """Open the archived record listed at `row` with the re-query button; returns the woman's name."""
    rows = page.get_by_role("region", name="查询结果").locator("tbody tr")
    expect(rows.first).to_be_visible()
    name = rows.nth(row).locator("td").first.inner_text().split()[0]
    rows.nth(row).get_by_role("button", name=re.compile("^再次查询")).click()
    expect(page.get_by_role("heading", name=f"{name} 的孕产档案")).to_be_visible()
    return name


def corrections_rows(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("region", name="更正申请列表").locator("tbody tr")


def test_a_doctor_requests_a_correction_and_an_approver_applies_it(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given a doctor looking at an archived record: its visit's weight was typed wrongly
    login(page, server.passwords, "doctor", "/admin/archive")
    name = open_archived_record(page, 2)
    visits = page.get_by_role("region", name=re.compile("^产前检查"))
    link = visits.get_by_role("link", name=re.compile("^申请更正：")).first
    visit_id = parse_qs(urlparse(link.get_attribute("href") or "").query)["targetId"][0]
    target = gql(page, VISIT, {"id": visit_id})["node"]

    # When the doctor asks for the correction from the record
    link.click()
    expect(page.get_by_role("heading", name="申请更正")).to_be_visible()
    page.get_by_label("字段").select_option(label="体重（kg）")
    expect(page.get_by_text(f"当前值：{target['weightKg']}")).to_be_visible()
    page.get_by_label("新的体重（kg）").fill("61.5")
    page.get_by_label("更正原因").fill("录入时看错体重秤读数")
    shot(page, "request")
    page.get_by_role("button", name="提交申请").click()

    # Then the request waits for an approver, and the doctor cannot decide it
    toast(page, "更正申请已提交")
    row = corrections_rows(page).filter(has_text="录入时看错体重秤读数")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("待审核")
    expect(row).to_contain_text(f"{target['weightKg']} → 61.5")
    expect(row).to_contain_text("等待审核人处理")
    expect(row.get_by_role("button")).to_have_count(0)
    shot(page, "pending")

    # When the approver (another person) approves it
    page.context.clear_cookies()
    login(page, server.passwords, "approver", "/admin/corrections")
    expect(page.get_by_label("状态")).to_have_value("PENDING")
    row = corrections_rows(page).filter(has_text="录入时看错体重秤读数")
    expect(row).to_contain_text(name)
    row.get_by_role("button", name=re.compile("^批准")).click()
    dialog = page.get_by_role("dialog", name="批准更正")
    expect(dialog).to_contain_text(f"由“{target['weightKg']}”改为“61.5”")
    shot(page, "approve-dialog", full=False)
    dialog.get_by_role("button", name="批准并应用").click()

    # Then the change is applied, with who approved it, and the visit holds the new weight
    toast(page, "已批准，更正已应用")
    page.get_by_label("状态").select_option("APPROVED")
    page.get_by_role("button", name="筛选").click()
    row = corrections_rows(page).filter(has_text="录入时看错体重秤读数")
    expect(row).to_contain_text("已批准")
    expect(row).to_contain_text("approver")
    shot(page, "approved")
    after = gql(page, VISIT, {"id": visit_id})["node"]
    assert after == {"weightKg": 61.5, "version": target["version"] + 1}


def test_nobody_approves_their_own_request_and_a_rejection_keeps_the_value(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given the head of department (doctor and approver) requesting a correction found by searching
    login(page, server.passwords, "chief", "/admin/corrections/new")
    woman = gql(page, "{ patients(first: 1) { edges { node { name } } } }")["patients"]["edges"][0][
        "node"
    ]
    page.get_by_label("查找孕妇").fill(woman["name"])
    page.get_by_role("button", name="查找").click()
    results = page.locator("table.data tbody tr")
    expect(results.first).to_be_visible()
    results.first.get_by_role("button", name="选择").click()
    record = page.get_by_label(re.compile(" 的记录$"))
    expect(record).to_be_focused()
    record.select_option(index=1)  # the woman's own details
    page.get_by_label("字段").select_option(label="联系电话")
    current = page.get_by_text(re.compile("^当前值："))
    expect(current).to_be_visible()
    phone_before = current.inner_text().removeprefix("当前值：")

    # A bad value is refused by the server beside the field
    page.get_by_label("新的联系电话").fill("12345")
    page.get_by_label("更正原因").fill("电话号码少录一位")
    page.get_by_role("button", name="提交申请").click()
    error = page.locator("[data-field=newValue] .field-error")
    expect(error).to_contain_text("电话号码格式不正确")
    expect(page.get_by_label("新的联系电话")).to_be_focused()
    shot(page, "bad-value")

    page.get_by_label("新的联系电话").fill("13800138000")
    page.get_by_role("button", name="提交申请").click()
    toast(page, "更正申请已提交")

    # Then the requester sees it without approve or reject buttons
    row = corrections_rows(page).filter(has_text="电话号码少录一位")
    expect(row).to_contain_text("本人申请，须由其他审核人处理")
    expect(row.get_by_role("button")).to_have_count(0)
    shot(page, "own-request")

    # When another approver rejects it with a reason
    page.context.clear_cookies()
    login(page, server.passwords, "approver", "/admin/corrections")
    row = corrections_rows(page).filter(has_text="电话号码少录一位")
    row.get_by_role("button", name=re.compile("^驳回")).click()
    dialog = page.get_by_role("dialog", name="驳回更正")
    dialog.get_by_label("驳回原因").fill("请附上孕妇签字确认的联系方式")
    dialog.get_by_role("button", name="驳回").click()
    toast(page, "已驳回")

    # Then the request shows the decision and the stored phone number is unchanged
    page.get_by_label("状态").select_option("")
    page.get_by_label("申请人").fill("chief")
    page.get_by_role("button", name="筛选").click()
    row = corrections_rows(page).filter(has_text="电话号码少录一位")
    expect(row).to_contain_text("已驳回")
    expect(row).to_contain_text("请附上孕妇签字确认的联系方式")
    expect(row).to_contain_text(f"{phone_before} → 13800138000")
    shot(page, "rejected")
