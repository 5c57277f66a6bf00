"""Browser tests of the admin SPA: one real API server per session, Chromium headless.

The server is the `mhub serve` command in a subprocess on a free loopback port, over a
fresh SQLite data directory migrated and seeded with the demo data (the simulators are
not started: the pages under test need only the database). The browser is the
machine's Chromium (`/usr/bin/chromium`); Playwright never downloads one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs are installed
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from domain.auth.actor import Role
from domain.auth.service import demo_password, ensure_user
from domain.database import Database
from domain.demo.seed import seed_demo
from domain.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "tests" / "artefacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]
SECRET_KEY = "browser-tests-secret-key"
# A second doctor, and a head of department who may both request and approve corrections
# (so that "never approve your own request" is visible in the browser).
EXTRA_USERS = {"doctor2": ("王医生", ["doctor"]), "chief": ("赵主任", ["doctor", "approver"])}
STARTUP_TIMEOUT_S = 90.0
# A third of the demo's patients: every page has data (archived pregnancies, push records)
# and seeding takes a few seconds.
DEMO_PATIENTS = 80


@dataclass(frozen=True)
class Server:
    base_url: str
    passwords: dict[str, str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _migrate(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


async def _seed(database_url: str) -> dict[str, str]:
    """Seed the demo data and add the extra users; returns every user's password."""
    db = Database(database_url)
    try:
        summary = await seed_demo(db, secret_key=SECRET_KEY, patients=DEMO_PATIENTS)
        passwords = {user.username: user.password for user in summary.users}
        known = {role.value: role for role in Role}
        async with db.transaction() as session:
            for username, (display_name, roles) in EXTRA_USERS.items():
                password = demo_password(SECRET_KEY, username)
                await ensure_user(
                    session,
                    username,
                    display_name=display_name,
                    roles=[known[r] for r in roles if r in known],
                    password=password,
                )
                passwords[username] = password
        return passwords
    finally:
        await db.dispose()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and anything it started (e.g. a PDF process pool)."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(children, timeout=5)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("mhub-browser")
    database_url = f"sqlite+aiosqlite:///{data_dir / 'mhub.db'}"
    # Asyncio work runs in a thread of its own: Playwright's sync API may already run an
    # event loop in this one. The demo data is written while the server starts (it needs
    # only the migrated schema to start); both are done before any test runs.
    pool = ThreadPoolExecutor(max_workers=1)
    pool.submit(asyncio.run, _migrate(database_url)).result()
    port = _free_port()
    env = {
        **os.environ,
        "MHUB_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "MHUB_SECRET_KEY": SECRET_KEY,
        "LIS_MLLP_PORT": "0",
        "MHUB_LOG_LEVEL": "WARNING",
    }
    for name in ("REDIS_URL", "EMR_FHIR_BASE_URL", "LIS_FHIR_BASE_URL", "GUIFUER_BASE_URL"):
        env.pop(name, None)
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    seeding = pool.submit(asyncio.run, _seed(database_url))
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                log.flush()
                output = (data_dir / "server.log").read_text(encoding="utf-8", errors="replace")
                pytest.fail(f"API server exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"API server did not answer /health within {STARTUP_TIMEOUT_S}s")
            time.sleep(0.1)
        yield Server(base_url=base_url, passwords=seeding.result())
    finally:
        _stop(process)
        log.close()
        pool.shutdown()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        base_url=server.base_url,
        locale="zh-CN",
        viewport={"width": 1360, "height": 860},
        accept_downloads=True,
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


class Shots:
    """Screenshots of one test, numbered in the order taken."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_]+", "_", test_name).strip("_")
        self.count = 0
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTEFACTS.glob(f"{self.prefix}-*.png"):
            old.unlink()

    def __call__(self, page: Page, label: str, *, full: bool = True) -> Path:
        """Save a screenshot; `full=False` keeps to the viewport (a modal dialog's backdrop)."""
        self.count += 1
        path = ARTEFACTS / f"{self.prefix}-{self.count:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=full)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)
