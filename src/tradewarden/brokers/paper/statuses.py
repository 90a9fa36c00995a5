"""The paper broker's status strings and its one status table.

The simulator emits the strings in :class:`PaperStatus`, the ones a Zerodha/Kotak-style retail
broker shows. :data:`PAPER_STATUS_TABLE` also accepts the spellings other brokers use, so the
same table can be exercised with their variants (``CANCELED``, ``cancelled after market
order``…).
"""

from __future__ import annotations

from enum import StrEnum

from tradewarden.brokers.status_table import StatusTable
from tradewarden.domain.statuses import OrderStatus

S = OrderStatus


class PaperStatus(StrEnum):
    PUT_ORDER_REQ_RECEIVED = "PUT ORDER REQ RECEIVED"
    VALIDATION_PENDING = "VALIDATION PENDING"
    AMO_REQ_RECEIVED = "AMO REQ RECEIVED"
    OPEN_PENDING = "OPEN PENDING"
    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER PENDING"
    MODIFY_VALIDATION_PENDING = "MODIFY VALIDATION PENDING"
    MODIFY_PENDING = "MODIFY PENDING"
    CANCEL_PENDING = "CANCEL PENDING"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


#: Statuses in which the simulator keeps an order live (it can fill, be modified or cancelled).
WORKING: frozenset[PaperStatus] = frozenset(
    {
        PaperStatus.AMO_REQ_RECEIVED,
        PaperStatus.OPEN_PENDING,
        PaperStatus.OPEN,
        PaperStatus.TRIGGER_PENDING,
    }
)

FINAL: frozenset[PaperStatus] = frozenset(
    {PaperStatus.COMPLETE, PaperStatus.CANCELLED, PaperStatus.REJECTED, PaperStatus.EXPIRED}
)

# Transient "request in progress" strings map to the order's underlying state (open): whether
# a cancel/modify is *ours* and pending is the ledger's knowledge, not the broker's.
PAPER_STATUS_TABLE = StatusTable(
    "paper",
    {
        "PUT ORDER REQ RECEIVED": S.OPEN,
        "VALIDATION PENDING": S.OPEN,
        "AMO REQ RECEIVED": S.OPEN,
        "AMO MODIFY REQ RECEIVED": S.OPEN,
        "OPEN PENDING": S.OPEN,
        "OPEN": S.OPEN,
        "PENDING": S.OPEN,
        "TRIGGER PENDING": S.OPEN,
        "MODIFY VALIDATION PENDING": S.OPEN,
        "MODIFY PENDING": S.OPEN,
        "MODIFIED": S.OPEN,
        "CANCEL PENDING": S.OPEN,
        "COMPLETE": S.FILLED,
        "COMPLETED": S.FILLED,
        "FILLED": S.FILLED,
        "TRADED": S.FILLED,
        "CANCELLED": S.CANCELLED,
        "CANCELED": S.CANCELLED,
        "CANCELLED AFTER MARKET ORDER": S.CANCELLED,
        "REJECTED": S.REJECTED,
        "EXPIRED": S.EXPIRED,
        "LAPSED": S.EXPIRED,
    },
)


def map_paper_status(
    raw: str, *, filled_quantity: int = 0, quantity: int = 0
) -> OrderStatus | None:
    """Our status for a paper status string (``None`` when unknown: treat as working)."""
    return PAPER_STATUS_TABLE.map(raw, filled_quantity=filled_quantity, quantity=quantity)
