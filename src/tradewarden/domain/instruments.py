"""Instruments: canonical (exchange, symbol), tick and lot size, price validation (BRIEF §3.6)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradewarden.domain.money import is_multiple_of, round_to_step
from tradewarden.domain.orders import Product

EXCHANGES: frozenset[str] = frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "MCX"})
#: Segments that list only derivative contracts (futures and options).
DERIVATIVE_EXCHANGES: frozenset[str] = frozenset({"NFO", "BFO", "CDS", "MCX"})

# Series suffixes brokers append to equity symbols; they never make a different holding.
EQUITY_SUFFIXES: tuple[str, ...] = ("-EQ", "-BE", "-BL", "-BZ", "-SM", "-ST")


def canonical_symbol(symbol: str) -> str:
    """Return the OpenAlgo-style symbol: upper case, series suffix removed (``RELIANCE-EQ``)."""
    cleaned = symbol.strip().upper()
    for suffix in EQUITY_SUFFIXES:
        if cleaned.endswith(suffix) and len(cleaned) > len(suffix):
            return cleaned[: -len(suffix)]
    return cleaned


@dataclass(frozen=True, slots=True)
class InstrumentKey:
    """The canonical identity of an instrument: ``NSE:RELIANCE``."""

    exchange: str
    symbol: str

    @classmethod
    def of(cls, exchange: str, symbol: str) -> InstrumentKey:
        return cls(exchange.strip().upper(), canonical_symbol(symbol))

    @classmethod
    def parse(cls, text: str) -> InstrumentKey:
        """Parse ``"NSE:RELIANCE"``."""
        exchange, sep, symbol = text.partition(":")
        if not sep or not exchange or not symbol:
            raise ValueError(f"expected EXCHANGE:SYMBOL, got {text!r}")
        return cls.of(exchange, symbol)

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument with the rules orders must respect."""

    exchange: str
    symbol: str
    tick_size: Decimal = Decimal("0.05")
    lot_size: int = 1
    series: str = "EQ"
    name: str = ""
    instrument_type: str = "EQ"  # EQ, FUT, CE, PE
    band_percent: Decimal | None = Decimal("20")  # circuit band around the reference price

    @property
    def key(self) -> InstrumentKey:
        return InstrumentKey(self.exchange, self.symbol)

    @property
    def is_derivative(self) -> bool:
        """A futures or options contract (by its type, or by its derivatives-only segment)."""
        return self.instrument_type != "EQ" or self.exchange in DERIVATIVE_EXCHANGES

    def product_problem(self, product: Product) -> str | None:
        """A human reason when ``product`` cannot be used for this instrument, else ``None``."""
        if product is Product.CNC and self.is_derivative:
            return f"CNC is not allowed for the derivative {self.key}; use NRML or MIS"
        return None

    def round_price(self, price: Decimal) -> Decimal:
        """Round to the nearest tick (used when we build an order's price)."""
        return round_to_step(price, self.tick_size)

    def price_problem(self, price: Decimal) -> str | None:
        """A human reason when ``price`` is not a valid order price, else ``None``."""
        if price <= 0:
            return f"price {price} must be positive"
        if not is_multiple_of(price, self.tick_size):
            return f"price {price} is not a multiple of the tick size {self.tick_size}"
        return None

    def quantity_problem(self, quantity: int) -> str | None:
        """A human reason when ``quantity`` is not valid for this instrument, else ``None``."""
        if quantity <= 0:
            return f"quantity {quantity} must be positive"
        if quantity % self.lot_size:
            return f"quantity {quantity} is not a multiple of the lot size {self.lot_size}"
        return None

    def band(self, reference: Decimal) -> tuple[Decimal, Decimal] | None:
        """The (low, high) price band around ``reference``, on the tick grid; None if unbanded."""
        if self.band_percent is None:
            return None
        width = reference * self.band_percent / Decimal(100)
        low = round_to_step(reference - width, self.tick_size, "up")
        high = round_to_step(reference + width, self.tick_size, "down")
        return low, high
