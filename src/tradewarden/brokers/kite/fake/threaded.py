"""The Kite fake on a free 127.0.0.1 port in a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from tradewarden.brokers.base import SessionName
from tradewarden.brokers.kite.fake.app import create_app
from tradewarden.brokers.kite.fake.state import KiteFakeState
from tradewarden.brokers.paper.exchange import PaperExchange


class ThreadedKiteFake:
    """``with ThreadedKiteFake() as fake:`` serves a fresh in-memory exchange (manual clock,
    session open unless ``session`` says otherwise) at ``fake.url`` / ``fake.ws_url``."""

    def __init__(
        self,
        exchange: PaperExchange | None = None,
        *,
        session: SessionName | None = SessionName.OPEN,
        enforce_limits: bool = True,
    ) -> None:
        self.exchange = exchange or PaperExchange(None, clock="manual")
        self._own_exchange = exchange is None
        if session is not None:
            self.exchange.set_session(session)
        self.state = KiteFakeState(self.exchange)
        self.state.limiter.enforce = enforce_limits
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state, sync_interval_s=0.2),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws="websockets-sansio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the Kite fake did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        if self._own_exchange:
            self.exchange.close()

    def __enter__(self) -> ThreadedKiteFake:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
