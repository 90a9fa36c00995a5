"""Classify broker refusals into our reason codes (one place for the text heuristics)."""

from __future__ import annotations

from tradewarden.domain.reasons import ReasonCode

_FUNDS_MARKERS = ("insufficient", "margin exceeds", "funds", "margin shortfall")
_SESSION_MARKERS = ("session expired", "token expired", "invalid session", "login")


def rejection_code(text: str | None) -> ReasonCode:
    """The failure code a broker rejection text implies (``broker_validation`` by default)."""
    lowered = (text or "").lower()
    if any(marker in lowered for marker in _FUNDS_MARKERS):
        return ReasonCode.INSUFFICIENT_FUNDS
    if any(marker in lowered for marker in _SESSION_MARKERS):
        return ReasonCode.SESSION_EXPIRED
    return ReasonCode.BROKER_VALIDATION
