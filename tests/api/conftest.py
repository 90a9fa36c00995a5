"""A real Tradewarden server (uvicorn on a free port, in a thread) with the in-process paper
broker, for API tests over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.procs import free_port
from tradewarden.api.app import create_app
from tradewarden.bootstrap import ensure_first_start
from tradewarden.broker_setup import BrokerSetup, in_process_paper
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.config import Settings
from tradewarden.services import Services
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, ApiKeys, Users

ADMIN_KEY = "tw_test_admin_key_0123456789abcdef"


@dataclass
class Server:
    url: str
    key: str
    settings: Settings
    app_state: object
    simulator: LocalPaperBroker
    loop: asyncio.AbstractEventLoop

    @property
    def services(self) -> Services:
        services: Services = self.app_state.services  # type: ignore[attr-defined]
        return services

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"X-API-Key": key or self.key})

    def openalgo(self, endpoint: str, key: str | None = None, **body: object) -> httpx.Response:
        return httpx.post(f"{self.url}/api/v1/{endpoint}",
                          json={"apikey": key or self.key, **body}, timeout=30)

    def run(self, coroutine: object) -> object:
        """Run a coroutine on the server's event loop (where the engine lives)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)  # type: ignore[arg-type]

    def add_user(self, name: str, account: str) -> str:
        db = Database(self.settings.resolved_database_url)
        try:
            with db.transaction() as session:
                user = Users(session).create(name)
                Accounts(session).add(user, broker="paper", name=account)
                return ApiKeys(session).create(user).key
        finally:
            db.close()

    def wait_for(self, predicate: object, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise AssertionError("condition not reached in time")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serve(Settings(data_dir=tmp_path / "data", port=free_port(), monitor_interval_s=0.3,
                        monitor_idle_interval_s=0.3)) as running:
        yield running


@contextmanager
def serve(settings: Settings) -> Iterator[Server]:
    """A server on ``settings``' data directory (a new one, or one an earlier server used)."""
    url = settings.resolved_database_url
    migrate.upgrade(url)
    db = Database(url)
    ensure_first_start(db, ADMIN_KEY)
    db.close()
    brokers: BrokerSetup = in_process_paper(settings)
    assert brokers.simulator is not None
    app = create_app(settings, brokers)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning",
                            lifespan="on")
    uv = uvicorn.Server(config)
    loops: list[asyncio.AbstractEventLoop] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        loop.run_until_complete(uv.serve())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    else:
        raise AssertionError("server did not become healthy")
    try:
        yield Server(base, ADMIN_KEY, settings, app.state, brokers.simulator, loops[0])
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
