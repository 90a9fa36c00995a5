"""What the trades page and the overview show of trades: rows with their live numbers, levels
close to the price, and the per-strategy summary (open trades, unrealised, realised today)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewarden.domain.money import ZERO
from tradewarden.domain.trades import EXIT_REASON_TEXT, ExitReason, Trade
from tradewarden.engine.trades.operations import TradeView
from tradewarden.engine.trades.recorder import EXIT_REASON, TRADE_ID
from tradewarden.store.tables import OrderRow, Strategy
from tradewarden.web.formatting import UNKNOWN

#: a level is "near" when the price is within this percentage of it (the page can change it)
DEFAULT_NEAR_PERCENT = Decimal("0.5")
HUNDRED = Decimal(100)
LEVELS = ("stop_loss", "target", "trailing_level")


def display_name(name: str) -> str:
    """A deleted strategy keeps its name with a ``#deleted-…`` suffix; show the name."""
    return name.split("#deleted-")[0]


@dataclass(frozen=True, slots=True)
class ExitOf:
    """What an exit order closes: its trade (None for a strategy's exit signal) and why."""

    trade_id: int | None
    reason: str | None  # an ExitReason value
    text: str  # the reason in words, "" when unknown


def exit_of(order: OrderRow) -> ExitOf | None:
    """The exit an order is, from its execution type and the trade manager's ``extra`` keys;
    None for entries."""
    extra = order.extra or {}
    trade_id, reason = extra.get(TRADE_ID), extra.get(EXIT_REASON)
    if order.execution_type != "exit" and trade_id is None:
        return None
    code = reason if isinstance(reason, str) else None
    known = code in set(ExitReason)
    return ExitOf(trade_id if isinstance(trade_id, int) else None, code,
                  EXIT_REASON_TEXT[ExitReason(code)] if code is not None and known else "")


def strategy_names(session: Session, user_id: int) -> dict[int, str]:
    """Every strategy of the user, deleted ones included (their trades stay in history)."""
    rows = session.execute(select(Strategy.id, Strategy.name).where(Strategy.user_id == user_id))
    return {strategy_id: display_name(name) for strategy_id, name in rows}


def near_levels(view: TradeView, percent: Decimal) -> frozenset[str]:
    """The levels (``LEVELS``) the last price is within ``percent`` % of."""
    ltp = view.ltp
    if ltp is None or ltp <= 0:
        return frozenset()
    levels = {"stop_loss": view.trade.stop_loss, "target": view.trade.target,
              "trailing_level": view.trailing_level}
    return frozenset(name for name, level in levels.items()
                     if level is not None and abs(ltp - level) * HUNDRED <= percent * ltp)


@dataclass(frozen=True, slots=True)
class ActiveRow:
    """One open trade as a table row."""

    view: TradeView
    strategy: str
    near: frozenset[str]

    @property
    def trade(self) -> Trade:
        return self.view.trade


def active_rows(views: Iterable[TradeView], names: dict[int, str],
                percent: Decimal) -> list[ActiveRow]:
    return [ActiveRow(view, strategy_label(view.trade, names), near_levels(view, percent))
            for view in views]


def strategy_label(trade: Trade, names: dict[int, str]) -> str:
    if trade.strategy_id is not None and trade.strategy_id in names:
        return names[trade.strategy_id]
    return trade.booked_label or UNKNOWN


@dataclass
class SummaryRow:
    """A strategy's day: open trades, unrealised P&L now, realised P&L today."""

    key: str  # strategy id, "none" (trades without a strategy) or "all"
    name: str
    open_trades: int = 0
    unrealised: Decimal = ZERO
    realised_today: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.unrealised + self.realised_today


@dataclass
class Summary:
    rows: list[SummaryRow] = field(default_factory=list)
    total: SummaryRow = field(default_factory=lambda: SummaryRow("all", "All strategies"))


def summarise(views: Iterable[TradeView], realised: dict[int | None, Decimal],
              names: dict[int, str]) -> Summary:
    """Per strategy with open trades or realised P&L today, and the total."""
    rows: dict[int | None, SummaryRow] = {}

    def row(strategy_id: int | None) -> SummaryRow:
        if strategy_id not in rows:
            rows[strategy_id] = SummaryRow(
                "none" if strategy_id is None else str(strategy_id),
                "no strategy" if strategy_id is None else names.get(strategy_id,
                                                                    f"#{strategy_id}"))
        return rows[strategy_id]

    summary = Summary()
    for view in views:
        target = row(view.trade.strategy_id)
        target.open_trades += 1
        target.unrealised += view.unrealised_pnl
    for strategy_id, pnl in realised.items():
        row(strategy_id).realised_today += pnl
    summary.rows = sorted(rows.values(), key=lambda r: (r.key == "none", r.name.lower()))
    for item in summary.rows:
        summary.total.open_trades += item.open_trades
        summary.total.unrealised += item.unrealised
        summary.total.realised_today += item.realised_today
    return summary
