"""Trade notifications, queued in the outbox inside the transaction that changes the trade."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from tradewarden.clock import utcnow
from tradewarden.domain.trades import ExitReason, Loosening, Trade
from tradewarden.notify.events import NotificationKind
from tradewarden.notify.outbox import alert_in_session, enqueue
from tradewarden.store.tables import Strategy

log = logging.getLogger(__name__)


def _strategy_name(session: Session, strategy_id: int | None) -> str | None:
    if strategy_id is None:
        return None
    row = session.get(Strategy, strategy_id)
    return row.name.split("#deleted-")[0] if row is not None else None


def _payload(session: Session, trade: Trade) -> dict[str, Any]:
    return {
        "trade_id": trade.id, "strategy": _strategy_name(session, trade.strategy_id)
        or trade.booked_label, "exchange": trade.exchange, "symbol": trade.symbol,
        "side": trade.side.exit_side.opposite.value, "quantity": trade.quantity,
        "entry_price": trade.entry_price, "order_id": trade.entry_order_id,
        "at": utcnow(),
    }


def trade_opened(session: Session, trade: Trade) -> None:
    payload = _payload(session, trade)
    payload.update(stop_loss=trade.stop_loss, target=trade.target,
                   trailing_stop=trade.trailing_level)
    enqueue(session, trade.user_id, NotificationKind.TRADE_OPENED, payload,
            dedupe_key=f"trade:{trade.id}:opened")


def trade_exited(session: Session, trade: Trade) -> None:
    payload = _payload(session, trade)
    payload.update(exit_price=trade.exit_price, pnl=trade.realised_pnl,
                   reason=(trade.exit_reason or ExitReason.MANUAL_EXIT).value,
                   order_id=trade.exit_order_id)
    enqueue(session, trade.user_id, NotificationKind.TRADE_EXITED, payload,
            dedupe_key=f"trade:{trade.id}:exited")


def levels_loosened(session: Session, trade: Trade, changes: Sequence[Loosening]) -> None:
    """Record a loosening made on request (``allow_loosen``): a log line and a warning alert,
    in the transaction that saves the new levels."""
    text = (f"trade {trade.id} ({trade.side.value} {trade.quantity} {trade.key}): protection "
            f"loosened on request \u2014 {', '.join(c.describe() for c in changes)}")
    log.warning("%s", text)
    alert_in_session(session, trade.user_id, "warning", text,
                     title="Trade protection loosened")


def portfolio_hit(session: Session, user_id: int, strategy_id: int, reason: ExitReason,
                  pnl: Decimal, threshold: Decimal | None, trades: int, day: str) -> None:
    enqueue(session, user_id, NotificationKind.PORTFOLIO_LIMIT_HIT, {
        "strategy": _strategy_name(session, strategy_id) or f"#{strategy_id}",
        "limit": reason.value, "pnl": pnl, "threshold": threshold, "trades": trades,
        "at": utcnow()}, dedupe_key=f"portfolio:{strategy_id}:{day}")


def system_alert(session: Session, user_id: int | None, severity: str, text: str) -> None:
    alert_in_session(session, user_id, severity, text)
