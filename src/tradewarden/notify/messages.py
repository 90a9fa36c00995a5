"""Message texts: compact, with symbol, side, quantity, price, order id, reason and IST time.

``render`` turns an outbox payload into a ``Message`` (title + body lines); ``digest`` folds
several into one. A malformed payload still yields a message (never an exception).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradewarden.clock import utcnow
from tradewarden.notify.events import NotificationKind, Severity, default_severity
from tradewarden.notify.formatting import clip, decimal_or_none, inr, ist, percent, words

log = logging.getLogger(__name__)

K = NotificationKind
MAX_LINE = 400

CANCELLED_BY = {"user": "by you", "manual": "at the broker's app",
                "system": "by Tradewarden", "broker": "by the broker"}
ALERT_ICONS = {"info": "🔵", "warning": "🟠", "error": "🔴", "critical": "🚨"}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    severity: Severity = Severity.INFO

    def line(self) -> str:
        """The message on one line (how it appears inside a digest)."""
        return clip(" · ".join([self.title, *self.body.splitlines()]), MAX_LINE)


class _Fields:
    """Read access to a payload with formatting shortcuts."""

    def __init__(self, payload: Mapping[str, Any], now: datetime) -> None:
        self.p = payload
        self.now = now

    def text(self, key: str) -> str:
        value = self.p.get(key)
        return "" if value is None else clip(str(value), MAX_LINE)

    def instrument(self) -> str:
        exchange, symbol = self.text("exchange"), self.text("symbol")
        return f"{exchange}:{symbol}" if exchange else symbol

    def what(self, quantity: object = None) -> str:
        qty = self.p.get("quantity") if quantity is None else quantity
        return f"{self.text('side')} {qty} {self.instrument()}"

    def pricing(self) -> str:
        parts = [self.text("order_type")]
        if decimal_or_none(self.p.get("price")):
            parts.append(f"@ {inr(self.p.get('price'))}")
        if decimal_or_none(self.p.get("trigger_price")):
            parts.append(f"trigger {inr(self.p.get('trigger_price'))}")
        product = self.text("product")
        return " ".join(p for p in parts if p) + (f" · {product}" if product else "")

    def footer(self) -> str:
        parts = []
        if self.p.get("order_id"):
            parts.append(f"order {self.text('order_id')}")
        if self.p.get("trade_id") is not None:
            parts.append(f"trade {self.text('trade_id')}")
        if self.p.get("strategy"):
            parts.append(f"strategy {self.text('strategy')}")
        when = ist(self.p.get("at"), self.now)
        if when:
            parts.append(when)
        return " · ".join(parts)

    def filled(self) -> str:
        filled = self.p.get("filled_quantity") or 0
        return f"filled {filled}/{self.p.get('quantity')}" if filled else ""

    def reason(self, label: str = "reason") -> str:
        text = self.text("reason")
        return f"{label}: {text}" if text else ""


Built = tuple[str, list[str]]


def _placed(f: _Fields) -> Built:
    where = " at the broker's app" if f.p.get("origin") == "external" else ""
    return f"📤 Order placed{where}: {f.what()}", [f.pricing(), f.footer()]


def _executed(f: _Fields) -> Built:
    average = decimal_or_none(f.p.get("average_price"))
    quantity = decimal_or_none(f.p.get("filled_quantity") or f.p.get("quantity"))
    value = average * quantity if average is not None and quantity is not None else None
    return f"✅ Executed: {f.what()}", [f"avg {inr(average)} · value {inr(value)}", f.footer()]


def _partial(f: _Fields) -> Built:
    filled, total = f.p.get("filled_quantity"), f.p.get("quantity")
    remaining = (total or 0) - (filled or 0) if isinstance(total, int) else "?"
    title = (f"🟡 Partially filled: {f.text('side')} {filled}/{total} {f.instrument()} "
             f"({percent(filled, total)})")
    return title, [f"avg {inr(f.p.get('average_price'))} · {remaining} remaining", f.footer()]


def _rejected(f: _Fields) -> Built:
    reason = f.text("rejection_reason") or f.text("reason")
    return f"❌ Rejected: {f.what()}", [f.pricing(), f"broker: {reason}" if reason else "",
                                       f.footer()]


def _cancelled(f: _Fields) -> Built:
    by = CANCELLED_BY.get(f.text("cancelled_by"), "")
    title = f"🚫 Cancelled{' ' + by if by else ''}: {f.what()}"
    return title, [f.filled(), f.reason(), f.footer()]


def _modified(f: _Fields) -> Built:
    raw = f.p.get("changes")
    changes: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    parts = []
    for name, change in changes.items():
        if not isinstance(change, Mapping):
            continue
        old, new = change.get("old"), change.get("new")
        if name == "quantity":
            parts.append(f"quantity {old} → {new}")
        else:
            parts.append(f"{words(name)} {inr(old)} → {inr(new)}")
    title = f"✏️ Modified at the broker's app: {f.text('side')} {f.instrument()}"
    return title, [" · ".join(parts) or "price or quantity changed", f.footer()]


def _expired(f: _Fields) -> Built:
    return f"⌛ Expired: {f.what()}", [f.filled(), f.reason(), f.footer()]


def _denied(f: _Fields) -> Built:
    return (f"⛔ Denied ({f.text('reason_code') or 'blocked'}): {f.what()}",
            [f.text("reason"), f.footer()])


def _failed(f: _Fields) -> Built:
    attempts = f.p.get("retry_count")
    return (f"⚠️ Not placed ({f.text('reason_code') or 'failed'}): {f.what()}",
            [f.text("reason"), f"after {attempts} retries" if attempts else "", f.footer()])


def _retry_added(f: _Fields) -> Built:
    when = ist(f.p.get("next_retry_at"), f.now)
    return (f"🔁 Queued for retry: {f.what()}",
            [f"next attempt {when}" if when else "", f.reason(), f.footer()])


def _retry_retried(f: _Fields) -> Built:
    return f"🔁 Retrying (attempt {f.text('retry_count')}): {f.what()}", [f.footer()]


def _retry_dropped(f: _Fields) -> Built:
    return f"🗑️ Dropped from the retry queue: {f.what()}", [f.reason(), f.footer()]


def _retry_expired(f: _Fields) -> Built:
    return f"⌛ Retry expired: {f.what()}", [f.reason(), f.footer()]


def _direction(f: _Fields) -> str:
    side = f.text("side").upper()
    return {"BUY": "LONG", "SELL": "SHORT"}.get(side, side)


def _trade_opened(f: _Fields) -> Built:
    levels = [f"{label} {inr(f.p.get(key))}" for key, label in
              (("stop_loss", "SL"), ("target", "target"), ("trailing_stop", "trailing"))
              if f.p.get(key) is not None]
    title = (f"📈 Trade opened: {_direction(f)} {f.p.get('quantity')} {f.instrument()} @ "
             f"{inr(f.p.get('entry_price'))}")
    return title, [" · ".join(levels), f.footer()]


def _trade_exited(f: _Fields) -> Built:
    reason = words(f.p.get("reason")) or "exit"
    title = f"🏁 Trade closed ({reason}): {_direction(f)} {f.p.get('quantity')} {f.instrument()}"
    prices = (f"entry {inr(f.p.get('entry_price'))} → exit {inr(f.p.get('exit_price'))} · "
              f"P&L {inr(f.p.get('pnl'), signed=True)}")
    return title, [prices, f.footer()]


def _manual_position(f: _Fields) -> Built:
    kind = f.text("kind") or ("manual_buy" if f.text("side").upper() == "BUY" else "manual_sell")
    buy = kind == "manual_buy"
    title = (f"🖐️ Manual {'buy' if buy else 'sell'} detected: "
             f"{'+' if buy else '-'}{f.p.get('quantity')} {f.instrument()}")
    detail = f"ours {f.p.get('expected')} · at the broker {f.p.get('actual')}"
    return title, [detail if f.p.get("actual") is not None else "", f.footer()]


def _portfolio_limit(f: _Fields) -> Built:
    limit = words(f.p.get("limit")).removeprefix("portfolio ") or "limit"
    trades = f.p.get("trades")
    detail = f"P&L {inr(f.p.get('pnl'), signed=True)}"
    if f.p.get("threshold") is not None:
        detail += f" · limit {inr(f.p.get('threshold'))}"
    closing = f"closing {trades} trade(s)" if trades else ""
    return f"🛑 Portfolio {limit} hit: strategy {f.text('strategy')}", [detail, closing,
                                                                        ist(f.p.get("at"), f.now)]


def _system_alert(f: _Fields) -> Built:
    severity = f.text("severity") or "info"
    lines = (f.text("text") or "").splitlines() or [""]
    title = f.text("title") or lines.pop(0)
    icon = ALERT_ICONS.get(severity, "🔵")
    return f"{icon} {severity.upper()}: {title}", [*lines, ist(f.p.get("at"), f.now)]


def _daily_summary(f: _Fields) -> Built:
    counts = " · ".join(f"{label} {f.p.get(key, 0)}" for key, label in (
        ("placed", "placed"), ("executed", "executed"), ("rejected", "rejected"),
        ("pending", "pending"), ("retry_queue", "retry queue")))
    pnl = f.p.get("realised_pnl")
    rate = decimal_or_none(f.p.get("success_rate"))
    return f"📊 Daily summary · {f.text('trading_day')}", [
        counts, f"realised P&L {inr(pnl, signed=True) if pnl is not None else 'n/a'} · "
                f"success rate {f'{rate:.2f}%' if rate is not None else '—'}"]


_BUILDERS: dict[NotificationKind, Callable[[_Fields], Built]] = {
    K.ORDER_PLACED: _placed, K.ORDER_EXECUTED: _executed, K.ORDER_PARTIALLY_FILLED: _partial,
    K.ORDER_REJECTED: _rejected, K.ORDER_CANCELLED: _cancelled, K.ORDER_MODIFIED: _modified,
    K.ORDER_EXPIRED: _expired, K.ORDER_DENIED: _denied, K.ORDER_FAILED: _failed,
    K.RETRY_ADDED: _retry_added, K.RETRY_RETRIED: _retry_retried,
    K.RETRY_DROPPED: _retry_dropped, K.RETRY_EXPIRED: _retry_expired,
    K.TRADE_OPENED: _trade_opened, K.TRADE_EXITED: _trade_exited,
    K.MANUAL_POSITION: _manual_position, K.PORTFOLIO_LIMIT_HIT: _portfolio_limit,
    K.SYSTEM_ALERT: _system_alert, K.DAILY_SUMMARY: _daily_summary,
}


def render(kind: str, payload: Mapping[str, Any], severity: str | None = None,
           now: datetime | None = None) -> Message:
    """The message for one outbox row."""
    fields = _Fields(payload, now or utcnow())
    try:
        notification = NotificationKind(kind)
        title, lines = _BUILDERS[notification](fields)
        level = Severity(severity) if severity else default_severity(notification)
    except Exception:  # a bad payload from another engine must not stop delivery
        log.warning("notification %s has an unexpected payload; sent as plain text", kind)
        title, lines, level = f"Tradewarden: {words(kind)}", [fields.footer()], Severity.INFO
    return Message(clip(title, MAX_LINE), "\n".join(line for line in lines if line), level)


def digest_size(messages: Sequence[Message], max_items: int, max_chars: int) -> int:
    """How many of ``messages`` (from the front) fit into one digest."""
    used, count = 0, 0
    for message in messages[:max_items]:
        used += len(message.line()) + 3
        if count and used > max_chars:
            break
        count += 1
    return count


def digest(messages: Sequence[Message]) -> Message:
    """Several messages folded into one, in their order."""
    worst = max((m.severity for m in messages), key=list(Severity).index, default=Severity.INFO)
    return Message(f"📬 {len(messages)} updates", "\n".join(f"• {m.line()}" for m in messages),
                   worst)
