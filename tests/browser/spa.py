"""What the browser tests do often: log in through the form, read the API as the page's user."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect


def login(page: Page, passwords: dict[str, str], username: str, path: str = "/admin") -> None:
    """Open `path` and sign in through the login form; waits for the navigation to appear."""
    page.goto(path)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(passwords[username])
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("navigation", name="功能导航")).to_be_visible()


def nav_labels(page: Page) -> list[str]:
    return [
        text.strip()
        for text in page.get_by_role("navigation", name="功能导航")
        .get_by_role("link")
        .all_inner_texts()
    ]


def gql(page: Page, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """GraphQL with the page's session cookie and CSRF token, as the SPA sends it."""
    csrf = next((c["value"] for c in page.context.cookies() if c["name"] == "mhub_csrf"), "")
    response = page.request.post(
        "/graphql",
        data={"query": query, "variables": variables or {}},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200, response.text()
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def toast(page: Page, text: str) -> None:
    expect(page.locator("#toasts")).to_contain_text(text)


class ApiSession:
    """Another user's GraphQL session over HTTP (the same public API the SPA uses)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30.0)
        response = self.client.post(
            "/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrfToken"]

    def __enter__(self) -> ApiSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"X-CSRF-Token": self.csrf},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data
