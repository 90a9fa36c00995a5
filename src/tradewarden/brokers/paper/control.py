"""The control API of the paper broker (BRIEF §5) — used by tests, the demo and chaos runs.

Control calls act on the simulator directly: no fault injection, no visibility lag. Bad input
answers 4xx with ``{"error": {"code", "message"}}``; numbers in answers are JSON numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tradewarden.brokers.base import (
    BrokerOrder,
    Funds,
    Holding,
    MarketSession,
    ModifyRequest,
    OrderRequest,
    Position,
    SessionName,
)
from tradewarden.brokers.errors import BrokerError, OrderNotFoundError
from tradewarden.brokers.paper.api import error_response, read_json
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.faults import FaultConfig
from tradewarden.brokers.paper.wire import WireError
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.money import MoneyError, to_decimal
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety

log = logging.getLogger(__name__)
_CONFLICTS = frozenset({"order_not_cancellable", "order_not_modifiable", "insufficient_funds"})
E = TypeVar("E", bound=StrEnum)
Handler = Callable[[Request], Awaitable[Response]]


class BadInput(ValueError):
    """Control input that cannot be used; answered with 400 (or ``status``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def control_order(account: str, o: BrokerOrder) -> dict[str, Any]:
    """An order in the exact shape of ``GET /control/orders``."""
    return {
        "broker_order_id": o.broker_order_id,
        "account": account,
        "exchange": o.exchange,
        "symbol": o.symbol,
        "side": o.side.value,
        "quantity": o.quantity,
        "filled_quantity": o.filled_quantity,
        "average_price": _num(o.average_price),
        "price": _num(o.price),
        "trigger_price": _num(o.trigger_price),
        "order_type": o.order_type.value,
        "product": o.product.value,
        "variety": o.variety.value,
        "status": o.raw_status,
        "tag": o.tag,
    }


def control_holding(account: str, h: Holding) -> dict[str, Any]:
    return {
        "account": account,
        "exchange": h.exchange,
        "symbol": h.symbol,
        "quantity": h.quantity,
        "used_quantity": h.used_quantity,
        "average_price": _num(h.average_price),
        "last_price": _num(h.last_price),
    }


def control_position(account: str, p: Position) -> dict[str, Any]:
    return {
        "account": account,
        "exchange": p.exchange,
        "symbol": p.symbol,
        "product": p.product.value,
        "quantity": p.quantity,
        "buy_quantity": p.buy_quantity,
        "sell_quantity": p.sell_quantity,
        "buy_average": _num(p.buy_average),
        "sell_average": _num(p.sell_average),
        "average_price": _num(p.average_price),
        "last_price": _num(p.last_price),
        "realised_pnl": _num(p.realised_pnl),
        "unrealised_pnl": _num(p.unrealised_pnl),
    }


def control_funds(account: str, f: Funds) -> dict[str, Any]:
    return {
        "account": account,
        "cash": _num(f.cash),
        "available": _num(f.available),
        "used_margin": _num(f.used_margin),
        "realised_pnl": _num(f.realised_pnl),
        "unrealised_pnl": _num(f.unrealised_pnl),
    }


def control_session(exchange: PaperExchange, s: MarketSession) -> dict[str, Any]:
    return {
        "session": s.session.value,
        "now": s.now.isoformat(),
        "mode": exchange.clock.mode.value,
        "pinned": exchange.clock.pinned is not None,
    }


# ---- input readers ----------------------------------------------------------------------


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise BadInput("request body must be a JSON object")
    return data


def _text(d: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{key!r} is required and must be a non-empty string")
    return value.strip()


def _decimal(
    d: Mapping[str, Any], key: str, *, required: bool = False, positive: bool = True
) -> Decimal | None:
    value = d.get(key)
    if value is None:
        if required:
            raise BadInput(f"{key!r} is required")
        return None
    try:
        number = to_decimal(value)
    except MoneyError as exc:
        raise BadInput(f"{key!r}: {exc}") from exc
    if positive and number <= 0:
        raise BadInput(f"{key!r} must be positive")
    if number < 0:
        raise BadInput(f"{key!r} must not be negative")
    return number


def _order_price(d: Mapping[str, Any], key: str) -> Decimal | None:
    """An order's price or trigger price. ``0`` is taken, as brokers and OpenAlgo clients send
    it for a field the order type does not use: the exchange ignores it there and refuses it
    where the type needs a positive one."""
    return _decimal(d, key, positive=False)


def _integer(
    d: Mapping[str, Any], key: str, *, required: bool = False, minimum: int = 1
) -> int | None:
    value = d.get(key)
    if value is None:
        if required:
            raise BadInput(f"{key!r} is required")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadInput(f"{key!r} must be an integer >= {minimum}")
    return value


def _choice(cls: type[E], d: Mapping[str, Any], key: str, default: E | None = None) -> E:
    value = d.get(key)
    if value is None:
        if default is None:
            raise BadInput(f"{key!r} is required")
        return default
    if isinstance(value, str):
        for member in cls:
            if member.value.upper() == value.strip().upper():
                return member
    allowed = ", ".join(m.value for m in cls)
    raise BadInput(f"{key!r} must be one of {allowed}")


def _key(d: Mapping[str, Any]) -> InstrumentKey:
    return InstrumentKey.of(_text(d, "exchange", "NSE"), _text(d, "symbol"))


# ---- endpoints --------------------------------------------------------------------------


class ControlApi:
    """Starlette endpoints for ``/control/*`` over one :class:`PaperExchange`."""

    def __init__(self, exchange: PaperExchange) -> None:
        self.exchange = exchange

    def routes(self) -> list[BaseRoute]:
        g = self._guard
        return [
            Route("/control/clock", g(self.get_clock), methods=["GET"]),
            Route("/control/clock", g(self.clock), methods=["POST"]),
            Route("/control/prices", g(self.prices), methods=["POST"]),
            Route("/control/accounts", g(self.accounts), methods=["POST"]),
            Route("/control/manual/orders", g(self.manual_order), methods=["POST"]),
            Route("/control/manual/cancel", g(self.manual_cancel), methods=["POST"]),
            Route("/control/manual/modify", g(self.manual_modify), methods=["POST"]),
            Route("/control/manual/holdings", g(self.manual_holdings), methods=["POST"]),
            Route("/control/faults", g(self.get_faults), methods=["GET"]),
            Route("/control/faults", g(self.faults), methods=["POST"]),
            Route("/control/orders", g(self.orders), methods=["GET"]),
            Route("/control/holdings", g(self.holdings), methods=["GET"]),
            Route("/control/positions", g(self.positions), methods=["GET"]),
            Route("/control/funds", g(self.funds), methods=["GET"]),
            Route("/control/reset", g(self.reset), methods=["POST"]),
        ]

    @staticmethod
    def _guard(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except BadInput as exc:
                return error_response(exc.status, "bad_request", str(exc))
            except OrderNotFoundError as exc:
                return error_response(404, "order_not_found", exc.message)
            except BrokerError as exc:  # refused: a state conflict (409) or bad values (400)
                status = 409 if exc.code in _CONFLICTS else 400
                return error_response(status, exc.code or "refused", exc.message)
            except (WireError, ValueError, MoneyError) as exc:
                return error_response(400, "bad_request", str(exc))
            except Exception as exc:  # bad input must never look like a server failure
                log.exception("control request failed: %s %s", request.method, request.url.path)
                return error_response(400, "bad_request", f"could not process request: {exc}")

        return guarded

    async def _body(self, request: Request) -> Mapping[str, Any]:
        return _object(await read_json(request))

    def _accounts(self, request: Request) -> list[str]:
        account = request.query_params.get("account")
        return [account] if account else self.exchange.account_names()

    async def get_clock(self, request: Request) -> Response:
        return JSONResponse(control_session(self.exchange, self.exchange.market_session()))

    async def clock(self, request: Request) -> Response:
        body = await self._body(request)
        if "session" not in body and "now" not in body:
            raise BadInput("give 'session' (pre_open, open, closed, auto) and/or 'now'")
        session: SessionName | None = None
        follow_calendar = body.get("session") == "auto"
        if "session" in body and not follow_calendar:
            session = _choice(SessionName, body, "session")
        if "now" in body:
            text = _text(body, "now")
            try:
                when = datetime.fromisoformat(text)
            except ValueError as exc:
                raise BadInput("'now' must be an ISO 8601 timestamp") from exc
            if when.tzinfo is None:
                raise BadInput("'now' must include a UTC offset, e.g. 2026-11-23T09:15:00+05:30")
            state = self.exchange.set_now(when, session)
        else:
            state = self.exchange.set_session(session)
        return JSONResponse(control_session(self.exchange, state))

    async def prices(self, request: Request) -> Response:
        body = await self._body(request)
        raw = body.get("prices")
        if not isinstance(raw, Mapping) or not raw:
            raise BadInput("'prices' must be an object like {\"NSE:RELIANCE\": 2501.35}")
        prices: dict[InstrumentKey, Decimal] = {}
        for text, value in raw.items():
            key = InstrumentKey.parse(text)
            price = _decimal({"price": value}, "price", required=True)
            assert price is not None
            prices[key] = price
        volume: int | dict[InstrumentKey, int] | None = None
        raw_volume = body.get("volume")
        if isinstance(raw_volume, Mapping):
            volume = {}
            for text, value in raw_volume.items():
                amount = _integer({"volume": value}, "volume", required=True, minimum=0)
                assert amount is not None
                volume[InstrumentKey.parse(text)] = amount
        else:
            volume = _integer(body, "volume", minimum=0)
        self.exchange.set_prices(prices, volume)
        return JSONResponse({"prices": {str(k): float(v) for k, v in prices.items()}})

    async def accounts(self, request: Request) -> Response:
        body = await self._body(request)
        account = _text(body, "account")
        cash = _decimal(body, "cash", required=True, positive=False)
        assert cash is not None
        return JSONResponse(control_funds(account, self.exchange.set_cash(account, cash)))

    async def manual_order(self, request: Request) -> Response:
        body = await self._body(request)
        account = _text(body, "account")
        closed = self.exchange.market_session().session is SessionName.CLOSED
        order_type = _choice(OrderType, body, "order_type", OrderType.MARKET)
        order = OrderRequest(
            exchange=_key(body).exchange,
            symbol=_key(body).symbol,
            side=_choice(Side, body, "side"),
            quantity=_integer(body, "quantity", required=True) or 0,
            order_type=order_type,
            product=_choice(Product, body, "product", Product.CNC),
            price=_order_price(body, "price"),
            trigger_price=_order_price(body, "trigger_price"),
            variety=_choice(Variety, body, "variety", Variety.AMO if closed else Variety.REGULAR),
            validity=_choice(Validity, body, "validity", Validity.DAY),
            tag=None,
        )
        order_id = self.exchange.place(account, order)
        return JSONResponse({"broker_order_id": order_id})

    async def manual_cancel(self, request: Request) -> Response:
        body = await self._body(request)
        order_id = _text(body, "broker_order_id")
        self.exchange.cancel(None, order_id)
        return JSONResponse({"broker_order_id": order_id, "status": self._status(order_id)})

    async def manual_modify(self, request: Request) -> Response:
        body = await self._body(request)
        order_id = _text(body, "broker_order_id")
        change = ModifyRequest(
            quantity=_integer(body, "quantity"),
            price=_order_price(body, "price"),
            trigger_price=_order_price(body, "trigger_price"),
            order_type=_choice(OrderType, body, "order_type") if body.get("order_type") else None,
        )
        if change == ModifyRequest():
            raise BadInput("give at least one of price, quantity, trigger_price, order_type")
        self.exchange.modify(None, order_id, change)
        return JSONResponse({"broker_order_id": order_id, "status": self._status(order_id)})

    def _status(self, order_id: str) -> str:
        return self.exchange.get_order(None, order_id).raw_status

    async def manual_holdings(self, request: Request) -> Response:
        body = await self._body(request)
        account = _text(body, "account")
        key = _key(body)
        quantity = _integer(body, "quantity", required=True, minimum=0)
        assert quantity is not None
        self.exchange.set_holding(account, key, quantity, _decimal(body, "average_price"))
        return JSONResponse(
            {
                "account": account,
                "exchange": key.exchange,
                "symbol": key.symbol,
                "quantity": quantity,
            }
        )

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse({"faults": self.exchange.faults.config.to_json()})

    async def faults(self, request: Request) -> Response:
        config = FaultConfig.parse(await self._body(request))
        self.exchange.configure_faults(config)
        return JSONResponse({"faults": config.to_json()})

    async def orders(self, request: Request) -> Response:
        account = request.query_params.get("account") or None
        rows = self.exchange.all_orders(account)
        return JSONResponse({"orders": [control_order(a, o) for a, o in rows]})

    async def holdings(self, request: Request) -> Response:
        rows = [
            control_holding(a, h)
            for a in self._accounts(request)
            for h in self.exchange.holdings(a)
        ]
        return JSONResponse({"holdings": rows})

    async def positions(self, request: Request) -> Response:
        rows = [
            control_position(a, p)
            for a in self._accounts(request)
            for p in self.exchange.positions(a)
        ]
        return JSONResponse({"positions": rows})

    async def funds(self, request: Request) -> Response:
        rows = [control_funds(a, self.exchange.funds(a)) for a in self._accounts(request)]
        return JSONResponse({"funds": rows})

    async def reset(self, request: Request) -> Response:
        self.exchange.reset()
        return JSONResponse({"status": "ok"})
