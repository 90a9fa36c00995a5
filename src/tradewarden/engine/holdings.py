"""Holdings and positions reconciliation (BRIEF §3.7): quantity at the broker that our fills do
not explain becomes a ``manual_buy`` / ``manual_sell`` position event, once.

Per (exchange, symbol) of an account: *actual* = settled holdings + today's net positions (all
products) at the broker; *expected* = the net filled quantity of every order we know on that
account (including ``external`` orders the monitor recorded). The part of ``actual - expected``
not yet explained by earlier position events is recorded as a new event. Suffix variants
(``-EQ``/``-BE``) are one symbol: adapters already report canonical symbols.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from tradewarden.brokers.base import Holding, Position
from tradewarden.brokers.errors import BrokerError
from tradewarden.engine.accounts import AccountDirectory
from tradewarden.engine.ledger import utcnow
from tradewarden.metrics import Metrics
from tradewarden.notify.events import NotificationKind
from tradewarden.notify.outbox import enqueue_many
from tradewarden.store.db import Database
from tradewarden.store.order_queries import net_quantities
from tradewarden.store.tables import OrderRow, PositionEventRow

log = logging.getLogger(__name__)

#: Client order ids of orders brought in by ``tradewarden import-legacy``.
LEGACY_PREFIX = "LG"

MANUAL_BUY = "manual_buy"
MANUAL_SELL = "manual_sell"

Key = tuple[str, str]  # (exchange, symbol)


@dataclass(frozen=True, slots=True)
class PositionEvent:
    account_id: int
    exchange: str
    symbol: str
    kind: str
    quantity: int
    expected: int
    actual: int
    price: Decimal | None = None  # the broker's last price of the instrument, when it says


def broker_quantities(holdings: list[Holding], positions: list[Position]) -> dict[Key, int]:
    """What the account holds at the broker, per instrument (holdings + today's positions)."""
    totals: dict[Key, int] = defaultdict(int)
    for holding in holdings:
        totals[(holding.exchange, holding.symbol)] += holding.quantity
    for position in positions:
        totals[(position.exchange, position.symbol)] += position.quantity
    return dict(totals)


def discrepancies(actual: dict[Key, int], expected: dict[Key, int],
                  recorded: dict[Key, int], account_id: int) -> list[PositionEvent]:
    """New events for the part of ``actual - expected`` that ``recorded`` does not cover."""
    events = []
    for key in sorted(set(actual) | set(expected) | set(recorded)):
        unexplained = actual.get(key, 0) - expected.get(key, 0) - recorded.get(key, 0)
        if unexplained:
            events.append(PositionEvent(
                account_id, key[0], key[1], MANUAL_BUY if unexplained > 0 else MANUAL_SELL,
                abs(unexplained), expected.get(key, 0), actual.get(key, 0)))
    return events


class HoldingsReconciler:
    """Compares broker holdings/positions with our fills, account by account."""

    def __init__(self, db: Database, accounts: AccountDirectory,
                 metrics: Metrics | None = None,
                 unsettled: Callable[[int], set[Key]] = lambda _account_id: set()) -> None:
        self.db = db
        self.accounts = accounts
        self.metrics = metrics or Metrics()
        #: instruments whose broker quantity our records cannot explain yet (left alone)
        self.unsettled = unsettled
        self._recorders: list[Callable[[Session, list[PositionEvent]], None]] = []
        # (account, exchange, symbol) -> unexplained quantity seen at the previous check
        self._candidates: dict[tuple[int, str, str], int] = {}

    def add_recorder(self, recorder: Callable[[Session, list[PositionEvent]], None]) -> None:
        """Call ``recorder(session, events)`` in the transaction that records confirmed
        events (the trade recorder adjusts the trades they affect)."""
        self._recorders.append(recorder)

    async def reconcile(self, account_id: int) -> list[PositionEvent]:
        try:
            adapter = self.accounts.adapter(account_id)
            holdings, positions = await adapter.holdings(), await adapter.positions()
            owner = self.accounts.info(account_id).user_id
        except (BrokerError, KeyError) as exc:
            log.info("holdings of account %s not reconciled: %s", account_id, exc)
            return []
        actual = broker_quantities(holdings, positions)
        prices = _last_prices(holdings, positions)
        events = await self.db.run(self._record, account_id, owner, actual,
                                   self.unsettled(account_id), prices)
        for event in events:
            log.warning("%s detected on account %s: %s %s:%s (ours %d, broker %d)", event.kind,
                        account_id, event.quantity, event.exchange, event.symbol,
                        event.expected, event.actual)
            self.metrics.inc("tradewarden_reconciliation_corrections_total", type=event.kind,
                             source="manual")
        return events

    def _record(self, account_id: int, owner: int, actual: dict[Key, int],
                unsettled: frozenset[Key] | set[Key] = frozenset(),
                prices: dict[Key, Decimal] | None = None) -> list[PositionEvent]:
        with self.db.read() as session:  # compare on a snapshot; write only what is confirmed
            busy = _in_flight(session, account_id) | unsettled  # orders on their way, …
            found = [e for e in discrepancies(actual, expected_quantities(session, account_id),
                                              _recorded(session, account_id), account_id)
                     if (e.exchange, e.symbol) not in busy]
        events = [replace(e, price=(prices or {}).get((e.exchange, e.symbol)))
                  for e in self._confirmed(account_id, found)]
        if events:
            now = utcnow()
            with self.db.transaction() as session:
                session.execute(insert(PositionEventRow), [
                    {"user_id": owner, "account_id": e.account_id, "exchange": e.exchange,
                     "symbol": e.symbol, "kind": e.kind, "quantity": e.quantity,
                     "expected": e.expected, "actual": e.actual, "detected_at": now}
                    for e in events])
                enqueue_many(session, owner, NotificationKind.MANUAL_POSITION,
                             [asdict(e) for e in events])
                for recorder in self._recorders:
                    recorder(session, events)
        return events

    def _confirmed(self, account_id: int, found: list[PositionEvent]) -> list[PositionEvent]:
        """Only a discrepancy seen identically at two consecutive checks is recorded, so a
        fill caught between the broker's answers and ours never looks like manual trading."""
        current = {(account_id, e.exchange, e.symbol): _signed(e) for e in found}
        previous = {k: v for k, v in self._candidates.items() if k[0] == account_id}
        for key in previous:
            self._candidates.pop(key, None)
        self._candidates.update(current)
        confirmed = [e for e in found
                     if previous.get((account_id, e.exchange, e.symbol)) == _signed(e)]
        for event in confirmed:
            self._candidates.pop((account_id, event.exchange, event.symbol), None)
        return confirmed


def _last_prices(holdings: list[Holding], positions: list[Position]) -> dict[Key, Decimal]:
    items: list[Holding | Position] = [*holdings, *positions]
    return {(item.exchange, item.symbol): item.last_price for item in items if item.last_price}


def _signed(event: PositionEvent) -> int:
    return event.quantity if event.kind == MANUAL_BUY else -event.quantity


def _in_flight(session: Session, account_id: int) -> set[Key]:
    """Instruments with an order of ours on its way to the broker (its outcome, and so its
    fills, are not known yet). Fills of working orders reach us within a monitor cycle, well
    inside the two consecutive checks a discrepancy must survive."""
    rows = session.execute(select(OrderRow.exchange, OrderRow.symbol).where(
        OrderRow.account_id == account_id,
        OrderRow.status.in_(("created", "submitting"))).distinct()).all()
    return {(e, s) for e, s in rows}


def expected_quantities(session: Session, account_id: int) -> dict[Key, int]:
    """Per instrument, the net quantity our recorded fills explain on the account."""
    grouped = net_quantities(
        session, (OrderRow.exchange, OrderRow.symbol), OrderRow.account_id == account_id,
        # imported history (``LG`` ids) did not happen on this account's broker side
        OrderRow.client_order_id.not_like(f"{LEGACY_PREFIX}%"))
    return {(str(e), str(s)): q for (e, s), q in grouped.items()}


def _recorded(session: Session, account_id: int) -> dict[Key, int]:
    signed = case((PositionEventRow.kind == MANUAL_BUY, PositionEventRow.quantity),
                  else_=-PositionEventRow.quantity)
    rows = session.execute(
        select(PositionEventRow.exchange, PositionEventRow.symbol, func.sum(signed))
        .where(PositionEventRow.account_id == account_id)
        .group_by(PositionEventRow.exchange, PositionEventRow.symbol)).all()
    return {(e, s): int(q or 0) for e, s, q in rows}
