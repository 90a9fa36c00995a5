"""The bundled instrument master: tick size, lot size and price band per instrument.

Loaded from ``tradewarden/data/instruments.csv`` (package data). Equity symbols on NSE/BSE that
are not in the file are treated as plain equities (tick 0.05, lot 1, 20 % band) so a symbol we
did not bundle still trades; unknown derivatives are refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from tradewarden.domain.instruments import Instrument, InstrumentKey

EQUITY_EXCHANGES: frozenset[str] = frozenset({"NSE", "BSE"})


class InstrumentMaster:
    """Instruments by canonical key."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_key: dict[InstrumentKey, Instrument] = {i.key: i for i in instruments}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_key.values())

    def get(self, key: InstrumentKey) -> Instrument | None:
        """The bundled instrument, or ``None``."""
        return self._by_key.get(key)

    def resolve(self, key: InstrumentKey) -> Instrument | None:
        """The instrument, defaulting unknown NSE/BSE symbols to a plain equity."""
        found = self._by_key.get(key)
        if found is not None:
            return found
        if key.exchange in EQUITY_EXCHANGES and _plausible_symbol(key.symbol):
            return Instrument(exchange=key.exchange, symbol=key.symbol)
        return None


def _plausible_symbol(symbol: str) -> bool:
    return 0 < len(symbol) <= 30 and all(c.isalnum() or c in "&-_" for c in symbol)


def parse_instruments(text: str) -> list[Instrument]:
    """Parse the CSV format of the bundled file (``#`` lines are comments)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    instruments = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        band = (row.get("band_percent") or "").strip()
        kind = row["instrument_type"].strip()
        key = InstrumentKey.of(row["exchange"], row["symbol"])
        instruments.append(
            Instrument(
                exchange=key.exchange,
                symbol=key.symbol,
                tick_size=Decimal(row["tick_size"]),
                lot_size=int(row["lot_size"]),
                series="EQ" if kind == "EQ" else kind,
                instrument_type=kind,
                band_percent=Decimal(band) if band else None,
            )
        )
    return instruments


@lru_cache(maxsize=1)
def bundled_master() -> InstrumentMaster:
    """The instrument master shipped with Tradewarden (loaded once)."""
    text = resources.files("tradewarden").joinpath("data/instruments.csv").read_text("utf-8")
    return InstrumentMaster(parse_instruments(text))
