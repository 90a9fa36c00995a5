"""Order statuses and the one explicit transition table (BRIEF §3.1)."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "created"
    DENIED = "denied"
    SUBMITTING = "submitting"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    PENDING_MODIFY = "pending_modify"
    FILLED = "filled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    RETRY_PENDING = "retry_pending"

    @property
    def is_final(self) -> bool:
        """Final statuses need no more watching (cancelled/expired still accept late fills)."""
        return self in FINAL_STATUSES

    @property
    def is_working(self) -> bool:
        """The broker may hold this order live (or it may be in flight to the broker)."""
        return self in WORKING_STATUSES


S = OrderStatus

FINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {S.DENIED, S.FILLED, S.REJECTED, S.CANCELLED, S.EXPIRED}
)

WORKING_STATUSES: frozenset[OrderStatus] = frozenset(
    {S.SUBMITTING, S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.PENDING_MODIFY}
)

#: Status values (strings) of orders not yet settled: recorded but unsent, or working.
UNSETTLED_VALUES: tuple[str, ...] = (S.CREATED.value, *sorted(s.value for s in WORKING_STATUSES))

PENDING_STATUSES: frozenset[OrderStatus] = frozenset({S.PENDING_CANCEL, S.PENDING_MODIFY})

# The only place that says which status changes are legal. Anything not listed is refused.
# "previous status" edges out of pending_cancel / pending_modify are listed explicitly as the
# statuses an order can have been in before the request (open or partially_filled); the
# domain additionally checks that the target equals the recorded prior status.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.SUBMITTING, S.DENIED, S.CANCELLED, S.RETRY_PENDING}),
    S.SUBMITTING: frozenset(
        {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.FAILED, S.CANCELLED}
    ),
    S.OPEN: frozenset(
        {
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.REJECTED,
            S.CANCELLED,
            S.EXPIRED,
            S.PENDING_CANCEL,
            S.PENDING_MODIFY,
            S.OPEN,
        }
    ),
    S.PARTIALLY_FILLED: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.PENDING_CANCEL, S.PENDING_MODIFY}
    ),
    # pending_* -> expired / rejected: the session can end, or the broker reject the order,
    # while our request is in flight; the broker's final word wins.
    S.PENDING_CANCEL: frozenset(
        {S.CANCELLED, S.FILLED, S.PARTIALLY_FILLED, S.OPEN, S.EXPIRED, S.REJECTED}
    ),
    S.PENDING_MODIFY: frozenset(
        {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED}
    ),
    # failed -> cancelled and retry_pending -> retry_pending are the user's "drop" and
    # "retry now" actions on the retry queue (BRIEF §3.4), which the §3.1 list leaves implicit.
    # failed -> rejected: a lost order found at the broker after all, already rejected there.
    S.FAILED: frozenset(
        {S.RETRY_PENDING, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}
    ),
    S.RETRY_PENDING: frozenset({S.SUBMITTING, S.CANCELLED, S.FAILED, S.RETRY_PENDING}),
    S.CANCELLED: frozenset({S.PARTIALLY_FILLED, S.FILLED}),
    S.EXPIRED: frozenset({S.PARTIALLY_FILLED, S.FILLED}),
    S.DENIED: frozenset(),
    S.FILLED: frozenset(),
    S.REJECTED: frozenset(),
}


def is_allowed(current: OrderStatus, target: OrderStatus) -> bool:
    """True when the transition table lists ``current -> target``."""
    return target in TRANSITIONS[current]
