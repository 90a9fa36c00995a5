"""Real HTTP servers on 127.0.0.1 for notification tests: a JSON webhook sink (the target of a
``json://`` channel) and a fake Telegram Bot API. Both record what arrived and when."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.procs import free_port

ORDER_ID = re.compile(r"order ([0-9A-Z]{26})")


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the request arrived
    path: str
    body: dict[str, Any]


class _Server:
    """A threaded HTTP server answering POSTs with ``respond(path, body) -> (status, json)``."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True}

    def start(self) -> _Server:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                status, answer = owner.respond(self.path, body)
                if status == 200:
                    with owner.lock:
                        owner.arrivals.append(Arrival(arrived, self.path, body))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def received(self) -> list[Arrival]:
        with self.lock:
            return list(self.arrivals)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"condition not reached; received {len(self.received())}")


class JsonSink(_Server):
    """The endpoint of a ``json://127.0.0.1:PORT/hook`` channel; ``status`` simulates outages."""

    status = 200

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.status, {}

    def lines(self) -> list[str]:
        """Every message received, one line each; digests are unfolded into their items."""
        return [line for arrival in self.received() for line in message_lines(arrival.body)]


def message_lines(body: dict[str, Any]) -> list[str]:
    title, text = str(body.get("title", "")), str(body.get("message", ""))
    if title.startswith("📬"):
        return [line[2:] for line in text.splitlines() if line.startswith("• ")]
    return [" · ".join([title, *text.splitlines()])]


class FakeTelegram(_Server):
    """A Bot API stand-in: ``POST /bot<token>/sendMessage``; ``script`` lists answers to give
    first (e.g. a 429 with ``retry_after``), then 200."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.refused: list[float] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.script:
                status, answer = self.script.pop(0)
                if status != 200:
                    self.refused.append(time.monotonic())
                return status, answer
        return 200, {"ok": True, "result": {"message_id": 1, "chat": {"id": body.get("chat_id")}}}


def too_many_requests(retry_after: int) -> tuple[int, dict[str, Any]]:
    return 429, {"ok": False, "error_code": 429,
                 "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}
