"""Mapping a broker's raw status strings to our :class:`OrderStatus` (one table per broker)."""

from __future__ import annotations

from collections.abc import Mapping

from tradewarden.domain.statuses import OrderStatus

S = OrderStatus


def normalize_status(raw: str) -> str:
    """Upper-case and collapse whitespace/underscores so spellings compare equal."""
    return " ".join(raw.replace("_", " ").upper().split())


class StatusTable:
    """A case-insensitive table from a broker's status strings to our statuses.

    ``map`` returns ``None`` for a string the table does not know: callers must treat such an
    order as still working (watch it, never conclude it is final). A working status with a
    non-zero filled quantity is reported as ``partially_filled``.
    """

    def __init__(self, broker: str, entries: Mapping[str, OrderStatus]) -> None:
        self.broker = broker
        self._entries = {normalize_status(raw): status for raw, status in entries.items()}

    def map(self, raw: str, *, filled_quantity: int = 0, quantity: int = 0) -> OrderStatus | None:
        """Our status for ``raw``; ``None`` when the string is unknown."""
        status = self._entries.get(normalize_status(raw))
        if status is None:
            return None
        if status is S.OPEN and filled_quantity > 0:
            if quantity and filled_quantity >= quantity:
                return S.FILLED
            return S.PARTIALLY_FILLED
        return status

    def known(self, raw: str) -> bool:
        """True when ``raw`` is in the table."""
        return normalize_status(raw) in self._entries

    def __contains__(self, raw: object) -> bool:
        return isinstance(raw, str) and self.known(raw)
