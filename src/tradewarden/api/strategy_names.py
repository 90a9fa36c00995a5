"""What a strategy name means for a user, cached for the OpenAlgo intake path.

An OpenAlgo ``strategy`` field naming one of the caller's configured strategies is booked to
that strategy; finding out is a database read, which every ``placeorder`` would otherwise pay.
The answer (``(strategy id, account id)`` or ``None``) is kept a few seconds per (user, name).
The strategy API (and the dashboard, which goes through it) forgets a user's answers whenever it
creates, renames, pauses or deletes one of their strategies; the short lifetime covers changes
made by another process.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.datastructures import State

from tradewarden.clock import utcnow

#: (strategy id, its account id or None), or None: no configured strategy of that name.
Named = tuple[int, int | None] | None


class StrategyNames:
    """(user id, strategy name) → :data:`Named`, each answer kept ``ttl``."""

    def __init__(self, ttl: timedelta = timedelta(seconds=5), max_users: int = 10_000) -> None:
        self.ttl = ttl
        self.max_users = max_users
        self._users: dict[int, dict[str, tuple[Named, datetime, datetime]]] = {}
        self.generation = 0  # bumped by every ``forget``: a read begun before it is not kept

    def get(self, user_id: int, name: str) -> tuple[bool, Named]:
        """``(True, answer)`` when a fresh answer is kept, else ``(False, None)``."""
        kept = self._users.get(user_id, {}).get(name)
        if kept is not None:
            answer, stored, expires = kept
            if stored <= utcnow() < expires:
                return True, answer
        return False, None

    def put(self, user_id: int, name: str, answer: Named, generation: int) -> None:
        """Keep ``answer``, read while ``generation`` was current (else it may be stale)."""
        if generation != self.generation:
            return
        if user_id not in self._users and len(self._users) >= self.max_users:
            self._users.clear()
        names = self._users.setdefault(user_id, {})
        if len(names) >= 1_000:
            names.clear()
        now = utcnow()
        names[name] = (answer, now, now + self.ttl)

    def forget(self, user_id: int) -> None:
        """Drop the user's answers: one of their strategies changed."""
        self.generation += 1
        self._users.pop(user_id, None)


def strategy_names(state: State) -> StrategyNames:
    """The app's cache (``app.state``), made on first use."""
    names: StrategyNames | None = getattr(state, "strategy_names", None)
    if names is None:
        names = StrategyNames()
        state.strategy_names = names
    return names
