"""The bundled instrument master."""

from __future__ import annotations

from decimal import Decimal

from tradewarden.brokers.instruments import bundled_master, parse_instruments
from tradewarden.domain.instruments import InstrumentKey


def test_a_few_hundred_nse_equities_with_tick_005_and_lot_1() -> None:
    equities = [i for i in bundled_master() if i.exchange == "NSE"]
    assert len(equities) >= 300
    assert all(i.tick_size == Decimal("0.05") and i.lot_size == 1 for i in equities)
    symbols = {i.symbol for i in equities}
    assert {"RELIANCE", "SBIN", "INFY", "TCS", "HDFCBANK", "M&M", "BAJAJ-AUTO"} <= symbols


def test_fno_contracts_carry_their_lot_sizes() -> None:
    master = bundled_master()
    nifty = master.get(InstrumentKey("NFO", "NIFTY24NOV26FUT"))
    assert nifty is not None and nifty.lot_size == 65 and nifty.instrument_type == "FUT"
    option = master.get(InstrumentKey("NFO", "BANKNIFTY24NOV2658000CE"))
    assert option is not None and option.lot_size == 30 and option.band_percent is None
    assert sum(1 for i in master if i.exchange == "NFO") >= 10


def test_lookup_is_by_canonical_symbol() -> None:
    master = bundled_master()
    assert master.get(InstrumentKey.of("nse", "reliance-eq")) is not None


def test_unknown_instruments_are_unknown_on_every_exchange() -> None:
    master = bundled_master()
    assert master.resolve(InstrumentKey("NSE", "NOTLISTEDCO")) is None
    assert master.resolve(InstrumentKey("NSE", "RELIANC")) is None
    assert master.resolve(InstrumentKey("BSE", "RELIANCE")) is None
    assert master.resolve(InstrumentKey("NFO", "NIFTY01JAN99FUT")) is None
    assert master.resolve(InstrumentKey("NSE", "BAD SYMBOL!")) is None


def test_parse_skips_comments_and_reads_bands() -> None:
    rows = parse_instruments(
        "# comment\nexchange,symbol,instrument_type,tick_size,lot_size,band_percent,"
        "underlying,expiry,strike\nNSE,ABC-EQ,EQ,0.05,1,10,,,\n"
    )
    assert rows[0].symbol == "ABC" and rows[0].band_percent == Decimal("10")
