"""Real processes for crash and chaos runs: a standalone paper broker and Tradewarden."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.procs import free_port, spawn, wait_http_ok
from tradewarden.brokers.paper.statuses import map_paper_status

API_KEY = "tw_crash_test_key_0123456789abcdef"


@dataclass
class Stack:
    """A paper broker process and a Tradewarden process using it over HTTP."""

    workdir: Path
    broker_port: int = field(default_factory=free_port)
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    clock: str = "open"
    broker: subprocess.Popen[str] | None = None
    service: subprocess.Popen[str] | None = None

    @property
    def broker_url(self) -> str:
        return f"http://127.0.0.1:{self.broker_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_broker(self) -> None:
        self.broker = spawn("paper-broker", "serve", "--port", str(self.broker_port),
                            "--state", str(self.workdir / "paper.db"), "--clock", self.clock,
                            cwd=self.workdir, log=self.workdir / "paper-broker.log")
        wait_http_ok(f"{self.broker_url}/control/orders", self.broker)

    def start_service(self) -> float:
        self.service = spawn("run", "--port", str(self.port), "--data-dir",
                             str(self.workdir / "data"), "--paper-url", self.broker_url,
                             cwd=self.workdir, log=self.workdir / "tradewarden.log",
                             env={"TRADEWARDEN_ADMIN_API_KEY": API_KEY, **self.env})
        return wait_http_ok(f"{self.url}/healthz", self.service)

    def kill_service(self) -> None:
        assert self.service is not None
        self.service.kill()  # SIGKILL
        self.service.wait(timeout=10)

    def terminate_service(self) -> bool:
        """SIGTERM; True when the service shut down cleanly (its lifespan finished; uvicorn
        then re-raises the signal, so the exit status is the signal's)."""
        assert self.service is not None
        self.service.terminate()
        self.service.wait(timeout=30)
        tail = (self.workdir / "tradewarden.log").read_text().rsplit("Shutting down", 1)[-1]
        return "Application shutdown complete" in tail and "Traceback" not in tail

    def stop(self) -> None:
        for process in (self.service, self.broker):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    # --- talking to them -------------------------------------------------------------

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.broker_url}/control/{path}", json=body, timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def control_get(self, what: str, **params: str) -> list[dict[str, Any]]:
        """``GET /control/{what}`` (orders, positions, holdings) as its list of items."""
        response = httpx.get(f"{self.broker_url}/control/{what}", params=params, timeout=10)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()[what]
        return items

    def broker_orders(self) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = httpx.get(f"{self.broker_url}/control/orders",
                                                 timeout=10).json()["orders"]
        return orders

    def our_orders(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            body = httpx.get(f"{self.url}/api/v1/orders", params={"page": page,
                                                                  "page_size": 500},
                             headers={"X-API-Key": API_KEY}, timeout=30).json()
            items.extend(body["items"])
            if page >= body["total_pages"]:
                return items
            page += 1

    def order(self, order_id: str) -> dict[str, Any]:
        detail: dict[str, Any] = httpx.get(f"{self.url}/api/v1/orders/{order_id}",
                                           headers={"X-API-Key": API_KEY}, timeout=30).json()
        return detail

    def wait_settled(self, timeout: float = 120) -> None:
        """Until no order is created/submitting (intent recorded but outcome unknown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = httpx.get(f"{self.url}/api/v1/orders/stats",
                              headers={"X-API-Key": API_KEY}, timeout=30).json()["by_status"]
            if stats["created"] == 0 and stats["submitting"] == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"orders did not settle: {stats}")




def check_consistency(stack: Stack, successes: list[str]) -> None:
    """Every acknowledged order is at the broker exactly once; the broker holds nothing else."""
    broker = stack.broker_orders()
    tags = Counter(o["tag"] for o in broker)
    duplicates = {tag: n for tag, n in tags.items() if n > 1}
    assert not duplicates, f"duplicate tags at the broker: {duplicates}"
    ours = stack.our_orders()
    known_tags = {o["client_order_id"] for o in ours}
    for order in ours:
        if order["retry_count"]:
            for event in stack.order(order["orderid"])["events"]:
                known_tags.add(event["payload"].get("previous_client_order_id"))
    unknown = [o for o in broker if o["tag"] not in known_tags]
    assert not unknown, f"orders at the broker Tradewarden does not know: {unknown[:3]}"
    by_id = {o["orderid"]: o for o in ours}
    by_tag = {o["tag"]: o for o in broker}
    for order_id in successes:
        order = by_id[order_id]
        assert order["status"] not in ("created", "submitting", "denied"), order
        assert tags[order["client_order_id"]] == 1, f"not exactly once at the broker: {order}"
        seen = by_tag[order["client_order_id"]]
        assert order["broker_order_id"] == seen["broker_order_id"], (order, seen)
        broker_says = map_paper_status(seen["status"], filled_quantity=seen["filled_quantity"],
                                       quantity=seen["quantity"])
        assert broker_says is not None and broker_says.value == order["status"], (order, seen)
        assert order["filled_quantity"] == seen["filled_quantity"], (order, seen)


def converged(check: Callable[[], None], timeout: float) -> None:
    """Retry ``check`` until it passes; re-raise its last failure after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
