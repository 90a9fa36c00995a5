"""Sessions: the NSE calendar (real clock), pinned sessions, simulated time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from tradewarden.brokers.base import OrderRequest, SessionName
from tradewarden.brokers.paper.calendar import IST, nse_calendar
from tradewarden.brokers.paper.clock import ClockMode, PaperClock
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side, Variety


def ist(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=IST)


def test_nse_sessions_in_ist() -> None:
    cal = nse_calendar()
    assert cal.session_at(ist("2026-11-23 08:59")) is SessionName.CLOSED
    assert cal.session_at(ist("2026-11-23 09:00")) is SessionName.PRE_OPEN
    assert cal.session_at(ist("2026-11-23 09:15")) is SessionName.OPEN
    assert cal.session_at(ist("2026-11-23 15:29")) is SessionName.OPEN
    assert cal.session_at(ist("2026-11-23 15:30")) is SessionName.CLOSED
    assert cal.session_at(ist("2026-11-21 11:00")) is SessionName.CLOSED  # Saturday
    assert not cal.is_trading_day(ist("2026-11-24").date())  # Guru Nanak Jayanti holiday


def test_modes_start_where_they_should() -> None:
    assert PaperClock(ClockMode.MANUAL).session() is SessionName.CLOSED
    assert PaperClock(ClockMode.OPEN).session() is SessionName.OPEN
    wall = ist("2026-11-23 10:00").astimezone(UTC)
    real = PaperClock(ClockMode.REAL, wall=lambda: wall)
    assert real.session() is SessionName.OPEN and real.pinned is None


def test_set_now_follows_the_calendar_and_advances() -> None:
    wall = [datetime(2030, 1, 1, tzinfo=UTC)]
    clock = PaperClock(ClockMode.MANUAL, wall=lambda: wall[0])
    clock.set_now(ist("2026-11-23 09:15"))
    assert clock.session() is SessionName.OPEN
    wall[0] += timedelta(hours=7)
    assert clock.now() == ist("2026-11-23 16:15")
    assert clock.session() is SessionName.CLOSED
    state = clock.state()
    again = PaperClock(ClockMode.MANUAL, wall=lambda: wall[0])
    again.restore(state)
    assert again.now() == clock.now() and again.session() is SessionName.CLOSED


def test_exchange_follows_simulated_time_through_a_day(tmp_path: Path) -> None:
    ex = PaperExchange(tmp_path / "p.db", clock="manual")
    ex.set_now(ist("2026-11-20 16:00"))  # Friday after the close
    amo = ex.place(
        "a",
        OrderRequest(
            "NSE",
            "SBIN",
            Side.BUY,
            1,
            OrderType.LIMIT,
            Product.CNC,
            price=D("800"),
            variety=Variety.AMO,
        ),
    )
    ex.set_prices({InstrumentKey("NSE", "SBIN"): D("799")})
    assert ex.get_order("a", amo).raw_status == "AMO REQ RECEIVED"
    ex.set_now(ist("2026-11-23 09:05"))
    assert ex.market_session().session is SessionName.PRE_OPEN
    assert ex.get_order("a", amo).raw_status == "AMO REQ RECEIVED"
    ex.set_now(ist("2026-11-23 09:15"))
    filled = ex.get_order("a", amo)
    assert filled.raw_status == "COMPLETE" and filled.average_price == D("799.00")
    ex.set_now(ist("2026-11-25 09:30"))  # next trading day (24th is a holiday): T+1 holding
    (holding,) = ex.holdings("a")
    assert holding.quantity == 1
    ex.close()
