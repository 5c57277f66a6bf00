"""The SPA shell: login with the session cookie and CSRF, deep links, role-filtered navigation."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.spa import login, nav_labels

ALL_PAGES = [
    "归档查询",
    "推送监控",
    "数据字典",
    "系统参数",
    "数据更正",
    "统计报表",
    "巡检报告",
    "审计日志",
]


def test_login_by_keyboard_lands_on_the_deep_link_and_logout_ends_the_session(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given a deep link opened while signed out
    page.goto("/admin/parameters")
    expect(page.get_by_role("heading", name="登录管理后台")).to_be_visible()
    expect(page.get_by_label("用户名")).to_be_focused()

    # When a wrong password is typed, then the right one, using only the keyboard
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong-password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    shot(page, "wrong-password")
    page.get_by_label("密码").fill(server.passwords["admin"])
    page.keyboard.press("Enter")

    # Then the page of the deep link opens, with the cookies the API expects
    expect(page.get_by_role("heading", name="系统参数", level=1)).to_be_visible()
    assert page.url.endswith("/admin/parameters")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["mhub_session"]["httpOnly"] is True
    assert cookies["mhub_csrf"]["httpOnly"] is False
    shot(page, "after-login")

    # When the user logs out
    page.get_by_role("button", name="退出登录").click()

    # Then the login form is back and the session is gone on the server too
    expect(page.get_by_role("heading", name="登录管理后台")).to_be_visible()
    session = page.request.get("/auth/session").json()
    assert session == {"authenticated": False}


def test_navigation_shows_only_the_pages_each_role_can_use(
    page: Page, server: Server, shot: Shots
) -> None:
    expected = {
        "admin": [
            "归档查询",
            "推送监控",
            "数据字典",
            "系统参数",
            "数据更正",
            "统计报表",
            "巡检报告",
        ],
        "doctor": ["归档查询", "数据更正"],
        "approver": ["归档查询", "数据更正"],
        "auditor": ["归档查询", "系统参数", "数据更正", "统计报表", "巡检报告", "审计日志"],
    }
    for username, pages in expected.items():
        page.context.clear_cookies()
        login(page, server.passwords, username)
        assert nav_labels(page) == pages, username
        assert set(pages) <= set(ALL_PAGES)
        shot(page, f"home-{username}")

    # A deep link to a page the role cannot use says so and what to do
    page.context.clear_cookies()
    login(page, server.passwords, "doctor", "/admin/audit")
    expect(page.get_by_role("alert")).to_contain_text("您的角色不能使用“审计日志”")
    expect(page.get_by_role("alert")).to_contain_text("联系系统管理员")


def test_every_admin_path_serves_the_spa_and_unknown_pages_say_so(
    page: Page, server: Server, shot: Shots
) -> None:
    # Given a signed-in user, when an unknown page under /admin is opened
    login(page, server.passwords, "admin")
    response = page.goto("/admin/no-such-page/42")

    # Then the server answered with the SPA (History API deep links) and the SPA says what happened
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", name="页面不存在")).to_be_visible()
    page.get_by_role("link", name="返回首页").click()
    expect(page.get_by_role("heading", name="欢迎，系统管理员")).to_be_visible()
    assert page.url.endswith("/admin")

    # And scripts and styles are served with types a browser runs,
    # revalidated on every load (no hashed file names), and a missing one is a 404, not the page
    script = page.request.get("/admin/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-cache"
    style = page.request.get("/admin/css/app.css")
    assert style.headers["content-type"].startswith("text/css")
    missing = page.request.get("/admin/js/no-such-module.js")
    assert missing.status == 404
    shot(page, "home")
