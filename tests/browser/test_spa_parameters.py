"""系统参数: typed forms — a valid change is saved, out-of-range and malformed values are refused."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import gql, login, toast


def stored(page: Page, key: str) -> dict[str, object]:
    rows = gql(page, "{ parameters { key value updatedBy } }")["parameters"]
    return next(r for r in rows if r["key"] == key)


def test_change_a_parameter_and_see_what_is_wrong_with_bad_values(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given the administrator on the parameters page
    login(page, server.passwords, "admin", "/admin/parameters")
    form = page.get_by_role("form", name="备份最长间隔")
    value = form.get_by_label("备份最长间隔")
    expect(value).to_have_value("26")
    before = stored(page, "backup_max_age_h")
    shot(page, "parameters")

    # When a value above the maximum is entered
    value.fill("1000")
    form.get_by_role("button", name="保存").click()

    # Then the field says what the allowed range is, and nothing is saved
    expect(form.get_by_text("不能大于 720 小时（允许范围 1 – 720 小时）")).to_be_visible()
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_be_focused()
    shot(page, "out-of-range")
    assert stored(page, "backup_max_age_h") == before

    # And a value only the server can judge (a relative backup directory) gets the server's message
    directory = page.get_by_role("form", name="备份目录")
    directory.get_by_label("备份目录").fill("relative/dir")
    directory.get_by_role("button", name="保存").click()
    expect(directory.get_by_text("备份目录应为绝对路径")).to_be_visible()
    assert stored(page, "backup_dir")["value"] == ""

    # When a valid value is saved
    value.fill("48")
    expect(form.get_by_text("不能大于")).to_have_count(0)
    form.get_by_role("button", name="保存").click()

    # Then it is stored at once, with who changed it
    toast(page, "已保存“备份最长间隔”")
    expect(form).to_contain_text("当前值 48 小时")
    assert stored(page, "backup_max_age_h") == {
        "key": "backup_max_age_h",
        "value": 48,
        "updatedBy": "admin",
    }
    shot(page, "saved")

    # And after a reload the page shows the stored value
    page.reload()
    expect(
        page.get_by_role("form", name="备份最长间隔").get_by_label("备份最长间隔")
    ).to_have_value("48")


def test_a_switch_is_a_checkbox_and_the_auditor_sees_parameters_read_only(
    page: Page, server: Server, shot: Shots
) -> None:
    login(page, server.passwords, "auditor", "/admin/parameters")
    expect(page.get_by_text("只读：修改系统参数需要管理员角色。")).to_be_visible()
    switch = page.get_by_role("checkbox", name="推送前需复核")
    expect(switch).not_to_be_checked()
    expect(switch).to_be_disabled()
    expect(page.get_by_role("button", name="保存")).to_have_count(0)
    shot(page, "read-only")
