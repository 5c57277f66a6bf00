"""数据字典: edit a risk factor (versioned, with its history), duplicate codes refused, LIS mappings."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import gql, login, toast

FACTOR = "{ riskFactorDefinitions { code name color active version updatedBy } }"


def factor(page: Page, code: str) -> dict[str, Any]:
    return next(f for f in gql(page, FACTOR)["riskFactorDefinitions"] if f["code"] == code)


def test_edit_a_risk_factor_and_see_its_new_version_and_history(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given the administrator on the risk-factor dictionary
    login(page, server.passwords, "admin", "/admin/dictionary")
    expect(page.get_by_role("tab", name="高危因素")).to_have_attribute("aria-selected", "true")
    rows = page.locator("table.data tbody tr")
    expect(rows.first).to_be_visible()
    code = rows.first.locator("td").first.inner_text()
    before = factor(page, code)
    shot(page, "risk-factors")

    # When its name and colour are changed in the edit dialog
    page.get_by_label("查找").fill(code)
    expect(rows).to_have_count(1)
    page.get_by_role("button", name=f"编辑 {code} {before['name']}").click()
    dialog = page.get_by_role("dialog", name=f"编辑高危因素 {code}")
    expect(dialog.get_by_label("编码")).to_have_attribute("readonly", "")
    dialog.get_by_label("名称").fill(f"{before['name']}（院内修订）")
    dialog.get_by_label("颜色").select_option("RED")
    dialog.get_by_role("button", name="保存").click()

    # Then it is saved as the next version and the table shows it
    toast(page, f"已保存高危因素 {code}（v{int(before['version']) + 1}）")
    expect(dialog).to_have_count(0)
    expect(rows.first).to_contain_text(f"{before['name']}（院内修订）")
    expect(rows.first).to_contain_text("红色")
    after = factor(page, code)
    assert after == {
        **before,
        "name": f"{before['name']}（院内修订）",
        "color": "RED",
        "version": int(before["version"]) + 1,
        "updatedBy": "admin",
    }
    shot(page, "saved")

    # And the entry's history shows what changed, from what to what
    page.get_by_role("button", name=f"编辑 {code} {after['name']}").click()
    dialog = page.get_by_role("dialog", name=f"编辑高危因素 {code}")
    history = dialog.locator("table.data tbody tr").first
    expect(history).to_contain_text(f"v{after['version']}")
    expect(history).to_contain_text("admin")
    expect(history).to_contain_text(f"{before['name']}（院内修订）")
    shot(page, "history", full=False)
    dialog.get_by_role("button", name="取消").click()


def test_a_duplicate_code_is_refused_beside_the_field_and_nothing_is_saved(
    page: Page, server: Server, shot: Shots
) -> None:
    login(page, server.passwords, "admin", "/admin/dictionary/risk-factors")
    rows = page.locator("table.data tbody tr")
    expect(rows.first).to_be_visible()
    existing = rows.nth(1).locator("td").first.inner_text()
    count = len(gql(page, FACTOR)["riskFactorDefinitions"])

    page.get_by_role("button", name="新增高危因素").click()
    dialog = page.get_by_role("dialog", name="新增高危因素")
    dialog.get_by_label("编码").fill(existing)
    dialog.get_by_label("名称").fill("重复编码测试")
    dialog.get_by_role("button", name="保存").click()

    code_error = dialog.locator("[data-field=code] .field-error")
    expect(code_error).to_be_visible()
    expect(code_error).to_contain_text(existing)
    expect(dialog.get_by_label("编码")).to_be_focused()
    shot(page, "duplicate", full=False)
    assert len(gql(page, FACTOR)["riskFactorDefinitions"]) == count


def test_map_a_lis_code_to_a_standard_item(page: Page, server: Server, shot: Shots) -> None:
    login(page, server.passwords, "admin", "/admin/dictionary")
    page.get_by_role("tab", name="检验项目映射（LIS）").click()
    expect(page).to_have_url(f"{server.base_url}/admin/dictionary/lab-codes")
    page.get_by_role("button", name="新增映射").click()
    dialog = page.get_by_role("dialog", name="新增检验项目映射")
    dialog.get_by_label("检验系统本地编码").fill("BROWSER-HGB")
    dialog.get_by_label("标准项目").select_option("HGB")
    dialog.get_by_role("button", name="保存").click()

    toast(page, "已保存映射 BROWSER-HGB")
    page.get_by_label("查找").fill("BROWSER-HGB")
    row = page.locator("table.data tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("HGB")
    expect(row).to_contain_text("v1")
    shot(page, "lab-code")
    mappings = gql(page, "{ labCodeMappings { localCode itemCode updatedBy } }")["labCodeMappings"]
    assert {"localCode": "BROWSER-HGB", "itemCode": "HGB", "updatedBy": "admin"} in mappings


def test_a_platform_code_is_saved_as_a_new_mapping_version(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given the administrator on the platform code tab
    login(page, server.passwords, "admin", "/admin/dictionary/platform-codes")
    versions = gql(page, "{ pushMappings { version } }")["pushMappings"]
    current = versions[0]["version"]
    expect(
        page.get_by_role("table", name="推送映射的版本").locator("tbody tr").first
    ).to_contain_text(f"v{current}（生效）")

    # When the platform code of weakly positive results is changed
    page.get_by_label("查找").fill("WEAK_POSITIVE")
    page.get_by_role("button", name="编辑代码 screeningResult WEAK_POSITIVE").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("平台代码").fill("INDETERMINATE")
    dialog.get_by_label("修改说明").fill("省平台要求弱阳性按不确定上报")
    dialog.get_by_role("button", name="保存").click()

    # Then a new mapping version holds it, and the history says who changed it and why
    toast(page, "已保存为新的推送映射版本")
    page.get_by_label("查找").fill("WEAK_POSITIVE")
    row = page.get_by_role("table", name="平台代码映射").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("INDETERMINATE")
    newest = page.get_by_role("table", name="推送映射的版本").locator("tbody tr").first
    expect(newest).to_contain_text(f"v{current + 1}（生效）")
    expect(newest).to_contain_text("省平台要求弱阳性按不确定上报")
    shot(page, "platform-code")
    latest = gql(page, "{ pushMappings { version createdBy document } }")["pushMappings"][0]
    assert latest["version"] == current + 1
    assert latest["createdBy"] == "admin"
    assert latest["document"]["codes"]["screeningResult"]["WEAK_POSITIVE"] == "INDETERMINATE"
