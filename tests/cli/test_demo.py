"""``tradewarden demo``: trades open, trail and exit by themselves within a minute."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.procs import free_port, spawn, wait_http_ok

pytestmark = pytest.mark.slow

KEY = "tw_demo_test_key_0123456789abcdef"


def test_demo_opens_trails_and_exits_trades(tmp_path: Path) -> None:
    port = free_port()
    process = spawn("demo", "--port", str(port), "--data-dir", str(tmp_path / "data"),
                    "--signal-interval", "1", "--seed", "3", cwd=tmp_path,
                    log=tmp_path / "demo.log", env={"TRADEWARDEN_ADMIN_API_KEY": KEY})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/healthz", process)
        headers = {"X-API-Key": KEY}
        seen_active: set[int] = set()
        closed: list[dict[str, object]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (seen_active and closed):
            active = httpx.get(f"{url}/api/v1/activetrades", headers=headers,
                               timeout=10).json()["data"]["trades"]
            seen_active |= {t["trade_id"] for t in active if t["ltp"] is not None}
            closed = httpx.get(f"{url}/api/v1/tradehistory", headers=headers,
                               timeout=10).json()["data"]["trades"]
            time.sleep(0.5)
        assert seen_active, "no demo trade was seen active with a live price"
        assert closed, "no demo trade exited"
        assert {t["exit_reason"] for t in closed} <= {"stop_loss", "target", "trailing_stop"}
        strategies = httpx.get(f"{url}/api/v1/strategies", headers=headers, timeout=10).json()
        assert [s["name"] for s in strategies] == ["demo"]
    finally:
        process.terminate()
        process.wait(timeout=30)
