"""Classify broker refusals into our reason codes: the one table of rejection texts.

Every broker's refusal text (a rejected order's reason, or the message of a synchronous
refusal) goes through :func:`classify`. The first rule with a matching pattern wins, so the
order matters: holdings before funds ("insufficient holdings" is not "insufficient funds"),
funds before the per-order limit and the product rule ("order value exceeds available margin"
and "not allowed: insufficient funds for MIS" are about money), the session before unknown
instruments ("Invalid Token" is an expired login). Patterns are specific: a bare "fund" or
"login" says nothing ("Mutual fund units…", "Trading login disabled").

Whether the retry queue takes an order up is the code's ``retryable``: a retry at the next
pre-market window can fix missing funds or an expired session, never missing holdings, a
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
        r"exceeds?\b.*\bholdings?\b",
    )),
    RejectionRule(R.INSUFFICIENT_FUNDS, (
        r"margin exceeds", r"margin shortfall", r"insufficient (funds?|balance|margin|limit)",
        r"not enough (funds?|balance|margin|cash)",
        r"exceed(s|ed)?\b.*\b(available|funds?|margin|balance|cash)\b",
    )),
    RejectionRule(R.SESSION_EXPIRED, (
        r"session (has )?expired", r"token (has )?expired", r"invalid (access |session )?token",
        r"invalid session", r"log ?in again", r"not logged ?in",
    )),
    RejectionRule(R.ORDER_LIMIT, (
        r"\bfreeze\b", r"\bper order\b", r"(order )?(value|quantity|qty) limit",
        r"\bmax(imum)?\b.*\b(order|quantity|qty|value)\b",
        r"\b(order|quantity|qty|value)\b.*\bmax(imum)?\b",
    )),
    RejectionRule(R.PRODUCT_NOT_ALLOWED, (
        r"\b(cnc|mis|nrml|intraday|delivery|product)\b.*\bnot (allowed|permitted)",
        r"\bnot (allowed|permitted)\b.*\b(cnc|mis|nrml|intraday|product)\b",
    )),
    RejectionRule(R.BROKER_VALIDATION, (
        r"(unknown|invalid) (instrument|symbol|scrip|security)",
        r"(instrument|symbol|scrip|security) not found",
    )),
)


def classify(text: str | None) -> ReasonCode | None:
    """The code of the first rule matching a broker's refusal text; None when none does."""
    for rule in REJECTION_RULES:
        if text and rule.matches(text):
            return rule.code
    return None


def rejection_code(text: str | None) -> ReasonCode:
    """The reason code a broker's refusal text implies (``broker_validation`` by default)."""
    return classify(text) or R.BROKER_VALIDATION


def final_rejection_code(text: str | None) -> ReasonCode:
    """The code of a rejection nothing retries (one the monitor or verification sees later):
    the table's code when it is one a retry cannot fix, else ``broker_validation`` (the
    broker's text is kept in ``rejection_reason``)."""
    code = rejection_code(text)
    return R.BROKER_VALIDATION if code.retryable else code
