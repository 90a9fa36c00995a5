"""The trade engine's state writer: a write that cannot succeed is dropped (its ``dropped``
callback runs, its ``after`` does not) and the writes queued behind it still go in."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from tests.seed import new_order, seed_owner
from tradewarden.engine.ledger import AppliedEvent, Ledger
from tradewarden.engine.trades.writer import StateWriter
from tradewarden.store.db import Database


async def test_a_write_that_cannot_succeed_is_dropped_and_reported(sqlite_db: Database) -> None:
    owner = seed_owner(sqlite_db)
    ledger = Ledger(sqlite_db)
    writer = StateWriter(ledger)
    calls: list[str] = []
    order = new_order(owner)

    def broken(_session: Session) -> Sequence[AppliedEvent]:
        raise ValueError("this write can never succeed")

    def create(session: Session) -> Sequence[AppliedEvent]:
        return [ledger.create_in_session(session, order)]

    writer.submit(broken, after=lambda: calls.append("broken after"),
                  dropped=lambda: calls.append("broken dropped"))
    writer.submit(create, after=lambda: calls.append("create after"),
                  dropped=lambda: calls.append("create dropped"))
    assert await writer.flush()
    assert calls == ["broken dropped", "create after"]
    assert writer.queued == 0
    assert await ledger.db.run(lambda: _exists(sqlite_db, order.id))


def _exists(db: Database, order_id: str) -> bool:
    from tradewarden.store.tables import OrderRow

    with db.read() as session:
        return session.get(OrderRow, order_id) is not None
