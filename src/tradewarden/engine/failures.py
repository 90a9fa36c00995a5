"""Classify broker refusals into our reason codes: the one table of rejection texts.

Every broker's refusal text (a rejected order's reason, or the message of a synchronous
refusal) goes through :func:`rejection_code`. The first rule with a matching pattern wins, so
the specific rules come before the broad ones ("insufficient holdings" before "insufficient
funds"). Whether the retry queue takes an order up is the code's ``retryable``: a retry at the
next pre-market window can fix missing funds or an expired session, never missing holdings, a
per-order limit, a product the instrument does not allow or an unknown instrument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tradewarden.domain.reasons import ReasonCode

R = ReasonCode


@dataclass(frozen=True, slots=True)
class RejectionRule:
    """Broker texts matching any of ``patterns`` (case-insensitive regexes) mean ``code``."""

    code: ReasonCode
    patterns: tuple[str, ...]

    def matches(self, text: str) -> bool:
        return any(re.search(pattern, text, re.IGNORECASE) for pattern in self.patterns)


REJECTION_RULES: tuple[RejectionRule, ...] = (
    RejectionRule(R.NO_HOLDINGS, (
        r"insufficient (holding|quantity|shares|stock)", r"check holding",
        r"no holdings?", r"holdings? not (available|found)", r"short sell",
    )),
    RejectionRule(R.ORDER_LIMIT, (
        r"order value\b.*\b(exceed|greater|more|limit|max)",
        r"(quantity|qty)\b.*\b(limit|exceed|greater than|more than|max)",
        r"freeze (quantity|qty|limit)", r"value limit",
    )),
    RejectionRule(R.PRODUCT_NOT_ALLOWED, (
        r"\b(cnc|mis|nrml|intraday|delivery|product)\b.*\bnot (allowed|permitted)",
        r"\bnot (allowed|permitted)\b.*\b(cnc|mis|nrml|intraday|product)\b",
    )),
    RejectionRule(R.BROKER_VALIDATION, (
        r"(unknown|invalid) (instrument|symbol|scrip|token|security)",
        r"(instrument|symbol|scrip|security) not found",
    )),
    RejectionRule(R.INSUFFICIENT_FUNDS, (
        r"margin exceeds", r"margin shortfall", r"insufficient (fund|balance|margin|limit)",
        r"\bfunds?\b",
    )),
    RejectionRule(R.SESSION_EXPIRED, (
        r"session expired", r"token expired", r"invalid (session|token)", r"\blog ?in\b",
    )),
)


def rejection_code(text: str | None) -> ReasonCode:
    """The reason code a broker's refusal text implies (``broker_validation`` by default)."""
    for rule in REJECTION_RULES:
        if text and rule.matches(text):
            return rule.code
    return R.BROKER_VALIDATION
