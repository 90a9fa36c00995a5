"""The broker error hierarchy shared by every adapter.

Three families, because the engine must treat them differently (BRIEF §1.6):

* :class:`DefinitiveError` — the broker answered and refused; nothing was done.
* :class:`AmbiguousError` — we do not know whether the request took effect (timeout, 5xx,
  dropped connection, unreadable answer). Never treat one of these as "not found".
* :class:`RateLimitedError` — the broker refused to look at the request; retry after a pause.
"""

from __future__ import annotations

from tradewarden.domain.reasons import ReasonCode


class BrokerError(Exception):
    """Base of every error raised by a broker adapter."""

    #: The failure reason code the engine records when this error ends an attempt.
    reason_code: ReasonCode = ReasonCode.BROKER_UNAVAILABLE

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: A short machine-readable code from the broker (``market_closed``, ``not_found``…).
        self.code = code


class DefinitiveError(BrokerError):
    """The broker definitively refused the request; no state changed at the broker."""

    reason_code = ReasonCode.BROKER_VALIDATION


class OrderRejectedError(DefinitiveError):
    """The request was invalid for the broker (validation, state that forbids the action)."""


class InsufficientFundsError(DefinitiveError):
    """The broker refused for lack of funds or margin (retryable later)."""

    reason_code = ReasonCode.INSUFFICIENT_FUNDS


class OrderNotFoundError(DefinitiveError):
    """A targeted query for one order answered that the broker does not know it."""

    reason_code = ReasonCode.LOST


class SessionExpiredError(DefinitiveError):
    """The broker session (login/token) is no longer valid."""

    reason_code = ReasonCode.SESSION_EXPIRED


class AmbiguousError(BrokerError):
    """The outcome is unknown: the request may or may not have taken effect."""


class BrokerTimeoutError(AmbiguousError):
    """No answer in time."""


class BrokerServerError(AmbiguousError):
    """The broker answered with a server error (5xx)."""

    def __init__(self, message: str, *, status_code: int = 500, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code


class BrokerDisconnectedError(AmbiguousError):
    """The connection failed or a stream was dropped."""


class BrokerResponseError(AmbiguousError):
    """The broker's answer could not be understood (garbage or unexpected body)."""


class RateLimitedError(BrokerError):
    """The broker refused the request because of rate limits; nothing was done."""

    def __init__(self, message: str, *, retry_after: float = 1.0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        #: Seconds to wait before trying again.
        self.retry_after = retry_after
