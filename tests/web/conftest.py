"""Browser tests of the dashboard: real headless Chromium (Playwright) against a running
``tradewarden run --paper-url …`` with a standalone paper broker (the crash harness's ``Stack``).

One stack per test session (per xdist worker); every test signs in as its own fresh user, so
tests share nothing but the processes. Screenshots go to ``<pytest basetemp>/screenshots``
(printed at the end of the run); with ``TW_DOCS_SCREENSHOTS=1`` the ones used by the docs are
also copied to ``docs/images/``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.crash.harness import Stack
from tradewarden.security import hash_password
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, ApiKeys, Users

CHROMIUM = Path("/usr/bin/chromium")
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PASSWORD = "correct horse battery"
PRICES = {"NSE:RELIANCE": 2500, "NSE:INFY": 1500, "NSE:TCS": 4000, "NSE:SBIN": 800,
          "NSE:ITC": 450}
VIEWPORT = {"width": 1280, "height": 860}


@dataclass
class WebUser:
    name: str
    password: str
    api_key: str
    account: str  # paper account name = broker-side id


class WebStack:
    """The running processes and helpers to seed them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.stack.workdir / 'data' / 'tradewarden.db'}"

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.stack.control(path, body)

    def add_user(self, prefix: str = "user", cash: float = 1_000_000) -> WebUser:
        """A user with a password, a paper account (funded with ``cash``) and an API key."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        account = f"{name}-paper"
        db = Database(self.database_url, pool_size=1)
        try:
            with db.transaction() as session:
                user = Users(session).create(name, password_hash=hash_password(PASSWORD))
                Accounts(session).add(user, broker="paper", name=account)
                key = ApiKeys(session).create(user, name="tests").key
        finally:
            db.close()
        self.control("accounts", {"account": account, "cash": cash})
        return WebUser(name, PASSWORD, key, account)

    def place(self, user: WebUser, **fields: Any) -> dict[str, Any]:
        body = {"apikey": user.api_key, "strategy": "web-tests", "exchange": "NSE",
                "product": "MIS", "pricetype": "MARKET", **fields}
        answer: dict[str, Any] = httpx.post(f"{self.url}/api/v1/placeorder", json=body,
                                            timeout=30).json()
        return answer

    def order(self, user: WebUser, order_id: str) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.url}/api/v1/orders/{order_id}",
                                          headers={"X-API-Key": user.api_key}, timeout=30).json()
        return found

    def wait_status(self, user: WebUser, order_id: str, *statuses: str,
                    timeout: float = 60) -> dict[str, Any]:
        """Poll until the order reaches one of ``statuses`` (setup, not an assertion on time)."""
        deadline = time.monotonic() + timeout
        while True:
            order = self.order(user, order_id)
            if order.get("status") in statuses:
                return order
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} stayed {order.get('status')}, "
                                     f"expected {statuses}")
            time.sleep(0.2)

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached: {what}")
            time.sleep(0.2)


@dataclass
class Seeded:
    """One user's orders in known states."""

    user: WebUser
    filled: str
    denied: str
    rejected: str
    queued: list[str]  # retry_pending for insufficient funds


def seed_orders(web: WebStack, user: WebUser) -> Seeded:
    """filled, denied, rejected and retry_pending (insufficient funds) orders for ``user``."""
    filled = web.place(user, symbol="RELIANCE", action="BUY", quantity="2")["orderid"]
    denied = web.place(user, symbol="INFY", action="BUY", quantity="1", pricetype="LIMIT",
                       price="1500.03")["orderid"]  # off the tick grid: validation_failed
    rejected = web.place(user, symbol="TCS", action="BUY", quantity="1", pricetype="LIMIT",
                         price="9000")["orderid"]  # outside the price band: the broker rejects
    web.wait_status(user, filled, "filled")
    web.wait_status(user, rejected, "rejected")
    web.control("accounts", {"account": user.account, "cash": 100})  # too little for the next
    queued = [web.place(user, symbol=symbol, action="BUY", quantity="10")["orderid"]
              for symbol in ("SBIN", "ITC")]
    for order_id in queued:
        web.wait_status(user, order_id, "retry_pending")
    return Seeded(user, filled, denied, rejected, queued)


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    workdir = tmp_path_factory.mktemp("web-stack")
    stack = Stack(workdir, env={"TRADEWARDEN_MONITOR_INTERVAL_S": "0.5",
                                "TRADEWARDEN_MONITOR_IDLE_INTERVAL_S": "0.5",
                                "TRADEWARDEN_LOG_LEVEL": "WARNING"})
    try:
        stack.start_broker()
        stack.control("prices", {"prices": PRICES})
        stack.start_service()
        yield WebStack(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium from the system package; never downloaded.

    Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
    is open, which would break any asyncio test the same xdist worker runs next."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {message}")
        pytest.skip(f"browser tests skipped: {message}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, web_stack: WebStack) -> Iterator[Any]:
    context = chromium.new_context(base_url=web_stack.url, viewport=VIEWPORT,
                                   color_scheme="light", timezone_id="Asia/Kolkata")
    context.set_default_timeout(20_000)
    browser_page = context.new_page()
    errors: list[str] = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield browser_page
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def login(page: Any, user: WebUser) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.getbasetemp() / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def shoot(page: Any, screenshot_dir: Path) -> Callable[..., Path]:
    """``shoot(name)`` saves a full-page screenshot (and the docs copy when asked)."""
    def save(name: str, *, docs: bool = False, full_page: bool = True) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if docs and os.environ.get("TW_DOCS_SCREENSHOTS") == "1":
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMAGES / path.name)
        return path

    return save


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    base = getattr(config, "_tmp_path_factory", None)
    if base is None:
        return
    try:
        root = base.getbasetemp()
    except (OSError, ValueError):
        return
    shots = sorted(root.glob("**/screenshots"))
    for directory in shots:
        terminalreporter.write_line(f"dashboard screenshots: {directory}")
