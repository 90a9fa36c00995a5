"""Intraday square-off: MIS trades at the strategy's time, only inside a trading session."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from tradewarden.domain.strategy import StrategySettings
from tradewarden.domain.trades import Trade, TradeSide
from tradewarden.engine.trades.squareoff import due_for_square_off

IST = ZoneInfo("Asia/Kolkata")
SETTINGS = {1: StrategySettings(square_off_time=time(15, 15)), 2: StrategySettings.model_validate(
    {"square_off_time": None})}


def _trade(trade_id: int, strategy_id: int, product: str = "MIS") -> Trade:
    at = datetime(2026, 11, 23, 9, 30, tzinfo=IST)
    return Trade(id=trade_id, user_id=1, account_id=1, strategy_id=strategy_id, exchange="NSE",
                 symbol="SBIN", side=TradeSide.LONG, product=product, quantity=1,
                 entry_order_id=f"o{trade_id}", entry_price=Decimal("800"), opened_at=at,
                 updated_at=at)


def _session(day: date) -> tuple[datetime, datetime] | None:
    if day == date(2026, 11, 24):  # a holiday in this calendar
        return None
    return (datetime.combine(day, time(9, 15), IST), datetime.combine(day, time(15, 30), IST))


def test_mis_trades_of_strategies_with_a_time_go_at_that_time_on_trading_days() -> None:
    trades = [_trade(1, 1), _trade(2, 1, product="CNC"), _trade(3, 2)]
    monday_1516 = datetime(2026, 11, 23, 15, 16, tzinfo=IST)
    assert [t.id for t in due_for_square_off(trades, SETTINGS, monday_1516, _session)] == [1]
    before = datetime(2026, 11, 23, 15, 14, tzinfo=IST)
    after_close = datetime(2026, 11, 23, 15, 31, tzinfo=IST)
    holiday = datetime(2026, 11, 24, 15, 20, tzinfo=IST)
    saturday = datetime(2026, 11, 28, 15, 20, tzinfo=IST)
    for moment in (before, after_close, holiday):
        assert due_for_square_off(trades, SETTINGS, moment, _session) == []
    assert due_for_square_off(trades, SETTINGS, saturday) == []  # no calendar: weekdays only
