"""The Zerodha Kite Connect v3 adapter.

Why not the official ``kiteconnect`` SDK: it is synchronous (``requests``, a Twisted-based
ticker), so every call would need a worker thread and the ticker its own reactor thread
beside our event loop; its exceptions and transport errors would have to be mapped onto our
error tree anyway (where what matters is whether a placement's outcome is unknown); and it
has no hook for the silent-socket rule or for per-endpoint rate limits. Kite's protocol is
small and documented (form bodies, a JSON envelope, a binary tick layout), so the adapter
speaks it directly with ``httpx`` and ``websockets`` on the event loop the engine runs on.

Kite cannot look an order up by tag: :meth:`KiteAdapter.find_by_tag` scans today's order
book. Modify and cancel need the order's variety in the path; the adapter remembers the
variety of every order it has placed or seen and asks ``GET /orders/{id}`` otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import httpx

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
    BrokerResponseError,
    OrderNotFoundError,
    OrderRejectedError,
)
from tradewarden.brokers.kite import table, wire
from tradewarden.brokers.kite.client import DEFAULT_TIMEOUT_S, KiteHttp
from tradewarden.brokers.kite.options import KiteOptions
from tradewarden.brokers.kite.socket import Channel, KiteSocket
from tradewarden.brokers.kite.ticker import Mode
from tradewarden.clock import utcnow
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import Variety

log = logging.getLogger(__name__)

#: Kite's instrument token of a canonical instrument (``None`` when the master lacks it).
TokenResolver = Callable[[InstrumentKey], int | None]

KITE_CAPABILITIES = BrokerCapabilities(
    name="kite",
    supports_amo=True,
    supports_modify=True,
    supports_order_stream=True,
    supports_tick_stream=True,
    tag_max_length=table.TAG_MAX_LENGTH,
    orders_per_second=table.RATE_LIMITS[table.Endpoint.ORDERS].per_second,
    requests_per_second=table.RATE_LIMITS[table.Endpoint.OTHER].per_second,
)


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise BrokerResponseError(f"unexpected Kite answer: {what} is not a list")
    return data


class KiteAdapter:
    """:class:`~tradewarden.brokers.base.BrokerAdapter` for one Kite Connect account."""

    def __init__(
        self,
        options: KiteOptions,
        *,
        account: str | None = None,
        token_resolver: TokenResolver | None = None,
        symbols: wire.KiteSymbols | None = None,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        silence_s: float = 10.0,
        tick_mode: Mode = Mode.FULL,
    ) -> None:
        self.options = options
        self._account = account or options.api_key
        self._resolve = token_resolver
        self._symbols = symbols or wire.EquitySymbols()
        self._http = KiteHttp(
            options.base_url, options.api_key, options.access_token,
            client=client, timeout_s=timeout_s,
        )
        self._socket = KiteSocket(
            self._ws_url, self._symbols, mode=tick_mode, silence_s=silence_s,
            open_timeout_s=timeout_s,
        )
        self._varieties: dict[str, str] = {}

    # ---- session ------------------------------------------------------------------------

    @property
    def account(self) -> str:
        return self._account

    @property
    def capabilities(self) -> BrokerCapabilities:
        """Ticks need instrument tokens: without a resolver there is no tick stream."""
        if self._resolve is None:
            return replace(KITE_CAPABILITIES, supports_tick_stream=False)
        return KITE_CAPABILITIES

    @property
    def socket(self) -> KiteSocket:
        return self._socket

    def set_access_token(self, access_token: str | None) -> None:
        """Use a new session (after a login); the websocket reconnects with it when next
        opened."""
        self._http.access_token = access_token

    def _ws_url(self) -> str:
        query = httpx.QueryParams(
            {"api_key": self.options.api_key, "access_token": self._http.access_token or ""}
        )
        return f"{self.options.ws_url}?{query}"

    # ---- orders -------------------------------------------------------------------------

    async def place(self, request: OrderRequest) -> str:
        """``POST /orders/{variety}``; any unclear outcome is ambiguous (resolve by tag)."""
        if request.tag is not None and not table.valid_tag(request.tag):
            raise OrderRejectedError(
                f"tag {request.tag!r} is not alphanumeric of at most 20 characters",
                code="invalid_tag",
            )
        if request.exchange.upper() not in table.EXCHANGES:
            raise OrderRejectedError(f"Kite does not trade {request.exchange!r}",
                                     code="invalid_exchange")
        variety = table.VARIETIES[request.variety]
        form = wire.order_form(
            request, self._symbols, market_protection=self.options.market_protection
        )
        data = await self._http.call("POST", f"/orders/{variety}", form=form, placement=True)
        order_id = data.get("order_id") if isinstance(data, dict) else None
        if isinstance(order_id, int) and not isinstance(order_id, bool):
            order_id = str(order_id)
        if not isinstance(order_id, str) or not order_id:
            raise BrokerResponseError("Kite accepted the order without an order_id")
        self._varieties[order_id] = variety
        return order_id

    async def _variety_of(self, broker_order_id: str) -> str:
        found = self._varieties.get(broker_order_id)
        if found is None:
            history = await self._history_raw(broker_order_id)
            found = str(history[-1].get("variety") or Variety.REGULAR.value)
            self._varieties[broker_order_id] = found
        return found

    async def modify(self, broker_order_id: str, change: ModifyRequest) -> None:
        """``PUT /orders/{variety}/{order_id}`` with the fields that change."""
        variety = await self._variety_of(broker_order_id)
        await self._http.call(
            "PUT", f"/orders/{variety}/{broker_order_id}", form=wire.modify_form(change)
        )

    async def cancel(self, broker_order_id: str) -> None:
        """``DELETE /orders/{variety}/{order_id}``."""
        variety = await self._variety_of(broker_order_id)
        await self._http.call("DELETE", f"/orders/{variety}/{broker_order_id}")

    def _orders(self, items: list[Any]) -> list[BrokerOrder]:
        orders = []
        for item in items:
            try:
                orders.append(wire.order_from_kite(item, self._symbols))
            except wire.WireError as exc:
                raise BrokerResponseError(f"unexpected Kite order: {exc}") from exc
            variety = item.get("variety")
            if isinstance(variety, str) and variety:
                self._varieties[orders[-1].broker_order_id] = variety
        return orders

    async def order_book(self) -> list[BrokerOrder]:
        """``GET /orders``: today's orders, each in its latest state."""
        return self._orders(_list(await self._http.call("GET", "/orders"), "orders"))

    async def _history_raw(self, broker_order_id: str) -> list[Any]:
        data = await self._http.call("GET", f"/orders/{broker_order_id}", order_lookup=True)
        items = _list(data, "order history")
        if not items or not all(isinstance(item, dict) for item in items):
            raise OrderNotFoundError(f"Kite has no order {broker_order_id}", code="not_found")
        return items

    async def order_history(self, broker_order_id: str) -> list[BrokerOrder]:
        """``GET /orders/{order_id}``: the order's states, oldest first."""
        return self._orders(await self._history_raw(broker_order_id))

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """The last entry of the order's history."""
        return (await self.order_history(broker_order_id))[-1]

    async def find_by_tag(self, tag: str) -> list[BrokerOrder]:
        """Kite has no look-up by tag: scan today's order book."""
        return [order for order in await self.order_book() if order.tag == tag]

    async def trade_book(self) -> list[BrokerFill]:
        """``GET /trades``."""
        items = _list(await self._http.call("GET", "/trades"), "trades")
        try:
            return [wire.fill_from_kite(item, self._symbols) for item in items]
        except wire.WireError as exc:
            raise BrokerResponseError(f"unexpected Kite trade: {exc}") from exc

    # ---- portfolio ----------------------------------------------------------------------

    async def positions(self) -> list[Position]:
        """``GET /portfolio/positions``, the ``net`` positions."""
        data = await self._http.call("GET", "/portfolio/positions")
        if not isinstance(data, dict):
            raise BrokerResponseError("unexpected Kite positions answer")
        try:
            net = _list(data.get("net"), "net")
            return [wire.position_from_kite(item, self._symbols) for item in net]
        except wire.WireError as exc:
            raise BrokerResponseError(f"unexpected Kite position: {exc}") from exc

    async def holdings(self) -> list[Holding]:
        """``GET /portfolio/holdings``."""
        items = _list(await self._http.call("GET", "/portfolio/holdings"), "holdings")
        try:
            return [wire.holding_from_kite(item, self._symbols) for item in items]
        except wire.WireError as exc:
            raise BrokerResponseError(f"unexpected Kite holding: {exc}") from exc

    async def funds(self) -> Funds:
        """``GET /user/margins``."""
        try:
            return wire.funds_from_kite(await self._http.call("GET", "/user/margins"))
        except wire.WireError as exc:
            raise BrokerResponseError(f"unexpected Kite margins: {exc}") from exc

    async def market_session(self) -> MarketSession | None:
        """Kite has no session clock: use the exchange calendar."""
        return None

    # ---- market data --------------------------------------------------------------------

    async def quotes(self, instruments: Iterable[InstrumentKey]) -> dict[InstrumentKey, Quote]:
        """``GET /quote/ltp?i=NSE:INFY&i=…`` (1 000 instruments a call). Kite's LTP answer
        has no trade time: quotes are stamped with the time of the answer."""
        names: dict[str, InstrumentKey] = {}
        for key in set(instruments):
            names[f"{key.exchange}:{self._symbols.to_kite(key)}"] = key
        ordered = sorted(names)
        found: dict[InstrumentKey, Quote] = {}
        for start in range(0, len(ordered), table.LTP_MAX_INSTRUMENTS):
            chunk = ordered[start : start + table.LTP_MAX_INSTRUMENTS]
            params = httpx.QueryParams([("i", name) for name in chunk])
            data = await self._http.call("GET", "/quote/ltp", params=params)
            if not isinstance(data, dict):
                raise BrokerResponseError("unexpected Kite quote answer")
            now = utcnow()
            for name, entry in data.items():
                wanted = names.get(name)
                if wanted is None or not isinstance(entry, dict) or entry.get("last_price") is None:
                    continue
                try:
                    price = wire.dec(entry["last_price"], "last_price")
                except wire.WireError as exc:
                    raise BrokerResponseError(f"unexpected Kite quote: {exc}") from exc
                found[wanted] = Quote(wanted.exchange, wanted.symbol, price, now)
        return found

    def order_updates(self) -> Channel[OrderUpdate]:
        """Order updates from the account's websocket (connects on first use)."""
        return self._socket.order_channel()

    def ticks(self) -> Channel[Tick]:
        """Ticks of the subscribed instruments from the account's websocket."""
        return self._socket.tick_channel()

    def _tokens(self, instruments: Iterable[InstrumentKey]) -> dict[int, InstrumentKey]:
        tokens: dict[int, InstrumentKey] = {}
        for key in instruments:
            token = self._resolve(key) if self._resolve is not None else None
            if token is None:
                log.warning("Kite: no instrument token for %s; it gets no ticks", key)
                continue
            tokens[token] = key
        return tokens

    async def subscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        await self._socket.subscribe(self._tokens(instruments))

    async def unsubscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        wanted = set(instruments)
        await self._socket.unsubscribe(
            [token for token, key in self._socket.tokens.items() if key in wanted]
        )

    async def aclose(self) -> None:
        await self._socket.aclose()
        await self._http.aclose()
