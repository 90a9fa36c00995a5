"""What can be notified, how serious it is, and what a user gets by default (BRIEF §7)."""

from __future__ import annotations

from enum import StrEnum


class NotificationKind(StrEnum):
    """One kind of message; users choose a mode per kind (and per channel)."""

    ORDER_PLACED = "order_placed"
    ORDER_EXECUTED = "order_executed"
    ORDER_PARTIALLY_FILLED = "order_partially_filled"
    ORDER_REJECTED = "order_rejected"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_MODIFIED = "order_modified"  # manually, at the broker's own app
    ORDER_EXPIRED = "order_expired"
    ORDER_DENIED = "order_denied"
    ORDER_FAILED = "order_failed"  # not placed and not going to be retried
    RETRY_ADDED = "retry_added"
    RETRY_RETRIED = "retry_retried"
    RETRY_DROPPED = "retry_dropped"
    RETRY_EXPIRED = "retry_expired"
    TRADE_OPENED = "trade_opened"
    TRADE_EXITED = "trade_exited"
    MANUAL_POSITION = "manual_position"  # manual buy/sell found in holdings
    PORTFOLIO_LIMIT_HIT = "portfolio_limit_hit"
    SYSTEM_ALERT = "system_alert"
    DAILY_SUMMARY = "daily_summary"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Mode(StrEnum):
    """``silent``: delivered without sound where the channel can (Telegram), else plainly."""

    ON = "on"
    SILENT = "silent"
    OFF = "off"


K = NotificationKind

#: What a user gets before changing anything: outcomes on, placement quietly, per-cycle noise
#: (every retry attempt) off.
DEFAULT_MODES: dict[NotificationKind, Mode] = {
    K.ORDER_PLACED: Mode.SILENT,
    K.ORDER_EXECUTED: Mode.ON,
    K.ORDER_PARTIALLY_FILLED: Mode.ON,
    K.ORDER_REJECTED: Mode.ON,
    K.ORDER_CANCELLED: Mode.ON,
    K.ORDER_MODIFIED: Mode.ON,
    K.ORDER_EXPIRED: Mode.ON,
    K.ORDER_DENIED: Mode.ON,
    K.ORDER_FAILED: Mode.ON,
    K.RETRY_ADDED: Mode.ON,
    K.RETRY_RETRIED: Mode.OFF,
    K.RETRY_DROPPED: Mode.ON,
    K.RETRY_EXPIRED: Mode.ON,
    K.TRADE_OPENED: Mode.ON,
    K.TRADE_EXITED: Mode.ON,
    K.MANUAL_POSITION: Mode.ON,
    K.PORTFOLIO_LIMIT_HIT: Mode.ON,
    K.SYSTEM_ALERT: Mode.ON,
    K.DAILY_SUMMARY: Mode.ON,
}

_WARNINGS = frozenset({K.ORDER_REJECTED, K.ORDER_DENIED, K.ORDER_FAILED, K.RETRY_EXPIRED,
                       K.MANUAL_POSITION, K.PORTFOLIO_LIMIT_HIT})

#: Kinds that come from the order ledger (their payload describes one order).
ORDER_KINDS = frozenset(k for k in NotificationKind if k.value.startswith(("order_", "retry_")))


def default_severity(kind: NotificationKind) -> Severity:
    """The severity of a kind; system alerts carry their own."""
    return Severity.WARNING if kind in _WARNINGS else Severity.INFO


def is_critical(severity: Severity | str) -> bool:
    """Critical messages (system alerts of severity error or critical) bypass quiet hours,
    ``silent`` and ``off``: they go to every enabled channel, with sound, at once."""
    return severity in (Severity.ERROR, Severity.CRITICAL)


def resolve_mode(kind: str, channel_modes: dict[str, str], user_modes: dict[str, str]) -> Mode:
    """The mode for ``kind`` on one channel: the channel's choice, else the user's, else the
    default. Unknown stored values count as unset."""
    for modes in (channel_modes, user_modes):
        value = modes.get(kind)
        if value in _MODE_VALUES:
            return Mode(value)
    try:
        return DEFAULT_MODES[NotificationKind(kind)]
    except ValueError:
        return Mode.ON


_MODE_VALUES = frozenset(m.value for m in Mode)
