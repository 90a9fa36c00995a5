"""The paper adapter over HTTP: a standalone ``tradewarden paper-broker serve`` at a URL.

:class:`RemotePaperBroker` holds one pooled ``httpx.AsyncClient`` for all its accounts;
``adapter(name)`` returns an :class:`RemotePaperAdapter` for one broker-side account. Transport
problems map to the error hierarchy: timeouts → ``BrokerTimeoutError``, connection failures →
``BrokerDisconnectedError``, 429 → ``RateLimitedError`` (``Retry-After``), 5xx →
``BrokerServerError``, unreadable bodies → ``BrokerResponseError``. Streams are WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from tradewarden.brokers.base import (
    BrokerCapabilities,
    BrokerFill,
    BrokerOrder,
    Funds,
    Holding,
    MarketSession,
    ModifyRequest,
    OrderRequest,
    OrderUpdate,
    Position,
    Quote,
    Tick,
)
from tradewarden.brokers.errors import (
    BrokerDisconnectedError,
    BrokerResponseError,
    BrokerServerError,
    BrokerTimeoutError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    SessionExpiredError,
)
from tradewarden.brokers.paper import wire
from tradewarden.brokers.paper.local import PAPER_CAPABILITIES
from tradewarden.domain.instruments import InstrumentKey

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 10.0
#: Instruments per ``GET /api/quotes`` (keeps the URL well under server request-line limits).
QUOTES_PER_REQUEST = 200


class RemotePaperBroker:
    """A standalone paper broker reached at ``url``, serving any number of accounts."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._client = client or httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._adapters: dict[str, RemotePaperAdapter] = {}

    def adapter(self, account: str, *, initial_cash: Decimal | None = None) -> RemotePaperAdapter:
        """The adapter for broker-side account ``account``.

        With ``initial_cash``, the first call through the adapter creates the account at the
        broker with that cash if the broker does not know it yet (existing accounts keep theirs).
        """
        found = self._adapters.get(account)
        if found is None:
            found = self._adapters[account] = RemotePaperAdapter(self, account, initial_cash)
        return found

    @property
    def ws_url(self) -> str:
        if self.url.startswith("https://"):
            return "wss://" + self.url[len("https://") :]
        return "ws://" + self.url.removeprefix("http://")

    async def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One call; returns the JSON object of a 2xx answer or raises a ``BrokerError``."""
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise BrokerTimeoutError(f"paper broker timed out on {method} {path}") from exc
        except httpx.TransportError as exc:
            raise BrokerDisconnectedError(f"paper broker unreachable: {exc}") from exc
        return _answer(response)

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()
        await self._client.aclose()


def _answer(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status == 429:
        raise RateLimitedError(
            "rate limited by the broker", retry_after=_retry_after(response), code="rate_limited"
        )
    if status >= 500:
        raise BrokerServerError(f"paper broker error {status}", status_code=status)
    try:
        data = response.json()
    except ValueError as exc:
        raise BrokerResponseError(f"unreadable answer (HTTP {status})") from exc
    if not isinstance(data, dict):
        raise BrokerResponseError(f"unexpected answer (HTTP {status})")
    if 200 <= status < 300:
        return data
    raw_error = data.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or f"HTTP {status}")
    if status == 404 and code == "order_not_found":
        raise OrderNotFoundError(message, code=code)
    if status in (401, 403):
        raise SessionExpiredError(message, code=code or "session_expired")
    if status in (400, 409, 422):
        if code == "insufficient_funds":
            raise InsufficientFundsError(message, code=code)
        raise OrderRejectedError(message, code=code or "rejected")
    raise BrokerResponseError(f"unexpected answer (HTTP {status}): {message}")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _decode(decoder: Callable[[Any], T], data: Any) -> T:
    try:
        return decoder(data)
    except wire.WireError as exc:
        raise BrokerResponseError(f"unexpected answer: {exc}") from exc


def _decode_list(decoder: Callable[[Any], T], data: dict[str, Any], key: str) -> list[T]:
    items = data.get(key)
    if not isinstance(items, list):
        raise BrokerResponseError(f"unexpected answer: {key!r} is not a list")
    return [_decode(decoder, item) for item in items]


def _id(data: dict[str, Any]) -> str:
    value = data.get("broker_order_id")
    if not isinstance(value, str) or not value:
        raise BrokerResponseError("unexpected answer: no broker_order_id")
    return value


class RemotePaperAdapter:
    """:class:`~tradewarden.brokers.base.BrokerAdapter` for one account of a standalone paper
    broker."""

    def __init__(
        self, broker: RemotePaperBroker, account: str, initial_cash: Decimal | None = None
    ) -> None:
        self._broker = broker
        self._account = account
        self._base = f"/api/accounts/{quote(account, safe='')}"
        self._initial_cash = initial_cash
        self._instruments: frozenset[InstrumentKey] = frozenset()
        self._tick_streams: list[WsStream[Tick]] = []

    @property
    def account(self) -> str:
        return self._account

    @property
    def capabilities(self) -> BrokerCapabilities:
        return PAPER_CAPABILITIES

    async def _request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        if self._initial_cash is not None:
            await self._broker.request(
                "POST", self._base, {"initial_cash": str(self._initial_cash)}
            )
            self._initial_cash = None
        return await self._broker.request(method, path, body)

    def _order_path(self, broker_order_id: str) -> str:
        return f"{self._base}/orders/{quote(broker_order_id, safe='')}"

    async def place(self, request: OrderRequest) -> str:
        data = await self._request("POST", f"{self._base}/orders", wire.request_to_json(request))
        return _id(data)

    async def modify(self, broker_order_id: str, change: ModifyRequest) -> None:
        await self._request("PATCH", self._order_path(broker_order_id), wire.modify_to_json(change))

    async def cancel(self, broker_order_id: str) -> None:
        await self._request("DELETE", self._order_path(broker_order_id))

    async def order_book(self) -> list[BrokerOrder]:
        data = await self._request("GET", f"{self._base}/orders")
        return _decode_list(wire.order_from_json, data, "orders")

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        data = await self._request("GET", self._order_path(broker_order_id))
        return _decode(wire.order_from_json, data.get("order"))

    async def order_history(self, broker_order_id: str) -> list[BrokerOrder]:
        data = await self._request("GET", self._order_path(broker_order_id) + "/history")
        return _decode_list(wire.order_from_json, data, "history")

    async def find_by_tag(self, tag: str) -> list[BrokerOrder]:
        data = await self._request("GET", f"{self._base}/tags/{quote(tag, safe='')}/orders")
        return _decode_list(wire.order_from_json, data, "orders")

    async def trade_book(self) -> list[BrokerFill]:
        data = await self._request("GET", f"{self._base}/trades")
        return _decode_list(wire.fill_from_json, data, "trades")

    async def positions(self) -> list[Position]:
        data = await self._request("GET", f"{self._base}/positions")
        return _decode_list(wire.position_from_json, data, "positions")

    async def holdings(self) -> list[Holding]:
        data = await self._request("GET", f"{self._base}/holdings")
        return _decode_list(wire.holding_from_json, data, "holdings")

    async def funds(self) -> Funds:
        data = await self._request("GET", f"{self._base}/funds")
        return _decode(wire.funds_from_json, data.get("funds"))

    async def market_session(self) -> MarketSession | None:
        data = await self._request("GET", "/api/market")
        return _decode(wire.session_from_json, data)

    async def quotes(self, instruments: Iterable[InstrumentKey]) -> dict[InstrumentKey, Quote]:
        """One ``GET /api/quotes`` per :data:`QUOTES_PER_REQUEST` instruments."""
        names = sorted({str(key) for key in instruments})
        found: dict[InstrumentKey, Quote] = {}
        for start in range(0, len(names), QUOTES_PER_REQUEST):
            query = urlencode({"instruments": ",".join(names[start : start + QUOTES_PER_REQUEST])})
            data = await self._broker.request("GET", f"/api/quotes?{query}")
            for item in _decode_list(wire.quote_from_json, data, "quotes"):
                found[item.key] = item
        return found

    def order_updates(self) -> WsStream[OrderUpdate]:
        """Connects on first use (or :meth:`WsStream.wait_ready`)."""
        url = f"{self._broker.ws_url}{self._base}/stream"
        return WsStream(url, "order", wire.update_from_json, self._broker.timeout_s)

    def ticks(self) -> WsStream[Tick]:
        """Connects on first use, subscribed to the instruments given to :meth:`subscribe`."""
        query = urlencode({"instruments": ",".join(sorted(map(str, self._instruments)))})
        url = f"{self._broker.ws_url}/api/ticks?{query}"
        stream = WsStream(url, "tick", wire.tick_from_json, self._broker.timeout_s)
        self._tick_streams = [s for s in self._tick_streams if not s.closed] + [stream]
        return stream

    async def subscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        keys = frozenset(instruments)
        self._instruments |= keys
        await self._tell_tick_streams("subscribe", keys)

    async def unsubscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        keys = frozenset(instruments)
        self._instruments -= keys
        await self._tell_tick_streams("unsubscribe", keys)

    async def _tell_tick_streams(self, action: str, keys: frozenset[InstrumentKey]) -> None:
        message = {"action": action, "instruments": sorted(map(str, keys))}
        for stream in self._tick_streams:
            await stream.send(message)

    async def aclose(self) -> None:
        for stream in self._tick_streams:
            await stream.aclose()
        self._tick_streams = []


class WsStream(Generic[T]):
    """A WebSocket stream of ``{"type": kind, "data": …}`` messages from the paper broker.

    Connects lazily; ends with ``BrokerDisconnectedError`` when the connection drops.
    """

    def __init__(self, url: str, kind: str, decoder: Callable[[Any], T], timeout_s: float) -> None:
        self._url = url
        self._kind = kind
        self._decoder = decoder
        self._timeout = timeout_s
        self._ws: ClientConnection | None = None
        self._lock = asyncio.Lock()
        self.closed = False

    async def wait_ready(self) -> None:
        """Connect now and return once the server has subscribed this stream."""
        await self._connection()

    async def _connection(self) -> ClientConnection:
        async with self._lock:
            if self._ws is not None:
                return self._ws
            if self.closed:
                raise BrokerDisconnectedError("stream closed")
            try:
                ws = await asyncio.wait_for(
                    connect(self._url, open_timeout=self._timeout), self._timeout
                )
                ready = json.loads(await asyncio.wait_for(ws.recv(), self._timeout))
            except (OSError, WebSocketException, TimeoutError, ValueError) as exc:
                self.closed = True
                raise BrokerDisconnectedError(f"stream connection failed: {exc}") from exc
            if not isinstance(ready, dict) or ready.get("type") != "ready":
                await ws.close()
                self.closed = True
                raise BrokerDisconnectedError("stream refused by the broker")
            self._ws = ws
            return ws

    def __aiter__(self) -> WsStream[T]:
        return self

    async def __anext__(self) -> T:
        ws = await self._connection()
        while True:
            try:
                raw = await ws.recv()
            except (OSError, WebSocketException) as exc:
                self.closed = True
                raise BrokerDisconnectedError(f"stream dropped: {exc}") from exc
            try:
                message = json.loads(raw)
            except ValueError as exc:
                raise BrokerResponseError("unreadable stream message") from exc
            if isinstance(message, dict) and message.get("type") == self._kind:
                return _decode(self._decoder, message.get("data"))

    async def send(self, message: dict[str, Any]) -> None:
        if self._ws is None or self.closed:
            return
        with contextlib.suppress(OSError, WebSocketException):
            await self._ws.send(json.dumps(message))

    async def aclose(self) -> None:
        self.closed = True
        if self._ws is not None:
            with contextlib.suppress(OSError, WebSocketException):
                await self._ws.close()
