"""Kite's websocket at ``/?api_key=…&access_token=…``: binary ticks, JSON order updates and a
one-byte heartbeat every second the socket is otherwise idle.

Client messages: ``{"a": "subscribe", "v": [tokens]}`` (mode ``quote``),
``{"a": "unsubscribe", "v": [tokens]}``, ``{"a": "mode", "v": ["ltp"|"quote"|"full", [tokens]]}``.
A subscribed instrument with a price gets a tick at once. A bad token refuses the handshake
(HTTP 403). A stalled socket (control) sends nothing, not even heartbeats, and stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from tradewarden.brokers.base import OrderUpdate, Tick
from tradewarden.brokers.errors import BrokerError
from tradewarden.brokers.kite.fake import ticks, wire
from tradewarden.brokers.kite.fake.auth import KiteUser, SessionError
from tradewarden.brokers.kite.fake.state import KiteFakeState
from tradewarden.brokers.kite.fake.symbols import KiteInstrument
from tradewarden.brokers.paper.streams import Subscription

HEARTBEAT_S = 1.0


class KiteStream:
    def __init__(self, state: KiteFakeState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [WebSocketRoute("/", self.serve)]

    async def serve(self, websocket: WebSocket) -> None:
        q = websocket.query_params
        try:
            user = self.state.sessions.check(q.get("api_key", ""), q.get("access_token", ""))
        except SessionError:
            await websocket.close(code=1008)  # before accept: the handshake answers 403
            return
        await websocket.accept()
        await _Connection(self.state, websocket, user).run()


class _Connection:
    def __init__(self, state: KiteFakeState, websocket: WebSocket, user: KiteUser) -> None:
        self.state = state
        self.ws = websocket
        self.user = user
        self.modes: dict[int, str] = {}
        self.out: asyncio.Queue[bytes | str] = asyncio.Queue()
        self.orders: Subscription[OrderUpdate] = state.exchange.streams.open_orders(user.user_id)
        self.ticks: Subscription[Tick] = state.exchange.streams.open_ticks(frozenset())

    async def run(self) -> None:
        tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._pump_orders()),
            asyncio.ensure_future(self._pump_ticks()),
            asyncio.ensure_future(self._write()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            await self.orders.aclose()
            await self.ticks.aclose()
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _write(self) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self.out.get(), HEARTBEAT_S)
            except TimeoutError:
                item = ticks.HEARTBEAT
            if self.state.is_stalled(self.user.user_id):
                continue
            if isinstance(item, bytes):
                await self.ws.send_bytes(item)
            else:
                await self.ws.send_text(item)

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
                self._handle(json.loads(text))

    def _handle(self, data: dict[str, Any]) -> None:
        action, value = data["a"], data["v"]
        if action == "subscribe":
            fresh = [int(t) for t in value if int(t) not in self.modes]
            for token in value:
                self.modes.setdefault(int(token), "quote")
            self._resubscribe()
            self._snapshot(fresh)
        elif action == "unsubscribe":
            for token in value:
                self.modes.pop(int(token), None)
            self._resubscribe()
        elif action == "mode":
            mode, tokens = value[0], value[1]
            if mode in ticks.MODES:
                for token in tokens:
                    self.modes[int(token)] = mode
                self._resubscribe()
                self._snapshot([int(t) for t in tokens])

    def _rows(self, tokens: list[int]) -> list[KiteInstrument]:
        symbols = self.state.symbols
        return [row for row in (symbols.by_token(t) for t in tokens) if row is not None]

    def _resubscribe(self) -> None:
        self.ticks.instruments = frozenset(row.key for row in self._rows(list(self.modes)))

    def _snapshot(self, tokens: list[int]) -> None:
        rows = self._rows(tokens)
        quotes = self.state.exchange.quotes({row.key for row in rows})
        packets = []
        for row in rows:
            quote = quotes.get(row.key)
            if quote is not None:
                packets.append(self._packet(row, quote.last_price, None, quote.timestamp))
        if packets:
            self.out.put_nowait(ticks.message(packets))

    def _packet(self, row: KiteInstrument, price: Any, volume: int | None, at: Any) -> bytes:
        bar = self.state.ohlc(row.key, price)
        data = ticks.TickData(
            token=row.instrument_token,
            divisor=row.divisor,
            last_price=price,
            last_quantity=0,
            volume=volume or 0,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            at=at,
        )
        return ticks.packet(data, self.modes.get(row.instrument_token, "quote"))

    async def _pump_ticks(self) -> None:
        async for tick in self.ticks:
            row = self.state.symbols.by_key(tick.key)
            if row is None or row.instrument_token not in self.modes:
                continue
            packet = self._packet(row, tick.last_price, tick.volume, tick.timestamp)
            self.out.put_nowait(ticks.message([packet]))

    async def _pump_orders(self) -> None:
        async for update in self.orders:
            order = update.order
            try:
                history = self.state.exchange.order_history(
                    self.user.user_id, order.broker_order_id
                )
            except BrokerError:
                history = []
            data = wire.postback_json(
                order,
                self.state.symbols,
                self.user.user_id,
                self.user.api_secret,
                self.user.app_id,
                wire.facts(history, upto=order.updated_at),
            )
            self.out.put_nowait(json.dumps({"type": "order", "id": "", "data": data}))
