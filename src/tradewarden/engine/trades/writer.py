"""Ordered, batched state writes that survive a database outage.

The tick path never waits for the database: what it derives (best prices, trailing levels)
and what it does while the database is down (exit orders placed directly) is queued here and
written in order, in one transaction per flush. A failing flush keeps the queue, marks the
writer *degraded* (shown by ``/readyz`` and metrics) and is retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tradewarden.engine.ledger import AppliedEvent, Ledger

log = logging.getLogger(__name__)

#: One queued write: runs inside the flush's transaction, returns ledger events to publish.
Write = Callable[[Session], Sequence[AppliedEvent]]
#: Runs on the event loop after the write that carries it committed.
AfterCommit = Callable[[], None]
#: The collected derived state: its write and what to do once it is committed.
Collected = tuple[Write, AfterCommit | None]
#: A queued write: the write, what to run once committed, what to run if it is dropped.
_Queued = tuple[Write, AfterCommit | None, AfterCommit | None]


def is_database_down(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be reached", not "bad data"."""
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or type(exc).__name__ in (
            "OperationalError", "InterfaceError")
    return isinstance(exc, ConnectionError | OSError)


class StateWriter:
    """Queues writes and flushes them in order; see the module docstring.

    ``collect`` is asked before every flush for the *latest* derived state (one write plus a
    callback run once it is committed); it is not queued, so a long outage keeps one merged
    copy of that state instead of one per failed flush.
    """

    def __init__(self, ledger: Ledger, interval_s: float = 1.0, max_backoff_s: float = 10.0,
                 collect: Callable[[], Collected | None] | None = None) -> None:
        self.ledger = ledger
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self._collect = collect
        self._queue: deque[_Queued] = deque()
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self.degraded = False
        self.failures = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def submit(self, write: Write, *, urgent: bool = False,
               after: AfterCommit | None = None,
               dropped: AfterCommit | None = None) -> None:
        """Queue ``write``; ``after`` runs on the event loop once it is committed, ``dropped``
        if it is given up (it failed for a reason other than the database being down)."""
        self._queue.append((write, after, dropped))
        if urgent:
            self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="trade-state-writer")

    async def stop(self) -> None:
        """Stop the loop and make a last attempt to write everything queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()

    async def flush(self) -> bool:
        """Write everything queued now; False (queue kept) when the database is down."""
        collected = self._collect() if self._collect is not None else None
        batch = list(self._queue)
        if collected is not None:
            batch.append((*collected, None))
        if not batch:
            return True
        try:
            applied = await self.ledger.db.run(self._write, [write for write, _, _ in batch])
        except Exception as exc:
            if is_database_down(exc):
                return self._degrade(len(batch), exc)
            return await self._flush_one_by_one(batch, collected)
        for _ in range(len(batch) - (collected is not None)):  # later submissions stay
            self._queue.popleft()
        self._recovered(len(batch))
        self.ledger.publish(applied)
        for _, after, _ in batch:
            if after is not None:
                after()
        return True

    async def _flush_one_by_one(self, batch: list[_Queued],
                                collected: Collected | None) -> bool:
        """A write failed for a reason other than the database: isolate and drop it."""
        for index, (write, after, dropped) in enumerate(batch):
            try:
                applied = await self.ledger.db.run(self._write, [write])
            except Exception as exc:
                if is_database_down(exc):
                    return self._degrade(len(self._queue), exc)
                log.exception("dropping a state write that cannot succeed")
                applied, after = [], dropped
            if collected is None or index < len(batch) - 1:
                self._queue.popleft()
            self.ledger.publish(applied)
            if after is not None:
                after()
        self._recovered(len(batch))
        return True

    def _degrade(self, queued: int, exc: BaseException) -> bool:
        self.failures += 1
        if not self.degraded:
            log.error("database unavailable, %d state write(s) queued in memory: %s",
                      queued, exc)
        self.degraded = True
        return False

    def _recovered(self, written: int) -> None:
        if self.degraded:
            log.warning("database back: %d queued state write(s) written", written)
        self.degraded = False
        self.failures = 0

    def _write(self, batch: list[Write]) -> list[AppliedEvent]:
        applied: list[AppliedEvent] = []
        with self.ledger.db.transaction() as session:
            for write in batch:
                applied.extend(write(session))
        return applied

    async def _run(self) -> None:
        delay = self.interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
            self._wakeup.clear()
            ok = await self.flush()
            delay = self.interval_s if ok else min(
                self.max_backoff_s, self.interval_s * 2 ** min(self.failures, 6))
