"""`tradewarden run` as a real process: first start, health, clean Ctrl-C, restart."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from sqlalchemy import text

from tests.procs import free_port, spawn, wait_http_ok
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
                                             "trade_state_writes_queued": 0}}
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
