"""kill -9 of Tradewarden during a stream of placeorder calls (BRIEF §9, issue 4).

After each restart and once everything settles, every acknowledged order exists exactly once at
the broker (by tag) and the broker holds nothing Tradewarden does not know.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import httpx
import pytest

from tests.crash.harness import API_KEY, Stack, check_consistency

TOTAL = 500
CLIENTS = 4


def _body(i: int) -> dict[str, object]:
    # distinct prices so the identical-signal guard never blocks the stream; far below the
    # market so the orders rest at the broker
    return {"apikey": API_KEY, "strategy": "crash", "exchange": "NSE", "symbol": "RELIANCE",
            "action": "BUY", "quantity": "1", "pricetype": "LIMIT", "product": "MIS",
            "price": f"{2000 + i * 0.05:.2f}"}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 11])
def test_kill_minus_nine_during_a_stream_of_orders(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    kill_points = sorted(rng.sample(range(40, TOTAL - 60), 2))
    stack = Stack(tmp_path)
    stack.start_broker()
    stack.control("prices", {"prices": {"NSE:RELIANCE": 2500}})
    stack.start_service()
    successes: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(TOTAL))
    up = threading.Event()
    up.set()

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                up.wait(60)
                try:
                    response = http.post(f"{stack.url}/api/v1/placeorder", json=_body(i))
                except httpx.HTTPError:
                    continue  # no answer: the intent may or may not be recorded
                if response.status_code == 200:
                    with lock:
                        successes.append(response.json()["orderid"])

    try:
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for point in kill_points:
            while True:
                with lock:
                    if len(successes) >= point:
                        break
                threading.Event().wait(0.005)
            up.clear()
            stack.kill_service()
            stack.start_service()
            up.set()
        for thread in threads:
            thread.join(120)
        stack.wait_settled()
        assert len(successes) >= TOTAL - 40, f"too few acknowledged orders: {len(successes)}"
        check_consistency(stack, successes)
    finally:
        stack.stop()
