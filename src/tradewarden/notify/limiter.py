"""Flood control per channel: at most ``count`` messages in any ``window_s`` seconds.

A sliding window over the *completion* times of sends: the next message starts only after the
oldest of the last ``count`` sends completed ``window_s`` ago, so arrivals at the service are
spaced at least as the limit says. A channel can also be blocked for a while: after a failure
(exponential backoff) or when the service answers 429 (its ``retry_after``). What cannot go
out now waits in the outbox and is folded into a digest by the sender — never dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# Telegram: about one message per second to a chat, 20 per minute to a group.
TELEGRAM_CHAT_COUNT, TELEGRAM_CHAT_WINDOW_S = 1, 1.0
TELEGRAM_GROUP_COUNT, TELEGRAM_GROUP_WINDOW_S = 20, 60.0


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window_s: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.window_s <= 0:
            raise ValueError("a limit needs count >= 1 and a positive window")


TELEGRAM_CHAT = Limit(TELEGRAM_CHAT_COUNT, TELEGRAM_CHAT_WINDOW_S)
TELEGRAM_GROUP = Limit(TELEGRAM_GROUP_COUNT, TELEGRAM_GROUP_WINDOW_S)
GENERIC = Limit(10, 1.0)
SCHEME_LIMITS: dict[str, Limit] = {
    "tgram": TELEGRAM_CHAT,
    "discord": Limit(5, 2.0),
    "slack": Limit(1, 1.0),
    "ntfy": Limit(5, 1.0), "ntfys": Limit(5, 1.0),
    "mailto": Limit(10, 60.0), "mailtos": Limit(10, 60.0),
}


def default_limit(scheme: str, chat_ids: list[str] | None = None) -> Limit:
    """The limit for a channel that sets none; a Telegram group chat id starts with ``-``."""
    if scheme == "tgram" and any(chat.startswith("-") for chat in chat_ids or ()):
        return TELEGRAM_GROUP
    return SCHEME_LIMITS.get(scheme, GENERIC)


class SlidingWindow:
    """One channel's limiter. Times are ``time.monotonic()`` seconds."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self._done: deque[float] = deque(maxlen=limit.count)
        self._blocked_until = 0.0
        self.failures = 0  # consecutive failed sends (for the backoff)

    def wait(self, now: float) -> float:
        """Seconds until the next message may start (0: now)."""
        wait = self._blocked_until - now
        if len(self._done) == self.limit.count:
            wait = max(wait, self._done[0] + self.limit.window_s - now)
        return max(wait, 0.0)

    def free(self, now: float) -> int:
        """How many messages could start back to back right now."""
        if self._blocked_until > now:
            return 0
        recent = sum(1 for done in self._done if done > now - self.limit.window_s)
        return self.limit.count - recent

    def record(self, done_at: float) -> None:
        """A send finished (successfully or not) at ``done_at``."""
        self._done.append(done_at)

    def block(self, seconds: float, now: float) -> None:
        self._blocked_until = max(self._blocked_until, now + seconds)

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self, now: float, initial_s: float, max_s: float,
               retry_after: float | None = None) -> float:
        """Back the channel off; returns the delay. A 429's ``retry_after`` wins."""
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), max_s * 10)
        else:
            delay = min(max_s, initial_s * 2 ** self.failures)
            self.failures += 1
        self.block(delay, now)
        return delay


class Limiters:
    """The limiter of every channel, created on first use and renewed when its limit changes."""

    def __init__(self) -> None:
        self._windows: dict[int, SlidingWindow] = {}

    def get(self, channel_id: int, limit: Limit) -> SlidingWindow:
        window = self._windows.get(channel_id)
        if window is None or window.limit != limit:
            renewed = SlidingWindow(limit)
            if window is not None:  # keep the history: a new limit must not allow a burst
                renewed._done.extend(window._done)
                renewed._blocked_until = window._blocked_until
                renewed.failures = window.failures
            window = self._windows[channel_id] = renewed
        return window

    def forget(self, keep: set[int]) -> None:
        for channel_id in set(self._windows) - keep:
            del self._windows[channel_id]
