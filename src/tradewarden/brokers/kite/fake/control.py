"""The Kite fake's control surface for tests and demos, under ``/_fake/`` (JSON in and out).

::

    POST /_fake/users            {"user_id", "api_key"?, "api_secret"?, "cash"?, "redirect_url"?}
                                 -> the user's credentials and a request token
    POST /_fake/login            {"user_id" | "api_key"} -> {"request_token"}
    POST /_fake/sessions/expire  {"user_id" | "api_key"}: the next call answers 403
    POST /_fake/prices           {"prices": {"NSE:INFY": 1500.5}, "volume"?: n}
    POST /_fake/clock            {"session": "open"|"pre_open"|"closed"|"auto"}
    GET|POST /_fake/faults       {"rate_limit_burst", "accept_then_503", "accept_then_delay",
                                  "delay_s", "order_book_lag_s"} (replaces the active faults)
    POST /_fake/limits           {"enforce": true|false}: Kite's per-second limits
    POST /_fake/stream/stall     {"user_id"?, "stalled": true|false}
    POST /_fake/manual/cancel    {"order_id"}: cancelled "at the Kite app"
    POST /_fake/manual/modify    {"order_id", "price"?, "quantity"?, "trigger_price"?}
    POST /_fake/manual/orders    {"user_id", "exchange", "tradingsymbol", "transaction_type",
                                  "quantity", "order_type"?, "product"?, "price"?} (no tag)
    GET  /_fake/orders?user_id=  every order the fake holds, in Kite's shape
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tradewarden.brokers.base import ModifyRequest, OrderRequest, SessionName
from tradewarden.brokers.errors import BrokerError
from tradewarden.brokers.kite.fake import wire
from tradewarden.brokers.kite.fake.auth import KiteUser
from tradewarden.brokers.kite.fake.state import KiteFakeState, KiteFaults
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side, Variety

Handler = Callable[[Request], Awaitable[Response]]


class BadInput(ValueError):
    pass


def _dec(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise BadInput(f"{name} must be a number") from exc
    if not number.is_finite():
        raise BadInput(f"{name} must be a number")
    return number


class KiteControl:
    def __init__(self, state: KiteFakeState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        g = self._guard
        p = "/_fake"
        return [
            Route(f"{p}/users", g(self.users), methods=["POST"]),
            Route(f"{p}/login", g(self.login), methods=["POST"]),
            Route(f"{p}/sessions/expire", g(self.expire), methods=["POST"]),
            Route(f"{p}/prices", g(self.prices), methods=["POST"]),
            Route(f"{p}/clock", g(self.clock), methods=["POST"]),
            Route(f"{p}/faults", g(self.get_faults), methods=["GET"]),
            Route(f"{p}/faults", g(self.faults), methods=["POST"]),
            Route(f"{p}/limits", g(self.limits), methods=["POST"]),
            Route(f"{p}/stream/stall", g(self.stall), methods=["POST"]),
            Route(f"{p}/manual/cancel", g(self.manual_cancel), methods=["POST"]),
            Route(f"{p}/manual/modify", g(self.manual_modify), methods=["POST"]),
            Route(f"{p}/manual/orders", g(self.manual_order), methods=["POST"]),
            Route(f"{p}/orders", g(self.orders), methods=["GET"]),
        ]

    @staticmethod
    def _guard(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except (BadInput, KeyError, ValueError, BrokerError) as exc:
                text = exc.message if isinstance(exc, BrokerError) else str(exc)
                return JSONResponse({"error": text}, 400)

        return guarded

    async def _body(self, request: Request) -> Mapping[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise BadInput("body must be JSON") from exc
        if not isinstance(body, Mapping):
            raise BadInput("body must be a JSON object")
        return body

    def _user(self, body: Mapping[str, Any]) -> KiteUser:
        return self.state.sessions.user(api_key=body.get("api_key"), user_id=body.get("user_id"))

    def _paper_id(self, body: Mapping[str, Any]) -> str:
        paper = wire.paper_order_id(str(body.get("order_id", "")))
        if paper is None:
            raise BadInput("order_id is not an order of this fake")
        return paper

    async def users(self, request: Request) -> Response:
        body = await self._body(request)
        user_id = str(body.get("user_id") or "").strip()
        if not user_id:
            raise BadInput("user_id is required")
        user = add_user(
            self.state,
            user_id,
            api_key=body.get("api_key"),
            api_secret=body.get("api_secret"),
            cash=_dec(body["cash"], "cash") if "cash" in body else None,
        )
        if body.get("redirect_url"):
            user.redirect_url = str(body["redirect_url"])
        return JSONResponse(
            {
                "user_id": user.user_id,
                "api_key": user.api_key,
                "api_secret": user.api_secret,
                "request_token": self.state.sessions.new_request_token(user.api_key),
            }
        )

    async def login(self, request: Request) -> Response:
        user = self._user(await self._body(request))
        token = self.state.sessions.new_request_token(user.api_key)
        return JSONResponse({"request_token": token})

    async def expire(self, request: Request) -> Response:
        user = self._user(await self._body(request))
        self.state.sessions.expire(user)
        return JSONResponse({"user_id": user.user_id, "expired": True})

    async def prices(self, request: Request) -> Response:
        body = await self._body(request)
        raw = body.get("prices")
        if not isinstance(raw, Mapping) or not raw:
            raise BadInput('prices must be an object like {"NSE:INFY": 1500.5}')
        prices: dict[InstrumentKey, Decimal] = {}
        for name, value in raw.items():
            row = self.state.symbols.lookup(str(name))
            key = row.key if row is not None else InstrumentKey.parse(str(name))
            prices[key] = _dec(value, str(name))
        volume = body.get("volume")
        self.state.exchange.set_prices(prices, int(volume) if volume is not None else None)
        return JSONResponse({"prices": {str(k): float(v) for k, v in prices.items()}})

    async def clock(self, request: Request) -> Response:
        text = str((await self._body(request)).get("session", ""))
        session = None if text == "auto" else SessionName(text)
        state = self.state.exchange.set_session(session)
        return JSONResponse({"session": state.session.value, "now": state.now.isoformat()})

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(asdict(self.state.faults))

    async def faults(self, request: Request) -> Response:
        body = await self._body(request)
        known = {f.name: f.type for f in fields(KiteFaults)}
        unknown = sorted(set(body) - set(known))
        if unknown:
            raise BadInput(f"unknown fault(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in body.items():
            number = _dec(value, name)
            if number < 0:
                raise BadInput(f"{name} must not be negative")
            values[name] = float(number) if name.endswith("_s") else int(number)
        self.state.faults = KiteFaults(**values)
        return JSONResponse(asdict(self.state.faults))

    async def limits(self, request: Request) -> Response:
        self.state.limiter.enforce = bool((await self._body(request)).get("enforce", True))
        return JSONResponse({"enforce": self.state.limiter.enforce})

    async def stall(self, request: Request) -> Response:
        body = await self._body(request)
        stalled = bool(body.get("stalled", True))
        if body.get("user_id") or body.get("api_key"):
            user_id = self._user(body).user_id
            if stalled:
                self.state.stalled.add(user_id)
            else:
                self.state.stalled.discard(user_id)
        else:
            self.state.stall_all = stalled
            if not stalled:
                self.state.stalled.clear()
        return JSONResponse({"stalled": stalled})

    async def manual_cancel(self, request: Request) -> Response:
        body = await self._body(request)
        self.state.exchange.cancel(None, self._paper_id(body))
        return JSONResponse({"order_id": body["order_id"]})

    async def manual_modify(self, request: Request) -> Response:
        body = await self._body(request)
        change = ModifyRequest(
            quantity=int(body["quantity"]) if "quantity" in body else None,
            price=_dec(body["price"], "price") if "price" in body else None,
            trigger_price=(
                _dec(body["trigger_price"], "trigger_price") if "trigger_price" in body else None
            ),
        )
        self.state.exchange.modify(None, self._paper_id(body), change)
        return JSONResponse({"order_id": body["order_id"]})

    async def manual_order(self, request: Request) -> Response:
        body = await self._body(request)
        user = self._user(body)
        row = self.state.symbols.by_symbol(str(body["exchange"]), str(body["tradingsymbol"]))
        if row is None:
            raise BadInput("unknown tradingsymbol")
        order_type = OrderType(str(body.get("order_type", "MARKET")))
        closed = self.state.exchange.market_session().session is SessionName.CLOSED
        order = OrderRequest(
            exchange=row.key.exchange,
            symbol=row.key.symbol,
            side=Side(str(body["transaction_type"])),
            quantity=int(body["quantity"]),
            order_type=order_type,
            product=Product(str(body.get("product", "CNC"))),
            price=_dec(body["price"], "price") if body.get("price") else None,
            variety=Variety.AMO if closed else Variety.REGULAR,
        )
        paper_id = self.state.exchange.place(user.user_id, order)
        return JSONResponse({"order_id": wire.kite_order_id(paper_id)})

    async def orders(self, request: Request) -> Response:
        wanted = request.query_params.get("user_id")
        rows = []
        for account, order in self.state.exchange.all_orders(wanted or None):
            rows.append(wire.order_json(order, self.state.symbols, account))
        return JSONResponse({"orders": rows})


def add_user(
    state: KiteFakeState,
    user_id: str,
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    cash: Decimal | None = None,
) -> KiteUser:
    """Register a Kite user and open its paper account (``cash`` only for a new account)."""
    user = state.sessions.add_user(user_id, api_key, api_secret)
    state.exchange.ensure_account(user.user_id, cash)
    return user
