"""Kite's one websocket per adapter: ticks and order updates from the same connection.

``{ws_url}?api_key=…&access_token=…`` carries binary ticks for the subscribed instrument
tokens and JSON order updates for the account. :class:`KiteSocket` connects when the first
stream needs it, resubscribes every token on each new connection, and hands messages to the
open streams (:class:`Channel`). A socket that sends nothing (not even Kite's 1-byte
heartbeat, sent about once a second) for ``silence_s`` is treated as dropped: Kite's socket
can go silent without closing. When the connection drops or cannot be made, every open
stream ends with :class:`~tradewarden.brokers.errors.BrokerDisconnectedError` (updates may
have been missed: reconcile, then open a new stream); a handshake refused with 403 is
:class:`~tradewarden.brokers.errors.SessionExpiredError`. Consecutive failures space the next
attempts out with exponential backoff; a connection that stayed up ``healthy_after_s``
resets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from tradewarden.brokers.base import OrderUpdate, Tick
from tradewarden.brokers.errors import (
    BrokerDisconnectedError,
    BrokerError,
    SessionExpiredError,
)
from tradewarden.brokers.kite import ticker
from tradewarden.brokers.kite.wire import KiteSymbols, WireError
from tradewarden.clock import utcnow
from tradewarden.domain.instruments import InstrumentKey

log = logging.getLogger(__name__)

T = TypeVar("T", Tick, OrderUpdate)
Kind = Literal["tick", "order"]

#: Ticks a slow reader may fall behind by; older ones are dropped (newer prices supersede).
TICK_BUFFER = 10_000


class Channel(Generic[T]):
    """One stream of ticks or order updates; an async iterator ending with a ``BrokerError``."""

    def __init__(self, socket: KiteSocket, kind: Kind, limit: int = 0) -> None:
        self.kind = kind
        self._socket = socket
        #: Items, then the error that ended the stream, or ``None`` once it was closed.
        self._queue: asyncio.Queue[T | BrokerError | None] = asyncio.Queue()
        self._limit = limit
        self._error: BrokerError | None = None
        self._ended = asyncio.Event()
        self.closed = False

    def push(self, item: T) -> None:
        if self._ended.is_set():
            return
        if self._limit and self._queue.qsize() >= self._limit:
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(item)

    def fail(self, error: BrokerError) -> None:
        """End the stream after what is queued."""
        if not self._ended.is_set():
            self._error = error
            self._ended.set()
            self._queue.put_nowait(error)

    async def wait_ready(self) -> None:
        """Connect now; return once the socket is open (raises if it could not be opened)."""
        if self.closed:
            raise BrokerDisconnectedError("stream closed")
        if self._error is not None:
            raise self._error
        self._socket.ensure_running()
        ready = asyncio.ensure_future(self._socket.ready.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({ready, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            ended.cancel()
        if self.closed:
            raise BrokerDisconnectedError("stream closed")
        if self._error is not None:
            raise self._error

    def __aiter__(self) -> Channel[T]:
        return self

    async def __anext__(self) -> T:
        if self.closed:
            raise StopAsyncIteration
        if self._queue.empty():
            if self._error is not None:  # ended, and its error already raised once
                raise self._error
            self._socket.ensure_running()
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, BrokerError):
            raise item
        return item

    async def aclose(self) -> None:
        """Stop this stream (iteration ends); the socket closes with its last stream."""
        self.closed = True
        self._ended.set()
        self._queue.put_nowait(None)  # wakes a reader waiting in __anext__
        await self._socket.release(self)


class KiteSocket:
    """The websocket of one Kite account, shared by its tick and order-update streams."""

    def __init__(
        self,
        url: Callable[[], str],
        symbols: KiteSymbols,
        *,
        mode: ticker.Mode = ticker.Mode.FULL,
        silence_s: float = 10.0,
        open_timeout_s: float = 10.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        healthy_after_s: float = 30.0,
    ) -> None:
        self._url = url
        self._symbols = symbols
        self.mode = mode
        self.silence_s = silence_s
        self.open_timeout_s = open_timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.healthy_after_s = healthy_after_s
        self.ready = asyncio.Event()
        self.tokens: dict[int, InstrumentKey] = {}
        self.failures = 0
        self.connections = 0
        self._ticks: set[Channel[Tick]] = set()
        self._orders: set[Channel[OrderUpdate]] = set()
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # ---- streams ----------------------------------------------------------------------------

    def tick_channel(self) -> Channel[Tick]:
        channel: Channel[Tick] = Channel(self, "tick", TICK_BUFFER)
        self._ticks.add(channel)
        return channel

    def order_channel(self) -> Channel[OrderUpdate]:
        channel: Channel[OrderUpdate] = Channel(self, "order")
        self._orders.add(channel)
        return channel

    def _channels(self) -> list[Channel[Tick] | Channel[OrderUpdate]]:
        return [*self._ticks, *self._orders]

    async def release(self, channel: Channel[Tick] | Channel[OrderUpdate]) -> None:
        self._ticks.discard(channel)
        self._orders.discard(channel)
        if not self._channels():
            await self._stop()

    def ensure_running(self) -> None:
        if self._closed:
            raise BrokerDisconnectedError("Kite websocket closed")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="kite-websocket")

    # ---- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, tokens: dict[int, InstrumentKey]) -> None:
        new = {t: k for t, k in tokens.items() if t not in self.tokens}
        self.tokens.update(tokens)
        if new and self._ws is not None:
            await self._send_subscription(self._ws, sorted(new))

    async def unsubscribe(self, tokens: list[int]) -> None:
        gone = sorted(t for t in tokens if self.tokens.pop(t, None) is not None)
        if gone and self._ws is not None:
            with contextlib.suppress(OSError, WebSocketException):
                await self._ws.send(ticker.unsubscribe_message(gone))

    async def _send_subscription(self, ws: ClientConnection, tokens: list[int]) -> None:
        with contextlib.suppress(OSError, WebSocketException):
            await ws.send(ticker.subscribe_message(tokens))
            await ws.send(ticker.mode_message(self.mode, tokens))

    # ---- the connection ---------------------------------------------------------------------

    def backoff_delay(self) -> float:
        """Seconds to wait before the next attempt after ``failures`` failed ones."""
        if not self.failures:
            return 0.0
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** min(self.failures - 1, 16))
        return ceiling * random.uniform(0.5, 1.0)

    async def _run(self) -> None:
        while self._channels() and not self._closed:
            await asyncio.sleep(self.backoff_delay())
            if not self._channels() or self._closed:
                return
            error = await self._serve_once()
            for channel in self._channels():
                channel.fail(error)
            self._ticks.clear()
            self._orders.clear()

    async def _serve_once(self) -> BrokerError:
        """One connection, until it drops; returns the error that ends the open streams."""
        try:
            ws = await asyncio.wait_for(
                connect(self._url(), open_timeout=self.open_timeout_s, max_size=2**20),
                self.open_timeout_s,
            )
        except InvalidStatus as exc:
            self.failures += 1
            status = exc.response.status_code
            if status == 403:
                return SessionExpiredError("Kite refused the websocket: session expired",
                                           code="session_expired")
            return BrokerDisconnectedError(f"Kite refused the websocket (HTTP {status})")
        except (OSError, WebSocketException, TimeoutError) as exc:
            self.failures += 1
            return BrokerDisconnectedError(f"Kite websocket unreachable: {type(exc).__name__}")
        self._ws = ws
        self.connections += 1
        opened = time.monotonic()
        reason = "closed"
        stopped = False
        try:
            if self.tokens:
                await self._send_subscription(ws, sorted(self.tokens))
            self.ready.set()
            while True:
                message = await asyncio.wait_for(ws.recv(), self.silence_s)
                self._dispatch(message)
        except TimeoutError:
            reason = f"silent for {self.silence_s:g} s (no heartbeat)"
        except (OSError, WebSocketException) as exc:
            reason = f"dropped: {type(exc).__name__}"
        except asyncio.CancelledError:
            stopped = True  # closed on purpose: not a failure
            raise
        finally:
            self.ready.clear()
            self._ws = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)
            if stopped or time.monotonic() - opened >= self.healthy_after_s:
                self.failures = 0
            else:
                self.failures += 1
        log.warning("Kite websocket %s", reason)
        return BrokerDisconnectedError(f"Kite websocket {reason}")

    def _dispatch(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            if ticker.is_heartbeat(message) or not self._ticks:
                return
            try:
                packets = ticker.decode_binary(message)
            except ticker.TickerError as exc:
                log.warning("Kite websocket: unreadable tick message: %s", exc)
                return
            now = utcnow()
            for packet in packets:
                key = self.tokens.get(packet.instrument_token)
                if key is not None:
                    tick = packet.to_tick(key, now)
                    for channel in self._ticks:
                        channel.push(tick)
            return
        try:
            decoded = ticker.decode_text(message, self._symbols)
        except WireError as exc:
            log.warning("Kite websocket: unreadable order update: %s", exc)
            return
        if decoded is None:
            return
        if decoded.update is not None:
            for order_channel in self._orders:
                order_channel.push(decoded.update)
        elif decoded.type == "error":
            log.warning("Kite websocket error: %s", decoded.text)

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        ws, self._ws = self._ws, None
        self.ready.clear()
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)

    async def aclose(self) -> None:
        self._closed = True
        for channel in self._channels():
            channel.fail(BrokerDisconnectedError("Kite websocket closed"))
        self._ticks.clear()
        self._orders.clear()
        await self._stop()
