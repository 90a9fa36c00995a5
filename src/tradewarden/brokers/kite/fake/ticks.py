"""Kite's binary market-data packets (``ltp``, ``quote``, ``full`` modes).

A message is ``uint16`` packet count, then per packet ``uint16`` length and the packet; every
number is big-endian; prices are integers (paise: divide by 100, CDS by 10^7, BCD by 10^4).

* ltp (8 bytes): token, last price.
* quote (44 bytes): token, last price, last quantity, average price, volume, total buy
  quantity, total sell quantity, open, high, low, close.
* full (184 bytes): quote + last trade time, OI, OI day high, OI day low, exchange timestamp
  (epoch seconds), then 10 depth entries (5 bids, 5 asks) of quantity (int32), price (int32),
  orders (int16) and 2 bytes of padding.

A single byte is a heartbeat.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

MODES = ("ltp", "quote", "full")
HEARTBEAT = b"\x00"


@dataclass(frozen=True, slots=True)
class TickData:
    """What a packet carries for one instrument."""

    token: int
    divisor: int
    last_price: Decimal
    last_quantity: int
    volume: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    at: datetime


def _p(value: Decimal, divisor: int) -> int:
    return int((value * divisor).to_integral_value())


def packet(tick: TickData, mode: str) -> bytes:
    """One packet in ``mode``."""
    d = tick.divisor
    ltp = _p(tick.last_price, d)
    if mode == "ltp":
        return struct.pack(">II", tick.token, ltp)
    quote = struct.pack(
        ">11I",
        tick.token,
        ltp,
        tick.last_quantity,
        ltp,
        tick.volume,
        0,
        0,
        _p(tick.open, d),
        _p(tick.high, d),
        _p(tick.low, d),
        _p(tick.close, d),
    )
    if mode == "quote":
        return quote
    epoch = int(tick.at.timestamp())
    extra = struct.pack(">5I", epoch, 0, 0, 0, epoch)
    depth = b"".join(struct.pack(">IIHxx", 0, 0, 0) for _ in range(10))
    return quote + extra + depth


def message(packets: list[bytes]) -> bytes:
    """Packets framed into one binary websocket message."""
    body = b"".join(struct.pack(">H", len(p)) + p for p in packets)
    return struct.pack(">H", len(packets)) + body
