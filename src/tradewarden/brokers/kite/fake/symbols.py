"""Kite's view of the paper exchange's instruments: tokens, trading symbols and the CSV master.

Equities keep their symbol (``RELIANCE``). Derivatives get Kite's trading symbols: futures
``NIFTY26DECFUT``, monthly options ``NIFTY26DEC26000CE``, weekly options ``NIFTY26D0826000CE``
(year, month code 1-9/O/N/D, day). ``instrument_token`` is ``exchange_token << 8 | segment``,
the layout Kite's binary ticks rely on; tokens derive from the instrument's name so they are
stable across restarts.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from tradewarden.brokers.derivatives import Underlying, bundled_underlyings
from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.clock import IST, ist_today
from tradewarden.domain.contracts import monthly_expiry
from tradewarden.domain.instruments import Instrument, InstrumentKey

#: The segment numbers in the low byte of an instrument token (Kite's ticker layout).
SEGMENT_CODES = {"NSE": 1, "NFO": 2, "CDS": 3, "BSE": 4, "BFO": 5, "BCD": 6, "MCX": 7}
#: Integer prices in ticks are divided by this per segment.
DIVISORS = {3: 10_000_000, 6: 10_000}
CSV_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)
_CONTRACT = re.compile(r"^(\d{2})([A-Z]{3})(\d{2})(FUT|(\d+(?:\.\d+)?)(CE|PE))$")
_WEEK_MONTH = "123456789OND"
_TOKEN_SPACE = (1 << 24) - 1


@dataclass(frozen=True, slots=True)
class KiteInstrument:
    """One row of Kite's instrument master, tied to the paper exchange's canonical key."""

    key: InstrumentKey
    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    expiry: date | None
    strike: Decimal
    tick_size: Decimal
    lot_size: int
    instrument_type: str
    segment: str

    @property
    def exchange(self) -> str:
        return self.key.exchange

    @property
    def divisor(self) -> int:
        return DIVISORS.get(self.instrument_token & 0xFF, 100)

    @property
    def kite_key(self) -> str:
        """``EXCHANGE:tradingsymbol`` as Kite's quote calls name it."""
        return f"{self.exchange}:{self.tradingsymbol}"


class KiteSymbols:
    """Canonical keys <-> Kite trading symbols and tokens for one instrument master."""

    def __init__(self, master: InstrumentMaster) -> None:
        self._master = master
        self._day: date | None = None
        self._cached: _Table | None = None

    def _table(self) -> _Table:
        """Built once per IST day (the bundled master lists the day's contracts)."""
        today = ist_today()
        if self._cached is None or self._day != today:
            self._cached, self._day = _build(tuple(self._master)), today
        return self._cached

    def all(self) -> list[KiteInstrument]:
        return list(self._table().by_key.values())

    def by_key(self, key: InstrumentKey) -> KiteInstrument | None:
        return self._table().by_key.get(key)

    def by_symbol(self, exchange: str, tradingsymbol: str) -> KiteInstrument | None:
        return self._table().by_symbol.get((exchange.upper(), tradingsymbol.upper()))

    def by_token(self, token: int) -> KiteInstrument | None:
        return self._table().by_token.get(token)

    def lookup(self, text: str) -> KiteInstrument | None:
        """``NSE:INFY`` or an instrument token, as ``/quote`` accepts them."""
        if text.isdigit():
            return self.by_token(int(text))
        exchange, _, symbol = text.partition(":")
        return self.by_symbol(exchange, symbol) if symbol else None

    def csv(self, exchange: str | None = None) -> str:
        """The master as Kite's ``GET /instruments`` CSV."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in self.all():
            if exchange and row.exchange != exchange.upper():
                continue
            writer.writerow(
                (
                    row.instrument_token,
                    row.exchange_token,
                    row.tradingsymbol,
                    row.name,
                    0,
                    row.expiry.isoformat() if row.expiry else "",
                    _plain(row.strike),
                    _plain(row.tick_size),
                    row.lot_size,
                    row.instrument_type,
                    row.segment,
                    row.exchange,
                )
            )
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class _Table:
    by_key: dict[InstrumentKey, KiteInstrument]
    by_symbol: dict[tuple[str, str], KiteInstrument]
    by_token: dict[int, KiteInstrument]


@lru_cache(maxsize=4)
def _build(instruments: tuple[Instrument, ...]) -> _Table:
    underlyings = {(u.exchange, u.name): u for u in bundled_underlyings()}
    by_key: dict[InstrumentKey, KiteInstrument] = {}
    by_symbol: dict[tuple[str, str], KiteInstrument] = {}
    by_token: dict[int, KiteInstrument] = {}
    for instrument in sorted(instruments, key=lambda i: (i.exchange, i.symbol)):
        segment_code = SEGMENT_CODES.get(instrument.exchange)
        if segment_code is None:
            continue
        row = _row(instrument, segment_code, underlyings, by_token)
        by_key[row.key] = row
        by_symbol[(row.exchange, row.tradingsymbol)] = row
        by_token[row.instrument_token] = row
    return _Table(by_key, by_symbol, by_token)


def _row(
    instrument: Instrument,
    segment_code: int,
    underlyings: dict[tuple[str, str], Underlying],
    taken: dict[int, KiteInstrument],
) -> KiteInstrument:
    exchange_token = (
        zlib.crc32(f"{instrument.exchange}:{instrument.symbol}".encode()) % (_TOKEN_SPACE) + 1
    )
    while (exchange_token << 8 | segment_code) in taken:
        exchange_token = exchange_token % _TOKEN_SPACE + 1
    token = exchange_token << 8 | segment_code
    contract = _contract(instrument, underlyings)
    if contract is None:
        return KiteInstrument(
            key=instrument.key,
            instrument_token=token,
            exchange_token=exchange_token,
            tradingsymbol=instrument.symbol,
            name=instrument.name or instrument.symbol,
            expiry=None,
            strike=Decimal(0),
            tick_size=instrument.tick_size,
            lot_size=instrument.lot_size,
            instrument_type="EQ",
            segment=instrument.exchange,
        )
    underlying, expiry, strike, kind = contract
    return KiteInstrument(
        key=instrument.key,
        instrument_token=token,
        exchange_token=exchange_token,
        tradingsymbol=_kite_symbol(underlying, expiry, strike, kind),
        name=underlying.name,
        expiry=expiry,
        strike=strike,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        instrument_type=kind,
        segment=f"{instrument.exchange}-{'FUT' if kind == 'FUT' else 'OPT'}",
    )


def _contract(
    instrument: Instrument, underlyings: dict[tuple[str, str], Underlying]
) -> tuple[Underlying, date, Decimal, str] | None:
    """(underlying, expiry, strike, FUT/CE/PE) of an OpenAlgo contract symbol, else None."""
    if not instrument.is_derivative:
        return None
    names = sorted(
        (u for (ex, _), u in underlyings.items() if ex == instrument.exchange),
        key=lambda u: -len(u.name),
    )
    for underlying in names:
        if not instrument.symbol.startswith(underlying.name):
            continue
        match = _CONTRACT.match(instrument.symbol[len(underlying.name) :])
        if match is None:
            continue
        day, month, year, tail, strike, right = match.groups()
        month_no = list(calendar.month_abbr).index(month.title())
        expiry = date(2000 + int(year), month_no, int(day))
        if tail == "FUT":
            return underlying, expiry, Decimal(0), "FUT"
        return underlying, expiry, Decimal(strike), right
    return None


def _kite_symbol(underlying: Underlying, expiry: date, strike: Decimal, kind: str) -> str:
    yy = f"{expiry:%y}"
    month = calendar.month_abbr[expiry.month].upper()
    if kind == "FUT":
        return f"{underlying.name}{yy}{month}FUT"
    strike_text = _plain(strike)
    monthly = monthly_expiry(expiry.year, expiry.month, underlying.expiry_weekday)
    if expiry == monthly:
        return f"{underlying.name}{yy}{month}{strike_text}{kind}"
    return (
        f"{underlying.name}{yy}{_WEEK_MONTH[expiry.month - 1]}{expiry.day:02d}{strike_text}{kind}"
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def kite_time(when: datetime | None) -> str | None:
    """Kite's timestamp text: IST, ``2026-12-08 09:15:00``."""
    return None if when is None else when.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")
