"""Run the official ``KiteTicker`` (Twisted) against the Kite fake, in its own process (a
Twisted reactor runs once per process). Prints one JSON line per event: ``connected``, each
tick, each order update; exits after a tick and a COMPLETE order update.

Usage: python -m tests.brokers.kite_fake.ticker_child WS_URL API_KEY ACCESS_TOKEN TOKEN
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kiteconnect import KiteTicker


def main() -> None:
    root, api_key, access_token, token = sys.argv[1:5]
    seen = {"tick": False, "complete": False}
    ticker = KiteTicker(api_key, access_token, root=root, reconnect=False)

    def emit(kind: str, data: Any) -> None:
        print(json.dumps({"kind": kind, "data": data}, default=str), flush=True)

    def on_connect(ws: KiteTicker, response: Any) -> None:
        ws.subscribe([int(token)])
        ws.set_mode(ws.MODE_FULL, [int(token)])
        emit("connected", None)

    def on_ticks(ws: KiteTicker, ticks: list[dict[str, Any]]) -> None:
        for tick in ticks:
            emit("tick", tick)
            seen["tick"] = True
        _maybe_stop(ws)

    def on_order_update(ws: KiteTicker, data: dict[str, Any]) -> None:
        emit("order", data)
        seen["complete"] = seen["complete"] or data["status"] == "COMPLETE"
        _maybe_stop(ws)

    def _maybe_stop(ws: KiteTicker) -> None:
        if all(seen.values()):
            ws.close()
            ws.stop()

    def on_close(ws: KiteTicker, code: Any, reason: Any) -> None:
        if not all(seen.values()):
            emit("closed", reason)
            ws.stop()

    ticker.on_connect = on_connect
    ticker.on_ticks = on_ticks
    ticker.on_order_update = on_order_update
    ticker.on_close = on_close
    ticker.connect()


if __name__ == "__main__":
    main()
