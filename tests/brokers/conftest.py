"""Fixtures: a real standalone paper broker process, its control API, and adapters to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.procs import free_port
from tradewarden.brokers.paper import LocalPaperBroker, RemotePaperBroker


class PaperServer:
    """``tradewarden paper-broker serve`` as a subprocess on a free 127.0.0.1 port."""

    def __init__(self, state: Path, log: Path, clock: str = "manual") -> None:
        self.state = state
        self.log = log
        self.clock = clock
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        for _ in range(3):
            self.port = free_port()
            with self.log.open("ab") as out:
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tradewarden",
                        "paper-broker",
                        "serve",
                        "--port",
                        str(self.port),
                        "--state",
                        str(self.state),
                        "--clock",
                        self.clock,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ},
                )
            if self._wait_ready():
                return
        raise AssertionError(f"paper broker did not start:\n{self.log.read_text()}")

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken meanwhile: try another
            try:
                if httpx.get(f"{self.url}/control/clock", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.process.kill()
        return False

    def kill9(self) -> None:
        """SIGKILL, as a crash would."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Control:
    """The BRIEF §5 control API, synchronously (the broker is another process)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def get(self, path: str, **params: str) -> dict[str, Any]:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def session(self, session: str) -> dict[str, Any]:
        return self.post("/control/clock", {"session": session})

    def prices(self, prices: dict[str, float | str], volume: int | None = None) -> None:
        body: dict[str, Any] = {"prices": prices}
        if volume is not None:
            body["volume"] = volume
        self.post("/control/prices", body)

    def cash(self, account: str, cash: float) -> None:
        self.post("/control/accounts", {"account": account, "cash": cash})

    def faults(self, **faults: Any) -> None:
        self.post("/control/faults", faults)

    def orders(self, account: str | None = None) -> list[dict[str, Any]]:
        params = {"account": account} if account else {}
        rows: list[dict[str, Any]] = self.get("/control/orders", **params)["orders"]
        return rows

    def order(self, broker_order_id: str) -> dict[str, Any]:
        return next(o for o in self.orders() if o["broker_order_id"] == broker_order_id)

    def reset(self) -> None:
        self.post("/control/reset", {})

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="session")
def paper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperServer]:
    """One standalone paper broker per test worker (manual clock); tests reset it."""
    root = tmp_path_factory.mktemp("paper-server")
    server = PaperServer(root / "state.db", root / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def control(paper_server: PaperServer) -> Iterator[Control]:
    """The shared server's control API, reset to a fresh state (closed, no faults)."""
    ctl = Control(paper_server.url)
    ctl.reset()
    yield ctl
    ctl.reset()
    ctl.close()


@pytest.fixture
async def remote(paper_server: PaperServer) -> AsyncIterator[RemotePaperBroker]:
    """An HTTP connection to the shared server (short timeout: injected hangs end fast)."""
    broker = RemotePaperBroker(paper_server.url, timeout_s=2.0)
    yield broker
    await broker.aclose()


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalPaperBroker]:
    """An in-process simulator with its own state file, manual clock."""
    broker = LocalPaperBroker.open(tmp_path / "paper.db", clock="manual")
    yield broker
    await broker.aclose()


def dec(value: str | float | int) -> Decimal:
    return Decimal(str(value))
