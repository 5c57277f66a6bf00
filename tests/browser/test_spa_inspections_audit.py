"""巡检报告 (run with progress, list, PDF, trend charts) and 审计日志 (who read which patient)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import ApiSession, login

READ_PATIENT = "query($q: String!) { patients(search: $q, first: 5) { totalCount edges { node { id name phone } } } }"


def test_run_an_inspection_and_download_its_report(page: Page, server: Server, shot: Shots) -> None:
    # Given the administrator on the inspection page
    login(page, server.passwords, "admin", "/admin/inspections")
    listing = page.get_by_role("region", name="报告列表")
    reports = listing.get_by_role("table", name="巡检报告", exact=True).locator(
        ":scope > tbody > tr"
    )
    expect(listing.locator(".pager-info, .empty").first).to_be_visible()
    before = reports.count()

    # When an inspection is started, its progress is shown while it runs
    page.get_by_role("button", name="立即巡检").click()
    expect(page.get_by_role("progressbar")).to_be_visible()
    shot(page, "running")

    # Then it finishes, and the new report is listed with its PDF and findings
    expect(page.get_by_text("巡检完成，报告已生成。")).to_be_visible(timeout=90_000)
    expect(reports).to_have_count(before + 1)
    newest = reports.first
    expect(newest).to_contain_text("手动")
    expect(newest).to_contain_text("admin")
    newest.locator("summary").click()
    expect(newest.get_by_role("table", name="巡检发现")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^数据库大小"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^推送积压与失败"))).to_be_visible()
    shot(page, "finished")

    link = newest.get_by_role("link", name=re.compile("巡检报告 PDF$"))
    url = link.get_attribute("href")
    assert url is not None
    response = page.request.get(url)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body().startswith(b"%PDF")

    # And the auditor may read the reports but not start an inspection
    page.context.clear_cookies()
    login(page, server.passwords, "auditor", "/admin/inspections")
    expect(reports.first).to_be_visible()
    expect(page.get_by_role("button", name="立即巡检")).to_have_count(0)


def test_the_auditor_sees_who_read_a_patient(page: Page, server: Server, shot: Shots) -> None:
    # Given a doctor who read one woman's record through the API
    with ApiSession(server.base_url, "doctor2", server.passwords["doctor2"]) as doctor:
        listed = doctor.gql("{ patients(first: 10) { edges { node { name } } } }")["patients"][
            "edges"
        ]
        # a name only one woman has, so that the filter finds exactly her
        name = next(
            e["node"]["name"]
            for e in listed
            if doctor.gql(READ_PATIENT, {"q": e["node"]["name"]})["patients"]["totalCount"] == 1
        )

    # When the auditor filters the audit log by that woman and that doctor
    login(page, server.passwords, "auditor", "/admin/audit")
    page.get_by_label("人员（用户名）").fill("doctor2")
    page.get_by_label("患者").fill(name)
    page.get_by_label("动作").fill("read")
    page.get_by_role("button", name="查询").click()

    # Then the read is listed with the woman's name, and the filters are in the URL
    events = page.get_by_role("region", name="审计事件").locator("tbody tr")
    expect(events.first).to_contain_text("doctor2")
    expect(events.first).to_contain_text("读取")
    expect(events.first).to_contain_text(name)
    assert "actor=doctor2" in page.url
    shot(page, "read-by-doctor2")

    # And a name that matches nobody is explained beside the field
    page.get_by_label("患者").fill("不存在的名字")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("[data-field=patient] .field-error")).to_contain_text("没有找到患者")
    shot(page, "unknown-patient")
