"""The bundled instrument master."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from tradewarden.brokers.instruments import bundled_master, parse_instruments
from tradewarden.clock import IST, ist_today, use_clock
from tradewarden.domain.contracts import (
    expiry_code,
    future_symbol,
    monthly_expiries,
    option_symbol,
    weekly_expiries,
)
from tradewarden.domain.instruments import InstrumentKey


def test_a_few_hundred_nse_equities_with_tick_005_and_lot_1() -> None:
    equities = [i for i in bundled_master() if i.exchange == "NSE"]
    assert len(equities) >= 300
    assert all(i.tick_size == Decimal("0.05") and i.lot_size == 1 for i in equities)
    symbols = {i.symbol for i in equities}
    assert {"RELIANCE", "SBIN", "INFY", "TCS", "HDFCBANK", "M&M", "BAJAJ-AUTO"} <= symbols


def test_fno_contracts_carry_their_lot_sizes() -> None:
    master = bundled_master()
    month = monthly_expiries(ist_today(), 1)[0]
    nifty = master.get(InstrumentKey("NFO", future_symbol("NIFTY", month)))
    assert nifty is not None and nifty.lot_size == 65 and nifty.instrument_type == "FUT"
    option = master.get(InstrumentKey("NFO", option_symbol("BANKNIFTY", month, 58500, "CE")))
    assert option is not None and option.lot_size == 30 and option.band_percent is None
    assert sum(1 for i in master if i.exchange == "NFO") >= 10


@pytest.mark.parametrize("days_ahead", [0, 1, 40, 200, 400, 3000])
def test_fno_contracts_are_listed_for_any_day_and_none_has_expired(days_ahead: int) -> None:
    today = ist_today() + timedelta(days=days_ahead)
    contracts = [i for i in bundled_master(today) if i.exchange in ("NFO", "BFO")]
    months = monthly_expiries(today, 2)
    assert {f"NIFTY{expiry_code(m)}FUT" for m in months} <= {i.symbol for i in contracts}
    weekly = option_symbol("NIFTY", weekly_expiries(today, 1)[0], 26000, "PE")
    assert bundled_master(today).get(InstrumentKey("NFO", weekly)) is not None
    assert bundled_master(today).get(InstrumentKey("BSE", "RELIANCE")) is not None


def test_a_held_master_follows_the_ist_day() -> None:
    """A process that stays up sees a contract expire and the next one listed."""
    master = bundled_master()
    expiry = monthly_expiries(ist_today(), 1)[0]
    expiring = InstrumentKey("NFO", future_symbol("NIFTY", expiry))

    def nifty_futures_on(day: date) -> set[InstrumentKey]:
        with use_clock(lambda: datetime.combine(day, time(12), IST)):
            assert len(master) == sum(1 for _ in master)
            return {i.key for i in master if i.instrument_type == "FUT"
                    and i.symbol.startswith("NIFTY") and i.symbol[5:7].isdigit()}

    on_expiry = nifty_futures_on(expiry)
    after = nifty_futures_on(expiry + timedelta(days=1))
    assert expiring in on_expiry and expiring not in after
    with use_clock(lambda: datetime.combine(expiry + timedelta(days=1), time(12), IST)):
        assert master.get(expiring) is None
    assert len(after - on_expiry) == 1  # the next month's future is listed


def test_lookup_is_by_canonical_symbol() -> None:
    master = bundled_master()
    assert master.get(InstrumentKey.of("nse", "reliance-eq")) is not None


def test_unknown_instruments_are_unknown_on_every_exchange() -> None:
    master = bundled_master()
    assert master.resolve(InstrumentKey("NSE", "NOTLISTEDCO")) is None
    assert master.resolve(InstrumentKey("NSE", "RELIANC")) is None
    assert master.resolve(InstrumentKey("BSE", "RELIANC")) is None
    assert master.resolve(InstrumentKey("NFO", "NIFTY01JAN99FUT")) is None
    assert master.resolve(InstrumentKey("NSE", "BAD SYMBOL!")) is None


def test_parse_skips_comments_and_reads_bands() -> None:
    rows = parse_instruments(
        "# comment\nexchange,symbol,instrument_type,tick_size,lot_size,band_percent,"
        "underlying,expiry,strike\nNSE,ABC-EQ,EQ,0.05,1,10,,,\n"
    )
    assert rows[0].symbol == "ABC" and rows[0].band_percent == Decimal("10")
