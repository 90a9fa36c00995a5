"""Kite Connect v3's REST API over the paper exchange.

Every call but the login ones and ``/instruments`` needs ``X-Kite-Version: 3`` and
``Authorization: token api_key:access_token``; bodies are form-encoded; answers are
``{"status": "success", "data": ...}`` or ``{"status": "error", "message", "error_type"}``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from tradewarden.brokers.base import ModifyRequest, OrderRequest
from tradewarden.brokers.errors import (
    BrokerError,
    InsufficientFundsError,
    OrderNotFoundError,
)
from tradewarden.brokers.kite.fake import wire
from tradewarden.brokers.kite.fake.auth import KiteUser, SessionError
from tradewarden.brokers.kite.fake.errors import TOO_MANY, UNAVAILABLE, KiteError, error, success
from tradewarden.brokers.kite.fake.state import KiteFakeState
from tradewarden.brokers.kite.fake.symbols import kite_time
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety

Handler = Callable[[Request, KiteUser], Awaitable[Response]]
_TAG = re.compile(r"^[A-Za-z0-9 ]{1,20}$")
_CONFLICTS = frozenset({"order_not_cancellable", "order_not_modifiable"})
VARIETIES = {"regular": Variety.REGULAR, "amo": Variety.AMO}


def _choice(form: FormData, name: str, allowed: dict[str, Any], default: str | None = None) -> Any:
    raw = str(form.get(name) or default or "").strip()
    if not raw:
        raise KiteError(f"Missing `{name}`.")
    if raw.upper() not in allowed:
        raise KiteError(f"Invalid `{name}`.")
    return allowed[raw.upper()]


def _decimal(form: FormData, name: str) -> Decimal | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise KiteError(f"Invalid `{name}`.") from exc
    if not value.is_finite() or value < 0:
        raise KiteError(f"Invalid `{name}`.")
    return value if value > 0 else None


def _quantity(form: FormData, *, required: bool) -> int | None:
    raw = str(form.get("quantity") or "").strip()
    if not raw:
        if required:
            raise KiteError("Missing `quantity`.")
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise KiteError("Invalid `quantity`.")
    return int(raw)


def _market_protection(form: FormData, order_type: OrderType) -> None:
    """MARKET and SL-M API orders must carry market protection (-1 automatic, or 0-100 %)."""
    raw = str(form.get("market_protection") or "").strip()
    if order_type not in (OrderType.MARKET, OrderType.SL_M):
        return
    try:
        value = Decimal(raw) if raw else Decimal(0)
    except InvalidOperation as exc:
        raise KiteError("Invalid `market_protection`.") from exc
    if value != -1 and not 0 < value <= 100:
        raise KiteError(
            "Market orders without market protection are not allowed via API. "
            "Set `market_protection` (-1 for automatic) or use a limit order."
        )


_ORDER_TYPES = {t.value: t for t in OrderType}
_SIDES = {s.value: s for s in Side}
_PRODUCTS = {p.value: p for p in Product}
_VALIDITIES = {"DAY": Validity.DAY, "IOC": Validity.IOC}


class KiteRest:
    """The REST endpoints."""

    def __init__(self, state: KiteFakeState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        a = self._authed
        return [
            Route("/session/token", self._plain(self.create_session), methods=["POST"]),
            Route("/session/token", self._plain(self.delete_session), methods=["DELETE"]),
            Route("/connect/login", self.login_page, methods=["GET"]),
            Route("/user/profile", a(self.profile), methods=["GET"]),
            Route("/user/margins", a(self.margins), methods=["GET"]),
            Route("/user/margins/{segment}", a(self.margins), methods=["GET"]),
            Route("/orders", a(self.orders), methods=["GET"]),
            Route("/orders/{variety}", a(self.place, "orders"), methods=["POST"]),
            Route("/orders/{variety}/{order_id}", a(self.modify, "orders"), methods=["PUT"]),
            Route("/orders/{variety}/{order_id}", a(self.cancel, "orders"), methods=["DELETE"]),
            Route("/orders/{order_id}", a(self.history), methods=["GET"]),
            Route("/orders/{order_id}/trades", a(self.order_trades), methods=["GET"]),
            Route("/trades", a(self.trades), methods=["GET"]),
            Route("/portfolio/positions", a(self.positions), methods=["GET"]),
            Route("/portfolio/holdings", a(self.holdings), methods=["GET"]),
            Route("/quote", a(self.quote, "quote"), methods=["GET"]),
            Route("/quote/ltp", a(self.ltp, "quote"), methods=["GET"]),
            Route("/quote/ohlc", a(self.ohlc, "quote"), methods=["GET"]),
            Route("/instruments", self._plain(self.instruments), methods=["GET"]),
            Route("/instruments/{exchange}", self._plain(self.instruments), methods=["GET"]),
        ]

    # ---- plumbing -------------------------------------------------------------------------

    def _plain(self, handler: Callable[[Request], Awaitable[Response]]) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                _check_version(request)
                return await handler(request)
            except KiteError as exc:
                return error(exc.message, exc.error_type, exc.status)
            except SessionError as exc:
                return error(exc.message, exc.error_type, exc.status)

        return endpoint

    def _authed(self, handler: Handler, group: str = "other") -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                _check_version(request)
                user = self.state.sessions.authenticate(request.headers.get("authorization"))
                if self.state.faults.take("rate_limit_burst") or not self.state.limiter.allow(
                    user.api_key, group
                ):
                    raise TOO_MANY
                return await handler(request, user)
            except (KiteError, SessionError) as exc:
                return error(exc.message, exc.error_type, exc.status)
            except OrderNotFoundError:
                return error("Couldn't find that `order_id`.", "InputException", 400)
            except InsufficientFundsError as exc:
                return error(exc.message, "MarginException", 400)
            except BrokerError as exc:
                if exc.code in _CONFLICTS:
                    return error(exc.message, "OrderException", 400)
                return error(exc.message, "InputException", 400)

        return endpoint

    async def _mutated(self, request: Request, data: dict[str, Any]) -> Response:
        """The answer to a place/modify/cancel that took effect, with faults applied."""
        faults = self.state.faults
        if faults.take("accept_then_503"):
            raise UNAVAILABLE
        if faults.take("accept_then_delay"):
            await _hold(request, faults.delay_s)
        return success(data)

    def _order_id(self, request: Request) -> str:
        paper = wire.paper_order_id(request.path_params["order_id"])
        if paper is None:
            raise OrderNotFoundError("no such order")
        return paper

    def _order_json(self, user: KiteUser, paper_id: str) -> dict[str, Any]:
        history = self.state.exchange.order_history(user.user_id, paper_id)
        return wire.order_json(history[-1], self.state.symbols, user.user_id, wire.facts(history))

    # ---- session ------------------------------------------------------------------------

    async def create_session(self, request: Request) -> Response:
        form = await request.form()
        fields = {
            k: str(form.get(k) or "").strip() for k in ("api_key", "request_token", "checksum")
        }
        for name, value in fields.items():
            if not value:
                raise KiteError(f"Missing `{name}`.")
        user = self.state.sessions.exchange(
            fields["api_key"], fields["request_token"], fields["checksum"]
        )
        data = wire.profile_json(user.user_id, user.user_name)
        data.update(
            {
                "api_key": user.api_key,
                "access_token": user.access_token,
                "public_token": "",
                "enctoken": "",
                "refresh_token": "",
                "silo": "",
                "login_time": kite_time(user.login_time),
            }
        )
        return success(data)

    async def delete_session(self, request: Request) -> Response:
        q = request.query_params
        self.state.sessions.logout(q.get("api_key", ""), q.get("access_token", ""))
        return success(True)

    async def login_page(self, request: Request) -> Response:
        """Stands for Kite's login: a "logged in" user is sent to the app's redirect URL with
        a fresh request token (or shown it when the app has none)."""
        api_key = request.query_params.get("api_key", "")
        try:
            user = self.state.sessions.user(api_key=api_key)
        except KeyError:
            return HTMLResponse("<p>Invalid api_key.</p>", 400)
        token = self.state.sessions.new_request_token(api_key)
        if user.redirect_url:
            sep = "&" if "?" in user.redirect_url else "?"
            extra = request.query_params.get("redirect_params", "")
            url = f"{user.redirect_url}{sep}action=login&type=login&status=success"
            url += f"&request_token={token}" + (f"&{extra}" if extra else "")
            return RedirectResponse(url, 302)
        return HTMLResponse(f"<p>Logged in as {user.user_id}. request_token: {token}</p>")

    # ---- account ------------------------------------------------------------------------

    async def profile(self, request: Request, user: KiteUser) -> Response:
        return success(wire.profile_json(user.user_id, user.user_name))

    async def margins(self, request: Request, user: KiteUser) -> Response:
        data = wire.margins_json(self.state.exchange.funds(user.user_id))
        segment = request.path_params.get("segment")
        if segment is None:
            return success(data)
        if segment not in data:
            raise KiteError("Invalid segment.")
        return success(data[segment])

    # ---- orders -------------------------------------------------------------------------

    async def place(self, request: Request, user: KiteUser) -> Response:
        variety = VARIETIES.get(request.path_params["variety"])
        if variety is None:
            raise KiteError("Invalid `variety`.")
        form = await request.form()
        exchange = str(form.get("exchange") or "").strip().upper()
        symbol = str(form.get("tradingsymbol") or "").strip().upper()
        if not exchange:
            raise KiteError("Missing `exchange`.")
        if not symbol:
            raise KiteError("Missing `tradingsymbol`.")
        row = self.state.symbols.by_symbol(exchange, symbol)
        if row is None:
            raise KiteError("Invalid `tradingsymbol`.")
        side = _choice(form, "transaction_type", _SIDES)
        order_type = _choice(form, "order_type", _ORDER_TYPES)
        product = _choice(form, "product", _PRODUCTS)
        validity = _choice(form, "validity", _VALIDITIES, "DAY")
        quantity = _quantity(form, required=True)
        assert quantity is not None
        tag = str(form.get("tag") or "").strip() or None
        if tag is not None and not _TAG.match(tag):
            raise KiteError("Invalid `tag`: at most 20 letters and digits.")
        _market_protection(form, order_type)
        price = _decimal(form, "price")
        trigger = _decimal(form, "trigger_price")
        order = OrderRequest(
            exchange=row.key.exchange,
            symbol=row.key.symbol,
            side=side,
            quantity=quantity,
            order_type=order_type,
            product=product,
            price=price if order_type in (OrderType.LIMIT, OrderType.SL) else None,
            trigger_price=trigger if order_type in (OrderType.SL, OrderType.SL_M) else None,
            variety=variety,
            validity=validity,
            tag=tag,
        )
        paper_id = self.state.exchange.place(
            user.user_id, order, hide_for_s=self.state.faults.order_book_lag_s
        )
        return await self._mutated(request, {"order_id": wire.kite_order_id(paper_id)})

    async def modify(self, request: Request, user: KiteUser) -> Response:
        paper_id = self._order_id(request)
        form = await request.form()
        order_type = _choice(form, "order_type", _ORDER_TYPES) if form.get("order_type") else None
        change = ModifyRequest(
            quantity=_quantity(form, required=False),
            price=_decimal(form, "price"),
            trigger_price=_decimal(form, "trigger_price"),
            order_type=order_type,
        )
        self.state.exchange.modify(user.user_id, paper_id, change)
        return await self._mutated(request, {"order_id": request.path_params["order_id"]})

    async def cancel(self, request: Request, user: KiteUser) -> Response:
        paper_id = self._order_id(request)
        self.state.exchange.cancel(user.user_id, paper_id)
        return await self._mutated(request, {"order_id": request.path_params["order_id"]})

    async def orders(self, request: Request, user: KiteUser) -> Response:
        book = self.state.exchange.order_book(user.user_id)
        return success([self._order_json(user, o.broker_order_id) for o in book])

    async def history(self, request: Request, user: KiteUser) -> Response:
        history = self.state.exchange.order_history(user.user_id, self._order_id(request))
        return success(wire.history_json(history, self.state.symbols, user.user_id))

    async def order_trades(self, request: Request, user: KiteUser) -> Response:
        paper_id = self._order_id(request)
        order = self.state.exchange.get_order(user.user_id, paper_id)
        placed = kite_time(order.placed_at)
        fills = [
            f for f in self.state.exchange.trade_book(user.user_id) if f.broker_order_id == paper_id
        ]
        return success([wire.trade_json(f, self.state.symbols, placed) for f in fills])

    async def trades(self, request: Request, user: KiteUser) -> Response:
        fills = self.state.exchange.trade_book(user.user_id)
        return success([wire.trade_json(f, self.state.symbols, None) for f in fills])

    async def positions(self, request: Request, user: KiteUser) -> Response:
        rows = [
            wire.position_json(p, self.state.symbols)
            for p in self.state.exchange.positions(user.user_id)
        ]
        return success({"net": rows, "day": rows})

    async def holdings(self, request: Request, user: KiteUser) -> Response:
        rows = self.state.exchange.holdings(user.user_id)
        return success([wire.holding_json(h, self.state.symbols) for h in rows])

    # ---- market data ----------------------------------------------------------------------

    def _prices(self, request: Request) -> list[tuple[str, Any, Decimal]]:
        """(requested name, Kite row, last price) for each ``i`` with a known price."""
        wanted = request.query_params.getlist("i")
        if not wanted:
            raise KiteError("No instruments specified.")
        symbols = self.state.symbols
        rows = [(name, symbols.lookup(name)) for name in wanted]
        known = {name: row for name, row in rows if row is not None}
        quotes = self.state.exchange.quotes({row.key for row in known.values()})
        return [
            (name, row, quotes[row.key].last_price)
            for name, row in known.items()
            if row.key in quotes
        ]

    async def ltp(self, request: Request, user: KiteUser) -> Response:
        data = {
            name: {"instrument_token": row.instrument_token, "last_price": float(price)}
            for name, row, price in self._prices(request)
        }
        return success(data)

    async def ohlc(self, request: Request, user: KiteUser) -> Response:
        data = {}
        for name, row, price in self._prices(request):
            bar = self.state.ohlc(row.key, price)
            data[name] = {
                "instrument_token": row.instrument_token,
                "last_price": float(price),
                "ohlc": _bar(bar),
            }
        return success(data)

    async def quote(self, request: Request, user: KiteUser) -> Response:
        data = {}
        quotes = self.state.exchange.quotes({row.key for _, row, _ in self._prices(request)})
        for name, row, price in self._prices(request):
            bar = self.state.ohlc(row.key, price)
            at = kite_time(quotes[row.key].timestamp)
            empty = [{"price": 0, "quantity": 0, "orders": 0} for _ in range(5)]
            data[name] = {
                "instrument_token": row.instrument_token,
                "timestamp": at,
                "last_trade_time": at,
                "last_price": float(price),
                "last_quantity": 0,
                "buy_quantity": 0,
                "sell_quantity": 0,
                "volume": 0,
                "average_price": float(price),
                "oi": 0,
                "oi_day_high": 0,
                "oi_day_low": 0,
                "net_change": float(price - bar.close),
                "lower_circuit_limit": 0,
                "upper_circuit_limit": 0,
                "ohlc": _bar(bar),
                "depth": {"buy": empty, "sell": [dict(e) for e in empty]},
            }
        return success(data)

    async def instruments(self, request: Request) -> Response:
        text = self.state.symbols.csv(request.path_params.get("exchange"))
        return PlainTextResponse(text, media_type="text/csv")


def _bar(bar: Any) -> dict[str, float]:
    return {
        "open": float(bar.open),
        "high": float(bar.high),
        "low": float(bar.low),
        "close": float(bar.close),
    }


def _check_version(request: Request) -> None:
    if request.headers.get("x-kite-version", "3").strip() != "3":
        raise KiteError("Invalid `X-Kite-Version` header: this API is version 3.")


async def _hold(request: Request, seconds: float) -> None:
    """Keep the request open ``seconds`` (or until the client gives up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)
