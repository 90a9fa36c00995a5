"""Derivative contracts of the bundled master, generated for a given day (they never expire).

``data/derivatives.csv`` lists underlyings with their lot size, expiry weekday and strikes;
``contracts_for(today)`` lists the futures and options those rows stand for on that day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources

from tradewarden.domain.contracts import (
    THURSDAY,
    TUESDAY,
    TradingDayTest,
    future_symbol,
    monthly_expiries,
    option_symbol,
    weekdays_only,
    weekly_expiries,
)
from tradewarden.domain.instruments import Instrument

WEEKDAYS = {"TUE": TUESDAY, "THU": THURSDAY}
MONTHS_LISTED = 2
WEEKS_LISTED = 2


@dataclass(frozen=True, slots=True)
class Underlying:
    """One row of ``derivatives.csv``."""

    exchange: str
    name: str
    lot_size: int
    band_percent: Decimal | None
    expiry_weekday: int
    weekly: bool
    strike_step: Decimal
    strike_center: Decimal
    strikes_each_side: int

    def strikes(self) -> list[Decimal]:
        side = range(-self.strikes_each_side, self.strikes_each_side + 1)
        return [self.strike_center + self.strike_step * n for n in side]


def parse_underlyings(text: str) -> list[Underlying]:
    """Parse the CSV format of ``derivatives.csv`` (``#`` lines are comments)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        band = row["band_percent"].strip()
        rows.append(Underlying(
            exchange=row["exchange"].strip().upper(), name=row["underlying"].strip().upper(),
            lot_size=int(row["lot_size"]), band_percent=Decimal(band) if band else None,
            expiry_weekday=WEEKDAYS[row["expiry_weekday"].strip().upper()],
            weekly=row["weekly"].strip().lower() == "yes",
            strike_step=Decimal(row["strike_step"]), strike_center=Decimal(row["strike_center"]),
            strikes_each_side=int(row["strikes_each_side"])))
    return rows


def bundled_underlyings() -> list[Underlying]:
    text = resources.files("tradewarden").joinpath("data/derivatives.csv").read_text("utf-8")
    return parse_underlyings(text)


def contracts_for(today: date, underlyings: list[Underlying] | None = None,
                  is_trading_day: TradingDayTest = weekdays_only) -> Iterator[Instrument]:
    """The futures and options listed on ``today`` for each underlying."""
    for row in underlyings if underlyings is not None else bundled_underlyings():
        months = monthly_expiries(today, MONTHS_LISTED, row.expiry_weekday, is_trading_day)
        for expiry in months:
            yield Instrument(exchange=row.exchange, symbol=future_symbol(row.name, expiry),
                             lot_size=row.lot_size, series="FUT", instrument_type="FUT",
                             band_percent=row.band_percent)
        if row.strikes_each_side == 0:  # futures only
            continue
        option_expiries = set(months)
        if row.weekly:
            option_expiries.update(
                weekly_expiries(today, WEEKS_LISTED, row.expiry_weekday, is_trading_day))
        for expiry in sorted(option_expiries):
            for strike in row.strikes():
                for right in ("CE", "PE"):
                    yield Instrument(exchange=row.exchange,
                                     symbol=option_symbol(row.name, expiry, strike, right),
                                     lot_size=row.lot_size, series=right,
                                     instrument_type=right, band_percent=None)
