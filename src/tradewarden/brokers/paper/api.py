"""The broker-facing HTTP API of the standalone paper broker (what the HTTP adapter calls).

Routes (``{account}`` is the broker-side account id, URL-encoded)::

    POST   /api/accounts/{account}                         open: {"initial_cash"} used only
                                                           when the account is new
    POST   /api/accounts/{account}/orders                  place   -> {"broker_order_id"}
    GET    /api/accounts/{account}/orders                  order book -> {"orders": [...]}
    GET    /api/accounts/{account}/orders/{id}             -> {"order": {...}}
    PATCH  /api/accounts/{account}/orders/{id}             modify  -> {"broker_order_id"}
    DELETE /api/accounts/{account}/orders/{id}             cancel  -> {"broker_order_id"}
    GET    /api/accounts/{account}/orders/{id}/history     -> {"history": [...]}
    GET    /api/accounts/{account}/tags/{tag}/orders       -> {"orders": [...]}
    GET    /api/accounts/{account}/trades | positions | holdings | funds
    GET    /api/market                                     -> {"session", "now"}
    GET    /api/quotes?instruments=NSE:SBIN,NSE:INFY       last traded prices -> {"quotes":
                                                           [...]}; instruments without a
                                                           price are absent
    WS     /api/accounts/{account}/stream                  order updates {"type": "order", ...}
    WS     /api/ticks?instruments=NSE:SBIN,NSE:INFY        ticks; later send {"action":
                                                           "subscribe"|"unsubscribe",
                                                           "instruments": ["NSE:SBIN"]}

Streams first send ``{"type": "ready"}`` once the subscription is live.

Errors answer ``{"error": {"code", "message"}}``: 400 refused, 404 unknown order, 429 rate
limited (``Retry-After``), 503 server error; an injected timeout holds the request until the
client gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tradewarden.brokers.base import OrderUpdate, Tick
from tradewarden.brokers.errors import (
    BrokerDisconnectedError,
    BrokerError,
    BrokerServerError,
    BrokerTimeoutError,
    InsufficientFundsError,
    OrderNotFoundError,
    RateLimitedError,
    SessionExpiredError,
)
from tradewarden.brokers.paper import wire
from tradewarden.brokers.paper.service import PaperService
from tradewarden.brokers.paper.streams import Subscription
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.money import MoneyError, to_decimal

Handler = Callable[[Request], Awaitable[Response]]


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def read_json(request: Request) -> Any:
    """The request body as JSON; raises ``wire.WireError`` when it is not."""
    body = await request.body()
    try:
        return json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise wire.WireError("request body is not valid JSON") from exc


class BrokerApi:
    """Starlette endpoints over one :class:`PaperService`."""

    def __init__(self, service: PaperService) -> None:
        self.service = service

    def routes(self) -> list[BaseRoute]:
        base = "/api/accounts/{account}"
        g = self._guard
        return [
            Route(base, g(self.open_account), methods=["POST"]),
            Route(f"{base}/orders", g(self.place), methods=["POST"]),
            Route(f"{base}/orders", g(self.order_book), methods=["GET"]),
            Route(f"{base}/orders/{{order_id}}", g(self.get_order), methods=["GET"]),
            Route(f"{base}/orders/{{order_id}}", g(self.modify), methods=["PATCH"]),
            Route(f"{base}/orders/{{order_id}}", g(self.cancel), methods=["DELETE"]),
            Route(f"{base}/orders/{{order_id}}/history", g(self.history), methods=["GET"]),
            Route(f"{base}/tags/{{tag}}/orders", g(self.by_tag), methods=["GET"]),
            Route(f"{base}/trades", g(self.trades), methods=["GET"]),
            Route(f"{base}/positions", g(self.positions), methods=["GET"]),
            Route(f"{base}/holdings", g(self.holdings), methods=["GET"]),
            Route(f"{base}/funds", g(self.funds), methods=["GET"]),
            Route("/api/market", g(self.market), methods=["GET"]),
            Route("/api/quotes", g(self.quotes), methods=["GET"]),
            WebSocketRoute(f"{base}/stream", self.order_stream),
            WebSocketRoute("/api/ticks", self.tick_stream),
        ]

    def _guard(self, handler: Handler) -> Handler:
        """Turn broker errors into HTTP answers."""

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except wire.WireError as exc:
                return error_response(400, "bad_request", str(exc))
            except RateLimitedError as exc:
                return error_response(
                    429,
                    exc.code or "rate_limited",
                    exc.message,
                    {"Retry-After": f"{exc.retry_after:g}"},
                )
            except BrokerTimeoutError:
                await _hold_until_gone(request, self.service.exchange.faults.config.timeout_hang_s)
                return error_response(504, "timeout", "The broker did not answer in time")
            except BrokerServerError as exc:
                return error_response(exc.status_code, exc.code or "server_error", exc.message)
            except OrderNotFoundError as exc:
                return error_response(404, exc.code or "order_not_found", exc.message)
            except InsufficientFundsError as exc:
                return error_response(400, exc.code or "insufficient_funds", exc.message)
            except SessionExpiredError as exc:
                return error_response(401, exc.code or "session_expired", exc.message)
            except BrokerError as exc:
                return error_response(400, exc.code or "rejected", exc.message)

        return guarded

    async def open_account(self, request: Request) -> Response:
        body = await read_json(request)
        cash = body.get("initial_cash") if isinstance(body, dict) else None
        try:
            initial = None if cash is None else to_decimal(cash)
        except MoneyError as exc:
            raise wire.WireError(f"initial_cash: {exc}") from exc
        account = request.path_params["account"]
        created = await self.service.open_account(account, initial)
        return JSONResponse({"account": account, "created": created})

    async def place(self, request: Request) -> Response:
        order = wire.request_from_json(await read_json(request))
        order_id = await self.service.place(request.path_params["account"], order)
        return JSONResponse({"broker_order_id": order_id})

    async def modify(self, request: Request) -> Response:
        change = wire.modify_from_json(await read_json(request))
        order_id = request.path_params["order_id"]
        await self.service.modify(request.path_params["account"], order_id, change)
        return JSONResponse({"broker_order_id": order_id})

    async def cancel(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        await self.service.cancel(request.path_params["account"], order_id)
        return JSONResponse({"broker_order_id": order_id})

    async def order_book(self, request: Request) -> Response:
        orders = await self.service.order_book(request.path_params["account"])
        return JSONResponse({"orders": [wire.order_to_json(o) for o in orders]})

    async def get_order(self, request: Request) -> Response:
        p = request.path_params
        order = await self.service.get_order(p["account"], p["order_id"])
        return JSONResponse({"order": wire.order_to_json(order)})

    async def history(self, request: Request) -> Response:
        p = request.path_params
        history = await self.service.order_history(p["account"], p["order_id"])
        return JSONResponse({"history": [wire.order_to_json(o) for o in history]})

    async def by_tag(self, request: Request) -> Response:
        p = request.path_params
        orders = await self.service.find_by_tag(p["account"], p["tag"])
        return JSONResponse({"orders": [wire.order_to_json(o) for o in orders]})

    async def trades(self, request: Request) -> Response:
        fills = await self.service.trade_book(request.path_params["account"])
        return JSONResponse({"trades": [wire.fill_to_json(f) for f in fills]})

    async def positions(self, request: Request) -> Response:
        rows = await self.service.positions(request.path_params["account"])
        return JSONResponse({"positions": [wire.position_to_json(p) for p in rows]})

    async def holdings(self, request: Request) -> Response:
        rows = await self.service.holdings(request.path_params["account"])
        return JSONResponse({"holdings": [wire.holding_to_json(h) for h in rows]})

    async def funds(self, request: Request) -> Response:
        funds = await self.service.funds(request.path_params["account"])
        return JSONResponse({"funds": wire.funds_to_json(funds)})

    async def market(self, request: Request) -> Response:
        return JSONResponse(wire.session_to_json(await self.service.market_session()))

    async def quotes(self, request: Request) -> Response:
        try:
            wanted = _instruments(request.query_params.get("instruments"))
        except ValueError as exc:
            raise wire.WireError(f"instruments: {exc}") from exc
        found = await self.service.quotes(wanted)
        rows = [wire.quote_to_json(found[key]) for key in sorted(found, key=str)]
        return JSONResponse({"quotes": rows})

    async def order_stream(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            sub = self.service.open_order_stream(websocket.path_params["account"])
        except BrokerDisconnectedError as exc:
            await websocket.close(code=1011, reason=exc.message[:120])
            return
        await websocket.send_json({"type": "ready"})
        await _pump(websocket, sub, _order_message, _wait_closed(websocket))

    async def tick_stream(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            wanted = _instruments(websocket.query_params.get("instruments"))
            sub = self.service.open_tick_stream(wanted)
        except BrokerDisconnectedError as exc:
            await websocket.close(code=1011, reason=exc.message[:120])
            return
        except ValueError as exc:
            await websocket.close(code=1008, reason=str(exc)[:120])
            return
        await websocket.send_json({"type": "ready"})
        await _pump(websocket, sub, _tick_message, _read_subscriptions(websocket, sub))


def _instruments(text: str | None) -> frozenset[InstrumentKey]:
    """``NSE:SBIN,NSE:INFY`` -> keys (the initial tick subscription)."""
    return frozenset(InstrumentKey.parse(k) for k in (text or "").split(",") if k.strip())


def _order_message(update: OrderUpdate) -> dict[str, Any]:
    return {"type": "order", "data": wire.update_to_json(update)}


def _tick_message(tick: Tick) -> dict[str, Any]:
    return {"type": "tick", "data": wire.tick_to_json(tick)}


async def _pump(
    websocket: WebSocket,
    sub: Subscription[Any],
    encode: Callable[[Any], dict[str, Any]],
    reader: Awaitable[None],
) -> None:
    """Forward a subscription to the socket until either side ends.

    ``reader`` consumes what the client sends and returns when it disconnects.
    """
    client_gone = asyncio.ensure_future(reader)
    try:
        while True:
            nxt = asyncio.ensure_future(sub.__anext__())
            done, _ = await asyncio.wait({nxt, client_gone}, return_when=asyncio.FIRST_COMPLETED)
            if nxt not in done:
                nxt.cancel()
                return
            try:
                item = nxt.result()
            except StopAsyncIteration:
                await websocket.close(code=1000)
                return
            await websocket.send_json(encode(item))
    except BrokerDisconnectedError as exc:
        with contextlib.suppress(Exception):
            await websocket.close(code=1011, reason=exc.message[:120])
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        client_gone.cancel()
        with contextlib.suppress(BaseException):
            await client_gone
        await sub.aclose()


async def _wait_closed(websocket: WebSocket) -> None:
    """Return when the client disconnects (an order-stream client sends nothing)."""
    with contextlib.suppress(Exception):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _read_subscriptions(websocket: WebSocket, sub: Subscription[Tick]) -> None:
    """Apply ``{"action": "subscribe"|"unsubscribe", "instruments": [...]}`` messages until the
    client disconnects; malformed messages are ignored."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            data = json.loads(message.get("text") or "")
            action = data.get("action")
            keys = frozenset(InstrumentKey.parse(k) for k in data.get("instruments", []))
        except (ValueError, AttributeError, TypeError):
            continue
        if action == "subscribe":
            sub.instruments = sub.instruments | keys
        elif action == "unsubscribe":
            sub.instruments = sub.instruments - keys


async def _hold_until_gone(request: Request, limit_s: float) -> None:
    """An injected timeout: keep the request open until the client gives up (or ``limit_s``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)
