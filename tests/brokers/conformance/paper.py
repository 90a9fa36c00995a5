"""Paper venues: the HTTP adapter against a real ``paper-broker serve`` process, and the
in-process adapter. Both drive the same simulator rules; control differs (HTTP control API vs.
direct calls on the in-process exchange)."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal
from functools import cache
from itertools import count
from typing import Any

import httpx

from tests.brokers.conformance.venue import Capability, Fault, Instruments, Rejection
from tradewarden.brokers.base import BrokerAdapter, ModifyRequest, OrderRequest, SessionName
from tradewarden.brokers.paper import LocalPaperBroker, RemotePaperBroker
from tradewarden.brokers.paper.faults import FaultConfig
from tradewarden.clock import ist_today
from tradewarden.domain.contracts import future_symbol, monthly_expiries
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side

ACCOUNT = "conformance-1"

#: Paper has no login session, so it cannot expire one: the session-expiry tests exclude it.
PAPER_CAPABILITIES = frozenset(Capability) - {Capability.SESSION_EXPIRY}

PAPER_INSTRUMENTS = Instruments(
    equity=InstrumentKey("NSE", "RELIANCE"),
    equity_price=Decimal("2500"),
    future=InstrumentKey("NFO", future_symbol("NIFTY", monthly_expiries(ist_today(), 1)[0])),
    future_price=Decimal("26000"),
    future_lot=65,
)


@cache
def accepting_seed() -> int:
    """A fault seed whose first mutating call takes effect before it fails.

    With one fault probability at 1.0 the injector draws twice per mutating call: the fault,
    then the coin "did it take effect first" (< 0.5 means yes)."""
    for seed in count():
        rng = random.Random(seed)
        rng.random()
        if rng.random() < 0.5:
            return seed
    raise AssertionError("unreachable")


def fault_body(fault: Fault) -> dict[str, Any]:
    if fault is Fault.RATE_LIMIT:
        return {"rate_limit": 1.0, "retry_after_s": 0.25}
    if fault is Fault.ACCEPT_THEN_5XX:
        return {"error_5xx": 1.0, "seed": accepting_seed()}
    return {"timeout": 1.0, "seed": accepting_seed(), "timeout_hang_s": 5.0}


def paper_rejection(instruments: Instruments) -> Rejection:
    key = instruments.equity
    request = OrderRequest(
        key.exchange, key.symbol, Side.BUY, 1, OrderType.LIMIT, Product.CNC,
        price=Decimal("2500.03"), tag="TWREJECT0000000001",
    )
    reason = (
        f"Tick size for {key} is 0.05: price 2500.03 is not a multiple of the tick size"
    )
    return Rejection(request, reason)


class PaperHttpVenue:
    """``RemotePaperAdapter`` against a standalone paper broker, controlled over HTTP."""

    name = "paper-http"
    capabilities = PAPER_CAPABILITIES
    instruments = PAPER_INSTRUMENTS

    def __init__(self, url: str) -> None:
        #: Short timeout: an injected hang ends the call fast.
        self.broker = RemotePaperBroker(url, timeout_s=1.0)
        self.control = httpx.AsyncClient(base_url=url, timeout=10)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.control.post(path, json=body)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def adapter(self) -> BrokerAdapter:
        return self.broker.adapter(ACCOUNT)

    async def reset(self) -> None:
        await self._post("/control/reset", {})

    async def open_market(self) -> None:
        await self._post("/control/clock", {"session": "open"})

    async def close_market(self) -> None:
        await self._post("/control/clock", {"session": "closed"})

    async def set_price(
        self, key: InstrumentKey, price: Decimal, *, volume: int | None = None
    ) -> None:
        body: dict[str, Any] = {"prices": {str(key): str(price)}}
        if volume is not None:
            body["volume"] = volume
        await self._post("/control/prices", body)

    async def inject(self, fault: Fault) -> None:
        await self._post("/control/faults", fault_body(fault))

    async def clear_faults(self) -> None:
        await self._post("/control/faults", {})

    def rejection(self) -> Rejection:
        return paper_rejection(self.instruments)

    async def manual_cancel(self, broker_order_id: str) -> None:
        await self._post("/control/manual/cancel", {"broker_order_id": broker_order_id})

    async def manual_modify(
        self, broker_order_id: str, *, price: Decimal | None = None, quantity: int | None = None
    ) -> None:
        body: dict[str, Any] = {"broker_order_id": broker_order_id}
        if price is not None:
            body["price"] = str(price)
        if quantity is not None:
            body["quantity"] = quantity
        await self._post("/control/manual/modify", body)

    async def place_external(self, request: OrderRequest) -> str:
        body: dict[str, Any] = {
            "account": ACCOUNT,
            "exchange": request.exchange,
            "symbol": request.symbol,
            "side": request.side.value,
            "quantity": request.quantity,
            "order_type": request.order_type.value,
            "product": request.product.value,
            "variety": request.variety.value,
        }
        if request.price is not None:
            body["price"] = str(request.price)
        return str((await self._post("/control/manual/orders", body))["broker_order_id"])

    async def expire_session(self) -> None:
        raise NotImplementedError("paper has no login session")

    async def renew_session(self) -> None:
        raise NotImplementedError("paper has no login session")

    async def stall_streams(self) -> None:
        await self._post("/control/faults", {"drop_stream": True})

    async def resume_streams(self) -> None:
        await self.clear_faults()

    async def aclose(self) -> None:
        await self.broker.aclose()
        await self.control.aclose()


class PaperLocalVenue:
    """``LocalPaperAdapter`` on an in-process simulator, controlled by direct calls."""

    name = "paper-local"
    capabilities = PAPER_CAPABILITIES
    instruments = PAPER_INSTRUMENTS

    def __init__(self, broker: LocalPaperBroker) -> None:
        self.broker = broker
        self.exchange = broker.exchange

    def adapter(self) -> BrokerAdapter:
        return self.broker.adapter(ACCOUNT)

    async def open_market(self) -> None:
        self.exchange.set_session(SessionName.OPEN)

    async def close_market(self) -> None:
        self.exchange.set_session(SessionName.CLOSED)

    async def set_price(
        self, key: InstrumentKey, price: Decimal, *, volume: int | None = None
    ) -> None:
        self.exchange.set_prices({key: price}, volume)

    async def inject(self, fault: Fault) -> None:
        self.exchange.configure_faults(FaultConfig.parse(fault_body(fault)))

    async def clear_faults(self) -> None:
        self.exchange.configure_faults(FaultConfig())

    def rejection(self) -> Rejection:
        return paper_rejection(self.instruments)

    async def manual_cancel(self, broker_order_id: str) -> None:
        self.exchange.cancel(None, broker_order_id)

    async def manual_modify(
        self, broker_order_id: str, *, price: Decimal | None = None, quantity: int | None = None
    ) -> None:
        self.exchange.modify(None, broker_order_id, ModifyRequest(quantity=quantity, price=price))

    async def place_external(self, request: OrderRequest) -> str:
        return self.exchange.place(ACCOUNT, replace(request, tag=None))

    async def expire_session(self) -> None:
        raise NotImplementedError("paper has no login session")

    async def renew_session(self) -> None:
        raise NotImplementedError("paper has no login session")

    async def stall_streams(self) -> None:
        self.exchange.configure_faults(FaultConfig(drop_stream=True))

    async def resume_streams(self) -> None:
        await self.clear_faults()
