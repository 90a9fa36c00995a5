"""Kite's binary tick packets and text messages, built byte by byte from the documented
layout."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradewarden.brokers.kite import ticker
from tradewarden.brokers.kite.wire import EquitySymbols, WireError
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import Side
from tradewarden.domain.statuses import OrderStatus

INFY = 408065  # low byte 1: NSE
USDINR = 412675  # low byte 3: CDS
NIFTY = 256265  # low byte 9: indices
EPOCH = 1_767_250_000
WHEN = datetime.fromtimestamp(EPOCH, UTC)


def message(*packets: bytes) -> bytes:
    body = struct.pack(">H", len(packets))
    for packet in packets:
        body += struct.pack(">H", len(packet)) + packet
    return body


def ltp_packet(token: int, price: int) -> bytes:
    return struct.pack(">II", token, price)


def quote_packet(token: int) -> bytes:
    # token, ltp, last qty, avg price, volume, buy qty, sell qty, open, high, low, close
    return struct.pack(">11I", token, 150025, 7, 149980, 123456, 900, 1100,
                       149000, 151000, 148500, 149500)


def full_packet(token: int) -> bytes:
    head = quote_packet(token)
    head += struct.pack(">5I", EPOCH - 2, 5000, 5200, 4800, EPOCH)
    depth = b""
    for level in range(5):
        depth += struct.pack(">IIHxx", 10 + level, 150000 - level * 5, 1 + level)
    for level in range(5):
        depth += struct.pack(">IIHxx", 20 + level, 150030 + level * 5, 2 + level)
    return head + depth


def test_packet_sizes_are_the_documented_ones() -> None:
    assert len(ltp_packet(INFY, 1)) == 8
    assert len(quote_packet(INFY)) == 44
    assert len(full_packet(INFY)) == 184


def test_ltp_packet() -> None:
    [tick] = ticker.decode_binary(message(ltp_packet(INFY, 107435)))
    assert tick.mode is ticker.Mode.LTP
    assert tick.instrument_token == INFY
    assert tick.last_price == Decimal("1074.35")
    assert tick.tradable
    assert tick.volume is None


def test_quote_packet() -> None:
    [tick] = ticker.decode_binary(message(quote_packet(INFY)))
    assert tick.mode is ticker.Mode.QUOTE
    assert tick.last_price == Decimal("1500.25")
    assert tick.last_quantity == 7
    assert tick.average_price == Decimal("1499.80")
    assert tick.volume == 123456
    assert (tick.buy_quantity, tick.sell_quantity) == (900, 1100)
    assert (tick.open, tick.high, tick.low, tick.close) == (
        Decimal("1490.00"), Decimal("1510.00"), Decimal("1485.00"), Decimal("1495.00"))
    assert tick.exchange_timestamp is None and tick.bids == ()


def test_full_packet() -> None:
    [tick] = ticker.decode_binary(message(full_packet(INFY)))
    assert tick.mode is ticker.Mode.FULL
    assert tick.last_price == Decimal("1500.25")
    assert tick.last_trade_time == datetime.fromtimestamp(EPOCH - 2, UTC)
    assert (tick.oi, tick.oi_day_high, tick.oi_day_low) == (5000, 5200, 4800)
    assert tick.exchange_timestamp == WHEN
    assert [b.quantity for b in tick.bids] == [10, 11, 12, 13, 14]
    assert tick.bids[0] == ticker.DepthEntry(10, Decimal("1500.00"), 1)
    assert tick.offers[4] == ticker.DepthEntry(24, Decimal("1500.50"), 6)
    key = InstrumentKey("NSE", "INFY")
    ours = tick.to_tick(key, datetime(2020, 1, 1, tzinfo=UTC))
    assert ours.key == key
    assert ours.last_price == Decimal("1500.25")
    assert ours.volume == 123456
    assert ours.timestamp == WHEN


def test_index_packets() -> None:
    index_quote = struct.pack(">6Ii", NIFTY, 2400050, 2410000, 2390000, 2395000, 2401000, -950)
    index_full = index_quote + struct.pack(">I", EPOCH)
    assert (len(index_quote), len(index_full)) == (28, 32)
    quote, full = ticker.decode_binary(message(index_quote, index_full))
    assert quote.mode is ticker.Mode.QUOTE and full.mode is ticker.Mode.FULL
    assert not quote.tradable
    assert quote.last_price == Decimal("24000.50")
    assert (quote.high, quote.low, quote.open, quote.close) == (
        Decimal("24100.00"), Decimal("23900.00"), Decimal("23950.00"), Decimal("24010.00"))
    assert quote.change == Decimal("-9.50")
    assert quote.exchange_timestamp is None
    assert full.exchange_timestamp == WHEN


def test_currency_prices_have_seven_places() -> None:
    [tick] = ticker.decode_binary(message(ltp_packet(USDINR, 832512500)))
    assert tick.last_price == Decimal("83.2512500")


def test_heartbeat() -> None:
    assert ticker.is_heartbeat(b"\x00")
    assert ticker.decode_binary(b"\x00") == []
    assert ticker.decode_binary(b"") == []


def test_several_packets_in_one_message() -> None:
    ticks = ticker.decode_binary(
        message(ltp_packet(INFY, 100), quote_packet(779521), full_packet(INFY), b"\x01\x02\x03")
    )
    assert [t.mode for t in ticks] == [ticker.Mode.LTP, ticker.Mode.QUOTE, ticker.Mode.FULL]
    assert [t.instrument_token for t in ticks] == [INFY, 779521, INFY]


def test_a_cut_message_is_an_error() -> None:
    whole = message(ltp_packet(INFY, 100), ltp_packet(INFY, 200))
    with pytest.raises(ticker.TickerError):
        ticker.decode_binary(whole[:-3])
    with pytest.raises(ticker.TickerError):
        ticker.decode_binary(struct.pack(">H", 2) + whole[2:14])


def test_order_text_message() -> None:
    payload = {
        "type": "order",
        "data": {
            "order_id": "220303000308932", "status": "UPDATE", "status_message": None,
            "order_timestamp": "2022-03-03 09:24:25", "exchange_update_timestamp":
            "2022-03-03 09:24:26", "variety": "regular", "exchange": "NSE",
            "tradingsymbol": "SBIN", "instrument_token": 779521, "order_type": "LIMIT",
            "transaction_type": "SELL", "validity": "DAY", "product": "MIS", "quantity": 10,
            "price": 470.5, "trigger_price": 0, "average_price": 470.5,
            "filled_quantity": 4, "pending_quantity": 6, "unfilled_quantity": 6,
            "tag": "TW0123456789ABCDEFGH",
        },
    }
    decoded = ticker.decode_text(json.dumps(payload), EquitySymbols())
    assert decoded is not None and decoded.update is not None
    order = decoded.update.order
    assert order.broker_order_id == "220303000308932"
    assert order.tag == "TW0123456789ABCDEFGH"
    assert order.side is Side.SELL
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_quantity == 4
    assert order.price == Decimal("470.5") and order.trigger_price is None
    assert order.placed_at == datetime(2022, 3, 3, 3, 54, 25, tzinfo=UTC)
    assert decoded.update.fill is None


def test_other_text_messages() -> None:
    symbols = EquitySymbols()
    error = ticker.decode_text('{"type": "error", "data": "bad mode"}', symbols)
    assert error is not None and error.type == "error" and error.text == "bad mode"
    assert ticker.decode_text("not json", symbols) is None
    assert ticker.decode_text("[1, 2]", symbols) is None
    with pytest.raises(WireError):
        ticker.decode_text('{"type": "order", "data": {"order_id": "1"}}', symbols)


def test_request_messages() -> None:
    assert json.loads(ticker.subscribe_message([408065, 884737])) == {
        "a": "subscribe", "v": [408065, 884737]}
    assert json.loads(ticker.unsubscribe_message([408065])) == {"a": "unsubscribe", "v": [408065]}
    assert json.loads(ticker.mode_message(ticker.Mode.FULL, [408065])) == {
        "a": "mode", "v": ["full", [408065]]}


def test_decoding_agrees_with_the_official_sdk() -> None:
    """The same bytes through ``kiteconnect``'s own parser give the same numbers."""
    from kiteconnect import KiteTicker

    index_full = struct.pack(">6IiI", NIFTY, 2400050, 2410000, 2390000, 2395000, 2401000,
                             -950, EPOCH)
    whole = message(ltp_packet(USDINR, 832512500), quote_packet(INFY), full_packet(779521),
                    index_full)
    theirs = KiteTicker("key", "token")._parse_binary(whole)
    ours = ticker.decode_binary(whole)
    assert [t["instrument_token"] for t in theirs] == [t.instrument_token for t in ours]
    assert [t["mode"] for t in theirs] == [t.mode.value for t in ours]
    for sdk, mine in zip(theirs, ours, strict=True):
        assert Decimal(str(sdk["last_price"])) == mine.last_price
        assert sdk["tradable"] is mine.tradable
        if "ohlc" in sdk:
            assert Decimal(str(sdk["ohlc"]["close"])) == mine.close
    assert theirs[1]["volume_traded"] == ours[1].volume
    full_sdk, full_ours = theirs[2], ours[2]
    assert full_sdk["oi"] == full_ours.oi
    assert [Decimal(str(d["price"])) for d in full_sdk["depth"]["sell"]] == [
        d.price for d in full_ours.offers]
    assert [d["orders"] for d in full_sdk["depth"]["buy"]] == [d.orders for d in full_ours.bids]
