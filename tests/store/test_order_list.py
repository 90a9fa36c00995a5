"""The order list (``list_orders``) against a plain reference query, on SQLite and PostgreSQL.

``list_orders`` splits several statuses and the strategy filter into disjoint branches, merges
them newest first and derives or sums the total; the reference here is the filter written
plainly (``status IN (...)``, ``strategy_label = ? OR strategy_id IN (SELECT ...) OR
strategy_id = <number>``), ordered and paged in one statement. Every filter combination must
give the same rows in the same order, the same total and the same number of pages.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.domain.orders import new_client_order_id, new_order_id
from tradewarden.store.db import Database
from tradewarden.store.order_queries import OrderFilter, list_orders
from tradewarden.store.repositories import Accounts, Users
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import OrderRow, Strategy

STATUSES = ("created", "denied", "submitting", "open", "partially_filled", "pending_cancel",
            "pending_modify", "filled", "rejected", "cancelled", "expired", "failed",
            "retry_pending")
REASONS = (None, "risk_blocked", "validation_failed", "insufficient_funds")
SYMBOLS = ("RELIANCE", "TCS", "INFY")
ORIGINS = ("webhook", "api", "external")
BASE = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
BOX = SecretBox(key_from_secret("test key for the order list tests"))
T = TypeVar("T")


@dataclass(frozen=True)
class World:
    user_id: int
    strategy_values: tuple[str, ...]  # strategy filter values worth trying


def _reference(session: Session, user_id: int, f: OrderFilter, page: int,
               page_size: int) -> tuple[list[str], int]:
    """The filter as one plain query (the list's semantics, no tricks)."""
    conditions: list[ColumnElement[bool]] = [OrderRow.user_id == user_id]
    if f.statuses:
        conditions.append(OrderRow.status.in_(f.statuses))
    if f.reason:
        conditions.append(OrderRow.reason_code == f.reason)
    if f.symbol:
        conditions.append(OrderRow.symbol == f.symbol.upper())
    if f.origin:
        conditions.append(OrderRow.origin == f.origin)
    if f.from_time:
        conditions.append(OrderRow.created_at >= f.from_time)
    if f.to_time:
        conditions.append(OrderRow.created_at < f.to_time)
    if f.strategy:
        named = select(Strategy.id).where(Strategy.user_id == user_id,
                                          Strategy.name == f.strategy)
        options = [OrderRow.strategy_label == f.strategy, OrderRow.strategy_id.in_(named)]
        if f.strategy.isdecimal() and f.strategy.isascii() and int(f.strategy) < 2**31:
            options.append(OrderRow.strategy_id == int(f.strategy))
        conditions.append(or_(*options))
    ids = list(session.scalars(
        select(OrderRow.id).where(*conditions)
        .order_by(OrderRow.created_at.desc(), OrderRow.id.desc())
        .offset((page - 1) * page_size).limit(page_size)))
    total = session.scalar(select(func.count()).select_from(OrderRow).where(*conditions))
    return ids, total or 0


def _strategy(session: Session, user_id: int, account_id: int, name: str) -> int:
    return Strategies(session, user_id).create(
        name=name, account_id=account_id, mode="both", position_guards=True, allow_amo=False,
        settings={}, box=BOX).id


def _order(user_id: int, account_id: int, n: int, rng: random.Random,
           strategy_id: int | None, label: str | None) -> OrderRow:
    # every fourth order shares its timestamp with the one before: ties, broken by id
    created = BASE + timedelta(hours=7 * (n - n % 4 // 3))
    status = rng.choice(STATUSES)
    filled = 5 if status in ("filled", "partially_filled") else 0
    return OrderRow(
        id=new_order_id(), user_id=user_id, account_id=account_id, strategy_id=strategy_id,
        strategy_label=label, client_order_id=new_client_order_id(), exchange="NSE",
        symbol=rng.choice(SYMBOLS), side=rng.choice(("BUY", "SELL")), quantity=10,
        filled_quantity=filled, average_price=Decimal("100") if filled else Decimal("0"),
        order_type="LIMIT", product="MIS", price=Decimal("100"), variety="regular",
        validity="DAY", status=status, reason_code=rng.choice(REASONS),
        origin=rng.choice(ORIGINS), execution_type="entry", retry_count=0,
        created_at=created, updated_at=created, version=1, extra={})


def _seed(db: Database) -> World:
    rng = random.Random(20261121)
    with db.transaction() as session:
        users = [Users(session).create(name) for name in ("lister", "neighbour")]
        accounts = [Accounts(session).add(u, broker="paper", name=f"paper-{u.username}").id
                    for u in users]
        (me, other), (mine, theirs) = [u.id for u in users], accounts
        alpha = _strategy(session, me, mine, "alpha")
        beta = _strategy(session, me, mine, "beta")
        numeric = _strategy(session, me, mine, str(alpha))  # named like alpha's id
        gone = _strategy(session, me, mine, "gone")
        many = [_strategy(session, me, mine, f"s{k}" if k else "shared") for k in range(20)]
        their_alpha = _strategy(session, other, theirs, "alpha")
        session.execute(update(Strategy).where(Strategy.id == gone)
                        .values(deleted_at=BASE))  # deleted: still found by name
        # (strategy id, label): the strategy's own orders, orders of a strategy renamed since
        # (old label), another strategy's orders under this label, OpenAlgo labels without a
        # strategy, orders with neither, labels shared by more strategies than are looked up
        # one by one (one of them a strategy's name, one not), and a strategy id that is the
        # number of another strategy's name
        kinds: list[tuple[int | None, str | None]] = [
            (alpha, "alpha"), (alpha, "alpha"), (alpha, "old-alpha"), (beta, "alpha"),
            (beta, "beta"), (None, "alpha"), (None, "openalgo-x"), (None, None),
            (numeric, str(alpha)), (gone, "gone"), (their_alpha, "alpha"),
            *((s, "shared") for s in many), (None, "shared"), (beta, "shared"),
            *((s, "crowd") for s in many[1:])]
        rows = [_order(me, mine, n, rng, *rng.choice(kinds)) for n in range(700)]
        rows += [_order(other, theirs, n, rng, their_alpha, "alpha") for n in range(60)]
        rows += [_order(other, theirs, n, rng, None, "beta") for n in range(20)]
        session.add_all(rows)
    values = ("alpha", "beta", "old-alpha", "openalgo-x", "gone", "shared", "crowd", str(alpha),
              str(numeric), str(beta), str(their_alpha), str(many[3]), "s5", "nosuch",
              "99999999999", "0")
    return World(user_id=me, strategy_values=values)


STATUS_SETS: tuple[tuple[str, ...], ...] = (
    (), ("filled",), ("failed", "retry_pending"), ("cancelled", "expired"),
    ("created", "submitting", "open", "partially_filled", "pending_cancel", "pending_modify"),
    ("filled", "filled"), STATUSES, ("denied", "filled", "nonexistent"))
DAY = timedelta(days=1)
WINDOWS = ((None, None), (BASE + 20 * DAY, BASE + 60 * DAY), (BASE + 100 * DAY, None),
           (None, BASE + 10 * DAY),
           (BASE + timedelta(hours=70), BASE + timedelta(hours=77)))  # orders 10, 11: a tie


def _filters(world: World) -> list[OrderFilter]:
    """Every strategy value with every status set, then random combinations of all filters
    (each one left out half the time, so that most of them still match orders)."""
    strategies = (None, *world.strategy_values)
    chosen = [OrderFilter(statuses=s, strategy=g)
              for s, g in itertools.product(STATUS_SETS, strategies)]
    rng = random.Random(8)

    def some(values: tuple[T, ...], empty: T) -> T:
        return rng.choice(values) if rng.random() < 0.5 else empty

    for _ in range(250):
        start, end = some(WINDOWS, (None, None))
        chosen.append(OrderFilter(
            statuses=some(STATUS_SETS, ()), reason=some(REASONS, None),
            symbol=some(("reliance", "TCS"), None), strategy=some(world.strategy_values, None),
            origin=some(("webhook", "external"), None), from_time=start, to_time=end))
    return chosen


def _check(session: Session, user_id: int, f: OrderFilter, page: int, size: int) -> int:
    got = list_orders(session, user_id, f, page, size)
    want_ids, want_total = _reference(session, user_id, f, page, size)
    assert [row.id for row in got.items] == want_ids, (f, page, size)
    assert (got.total, got.page, got.page_size) == (want_total, page, size), (f, page, size)
    assert got.total_pages == -(-want_total // size), (f, page, size)
    return want_total


def test_every_filter_matches_the_reference_query(db: Database) -> None:
    world = _seed(db)
    totals = []
    with db.read() as session:
        for f in _filters(world):
            total = _check(session, world.user_id, f, 1, 7)
            totals.append(total)
            last = max(1, -(-total // 7))
            for page, size in ((2, 7), (last, 7), (last + 1, 7), (1, 500)):
                _check(session, world.user_id, f, page, size)
    assert sum(t > 14 for t in totals) > len(totals) // 3  # not a test of empty lists
    assert 0 in totals


@pytest.mark.parametrize("strategy", ["alpha", "shared", None])
def test_paging_through_gives_each_order_once_in_order(db: Database,
                                                       strategy: str | None) -> None:
    world = _seed(db)
    f = OrderFilter(statuses=("filled", "cancelled", "expired", "rejected"), strategy=strategy)
    with db.read() as session:
        want, total = _reference(session, world.user_id, f, 1, 10_000)
        pages = [list_orders(session, world.user_id, f, page, 3) for page in range(1, 300)]
    seen = [row.id for p in pages for row in p.items]
    assert total > 12
    assert seen == want
    assert {p.total for p in pages} == {total}
    assert all(row.user_id == world.user_id for p in pages for row in p.items)


def test_strategy_filter_semantics(db: Database) -> None:
    """Spot checks independent of the reference: label, name → id, number → id, users."""
    world = _seed(db)
    with db.read() as session:
        alpha = session.scalar(select(Strategy.id).where(Strategy.user_id == world.user_id,
                                                         Strategy.name == "alpha"))
        rows = list_orders(session, world.user_id, OrderFilter(strategy="alpha"), 1, 500).items
        numbered = list_orders(session, world.user_id, OrderFilter(strategy=str(alpha)), 1,
                               500).items
    assert rows and all(r.strategy_label == "alpha" or r.strategy_id == alpha for r in rows)
    assert {r.strategy_label for r in rows} >= {"alpha", "old-alpha"}
    assert any(r.strategy_id is None for r in rows)
    assert any(r.strategy_id not in (None, alpha) for r in rows)  # another strategy's, label
    assert {r.id for r in rows if r.strategy_id == alpha} <= {r.id for r in numbered}
    assert any(r.strategy_label == str(alpha) and r.strategy_id != alpha for r in numbered)
