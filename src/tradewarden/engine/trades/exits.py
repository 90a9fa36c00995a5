"""Exit orders for trades.

Normally an exit is an intent recorded through intake (origin ``trade_exit``, the trade's own
quantity, never the account's whole position) and then placed by the executor like any
order. When the database is down, the exit still goes out: the order is built in memory,
placed with the broker under its client order id, and its recording (created → submitted →
the broker's answer) is queued on the :class:`StateWriter` for when the database returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.intents import OrderIntent
from tradewarden.domain.orders import ExecutionType, Order, OrderType, Origin, Product
from tradewarden.domain.statuses import OrderStatus
from tradewarden.domain.trades import ExitReason, Trade
from tradewarden.engine.executor import Executor
from tradewarden.engine.intake import Intake
from tradewarden.engine.ledger import AppliedEvent
from tradewarden.engine.placement import Placement, failure_of
from tradewarden.engine.trades.recorder import EXIT_REASON, TRADE_ID
from tradewarden.engine.trades.writer import StateWriter, is_database_down
from tradewarden.store.db import Database
from tradewarden.store.order_queries import label_positions, strategy_positions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    """What became of one exit request."""

    order_id: str
    denied: bool = False
    reason: str | None = None
    direct: bool = False  # placed while the database was down
    nothing_held: bool = False  # the strategy holds none of it any more: nothing was sent


class ExitSender:
    """Turns exit decisions into exit orders; see the module docstring."""

    def __init__(self, intake: Intake, executor: Executor, writer: StateWriter) -> None:
        self.intake = intake
        self.executor = executor
        self.writer = writer

    @staticmethod
    def intent(trade: Trade, reason: ExitReason, quantity: int) -> OrderIntent:
        return OrderIntent(
            account_id=trade.account_id, exchange=trade.exchange, symbol=trade.symbol,
            side=trade.side.exit_side, quantity=quantity, order_type=OrderType.MARKET,
            product=Product(trade.product), origin=Origin.TRADE_EXIT,
            execution_type=ExecutionType.EXIT, strategy_id=trade.booked_strategy_id,
            strategy_label=trade.booked_label,
            position_guards=False, allow_amo=False,
            extra={TRADE_ID: trade.id, EXIT_REASON: reason.value})

    async def send(self, trade: Trade, reason: ExitReason, quantity: int) -> ExitOutcome:
        """Record and place an exit of ``quantity`` for ``trade``."""
        try:
            held = await self.executor.ledger.db.run(_held, self.executor.ledger.db, trade)
        except Exception as exc:
            if not is_database_down(exc):
                raise
            held = quantity  # cannot check now; the trade's own quantity is the best guess
        if held <= 0:
            return ExitOutcome("", nothing_held=True)
        intent = self.intent(trade, reason, min(quantity, held))
        try:
            outcome = (await self.intake.submit(trade.user_id, [intent]))[0]
        except Exception as exc:
            if not is_database_down(exc):
                raise
            return await self._direct(trade, intent)
        return ExitOutcome(outcome.order.id, denied=outcome.denied, reason=outcome.reason)

    async def _direct(self, trade: Trade, intent: OrderIntent) -> ExitOutcome:
        order = self.intake.order_for(trade.user_id, intent)
        log.warning("database down: trade %s exit order %s placed directly (tag %s)",
                    trade.id, order.id, order.client_order_id)
        submitting = _submitted_copy(order)
        adapter = self.executor.brokers.adapter(order.account_id)
        unrecorded = self.executor.unrecorded  # reconciliation leaves the tag alone meanwhile
        unrecorded.add(order.client_order_id, order.account_id, order.exchange, order.symbol)
        placement = await self.executor.send(adapter, submitting)

        def recorded() -> None:
            unrecorded.discard(order.client_order_id)
            if placement.ambiguous:
                self.executor.mark_ambiguous(order.id)

        self.writer.submit(lambda session: self._record(session, order, placement),
                           urgent=True, after=recorded,
                           # never recorded: reconciliation adopts the broker's copy instead
                           dropped=lambda: unrecorded.discard(order.client_order_id))
        refused = placement.error is not None or failure_of(placement) is not None
        return ExitOutcome(order.id, direct=True, denied=refused,
                           reason=placement.error.message if placement.error else (
                               "the broker refused the exit" if refused else None))

    def _record(self, session: Session, order: Order,
                placement: Placement) -> Sequence[AppliedEvent]:
        fresh = replace(order, extra=dict(order.extra))  # a failed flush is written again
        created = self.executor.ledger.create_in_session(
            session, fresh, detail={"placed_while_database_down": True})
        submitted = self.executor.ledger.apply_in_session(
            session, order.id, OrderEvent(EventType.ORDER_SUBMITTED, EventSource.SYSTEM),
            known=created.order)
        placement.order = submitted.order
        outcome = self.executor.record_placement(session, placement, {})
        return [created, submitted, *outcome]


def _held(db: Database, trade: Trade) -> int:
    """What the trade's strategy (or OpenAlgo label) still holds of it, in its direction —
    an exit never sells more than that (another exit may have got there first)."""
    with db.read() as session:
        if trade.booked_strategy_id is not None:
            positions = strategy_positions(session, trade.booked_strategy_id)
        elif trade.booked_label is not None:
            positions = label_positions(session, trade.user_id, trade.account_id,
                                        trade.booked_label)
        else:
            return trade.open_quantity
    return positions.get((trade.exchange, trade.symbol, trade.product), 0) * trade.side.sign


def _submitted_copy(order: Order) -> Order:
    return replace(order, status=OrderStatus.SUBMITTING, extra=dict(order.extra))
