"""Parsing the two legacy formats: typed records, and a reason for every unusable row."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradewarden.domain.orders import ExecutionType, OrderType, Side, Variety
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.legacy.parsing import load_json, parse_pending_orders, parse_trades_history
from tradewarden.legacy.plan import plan
from tradewarden.legacy.records import MalformedFile, ParsedSection

DATA = Path(__file__).parent.parent / "data" / "legacy"
NOW = datetime(2025, 2, 1, tzinfo=UTC)


def _pending(*rows: Any) -> ParsedSection:
    return parse_pending_orders({"orders": list(rows)}, "pending_orders.json", NOW)


def _order(**fields: Any) -> dict[str, Any]:
    row = {"order_id": "250127000001001", "symbol": "RELIANCE-EQ", "ticker": "RELIANCE.NS",
           "qty": 4, "order_type": "MARKET", "variety": "AMO", "price": 0.0,
           "placed_at": "2025-01-27T16:05:12.123456",
           "last_status_check": "2025-01-28T09:20:00", "status": "PENDING",
           "rejection_reason": None, "check_count": 0, "executed_qty": 0}
    row.update(fields)
    return row


def _samples() -> list[ParsedSection]:
    return [parse_pending_orders(load_json(DATA / "pending_orders.json"),
                                 "pending_orders.json", NOW),
            *parse_trades_history(load_json(DATA / "trades_history.json"),
                                  "trades_history.json", NOW)]


def test_a_pending_amo_order_is_normalised() -> None:
    (row,) = _pending(_order()).rows
    (order,) = row.orders
    assert order.key == "legacy:pending_orders:250127000001001"
    assert (order.symbol, order.exchange, order.side) == ("RELIANCE", "NSE", Side.BUY)
    assert (order.order_type, order.variety, order.price) == (OrderType.MARKET, Variety.AMO,
                                                              None)
    assert order.status is OrderStatus.OPEN and order.broker_status == "PENDING"
    assert order.broker_order_id == "250127000001001"
    assert order.placed_at == datetime(2025, 1, 27, 10, 35, 12, 123456, tzinfo=UTC)
    assert order.settled_at == datetime(2025, 1, 28, 3, 50, tzinfo=UTC)


def test_prices_stay_exact_decimals() -> None:
    document = json.loads('{"orders": [{"order_id": "1", "symbol": "HDFCBANK-EQ", "qty": 5, '
                          '"order_type": "LIMIT", "price": 1640.05, "status": "COMPLETE", '
                          '"placed_at": "2025-01-24T10:00:00", "executed_qty": 5}]}',
                          parse_float=Decimal)
    (row,) = parse_pending_orders(document, "f", NOW).rows
    assert row.orders[0].price == Decimal("1640.05")
    assert row.orders[0].average_price == Decimal("1640.05")


def test_executed_quantity_settles_the_status() -> None:
    section = _pending(
        _order(order_id="1", status="EXECUTED", executed_qty=0),  # seed never set it
        _order(order_id="2", status="OPEN", executed_qty=4),  # broker text lagging
        _order(order_id="3", status="OPEN", executed_qty=1),
        _order(order_id="4", status="REJECTED", executed_qty=2),
        _order(order_id="5", status="COMPLETE", executed_qty=3),
    )
    statuses = {r.ref.legacy_id: (r.orders[0].status, r.orders[0].filled_quantity)
                for r in section.rows}
    assert statuses == {"1": (OrderStatus.FILLED, 4), "2": (OrderStatus.FILLED, 4),
                        "3": (OrderStatus.PARTIALLY_FILLED, 1)}
    reasons = {i.ref.legacy_id: i.reason for i in section.invalid}
    assert reasons == {"4": "status 'REJECTED' but executed_qty 2",
                       "5": "status 'COMPLETE' but executed_qty 3 of 4"}


def test_a_sell_is_an_exit() -> None:
    (row,) = _pending(_order(transaction_type="SELL", status="EXECUTED")).rows
    assert row.orders[0].side is Side.SELL
    assert row.orders[0].execution_type is ExecutionType.EXIT


def test_a_closed_trade_is_an_entry_and_an_exit() -> None:
    trades, _ = parse_trades_history({"trades": [{
        "symbol": "INFY", "placed_symbol": "INFY-EQ", "ticker": "INFY.NS", "qty": 6,
        "entry_price": Decimal("1502.45"), "entry_time": "2025-01-08T09:15:38",
        "status": "closed", "order_id": "E1", "exit_price": Decimal("1551.2"),
        "exit_time": "2025-01-14T10:02:11", "exit_reason": "EMA9 target",
        "sell_order_id": "X1"}]}, "trades_history.json", NOW)
    (row,) = trades.rows
    entry, exit_ = row.orders
    assert (entry.side, entry.status, entry.filled_quantity) == (Side.BUY, OrderStatus.FILLED, 6)
    assert (exit_.side, exit_.status, exit_.execution_type) == (
        Side.SELL, OrderStatus.FILLED, ExecutionType.EXIT)
    assert exit_.average_price == Decimal("1551.2") and exit_.reason == "EMA9 target"
    assert exit_.key == "legacy:trades:E1:exit" and exit_.broker_order_id == "X1"


def test_an_ongoing_trade_is_not_a_fill() -> None:
    trades, _ = parse_trades_history({"trades": [{
        "symbol": "SUZLON", "qty": 10, "entry_price": 52.7, "entry_time": "2025-01-27T09:15:00",
        "status": "ongoing", "order_id": "250127000005007"}]}, "t", NOW)
    (row,) = trades.rows
    assert row.orders[0].status is OrderStatus.OPEN
    assert row.orders[0].filled_quantity == 0


def test_failed_orders_keep_their_reason() -> None:
    _, failed = parse_trades_history({"failed_orders": [
        {"symbol": "HDFCBANK", "ticker": "HDFCBANK.NS", "close": 1642.8, "qty": 60,
         "reason": "insufficient_balance", "first_failed_at": "2025-01-24T16:02:03",
         "retry_count": 1},
        {"symbol": "SUZLON", "ticker": "SUZLON.BO", "qty": 10,
         "first_failed_at": "2025-01-20T16:00:03"},
    ]}, "t", NOW)
    first, second = (row.orders[0] for row in failed.rows)
    assert first.status is OrderStatus.FAILED
    assert first.reason_code is ReasonCode.INSUFFICIENT_FUNDS
    assert first.reason == "insufficient_balance" and first.retry_count == 1
    assert first.key == "legacy:failed_orders:HDFCBANK@2025-01-24T16:02:03"
    assert second.exchange == "BSE" and second.reason_code is ReasonCode.INSUFFICIENT_FUNDS


def test_sample_files_account_for_every_row() -> None:
    sections = _samples()
    assert [s.total for s in sections] == [35, 22, 11]
    for section in sections:
        assert len(section.rows) + len(section.invalid) == section.total
        assert section.invalid, "the samples include invalid rows"
        assert all(i.reason for i in section.invalid)


def test_every_sample_row_has_a_legal_event_path() -> None:
    for section in _samples():
        for row in section.rows:
            for planned in plan(row, user_id=1, account_id=1, file=section.file,
                                imported_at=NOW):
                assert planned.steps[0].event.type.value == "OrderSubmitted"
                assert [s.at for s in planned.steps] == sorted(s.at for s in planned.steps)


@pytest.mark.parametrize(("content", "message"), [
    (b"this is not json {", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_a_malformed_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "pending_orders.json"
    path.write_bytes(content)
    with pytest.raises(MalformedFile, match=message):
        load_json(path)


@pytest.mark.parametrize("document", [42, {"something": []}, {"orders": "none"}])
def test_json_of_the_wrong_shape_is_refused(document: Any) -> None:
    with pytest.raises(MalformedFile):
        parse_pending_orders(document, "pending_orders.json", NOW)
    with pytest.raises(MalformedFile):
        parse_trades_history(document, "trades_history.json", NOW)
