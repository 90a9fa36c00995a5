"""The Kite adapter's REST side against an in-test ``httpx.MockTransport``: the wire it sends
(paths, form fields, headers) and how it reads answers and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tradewarden.brokers.base import BrokerAdapter, ModifyRequest, OrderRequest
from tradewarden.brokers.errors import (
    AmbiguousError,
    BrokerResponseError,
    BrokerTimeoutError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    SessionExpiredError,
)
from tradewarden.brokers.kite.adapter import KiteAdapter
from tradewarden.brokers.kite.options import KiteOptions
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety
from tradewarden.domain.statuses import OrderStatus

Handler = Callable[[httpx.Request], httpx.Response]
TAG = "TW01JABCDEFGH1234567"


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": data})


def err(status: int, error_type: str, message: str) -> httpx.Response:
    return httpx.Response(
        status, json={"status": "error", "message": message, "error_type": error_type}
    )


def kite_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "placed_by": "AB1234", "order_id": "260105000000001", "exchange_order_id": None,
        "parent_order_id": None, "status": "OPEN", "status_message": None,
        "status_message_raw": None, "order_timestamp": "2026-01-05 09:20:00",
        "exchange_update_timestamp": "2026-01-05 09:20:01", "exchange_timestamp": None,
        "variety": "regular", "modified": False, "exchange": "NSE", "tradingsymbol": "INFY",
        "instrument_token": 408065, "order_type": "LIMIT", "transaction_type": "BUY",
        "validity": "DAY", "product": "CNC", "quantity": 5, "disclosed_quantity": 0,
        "price": 1500.5, "trigger_price": 0, "average_price": 0, "filled_quantity": 0,
        "pending_quantity": 5, "cancelled_quantity": 0, "market_protection": 0, "meta": {},
        "tag": TAG, "guid": "x",
    }
    order.update(overrides)
    return order


class Recorder:
    """Routes requests to a handler and keeps them for assertions."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def form(self, index: int = -1) -> dict[str, str]:
        parsed = parse_qs(self.requests[index].content.decode(), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}


def adapter_for(
    handler: Handler, *, access_token: str | None = "tok", **options: str
) -> tuple[KiteAdapter, Recorder]:
    recorder = Recorder(handler)
    values = {"api_key": "key", "api_secret": "sec", "base_url": "http://127.0.0.1:9", **options}
    if access_token:
        values["access_token"] = access_token
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return KiteAdapter(KiteOptions.parse(values), client=client), recorder


def request(**overrides: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "exchange": "NSE", "symbol": "INFY", "side": Side.BUY, "quantity": 5,
        "order_type": OrderType.LIMIT, "product": Product.CNC, "price": Decimal("1500.50"),
        "tag": TAG,
    }
    values.update(overrides)
    return OrderRequest(**values)


def test_it_is_a_broker_adapter() -> None:
    adapter, _ = adapter_for(lambda r: ok({}))
    assert isinstance(adapter, BrokerAdapter)
    assert adapter.capabilities.tag_max_length == 20
    assert adapter.capabilities.orders_per_second == 10
    assert not adapter.capabilities.supports_tick_stream  # no token resolver


async def test_place_sends_the_documented_form_and_headers() -> None:
    adapter, seen = adapter_for(lambda r: ok({"order_id": "151220000000000"}))
    assert await adapter.place(request()) == "151220000000000"
    sent = seen.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == "http://127.0.0.1:9/orders/regular"
    assert sent.headers["X-Kite-Version"] == "3"
    assert sent.headers["Authorization"] == "token key:tok"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.form() == {
        "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY",
        "quantity": "5", "product": "CNC", "order_type": "LIMIT", "validity": "DAY",
        "price": "1500.50", "tag": TAG,
    }
    await adapter.aclose()


async def test_market_and_sl_m_orders_carry_market_protection() -> None:
    adapter, seen = adapter_for(lambda r: ok({"order_id": "1"}))
    await adapter.place(request(order_type=OrderType.MARKET, price=None, product=Product.MIS))
    assert seen.form()["market_protection"] == "-1"
    assert "price" not in seen.form()
    await adapter.place(request(order_type=OrderType.SL_M, price=None,
                                trigger_price=Decimal("1490"), side=Side.SELL))
    assert seen.form()["market_protection"] == "-1"
    assert seen.form()["trigger_price"] == "1490"
    await adapter.place(request(order_type=OrderType.SL, trigger_price=Decimal("1495.5")))
    assert "market_protection" not in seen.form()
    configured, seen2 = adapter_for(lambda r: ok({"order_id": "1"}), market_protection="3")
    await configured.place(request(order_type=OrderType.MARKET, price=None))
    assert seen2.form()["market_protection"] == "3"


async def test_amo_and_ioc() -> None:
    adapter, seen = adapter_for(lambda r: ok({"order_id": "2"}))
    await adapter.place(request(variety=Variety.AMO, validity=Validity.IOC))
    assert seen.requests[0].url.path == "/orders/amo"
    assert seen.form()["validity"] == "IOC"


async def test_a_tag_kite_would_refuse_is_refused_before_sending() -> None:
    adapter, seen = adapter_for(lambda r: ok({"order_id": "3"}))
    with pytest.raises(OrderRejectedError):
        await adapter.place(request(tag="TW-not-alnum"))
    with pytest.raises(OrderRejectedError):
        await adapter.place(request(tag="X" * 21))
    assert seen.requests == []


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (err(503, "NetworkException", "Request failed (kitetrade-oms)."), AmbiguousError),
        (err(502, "DataException", "Bad OMS response."), AmbiguousError),
        (err(500, "GeneralException", "Oops."), AmbiguousError),
        (err(429, "NetworkException", "Too many requests"), AmbiguousError),
        (httpx.Response(503, text="<html>Service Unavailable</html>"), AmbiguousError),
        (httpx.Response(200, text="not json"), BrokerResponseError),
        (ok({}), BrokerResponseError),
        (err(400, "InputException", "Invalid `price`."), OrderRejectedError),
        (err(400, "MarginException", "Insufficient funds."), InsufficientFundsError),
        (err(403, "TokenException", "Token expired."), SessionExpiredError),
    ],
)
async def test_placement_errors(response: httpx.Response, expected: type[Exception]) -> None:
    adapter, _ = adapter_for(lambda r: response)
    with pytest.raises(expected) as raised:
        await adapter.place(request())
    if expected is AmbiguousError:
        assert not isinstance(raised.value, RateLimitedError)


async def test_placement_timeout_is_ambiguous() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    adapter, _ = adapter_for(slow)
    with pytest.raises(BrokerTimeoutError):
        await adapter.place(request())


async def test_no_access_token_sends_nothing() -> None:
    adapter, seen = adapter_for(lambda r: ok([]), access_token=None)
    with pytest.raises(SessionExpiredError):
        await adapter.order_book()
    assert seen.requests == []
    adapter.set_access_token("new")
    assert await adapter.order_book() == []
    assert seen.requests[0].headers["Authorization"] == "token key:new"


async def test_reads_back_off_on_429() -> None:
    adapter, _ = adapter_for(
        lambda r: httpx.Response(429, headers={"Retry-After": "0"},
                                 json={"status": "error", "message": "Too many requests",
                                       "error_type": "NetworkException"}))
    with pytest.raises(RateLimitedError):
        await adapter.order_book()
    with pytest.raises(RateLimitedError):
        await adapter.quotes([InstrumentKey("NSE", "INFY")])


async def test_order_book_and_find_by_tag() -> None:
    book = [
        kite_order(),
        kite_order(order_id="2", tag=None, status="COMPLETE", filled_quantity=5,
                   pending_quantity=0, average_price=1500.25, variety="amo"),
        kite_order(order_id="3", status="REJECTED", status_message="Insufficient funds.",
                   tag=None, tags=["OTHER"]),
        kite_order(order_id="4", status="NEW KITE STATE", tag=TAG),
    ]
    adapter, seen = adapter_for(lambda r: ok(book))
    orders = await adapter.order_book()
    assert seen.requests[0].url.path == "/orders"
    first, second, third, fourth = orders
    assert first.status is OrderStatus.OPEN and first.tag == TAG
    assert first.price == Decimal("1500.5") and first.trigger_price is None
    assert second.status is OrderStatus.FILLED and second.variety is Variety.AMO
    assert second.average_price == Decimal("1500.25")
    assert third.status is OrderStatus.REJECTED
    assert third.rejection_reason == "Insufficient funds." and third.tag == "OTHER"
    assert fourth.status is None and fourth.is_working
    found = await adapter.find_by_tag(TAG)
    assert [o.broker_order_id for o in found] == ["260105000000001", "4"]
    assert await adapter.find_by_tag("NOPE") == []


async def test_history_get_order_and_not_found() -> None:
    history = [
        kite_order(status="PUT ORDER REQ RECEIVED"),
        kite_order(status="VALIDATION PENDING"),
        kite_order(status="OPEN"),
        kite_order(status="COMPLETE", filled_quantity=5, average_price=1500),
    ]

    def route(r: httpx.Request) -> httpx.Response:
        if r.url.path == "/orders/260105000000001":
            return ok(history)
        if r.url.path == "/orders/missing":
            return err(400, "InputException", "Couldn't find that `order_id`.")
        return ok([])

    adapter, _ = adapter_for(route)
    states = await adapter.order_history("260105000000001")
    assert [o.raw_status for o in states][-1] == "COMPLETE"
    assert (await adapter.get_order("260105000000001")).status is OrderStatus.FILLED
    with pytest.raises(OrderNotFoundError):
        await adapter.get_order("missing")
    with pytest.raises(OrderNotFoundError):
        await adapter.get_order("empty")


async def test_modify_and_cancel_use_the_orders_variety() -> None:
    def route(r: httpx.Request) -> httpx.Response:
        if r.method == "GET" and r.url.path == "/orders/99":
            return ok([kite_order(order_id="99", variety="amo")])
        if r.method == "POST":
            return ok({"order_id": "77"})
        return ok({"order_id": r.url.path.rsplit("/", 1)[-1]})

    adapter, seen = adapter_for(route)
    await adapter.modify("99", ModifyRequest(quantity=3, price=Decimal("1499.95")))
    assert [(r.method, r.url.path) for r in seen.requests] == [
        ("GET", "/orders/99"), ("PUT", "/orders/amo/99")]
    assert seen.form() == {"quantity": "3", "price": "1499.95"}
    await adapter.cancel("99")
    assert (seen.requests[-1].method, seen.requests[-1].url.path) == ("DELETE", "/orders/amo/99")
    await adapter.place(request())
    await adapter.modify("77", ModifyRequest(order_type=OrderType.SL,
                                             trigger_price=Decimal("1490")))
    assert seen.requests[-1].url.path == "/orders/regular/77"
    assert seen.form() == {"order_type": "SL", "trigger_price": "1490"}
    cancel_refused, _ = adapter_for(
        lambda r: ok([kite_order()]) if r.method == "GET"
        else err(400, "OrderException", "Order cannot be cancelled as it is being processed."))
    with pytest.raises(OrderRejectedError):
        await cancel_refused.cancel("260105000000001")


async def test_trades_positions_holdings_funds() -> None:
    data = {
        "/trades": [{
            "trade_id": "10000000", "order_id": "200000000000000", "exchange": "NSE",
            "tradingsymbol": "SBIN", "instrument_token": 779521, "product": "CNC",
            "average_price": 420.65, "quantity": 1, "exchange_order_id": "3",
            "transaction_type": "BUY", "fill_timestamp": "2026-01-05 09:16:39",
            "order_timestamp": "09:16:39", "exchange_timestamp": "2026-01-05 09:16:39",
        }],
        "/portfolio/positions": {"net": [{
            "tradingsymbol": "SBIN", "exchange": "NSE", "product": "MIS", "quantity": -2,
            "average_price": 801.5, "last_price": 800, "realised": 0, "unrealised": 3,
            "buy_quantity": 0, "buy_price": 0, "sell_quantity": 2, "sell_price": 801.5,
        }], "day": []},
        "/portfolio/holdings": [{
            "tradingsymbol": "INFY", "exchange": "NSE", "quantity": 10, "t1_quantity": 2,
            "used_quantity": 1, "average_price": 1400.25, "last_price": 1500,
        }],
        "/user/margins": {
            "equity": {"enabled": True, "net": 99725.05,
                       "available": {"cash": 245431.6},
                       "utilised": {"debits": 145706.55, "m2m_realised": 761.7,
                                    "m2m_unrealised": 0}},
            "commodity": {"enabled": True, "net": 100.5, "available": {"cash": 100.5},
                          "utilised": {"debits": 0}},
        },
    }
    adapter, _ = adapter_for(lambda r: ok(data[r.url.path]))
    [fill] = await adapter.trade_book()
    assert fill.fill_id == "NSE:10000000" and fill.price == Decimal("420.65")
    assert fill.broker_order_id == "200000000000000" and fill.quantity == 1
    [position] = await adapter.positions()
    assert position.quantity == -2 and position.product is Product.MIS
    assert position.sell_average == Decimal("801.5")
    [holding] = await adapter.holdings()
    assert (holding.quantity, holding.used_quantity) == (12, 1)
    funds = await adapter.funds()
    assert funds.cash == Decimal("245532.1")
    assert funds.available == Decimal("99825.55")
    assert funds.used_margin == Decimal("145706.55")
    assert funds.realised_pnl == Decimal("761.7")


async def test_quotes_use_ltp_with_repeated_i() -> None:
    def route(r: httpx.Request) -> httpx.Response:
        assert r.url.path == "/quote/ltp"
        asked = r.url.params.get_list("i")
        assert asked == ["BSE:SBIN", "NSE:INFY"]
        return ok({"NSE:INFY": {"instrument_token": 408065, "last_price": 1074.35}})

    adapter, _ = adapter_for(route)
    quotes = await adapter.quotes([InstrumentKey("NSE", "INFY"), InstrumentKey("BSE", "SBIN")])
    assert list(quotes) == [InstrumentKey("NSE", "INFY")]
    assert quotes[InstrumentKey("NSE", "INFY")].last_price == Decimal("1074.35")


async def test_numbers_are_read_exactly() -> None:
    body = json.dumps({"status": "success", "data": [kite_order(price=0.1, average_price=0.3)]})
    adapter, _ = adapter_for(lambda r: httpx.Response(
        200, content=body, headers={"content-type": "application/json"}))
    [order] = await adapter.order_book()
    assert order.price == Decimal("0.1") and order.average_price == Decimal("0.3")
