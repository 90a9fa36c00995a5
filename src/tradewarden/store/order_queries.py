"""Listing and counting one user's orders with the native API's filters (BRIEF §4.4)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    Table,
    and_,
    case,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from tradewarden.store.tables import FillRow, OrderRow, Strategy

MAX_PAGE_SIZE = 500
ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class OrderFilter:
    statuses: tuple[str, ...] = ()
    reason: str | None = None
    symbol: str | None = None
    strategy: str | None = None
    origin: str | None = None
    from_time: datetime | None = None
    to_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[OrderRow]
    total: int
    page: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return (self.total + self.page_size - 1) // self.page_size if self.total else 0


#: Beyond this many other strategy ids under one label, list them with one range condition.
_MAX_LABEL_STRATEGIES = 16


def _strategy_options(session: Session, user_id: int,
                      strategy: str) -> list[ColumnElement[bool]]:
    """``strategy_label = strategy OR strategy_id IN (<the strategies it names>)`` as disjoint
    conditions, each an equality prefix of an index ending in ``created_at``.

    The strategy filter names the user's strategy of that name, the strategy with that id when
    it is a number, and orders carrying it as their label. Orders of those strategies come from
    ``ix_orders_user_strategy_created``; the label's other orders from
    ``ix_orders_user_label_strategy_created``: one condition for those with no strategy id and
    one per other strategy id found under the label (a few index seeks find them, and leave
    out empty conditions, which could still cost a scan of another index).
    """
    ids = set(session.scalars(select(Strategy.id).where(Strategy.user_id == user_id,
                                                        Strategy.name == strategy)))
    if strategy.isdecimal() and strategy.isascii() and int(strategy) < 2**31:
        ids.add(int(strategy))
    label = and_(OrderRow.user_id == user_id, OrderRow.strategy_label == strategy)
    others: list[int] = []
    after: int | None = None
    while len(others) <= _MAX_LABEL_STRATEGIES:
        found = session.scalar(
            select(OrderRow.strategy_id).where(
                label, OrderRow.strategy_id.is_not(None) if after is None
                else OrderRow.strategy_id > after)
            .order_by(OrderRow.strategy_id).limit(1))
        if found is None:
            break
        if found not in ids:
            others.append(found)
        after = found
    options: list[ColumnElement[bool]] = [OrderRow.strategy_id == i for i in sorted(ids)]
    unassigned = and_(label, OrderRow.strategy_id.is_(None))
    if session.scalar(select(OrderRow.user_id).where(unassigned).limit(1)) is not None:
        options.append(unassigned)
    if len(others) > _MAX_LABEL_STRATEGIES:
        options.append(and_(label, OrderRow.strategy_id.is_not(None),
                            OrderRow.strategy_id.not_in(ids)))
    else:
        options.extend(and_(label, OrderRow.strategy_id == other) for other in others)
    return options


def _branches(session: Session, user_id: int,
              f: OrderFilter) -> list[list[ColumnElement[bool]]]:
    """The filter as disjoint conjunctions whose union is exactly the matching orders.

    A list of several statuses or a strategy (its label or its ids) is an OR, which no index
    serves in created-at order: SQLite sorts every match (or scans all the user's orders) and
    counts through a multi-index OR. Split into one branch per status and per strategy option,
    each branch is an equality prefix of an index ending in ``created_at``, so the page is a
    merge of index scans (newest first, stopping at the page) and the total a sum of counts.
    """
    base: list[ColumnElement[bool]] = [OrderRow.user_id == user_id]
    if f.reason:
        base.append(OrderRow.reason_code == f.reason)
    if f.symbol:
        base.append(OrderRow.symbol == f.symbol.upper())
    if f.origin:
        base.append(OrderRow.origin == f.origin)
    if f.from_time:
        base.append(OrderRow.created_at >= f.from_time)
    if f.to_time:
        base.append(OrderRow.created_at < f.to_time)
    statuses: list[ColumnElement[bool] | None] = (
        [OrderRow.status == s for s in dict.fromkeys(f.statuses)] if f.statuses else [None])
    strategies: list[ColumnElement[bool] | None] = (
        list(_strategy_options(session, user_id, f.strategy)) if f.strategy else [None])
    return [[*base, *(c for c in (status, strategy) if c is not None)]
            for status in statuses for strategy in strategies]


def _newest_first(columns: Any) -> tuple[ColumnElement[Any], ...]:
    return columns.created_at.desc(), columns.id.desc()


def _arms(session: Session, branches: list[list[ColumnElement[bool]]],
          rows: int) -> list[Select[Any]]:
    """The branches as the arms of a UNION ALL that is ordered newest first and paged.

    SQLite merges the arms itself (each arm in index order), reading only the rows up to the
    page. PostgreSQL merges sorted arms only when each is sorted on the whole ``ORDER BY``
    (``created_at, id``), which its indexes give as an incremental sort: each arm is its own
    ``(... ORDER BY ... LIMIT <rows to the end of the page>)``, so that it merges them instead
    of sorting every match of every arm. (SQLite reads more with those limits.)
    """
    arms = [select(ORDERS).where(*b) for b in branches]
    if session.get_bind().dialect.name != "postgresql":
        return arms
    return [arm.order_by(*_newest_first(ORDERS.c)).limit(rows) for arm in arms]


def list_orders(session: Session, user_id: int, f: OrderFilter, page: int,
                page_size: int) -> Page:
    """Newest first, ``page`` counted from 1."""
    branches = _branches(session, user_id, f)
    if not branches:  # a strategy that names no order
        return Page(items=[], total=0, page=page, page_size=page_size)
    offset = (page - 1) * page_size
    query: Executable
    if len(branches) == 1:
        query = (select(OrderRow).where(*branches[0]).order_by(*_newest_first(OrderRow))
                 .offset(offset).limit(page_size))
    else:
        merged = union_all(*_arms(session, branches, offset + page_size))
        query = select(OrderRow).from_statement(
            merged.order_by(*_newest_first(merged.selected_columns))
            .offset(offset).limit(page_size))
    items = list(session.scalars(query))
    if len(items) < page_size and (items or offset == 0):
        total = offset + len(items)  # the last page: nothing to count
    else:
        counts = [select(func.count()).select_from(ORDERS).where(*b) for b in branches]
        total = session.scalar(counts[0] if len(counts) == 1 else select(
            functools.reduce(operator.add, (c.scalar_subquery() for c in counts)))) or 0
    return Page(items=items, total=total, page=page, page_size=page_size)


def status_counts(session: Session, user_id: int) -> dict[str, int]:
    rows = session.execute(select(OrderRow.status, func.count()).where(
        OrderRow.user_id == user_id).group_by(OrderRow.status)).all()
    return {status: count for status, count in rows}


# --- OpenAlgo-style views ---------------------------------------------------------------------

LIVE_STATUSES = ("created", "submitting", "open", "partially_filled", "pending_cancel",
                 "pending_modify", "retry_pending", "failed")
FINAL_STATUSES = ("denied", "filled", "rejected", "cancelled", "expired")


#: Filled quantity with a sign: buys add to a position, sells take from it.
SIGNED_FILLED = case((OrderRow.side == "BUY", OrderRow.filled_quantity),
                     else_=-OrderRow.filled_quantity)


GroupColumn = ColumnElement[Any] | InstrumentedAttribute[Any]


def net_quantities(session: Session, group_by: Sequence[GroupColumn],
                   *where: ColumnElement[bool]) -> dict[tuple[Any, ...], int]:
    """Net filled quantity (buys positive) of the matching orders, per ``group_by`` values.

    The one place positions are computed from our orders (guards, OpenAlgo positions,
    strategies, holdings reconciliation).
    """
    rows = session.execute(
        select(*group_by, func.sum(SIGNED_FILLED))
        .where(OrderRow.filled_quantity > 0, *where).group_by(*group_by)).all()
    return {tuple(row[:-1]): int(row[-1] or 0) for row in rows}


def net_positions(session: Session,
                  *where: ColumnElement[bool]) -> dict[tuple[str, str, str], int]:
    """Net filled quantity per (exchange, symbol, product) of matching orders."""
    grouped = net_quantities(session, (OrderRow.exchange, OrderRow.symbol, OrderRow.product),
                             *where)
    return {(str(e), str(s), str(p)): q for (e, s, p), q in grouped.items()}


def label_positions(session: Session, user_id: int, account_id: int,
                    label: str) -> dict[tuple[str, str, str], int]:
    """Positions of an OpenAlgo strategy label (orders not tied to a configured strategy)."""
    return net_positions(session, OrderRow.user_id == user_id,
                         OrderRow.account_id == account_id, OrderRow.strategy_id.is_(None),
                         OrderRow.strategy_label == label)


def live_orders(session: Session, user_id: int, account_id: int,
                *where: ColumnElement[bool]) -> list[OrderRow]:
    """Orders of the account that may still execute (and match ``where``), oldest id first."""
    return list(session.scalars(select(OrderRow).where(
        OrderRow.user_id == user_id, OrderRow.account_id == account_id,
        OrderRow.status.in_(LIVE_STATUSES), *where).order_by(OrderRow.id)))


def book_orders(session: Session, user_id: int, since: datetime) -> list[OrderRow]:
    """The order book: orders created since ``since`` plus older ones not yet final."""
    return list(session.scalars(
        select(OrderRow).where(
            OrderRow.user_id == user_id,
            or_(OrderRow.created_at >= since, OrderRow.status.not_in(FINAL_STATUSES)))
        .order_by(OrderRow.created_at.desc(), OrderRow.id.desc())))


def user_fills(session: Session, user_id: int, since: datetime) -> list[tuple[FillRow, OrderRow]]:
    rows = session.execute(
        select(FillRow, OrderRow).join(OrderRow, OrderRow.id == FillRow.order_id)
        .where(FillRow.user_id == user_id, FillRow.filled_at >= since)
        .order_by(FillRow.filled_at, FillRow.id)).all()
    return [(fill, order) for fill, order in rows]


def strategy_positions(session: Session, strategy_id: int) -> dict[tuple[str, str, str], int]:
    """Positions of a configured strategy."""
    return net_positions(session, OrderRow.strategy_id == strategy_id)


def strategy_working_orders(session: Session, strategy_id: int) -> int:
    """How many of a strategy's orders may still execute."""
    return session.scalar(select(func.count()).select_from(OrderRow).where(
        OrderRow.strategy_id == strategy_id, OrderRow.status.in_(LIVE_STATUSES))) or 0
