"""What users can do with trades (the API's verbs): create from a filled order, change levels,
exit, list active ones with live P&L, read the history, and resolve a strategy's open trades
before it is deleted (close them, or transfer them to another strategy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import ExecutionType, Order, Origin
from tradewarden.domain.strategy import Level, StrategySettings
from tradewarden.domain.trades import (
    ExitReason,
    Loosening,
    Trade,
    TradeError,
    TradeSide,
    TradeStatus,
    check_levels,
    loosening,
    loosening_refused,
    trailing_level_of,
)
from tradewarden.engine.trades import notices
from tradewarden.engine.trades.manager import TradeManager
from tradewarden.engine.trades.recorder import TradeRecorder
from tradewarden.store import trades as store
from tradewarden.store.order_mapping import load_order
from tradewarden.store.tables import Strategy


class TradeNotFound(LookupError):
    """No such trade (or order) for this user; answered as 404."""


class TradeConflict(TradeError):
    """The trade (or order) is not in a state that allows the request; answered as 409."""


#: "leave this level as it is" in :meth:`TradeOperations.update`.
UNCHANGED: object = object()


@dataclass(frozen=True, slots=True)
class TradeEdit:
    """An accepted edit: the trade as saved, and the protective levels it loosened (only
    with ``allow_loosen``)."""

    trade: Trade
    loosened: tuple[Loosening, ...] = ()


@dataclass(frozen=True, slots=True)
class TradeView:
    """A trade with its live numbers."""

    trade: Trade
    ltp: Decimal | None
    unrealised_pnl: Decimal
    best_price: Decimal | None
    trailing_level: Decimal | None


class TradeOperations:
    def __init__(self, manager: TradeManager, recorder: TradeRecorder) -> None:
        self.manager = manager
        self.recorder = recorder
        self.db = manager.ledger.db

    async def create(self, user_id: int, order_id: str, *, stop_loss: Level | None,
                     target: Level | None, trailing_stop: Level | None) -> Trade:
        """A managed trade for the user's filled (or partly filled) entry order."""
        if stop_loss is None and target is None and trailing_stop is None:
            raise TradeError("give at least one of stop_loss, target, trailing_stop")
        settings = StrategySettings(stop_loss=stop_loss, target=target,
                                    trailing_stop=trailing_stop)
        order = await self.db.run(self._read_order, user_id, order_id)
        last = await self.manager.price_of(order.account_id,
                                           InstrumentKey(order.exchange, order.symbol))

        def write() -> Trade:
            with self.db.transaction() as session:
                order = load_order(session, order_id, user_id)
                if order is None:
                    raise TradeNotFound(f"order {order_id} not found")
                if order.execution_type is not ExecutionType.ENTRY or (
                        order.origin is Origin.TRADE_EXIT):
                    raise TradeConflict(f"order {order_id} is not an entry order")
                if order.filled_quantity <= 0:
                    raise TradeConflict(f"order {order_id} has no fills yet "
                                        f"(status {order.status.value})")
                if store.trade_for_entry(session, order_id) is not None:
                    raise TradeConflict(f"order {order_id} already has a trade")
                trade = self.recorder.open_from_order(order, settings)
                check_levels(trade.side, last, trade.stop_loss, trade.target)
                store.insert_trade(session, trade)
                notices.trade_opened(session, trade)
                return trade

        try:
            trade = await self.db.run(write)
        except IntegrityError as exc:
            raise TradeConflict(f"order {order_id} already has a trade") from exc
        self.manager.refresh(trade)
        return trade

    async def update(self, user_id: int, trade_id: int, *, stop_loss: object = UNCHANGED,
                     target: object = UNCHANGED, trailing_stop: object = UNCHANGED,
                     allow_loosen: bool = False, source: str = "api") -> Trade:
        """Change an active trade's levels (``None`` removes one); see :meth:`edit`."""
        edited = await self.edit(user_id, trade_id, stop_loss=stop_loss, target=target,
                                 trailing_stop=trailing_stop, allow_loosen=allow_loosen,
                                 source=source)
        return edited.trade

    async def edit(self, user_id: int, trade_id: int, *, stop_loss: object = UNCHANGED,
                   target: object = UNCHANGED, trailing_stop: object = UNCHANGED,
                   allow_loosen: bool = False, source: str = "api") -> TradeEdit:
        """Change an active trade's levels (``None`` removes one).

        Protection never loosens by accident: a stop-loss moved away from the price (lower
        for a long, higher for a short) or removed, and a trailing stop whose level at the
        best price so far would be looser than the current (ratcheted) one or that is removed,
        are refused unless ``allow_loosen``; an allowed loosening is logged and raised as a
        warning alert in the same transaction. Every edit goes into the trade's history
        (``trade_events``, kind ``levels_changed``) with ``source`` (api, web).
        """
        known = self.manager.trades.get(trade_id)
        last = None
        if known is not None and known.user_id == user_id:
            last = await self.manager.price_of(known.account_id,
                                               InstrumentKey(known.exchange, known.symbol))
        live_best = live_level = None
        if known is not None and trade_id in self.manager.engine:
            best_float, level_float = self.manager.engine.trail_state(trade_id)
            live_best = Decimal(repr(best_float))
            if level_float is not None:
                live_level = Decimal(repr(round(level_float, 6)))

        def write() -> TradeEdit:
            with self.db.transaction() as session:
                trade = self._owned(session, user_id, trade_id, for_update=True)
                if trade.status is not TradeStatus.ACTIVE or self.manager.is_exiting(trade_id):
                    raise TradeConflict(f"trade {trade_id} is exiting"
                                        if trade.status is TradeStatus.ACTIVE
                                        else f"trade {trade_id} is {trade.status.value}")
                stop_before = trade.stop_loss
                levels_before = _levels(trade)
                level_before = live_level if live_level is not None else trade.trailing_level
                if stop_loss is not UNCHANGED:
                    trade.stop_loss = _price(stop_loss, "stop_loss")
                if target is not UNCHANGED:
                    trade.target = _price(target, "target")
                if trailing_stop is not UNCHANGED:
                    if trailing_stop is not None and not isinstance(trailing_stop, Level):
                        raise TradeError("trailing_stop must be a level or null")
                    trade.trailing_stop = trailing_stop
                best = live_best or trade.best_price or trade.entry_price
                trade.best_price = best
                trade.trailing_level = (trailing_level_of(best, trade.trailing_stop, trade.side)
                                        if trade.trailing_stop else None)
                loosened = self._loosened(
                    trade, stop_before if stop_loss is not UNCHANGED else None,
                    level_before if trailing_stop is not UNCHANGED else None, allow_loosen)
                check_levels(trade.side, last, trade.stop_loss, trade.target)
                level = trade.trailing_level
                if level is not None and last is not None and (
                        (level >= last) if trade.side is TradeSide.LONG else (level <= last)):
                    raise TradeError(f"the trailing stop's level {level:.2f} is already beyond "
                                     f"the last price {last}")
                trade.updated_at = self.manager.now()
                store.save_trade(session, trade)
                store.record_trade_event(session, trade.id, "levels_changed", source, {
                    "before": levels_before, "after": _levels(trade),
                    "loosened": [change.describe() for change in loosened],
                    "allow_loosen": allow_loosen}, trade.updated_at)
                if loosened:
                    notices.levels_loosened(session, trade, loosened)
                return TradeEdit(trade, loosened)

        edited = await self.db.run(write)
        self.manager.refresh(edited.trade)
        return edited

    @staticmethod
    def _loosened(trade: Trade, stop_before: Decimal | None, level_before: Decimal | None,
                  allow_loosen: bool) -> tuple[Loosening, ...]:
        """The protective levels this edit loosens (``None`` before: not edited); refused
        (``TradeError``) unless ``allow_loosen``."""
        found = tuple(change for change in (
            loosening(trade.side, "stop_loss", stop_before, trade.stop_loss),
            loosening(trade.side, "trailing_level", level_before, trade.trailing_level))
            if change is not None)
        if found and not allow_loosen:
            raise loosening_refused(trade.side, found[0])
        return found

    async def exit(self, user_id: int, trade_id: int) -> Trade:
        """Exit the trade now at market (reason ``manual_exit``)."""
        trade = self.manager.trades.get(trade_id)
        if trade is None or trade.user_id != user_id:
            stored = await self.db.run(self._read_owned, user_id, trade_id)
            raise TradeConflict(f"trade {trade_id} is {stored.status.value}")
        if not self.manager.exit(trade, ExitReason.MANUAL_EXIT):
            raise TradeConflict(f"trade {trade_id} is already exiting")
        return trade

    def active(self, user_id: int, strategy_id: int | None = None) -> list[TradeView]:
        views = []
        for trade in sorted(self.manager.trades.values(), key=lambda t: t.id):
            if trade.user_id != user_id or (strategy_id is not None
                                            and trade.strategy_id != strategy_id):
                continue
            views.append(self.view(trade))
        return views

    def view(self, trade: Trade) -> TradeView:
        ltp = self.manager.last_price(trade.key)
        best, level = trade.best_price, trade.trailing_level
        if trade.id in self.manager.engine:
            live_best, live_level = self.manager.engine.trail_state(trade.id)
            best = Decimal(repr(round(live_best, 6)))
            level = Decimal(repr(round(live_level, 6))) if live_level is not None else None
        return TradeView(trade, ltp, trade.unrealised_pnl(ltp), best, level)

    async def history(self, user_id: int, *, strategy_id: int | None, since: datetime | None,
                      until: datetime | None) -> list[Trade]:
        def read() -> list[Trade]:
            with self.db.read() as session:
                return store.closed_trades(session, user_id, strategy_id=strategy_id,
                                           since=since, until=until)

        return await self.db.run(read)

    async def resolve_for_delete(self, user_id: int, strategy_id: int, on_active: str | None,
                                 transfer_to: int | None) -> tuple[list[Trade], int]:
        """Open trades blocking the strategy's deletion; with ``close`` they are exited, with
        ``transfer`` moved to ``transfer_to``. Returns what still blocks (empty when done)
        and how many trades were closed or moved."""
        def read() -> list[Trade]:
            with self.db.read() as session:
                return store.open_trades(session, user_id, strategy_id)

        open_trades = await self.db.run(read)
        if not open_trades:
            return [], 0
        if on_active is None:
            return open_trades, 0
        if on_active == "close":
            for trade in open_trades:
                live = self.manager.trades.get(trade.id, trade)
                self.manager.exit(live, ExitReason.MANUAL_EXIT)
            return [], len(open_trades)
        if on_active != "transfer" or transfer_to is None or transfer_to == strategy_id:
            raise TradeError("on_active must be close, or transfer with another strategy id")
        moved = await self.db.run(self._transfer, user_id, open_trades, transfer_to)
        for trade in moved:
            self.manager.refresh(trade)
        return [], len(moved)

    def _transfer(self, user_id: int, trades: list[Trade], to: int) -> list[Trade]:
        with self.db.transaction() as session:
            target = session.get(Strategy, to)
            if target is None or target.user_id != user_id or target.deleted_at is not None:
                raise TradeNotFound(f"strategy {to} not found")
            moved = []
            for trade in trades:
                current = store.trade_by_id(session, trade.id, user_id, for_update=True)
                if current is None:
                    continue
                current.strategy_id = to
                store.save_trade(session, current)
                moved.append(current)
            return moved

    def _owned(self, session: Session, user_id: int, trade_id: int, *,
               for_update: bool = False) -> Trade:
        trade = store.trade_by_id(session, trade_id, user_id, for_update=for_update)
        if trade is None:
            raise TradeNotFound(f"trade {trade_id} not found")
        return trade

    def _read_order(self, user_id: int, order_id: str) -> Order:
        with self.db.read() as session:
            order = load_order(session, order_id, user_id)
        if order is None:
            raise TradeNotFound(f"order {order_id} not found")
        return order

    def _read_owned(self, user_id: int, trade_id: int) -> Trade:
        with self.db.read() as session:
            return self._owned(session, user_id, trade_id)


def _price(value: object, name: str) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise TradeError(f"{name} must be a price")
    return value


def _levels(trade: Trade) -> dict[str, str | None]:
    """A trade's protective levels as the history records them."""
    def text(value: Decimal | None) -> str | None:
        return None if value is None else f"{value:.2f}"

    trail = trade.trailing_stop
    return {"stop_loss": text(trade.stop_loss), "target": text(trade.target),
            "trailing_stop": f"{trail.value} {trail.kind.value}" if trail else None,
            "trailing_level": text(trade.trailing_level)}
