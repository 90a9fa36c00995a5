"""`tradewarden run` as a real process: first start, health, clean Ctrl-C, restart."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from tests.procs import free_port, spawn, tradewarden, wait_http_ok
from tradewarden.security import hash_api_key
from tradewarden.store.db import Database
from tradewarden.store.repositories import ApiKeys


def _start_and_stop(tmp_path: Path, env: dict[str, str] | None = None) -> str:
    port = free_port()
    process = spawn("run", "--port", str(port), "--data-dir", str(tmp_path / "data"),
                    cwd=tmp_path, env=env)
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", process)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.json() == {"status": "ok", "checks": {"engine": True, "database": True},
                                "degraded": {"database_degraded": False, "price_feeds_down": 0,
                                             "trade_state_writes_queued": 0,
                                             "accounts_not_ready": 0},
                                "accounts": []}  # only accounts that are not ready
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Traceback" not in output
    return output


def _key_from(output: str) -> str:
    lines = output.splitlines()
    index = lines.index("Admin API key (shown once, store it now):")
    return lines[index + 1].strip()


def test_first_start_prints_the_admin_key_once_and_stops_cleanly(tmp_path: Path) -> None:
    first = _start_and_stop(tmp_path)
    key = _key_from(first)
    assert key.startswith("tw_") and len(key) > 30
    assert "created user 'admin' and paper account 'paper-1'" in first
    db = Database(f"sqlite:///{tmp_path / 'data' / 'tradewarden.db'}")
    try:
        with db.transaction() as session:
            user = ApiKeys(session).user_for_key(key)
            assert user is not None and user.username == "admin" and user.is_admin
            stored = session.execute(text("SELECT key_hash FROM api_keys")).scalar_one()
        assert stored == hash_api_key(key) and key not in stored
    finally:
        db.close()
    second = _start_and_stop(tmp_path)
    assert "API key" not in second and "First start" not in second


def test_admin_key_from_the_environment(tmp_path: Path) -> None:
    key = "automation-key-0123456789abcdef"
    output = _start_and_stop(tmp_path, env={"TRADEWARDEN_ADMIN_API_KEY": key})
    assert key not in output
    assert "taken from TRADEWARDEN_ADMIN_API_KEY" in output
    db = Database(f"sqlite:///{tmp_path / 'data' / 'tradewarden.db'}")
    try:
        with db.transaction() as session:
            user = ApiKeys(session).user_for_key(key)
            assert user is not None and user.username == "admin"
    finally:
        db.close()


def _wait_for_order(url: str, key: str, order_id: str, statuses: set[str],
                    timeout: float = 60) -> dict[str, object]:
    """Poll the order until its status is one of ``statuses`` (setup, not a timing check)."""
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, object] = httpx.get(f"{url}/api/v1/orders/{order_id}",
                                             headers={"X-API-Key": key}, timeout=10).json()
        if order.get("status") in statuses or time.monotonic() > deadline:
            return order
        time.sleep(0.2)


def _dashboard_settings(url: str, tmp_path: Path) -> str:
    """The admin's settings page, signed in with a password set through the CLI."""
    password = "a long enough password"
    set_password = tradewarden("users", "passwd", "admin", "--data-dir", str(tmp_path / "data"),
                               stdin=password + "\n")
    assert set_password.returncode == 0, set_password.stderr
    with httpx.Client(base_url=url, timeout=10) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        signed_in = client.post("/login", data={"csrf_token": token[1], "next": "/settings",
                                                "username": "admin", "password": password})
        assert signed_in.status_code == 303, signed_in.text
        return client.get("/settings").text


def test_market_order_fills_on_the_in_process_paper_broker(tmp_path: Path) -> None:
    """`make run`'s paper broker prices every instrument, so a MARKET order fills (the paper
    clock is pinned open by configuration, whatever the hour)."""
    key = "automation-key-0123456789abcdef"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = spawn("run", "--port", str(port), "--data-dir", str(tmp_path / "data"),
                    cwd=tmp_path, log=tmp_path / "run.log",
                    env={"TRADEWARDEN_ADMIN_API_KEY": key, "TRADEWARDEN_PAPER_CLOCK": "open"})
    try:
        wait_http_ok(f"{url}/healthz", process)
        placed = {}
        for symbol in ("SBIN", "MRF"):
            answer = httpx.post(f"{url}/api/v1/placeorder", timeout=30, json={
                "apikey": key, "strategy": "cli-test", "exchange": "NSE", "symbol": symbol,
                "action": "BUY", "quantity": 3, "pricetype": "MARKET", "product": "MIS",
                "price": 0}).json()
            assert answer["status"] == "success", answer
            placed[symbol] = answer["orderid"]
        for symbol, order_id in placed.items():
            order = _wait_for_order(url, key, order_id, {"filled", "rejected", "denied"})
            assert order["status"] == "filled", (symbol, order)
            assert order["average_price"] is not None
        assert "Paper (simulated prices)" in _dashboard_settings(url, tmp_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "run.log").read_text()
