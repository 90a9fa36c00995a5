"""Reason codes for denials and failures, each with a one-line human text (BRIEF §3.3)."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    # Denials: blocked locally before anything reached the broker.
    VALIDATION_FAILED = "validation_failed"
    RISK_BLOCKED = "risk_blocked"
    GUARD_BLOCKED = "guard_blocked"
    DUPLICATE_BLOCKED = "duplicate_blocked"
    MARKET_CLOSED = "market_closed"
    OUTSIDE_TRADING_WINDOW = "outside_trading_window"
    # Failures: the order could not be placed (some are retryable).
    INSUFFICIENT_FUNDS = "insufficient_funds"
    BROKER_UNAVAILABLE = "broker_unavailable"
    SESSION_EXPIRED = "session_expired"
    BROKER_VALIDATION = "broker_validation"
    NO_HOLDINGS = "no_holdings"
    ORDER_LIMIT = "order_limit"
    PRODUCT_NOT_ALLOWED = "product_not_allowed"
    LOST = "lost"

    @property
    def text(self) -> str:
        """The human sentence shown next to the code."""
        return REASON_TEXTS[self]

    @property
    def retryable(self) -> bool:
        """True for failures the retry queue may attempt again."""
        return self in RETRYABLE


R = ReasonCode

REASON_TEXTS: dict[ReasonCode, str] = {
    R.VALIDATION_FAILED: "The order is invalid and was not sent to the broker.",
    R.RISK_BLOCKED: "Blocked by a risk limit (loss limit, kill switch, positions or funds).",
    R.GUARD_BLOCKED: "Blocked by an execution guard (conflicting or existing position).",
    R.DUPLICATE_BLOCKED: "Blocked as a duplicate of a recent identical signal or request.",
    R.MARKET_CLOSED: "The market is closed and the order cannot be placed as AMO.",
    R.OUTSIDE_TRADING_WINDOW: "Outside the strategy's trading window.",
    R.INSUFFICIENT_FUNDS: "The broker reported insufficient funds or margin; the order can be "
                          "retried.",
    R.BROKER_UNAVAILABLE: "The broker could not be reached; the order can be retried.",
    R.SESSION_EXPIRED: "The broker session expired; the order can be retried after login.",
    R.BROKER_VALIDATION: "The broker refused the order's parameters.",
    R.NO_HOLDINGS: "The broker refused the sell: not enough holdings to deliver (not retried).",
    R.ORDER_LIMIT: "The order exceeds the broker's quantity or value limit per order "
                   "(not retried).",
    R.PRODUCT_NOT_ALLOWED: "The product is not allowed for this instrument (not retried).",
    R.LOST: "The order was not found at the broker after repeated checks.",
}

DENIAL_CODES: frozenset[ReasonCode] = frozenset(
    {
        R.VALIDATION_FAILED,
        R.RISK_BLOCKED,
        R.GUARD_BLOCKED,
        R.DUPLICATE_BLOCKED,
        R.MARKET_CLOSED,
        R.OUTSIDE_TRADING_WINDOW,
    }
)

FAILURE_CODES: frozenset[ReasonCode] = frozenset(set(ReasonCode) - DENIAL_CODES)

RETRYABLE: frozenset[ReasonCode] = frozenset(
    {R.INSUFFICIENT_FUNDS, R.BROKER_UNAVAILABLE, R.SESSION_EXPIRED}
)
