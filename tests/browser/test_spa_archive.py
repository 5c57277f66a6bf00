"""归档查询: search archived pregnancies, open one read-only with the re-query button, reopen it."""

from __future__ import annotations

import re
import time
from urllib.parse import unquote

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import ApiSession, gql, login, toast

REQUERY = "再次查询 / 查看归档资料"
FIRST_ARCHIVED = "{ archiveSearch(filter: {}, first: 1) { edges { node { id } } } }"
RENDER = (
    "mutation($id: ID!) { renderHandbook(pregnancyId: $id) { job { id } userErrors { message } } }"
)
JOB = "query($id: ID!) { job(id: $id) { status message } }"


def render_handbook_of_newest_archive(server: Server) -> None:
    """A doctor prints the handbook of the newest archived pregnancy (through the API)."""
    with ApiSession(server.base_url, "doctor", server.passwords["doctor"]) as doctor:
        newest = doctor.gql(FIRST_ARCHIVED)["archiveSearch"]["edges"][0]["node"]["id"]
        rendered = doctor.gql(RENDER, {"id": newest})["renderHandbook"]
        assert rendered["userErrors"] == []
        deadline = time.monotonic() + 90
        while (job := doctor.gql(JOB, {"id": rendered["job"]["id"]})["job"])["status"] not in (
            "SUCCEEDED",
            "FAILED",
        ):
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        assert job["status"] == "SUCCEEDED", job


def results(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("region", name="查询结果").locator("table.data tbody tr")


def test_search_by_initials_and_open_the_record_read_only(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given a doctor on the archive page: every archived pregnancy is listed, newest first;
    # the newest one's handbook was printed
    render_handbook_of_newest_archive(server)
    login(page, server.passwords, "doctor", "/admin/archive")
    expect(results(page).first).to_be_visible()
    first = results(page).first.locator("td")
    name, initials = first.nth(0).inner_text().split()
    handbook_no = first.nth(3).inner_text()
    shot(page, "all-archived")

    # When searching by pinyin initials
    page.get_by_label("关键字").fill(initials)
    page.get_by_role("button", name="查询", exact=True).click()

    # Then every result matches them, and the URL keeps the search (a shareable deep link)
    expect(page).to_have_url(re.compile(r"/admin/archive\?text=" + initials))
    expect(results(page).first).to_be_visible()
    shown = results(page).locator("td:first-child").all_inner_texts()
    assert shown
    assert all(text.split()[1].startswith(initials) for text in shown)

    # And by handbook number the one pregnancy is found
    page.get_by_label("关键字").fill(handbook_no)
    page.get_by_role("button", name="查询", exact=True).click()
    expect(results(page)).to_have_count(1)
    expect(results(page).first).to_contain_text(name)
    shot(page, "by-handbook-number")

    # When the re-query button is pressed
    page.get_by_role("button", name=f"{REQUERY}：{name}").click()

    # Then the archived record opens read-only with all its parts
    expect(page.get_by_role("heading", name=f"{name} 的孕产档案")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("归档资料不能直接修改")
    for part in (
        "高危因素",
        "产前检查",
        "传染病筛查",
        "检验结果",
        "超声检查",
        "母子健康手册（PDF）",
        "推送记录（桂妇儿平台）",
    ):
        expect(page.get_by_role("heading", name=re.compile("^" + re.escape(part)))).to_be_visible()
    expect(
        page.get_by_role("region", name=re.compile("^产前检查")).locator("tbody tr").first
    ).to_be_visible()
    expect(
        page.get_by_role("region", name="检验结果（该孕妇全部历史）").locator("tbody tr").first
    ).to_be_visible()
    expect(
        page.get_by_role("region", name="推送记录（桂妇儿平台）").locator("tbody tr").first
    ).to_be_visible()
    expect(page.locator("main input, main textarea, main select")).to_have_count(0)
    handbook = page.get_by_role("region", name="母子健康手册（PDF）").get_by_role(
        "link", name="下载 PDF"
    )
    expect(handbook).to_have_count(1)
    pdf = page.request.get(handbook.get_attribute("href") or "")
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF")
    assert re.search(r"/admin/archive/[^/]+$", page.url)
    shot(page, "record-read-only")

    # And the deep link of the record opens it again after a reload
    page.reload()
    expect(page.get_by_role("heading", name=f"{name} 的孕产档案")).to_be_visible()


def test_date_filters_and_a_wrong_range_are_explained(
    page: Page, server: Server, shot: Shots
) -> None:
    login(page, server.passwords, "admin", "/admin/archive")
    expect(results(page).first).to_be_visible()

    # A range whose end is before its start is refused beside the field, without a request
    page.get_by_label("归档日期从").fill("2026-03-01")
    page.get_by_label("归档日期至").fill("2026-01-01")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.get_by_text("归档日期的结束日期早于开始日期")).to_be_visible()
    expect(page.get_by_label("归档日期至")).to_have_attribute("aria-invalid", "true")
    shot(page, "wrong-range")

    # A range with nothing in it says what to try
    page.get_by_label("归档日期从").fill("1990-01-01")
    page.get_by_label("归档日期至").fill("1990-12-31")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.get_by_text("没有符合条件的归档档案")).to_be_visible()
    shot(page, "nothing-found")


def test_reopening_an_archive_needs_a_reason_and_is_audited(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given an archived record opened by a doctor (the last one listed, so other tests keep theirs)
    login(page, server.passwords, "doctor", "/admin/archive")
    expect(results(page).first).to_be_visible()
    last = results(page).last
    name = last.locator("td").first.inner_text().split()[0]
    last.get_by_role("button", name=f"{REQUERY}：{name}").click()
    expect(page.get_by_role("heading", name=f"{name} 的孕产档案")).to_be_visible()
    pregnancy_id = unquote(page.url.rsplit("/", 1)[1])

    # When reopening without a reason, the dialog says what is missing
    page.get_by_role("button", name="重新打开档案…").click()
    dialog = page.get_by_role("dialog", name="重新打开档案")
    dialog.get_by_role("button", name="重新打开").click()
    expect(dialog.get_by_text("请填写原因后再提交")).to_be_visible()
    shot(page, "reason-required")

    # And with a reason the archive is reopened
    dialog.get_by_label("重新打开的原因").fill("分娩记录需补录新生儿信息")
    dialog.get_by_role("button", name="重新打开").click()
    toast(page, "档案已重新打开")
    shot(page, "reopened")

    # Then the server holds it in its state before archiving, as the page says
    query = (
        "query($id: ID!) { node(id: $id) { ... on Pregnancy { status archivedAt deliveredOn } } }"
    )
    node = gql(page, query, {"id": pregnancy_id})["node"]
    expected = "DELIVERED" if node["deliveredOn"] else "ACTIVE"
    assert node == {"status": expected, "archivedAt": None, "deliveredOn": node["deliveredOn"]}
    label = {"DELIVERED": "已分娩", "ACTIVE": "管理中"}[expected]
    expect(page.get_by_text(f"档案状态：{label}")).to_be_visible()
    expect(page.get_by_role("note")).to_have_count(0)

    # And the auditor sees who reopened it and why
    page.context.clear_cookies()
    login(page, server.passwords, "auditor", "/admin/audit?actor=doctor&action=REOPEN")
    events = page.get_by_role("region", name="审计事件").locator("tbody tr")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("分娩记录需补录新生儿信息")
    shot(page, "audit-reopen")
