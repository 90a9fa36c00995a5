"""Strategy portfolio P&L in memory: what trades realised by today's exits counts (partial
exits of open trades too, not earlier days' exits), each closed trade once, and a new day
forgets it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tradewarden.domain.trades import ExitReason, Trade, TradeSide
from tradewarden.engine.trades.portfolio import PortfolioLimits, Portfolios

TODAY = datetime(2026, 11, 23, 3, 45, tzinfo=UTC)  # 09:15 IST
DAY = date(2026, 11, 23)


def _trade(trade_id: int, opened_at: datetime, *, quantity: int = 10, exited: int = 0,
           exit_price: str = "0", exited_on: datetime = TODAY, earlier: int = 0) -> Trade:
    """A long trade of ``quantity`` at 100; ``earlier`` of its exits happened the day before
    the rest (``exited`` in all)."""
    trade = Trade(id=trade_id, user_id=1, account_id=1, strategy_id=7, exchange="NSE",
                  symbol="SBIN", side=TradeSide.LONG, product="CNC", quantity=quantity,
                  entry_order_id=f"E{trade_id}", entry_price=Decimal("100"),
                  opened_at=opened_at, updated_at=opened_at)
    for count, moment in ((earlier, exited_on - timedelta(days=1)),
                          (exited - earlier, exited_on)):
        if count:
            trade.before_realised_change(moment)
            trade.exited_quantity += count
            trade.exit_value += Decimal(exit_price) * count
            trade.realised_pnl = (trade.exit_value - trade.entry_price * trade.exited_quantity)
    return trade


def test_partial_exits_of_todays_open_trades_count_towards_the_portfolio() -> None:
    books = Portfolios()
    books.day = DAY
    books.configure(7, PortfolioLimits(stop_loss=Decimal("75")))
    today = _trade(1, TODAY, exited=4, exit_price="90")  # -40 realised, 6 still open
    # opened yesterday: 5 sold at 50 yesterday (-250, not today's), none today
    older = _trade(2, TODAY - timedelta(days=1), exited=5, exit_price="50",
                   exited_on=TODAY - timedelta(days=1))
    books.rebuild(7, [today, older])
    assert books.on_price("NSE:SBIN", Decimal("100")) == []
    assert books.pnl(7) == Decimal("-40")  # today's partial exit; the older one's is not today's
    # 6 + 5 open at 95: -30 - 25 unrealised, with -40 realised today: -95 ≤ -75
    assert books.on_price("NSE:SBIN", Decimal("95")) == [
        (7, ExitReason.PORTFOLIO_STOP_LOSS, Decimal("-95"))]


def test_a_new_day_forgets_yesterdays_partial_exits() -> None:
    books = Portfolios()
    books.day = DAY
    books.configure(7, PortfolioLimits())
    books.rebuild(7, [_trade(1, TODAY, exited=4, exit_price="110")])
    books.on_price("NSE:SBIN", Decimal("100"))
    assert books.pnl(7) == Decimal("40")
    books.new_day(DAY + timedelta(days=1))
    assert books.pnl(7) == Decimal("0")
    books.rebuild(7, [_trade(1, TODAY, exited=4, exit_price="110")])
    assert books.pnl(7) == Decimal("0")  # its partial exit was yesterday's


def test_a_multi_day_trade_counts_only_what_it_realised_today() -> None:
    trade = _trade(1, TODAY - timedelta(days=2), exited=10, exit_price="90", earlier=6)
    assert trade.realised_pnl == Decimal("-100")  # 6 out yesterday, the last 4 today
    assert trade.realised_on(DAY) == Decimal("-40")
    assert trade.realised_on(DAY - timedelta(days=1)) == Decimal("0")  # only the last day kept
    books = Portfolios()
    books.day = DAY
    books.configure(7, PortfolioLimits())
    books.close_trade(7, trade.id, trade.realised_on(DAY))
    assert books.pnl(7) == Decimal("-40")


def test_a_closed_trade_counts_once_whichever_way_its_close_is_learnt() -> None:
    books = Portfolios()
    books.day = DAY
    books.configure(7, PortfolioLimits(stop_loss=Decimal("300")))
    trade = _trade(1, TODAY, exited=4, exit_price="90")  # -40 so far, 6 still open
    books.rebuild(7, [trade])
    books.on_price("NSE:SBIN", Decimal("90"))
    assert books.pnl(7) == Decimal("-100")  # -40 realised, -60 on the 6 still open
    # the database already shows it closed (all 10 out at 90: -100) while memory still has it
    books.set_closed(7, {1: Decimal("-100")})
    books.rebuild(7, [trade])
    assert books.pnl(7) == Decimal("-100")
    books.close_trade(7, 1, Decimal("-100"))  # then the close reaches memory: no double count
    books.rebuild(7, [])
    books.set_closed(7, {1: Decimal("-100")})
    assert books.pnl(7) == Decimal("-100")
    assert books.check(7) is None  # -100 is well inside the 300 limit


def test_a_reopened_trade_is_counted_by_its_position_again() -> None:
    books = Portfolios()
    books.day = DAY
    books.configure(7, PortfolioLimits())
    books.close_trade(7, 1, Decimal("-40"))
    books.reopen(7, 1)  # late entry fills: 6 more to exit
    books.rebuild(7, [_trade(1, TODAY, exited=4, exit_price="90")])
    books.on_price("NSE:SBIN", Decimal("100"))
    assert books.pnl(7) == Decimal("-40")  # its realised part, and 6 open at no loss
