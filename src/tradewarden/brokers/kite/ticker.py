"""Kite's websocket messages, decoded and built (pure functions, no I/O).

Binary messages carry market data. A message is an int16 count of packets, then per packet
an int16 length and the packet; every number is big-endian. A 1-byte message is a heartbeat
(sent about once a second). Packet layouts by length:

* 8 — ``ltp``: instrument token (int32), last price.
* 28 / 32 — index ``quote`` / ``full``: token, last price, high, low, open, close, net change
  (signed); ``full`` adds the exchange timestamp (epoch seconds).
* 44 — ``quote``: token, last price, last traded quantity, average traded price, volume,
  total buy quantity, total sell quantity, open, high, low, close.
* 184 — ``full``: ``quote`` plus last trade time, open interest, OI day high, OI day low,
  exchange timestamp, then 10 depth entries of 12 bytes (quantity int32, price int32, orders
  int16, 2 bytes padding): 5 bids, then 5 offers.

Prices are in paise (÷100); currency derivatives (segment ``CDS``, 3) ÷10⁷; ``BCD`` (6) and
``NCO`` (12) ÷10⁴. The segment is the token's low byte. Text messages are JSON:
``{"type": "order", "data": {…}}`` (an order update, the postback format), ``"error"`` and
``"message"``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewarden.brokers.base import OrderUpdate, Tick
from tradewarden.brokers.kite.wire import KiteSymbols, WireError, update_from_kite
from tradewarden.domain.instruments import InstrumentKey


class Mode(StrEnum):
    LTP = "ltp"
    QUOTE = "quote"
    FULL = "full"


LTP_LENGTH = 8
INDEX_QUOTE_LENGTH = 28
INDEX_FULL_LENGTH = 32
QUOTE_LENGTH = 44
FULL_LENGTH = 184
DEPTH_OFFSET = 64
DEPTH_ENTRY = 12

SEGMENT_CDS = 3
SEGMENT_BCD = 6
SEGMENT_INDICES = 9
SEGMENT_NCO = 12


class TickerError(ValueError):
    """A binary message shorter than its own header says."""


@dataclass(frozen=True, slots=True)
class DepthEntry:
    quantity: int
    price: Decimal
    orders: int


@dataclass(frozen=True, slots=True)
class KiteTick:
    """One decoded packet; fields a mode does not carry are ``None``."""

    instrument_token: int
    mode: Mode
    tradable: bool
    last_price: Decimal
    last_quantity: int | None = None
    average_price: Decimal | None = None
    volume: int | None = None
    buy_quantity: int | None = None
    sell_quantity: int | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    close: Decimal | None = None
    change: Decimal | None = None
    last_trade_time: datetime | None = None
    oi: int | None = None
    oi_day_high: int | None = None
    oi_day_low: int | None = None
    exchange_timestamp: datetime | None = None
    bids: tuple[DepthEntry, ...] = ()
    offers: tuple[DepthEntry, ...] = ()

    def to_tick(self, key: InstrumentKey, received_at: datetime) -> Tick:
        """Our :class:`Tick`, stamped with the exchange's time when the packet has one."""
        return Tick(
            exchange=key.exchange,
            symbol=key.symbol,
            last_price=self.last_price,
            volume=self.volume,
            timestamp=self.exchange_timestamp or self.last_trade_time or received_at,
        )


def price_exponent(token: int) -> int:
    """Decimal places of the packet's prices, from the token's segment."""
    segment = token & 0xFF
    if segment == SEGMENT_CDS:
        return 7
    if segment in (SEGMENT_BCD, SEGMENT_NCO):
        return 4
    return 2


def is_heartbeat(message: bytes) -> bool:
    return len(message) < 2


def split_packets(message: bytes) -> list[bytes]:
    """The packets of a binary message (none for a heartbeat)."""
    if is_heartbeat(message):
        return []
    (count,) = struct.unpack_from(">H", message, 0)
    packets: list[bytes] = []
    offset = 2
    for _ in range(count):
        if offset + 2 > len(message):
            raise TickerError(f"message ends before packet {len(packets) + 1} of {count}")
        (length,) = struct.unpack_from(">H", message, offset)
        offset += 2
        if offset + length > len(message):
            raise TickerError(f"packet {len(packets) + 1} of {count} is cut short")
        packets.append(message[offset : offset + length])
        offset += length
    return packets


def _u32(packet: bytes, offset: int) -> int:
    return int(struct.unpack_from(">I", packet, offset)[0])


def _i32(packet: bytes, offset: int) -> int:
    return int(struct.unpack_from(">i", packet, offset)[0])


def _time(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def decode_packet(packet: bytes) -> KiteTick | None:
    """One packet; ``None`` for a length no documented layout has."""
    size = len(packet)
    if size not in (LTP_LENGTH, INDEX_QUOTE_LENGTH, INDEX_FULL_LENGTH, QUOTE_LENGTH, FULL_LENGTH):
        return None
    token = _u32(packet, 0)
    places = price_exponent(token)
    tradable = (token & 0xFF) != SEGMENT_INDICES

    def price(offset: int, signed: bool = False) -> Decimal:
        raw = _i32(packet, offset) if signed else _u32(packet, offset)
        return Decimal(raw).scaleb(-places)

    if size == LTP_LENGTH:
        return KiteTick(token, Mode.LTP, tradable, price(4))
    if size in (INDEX_QUOTE_LENGTH, INDEX_FULL_LENGTH):
        return KiteTick(
            token,
            Mode.QUOTE if size == INDEX_QUOTE_LENGTH else Mode.FULL,
            tradable,
            price(4),
            high=price(8),
            low=price(12),
            open=price(16),
            close=price(20),
            change=price(24, signed=True),
            exchange_timestamp=_time(_u32(packet, 28)) if size == INDEX_FULL_LENGTH else None,
        )
    full = size == FULL_LENGTH
    bids: list[DepthEntry] = []
    offers: list[DepthEntry] = []
    if full:
        for index in range(10):
            at = DEPTH_OFFSET + index * DEPTH_ENTRY
            entry = DepthEntry(
                quantity=_u32(packet, at),
                price=price(at + 4),
                orders=int(struct.unpack_from(">H", packet, at + 8)[0]),
            )
            (bids if index < 5 else offers).append(entry)
    return KiteTick(
        token,
        Mode.FULL if full else Mode.QUOTE,
        tradable,
        price(4),
        last_quantity=_u32(packet, 8),
        average_price=price(12),
        volume=_u32(packet, 16),
        buy_quantity=_u32(packet, 20),
        sell_quantity=_u32(packet, 24),
        open=price(28),
        high=price(32),
        low=price(36),
        close=price(40),
        last_trade_time=_time(_u32(packet, 44)) if full else None,
        oi=_u32(packet, 48) if full else None,
        oi_day_high=_u32(packet, 52) if full else None,
        oi_day_low=_u32(packet, 56) if full else None,
        exchange_timestamp=_time(_u32(packet, 60)) if full else None,
        bids=tuple(bids),
        offers=tuple(offers),
    )


def decode_binary(message: bytes) -> list[KiteTick]:
    """Every packet of a binary message (a heartbeat has none; unknown layouts are skipped)."""
    return [tick for packet in split_packets(message) if (tick := decode_packet(packet))]


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A decoded text message: an order update, or Kite's error/notice text."""

    type: str
    update: OrderUpdate | None = None
    text: str | None = None


def decode_text(message: str | bytes, symbols: KiteSymbols) -> TextMessage | None:
    """A JSON text message; ``None`` when it is not JSON or not an object with a type.

    Raises :class:`~tradewarden.brokers.kite.wire.WireError` for an order update we cannot
    read.
    """
    try:
        data: Any = json.loads(message, parse_float=Decimal)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    kind = data["type"]
    if kind == "order":
        payload = data.get("data")
        if not isinstance(payload, dict):
            raise WireError("order message without data")
        return TextMessage(kind, update=update_from_kite(payload, symbols))
    payload = data.get("data")
    return TextMessage(kind, text=payload if isinstance(payload, str) else json.dumps(payload))


def subscribe_message(tokens: list[int]) -> str:
    return json.dumps({"a": "subscribe", "v": tokens})


def unsubscribe_message(tokens: list[int]) -> str:
    return json.dumps({"a": "unsubscribe", "v": tokens})


def mode_message(mode: Mode, tokens: list[int]) -> str:
    return json.dumps({"a": "mode", "v": [mode.value, tokens]})
