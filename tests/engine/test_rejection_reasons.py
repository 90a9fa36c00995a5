"""Broker refusals classified into reasons, and only what a retry can fix queued for retry:
orders placed by the real executor at the in-process paper broker, on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.domain.factories import make_order
from tests.seed import Owner, new_order, seed_owner
from tradewarden.brokers.base import BrokerAdapter
from tradewarden.brokers.errors import (
    BrokerError,
    InsufficientFundsError,
    OrderRejectedError,
    SessionExpiredError,
)
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.domain.events import EventType
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import Order, Product, Side
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.accounts import AccountDirectory, AccountInfo
from tradewarden.engine.calendar import TradingCalendar
from tradewarden.engine.executor import Executor
from tradewarden.engine.failures import REJECTION_RULES, rejection_code
from tradewarden.engine.ledger import Ledger
from tradewarden.engine.placement import Placement, failure_of, placement_events
from tradewarden.engine.retry import RetryPolicy
from tradewarden.store.db import Database
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.repositories import Orders
from tradewarden.store.tables import BrokerAccount, OrderRow

SQLITE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)

PRICES = {"WIPRO": Decimal("250"), "MRF": Decimal("130000"), "RELIANCE": Decimal("2500")}


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalPaperBroker]:
    paper = LocalPaperBroker.open(tmp_path / "paper.db", clock="open")
    paper.exchange.set_prices({InstrumentKey("NSE", s): p for s, p in PRICES.items()})
    yield paper
    await paper.aclose()


@pytest.fixture
def owner(db: Database) -> Owner:
    return seed_owner(db)


async def _executor(db: Database, broker: LocalPaperBroker) -> Executor:
    def factory(info: AccountInfo) -> BrokerAdapter:
        return broker.adapter(info.name)

    directory = AccountDirectory(db, factory)
    await db.run(directory.refresh)
    ledger = Ledger(db)
    return Executor(ledger, directory, RetryPolicy(ledger, TradingCalendar()))


def _account(db: Database, owner: Owner) -> str:
    with db.read() as session:
        account = session.get(BrokerAccount, owner.account_id)
        assert account is not None
        return account.name


async def _place(db: Database, broker: LocalPaperBroker, order: Order) -> Order:
    """Record ``order`` and let the executor send it; the order as recorded afterwards."""
    executor = await _executor(db, broker)
    await executor.ledger.create(order)
    await executor.submit_many([order.id])
    with db.read() as session:
        row = session.get(OrderRow, order.id)
        assert row is not None
        return order_from_row(row)


def _event_types(db: Database, order: Order) -> list[str]:
    with db.read() as session:
        return [e.type for e in Orders(session, order.user_id).events(order.id)]


def _order(owner: Owner, symbol: str, side: Side, quantity: int) -> Order:
    return replace(new_order(owner, quantity=quantity, symbol=symbol), side=side,
                   price=PRICES[symbol], product=Product.CNC)


@SQLITE
async def test_cnc_sell_without_holdings_is_rejected_for_no_holdings_and_not_retried(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    done = await _place(db, broker, _order(owner, "WIPRO", Side.SELL, 5))
    assert done.status.value == "rejected"
    assert done.reason_code == ReasonCode.NO_HOLDINGS.value
    assert "Insufficient holdings" in (done.rejection_reason or "")
    assert done.next_retry_at is None and done.first_failed_at is None
    assert "OrderRetryScheduled" not in _event_types(db, done)


@SQLITE
async def test_an_order_beyond_the_value_limit_is_rejected_and_not_retried(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    broker.exchange.set_cash(_account(db, owner), Decimal("1e12"))  # money is not the problem
    done = await _place(db, broker, _order(owner, "MRF", Side.BUY, 100_000))  # ₹1 300 crore
    assert done.status.value == "rejected"
    assert done.reason_code == ReasonCode.ORDER_LIMIT.value
    assert "order value" in (done.rejection_reason or "").lower()
    assert done.next_retry_at is None
    assert "OrderRetryScheduled" not in _event_types(db, done)


@SQLITE
async def test_an_order_beyond_the_quantity_limit_is_rejected_and_not_retried(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    broker.exchange.set_cash(_account(db, owner), Decimal("1e12"))
    done = await _place(db, broker, _order(owner, "WIPRO", Side.BUY, 100_001))
    assert (done.status.value, done.reason_code) == ("rejected", ReasonCode.ORDER_LIMIT.value)
    assert done.next_retry_at is None


@SQLITE
async def test_insufficient_margin_is_still_queued_for_retry(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    broker.exchange.set_cash(_account(db, owner), Decimal("1000"))
    done = await _place(db, broker, _order(owner, "RELIANCE", Side.BUY, 10))
    assert done.status.value == "retry_pending"
    assert done.reason_code == ReasonCode.INSUFFICIENT_FUNDS.value
    assert done.next_retry_at is not None
    assert "Margin Exceeds" in (done.reason or "")


@pytest.mark.parametrize(("text", "code"), [
    ("RMS:Insufficient holdings for NSE:WIPRO to sell, Required:5, Available:0",
     ReasonCode.NO_HOLDINGS),
    ("Order rejected by RMS. Check holding, Short selling restricted in delivery product for "
     "equity", ReasonCode.NO_HOLDINGS),
    ("RMS:Margin Exceeds,Required:25000.00, Available:1000.00 for entity account-x across "
     "exchange across segment across product", ReasonCode.INSUFFICIENT_FUNDS),
    ("Insufficient funds", ReasonCode.INSUFFICIENT_FUNDS),
    ("RMS:Order value 1300000000.00 exceeds the limit of 100000000.00 per order for NSE:MRF",
     ReasonCode.ORDER_LIMIT),
    ("Order value is greater than the maximum permissible limit", ReasonCode.ORDER_LIMIT),
    ("Your order quantity is more than the freeze quantity", ReasonCode.ORDER_LIMIT),
    ("RMS:Rule: Quantity limit exceeded", ReasonCode.ORDER_LIMIT),
    ("CNC is not allowed for NFO:NIFTY; use NRML or MIS for derivatives",
     ReasonCode.PRODUCT_NOT_ALLOWED),
    ("MIS orders are not allowed for this scrip", ReasonCode.PRODUCT_NOT_ALLOWED),
    ("Session expired, please login again", ReasonCode.SESSION_EXPIRED),
    ("Tick size for NSE:RELIANCE is 0.05: price 2500.03 is not a multiple of the tick size",
     ReasonCode.BROKER_VALIDATION),
    (None, ReasonCode.BROKER_VALIDATION),
])
def test_one_table_classifies_rejection_texts(text: str | None, code: ReasonCode) -> None:
    assert rejection_code(text) is code


def test_only_funds_and_session_rows_of_the_table_are_retryable() -> None:
    retryable = {rule.code for rule in REJECTION_RULES if rule.code.retryable}
    assert retryable == {ReasonCode.INSUFFICIENT_FUNDS, ReasonCode.SESSION_EXPIRED}
    for code in (ReasonCode.NO_HOLDINGS, ReasonCode.ORDER_LIMIT, ReasonCode.PRODUCT_NOT_ALLOWED):
        assert not code.retryable and "not retried" in code.text


@pytest.mark.parametrize(("text", "code"), [
    # Zerodha / Kite
    ("Margin exceeds, Required:25000.00, Available:1000.00 for entity account-x across "
     "exchange across segment across product", ReasonCode.INSUFFICIENT_FUNDS),
    ("RMS:Insufficient holdings", ReasonCode.NO_HOLDINGS),
    ("Order value exceeds available margin", ReasonCode.INSUFFICIENT_FUNDS),
    ("Quantity exceeds available funds", ReasonCode.INSUFFICIENT_FUNDS),
    ("Total order value exceeds the fund limit", ReasonCode.INSUFFICIENT_FUNDS),
    ("Order not allowed: insufficient funds for MIS product", ReasonCode.INSUFFICIENT_FUNDS),
    # Kotak / Shoonya (Finvasia)
    ("RMS:Margin Exceeds", ReasonCode.INSUFFICIENT_FUNDS),
    ("Insufficient balance", ReasonCode.INSUFFICIENT_FUNDS),
    ("Order quantity exceeds freeze limit", ReasonCode.ORDER_LIMIT),
    ("Max order value exceeded", ReasonCode.ORDER_LIMIT),
    ("Quantity exceeds max allowed per order", ReasonCode.ORDER_LIMIT),
    ("CNC orders not allowed for this instrument", ReasonCode.PRODUCT_NOT_ALLOWED),
    ("MIS not allowed", ReasonCode.PRODUCT_NOT_ALLOWED),
    ("Invalid Token", ReasonCode.SESSION_EXPIRED),
    ("Session Expired", ReasonCode.SESSION_EXPIRED),
    ("Not logged in", ReasonCode.SESSION_EXPIRED),
    ("Token expired, please login again", ReasonCode.SESSION_EXPIRED),
    # words that only look like funds or login: nothing a retry can fix
    ("Mutual fund units cannot be traded on the exchange", ReasonCode.BROKER_VALIDATION),
    ("Trading login disabled", ReasonCode.BROKER_VALIDATION),
    ("Invalid instrument", ReasonCode.BROKER_VALIDATION),
])
def test_real_broker_texts_get_the_reason_a_retry_can_or_cannot_fix(
        text: str, code: ReasonCode) -> None:
    assert rejection_code(text) is code


@pytest.mark.parametrize(("error", "code"), [
    # the table decides when it recognises the text …
    (InsufficientFundsError("Order value exceeds available margin"),
     ReasonCode.INSUFFICIENT_FUNDS),
    (InsufficientFundsError("Order quantity exceeds freeze limit"), ReasonCode.ORDER_LIMIT),
    (OrderRejectedError("RMS:Margin Exceeds"), ReasonCode.INSUFFICIENT_FUNDS),
    (SessionExpiredError("Invalid instrument"), ReasonCode.BROKER_VALIDATION),
    # … and the error's type when it does not
    (InsufficientFundsError("RMS rejected the order"), ReasonCode.INSUFFICIENT_FUNDS),
    (SessionExpiredError("Unauthorized"), ReasonCode.SESSION_EXPIRED),
    (OrderRejectedError("RMS rejected the order"), ReasonCode.BROKER_VALIDATION),
])
def test_a_synchronous_refusal_is_classified_by_its_text_else_by_its_type(
        error: BrokerError, code: ReasonCode) -> None:
    placement = Placement(make_order(OrderStatus.SUBMITTING), error=error)
    failure = failure_of(placement)
    if code.retryable:
        assert failure == (code, error.message)
        return
    assert failure is None
    (event,) = placement_events(placement, ())
    assert (event.type, event.reason_code) == (EventType.ORDER_REJECTED, code)
