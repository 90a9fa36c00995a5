"""The bundled instrument master: tick size, lot size and price band per instrument.

Loaded from ``tradewarden/data/instruments.csv`` (package data). An instrument that is not in
the master is unknown on every exchange: orders for it are denied (``validation_failed``) and
the paper broker refuses them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from tradewarden.brokers.derivatives import contracts_for
from tradewarden.clock import ist_today
from tradewarden.domain.instruments import Instrument, InstrumentKey


class InstrumentMaster:
    """Instruments by canonical key."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_key: dict[InstrumentKey, Instrument] = {i.key: i for i in instruments}

    def _listed(self) -> dict[InstrumentKey, Instrument]:
        return self._by_key

    def __len__(self) -> int:
        return len(self._listed())

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._listed().values())

    def get(self, key: InstrumentKey) -> Instrument | None:
        """The instrument, or ``None`` when the master does not know it (any exchange)."""
        return self._listed().get(key)

    def resolve(self, key: InstrumentKey) -> Instrument | None:
        """:meth:`get`: no defaults for unlisted symbols, unknown is unknown."""
        return self.get(key)


class DailyMaster(InstrumentMaster):
    """The bundled master as listed on the current IST day: a long-running holder sees the
    day's contracts (expired ones gone, new ones listed) without a restart."""

    def __init__(self) -> None:
        super().__init__(())

    def _listed(self) -> dict[InstrumentKey, Instrument]:
        return _master_on(ist_today())._by_key


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


def bundled_master(today: date | None = None) -> InstrumentMaster:
    """The instrument master shipped with Tradewarden, as listed on ``today``; without
    ``today``, a :class:`DailyMaster` that follows the IST day.

    Equities come from ``data/instruments.csv`` (the NSE ones are listed on BSE too); futures
    and options are generated for the day from ``data/derivatives.csv`` (``derivatives.py``),
    so the master never holds only expired contracts.
    """
    return _master_on(today) if today is not None else DailyMaster()


@lru_cache(maxsize=2)
def _master_on(today: date) -> InstrumentMaster:
    return InstrumentMaster([*_bundled_equities(), *contracts_for(today)])


@lru_cache(maxsize=1)
def _bundled_equities() -> tuple[Instrument, ...]:
    text = resources.files("tradewarden").joinpath("data/instruments.csv").read_text("utf-8")
    listed = parse_instruments(text)
    on_bse = [replace(i, exchange="BSE") for i in listed if i.exchange == "NSE"]
    return (*listed, *on_bse)
