"""Listing and counting one user's orders with the native API's filters (BRIEF §4.4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tradewarden.store.tables import FillRow, OrderRow, Strategy

MAX_PAGE_SIZE = 500


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


def _conditions(session: Session, user_id: int, f: OrderFilter) -> list[ColumnElement[bool]]:
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
        options: list[ColumnElement[bool]] = [OrderRow.strategy_label == f.strategy,
                                              OrderRow.strategy_id.in_(named)]
        if f.strategy.isdecimal() and f.strategy.isascii() and int(f.strategy) < 2**31:
            options.append(OrderRow.strategy_id == int(f.strategy))
        conditions.append(or_(*options))
    return conditions


def list_orders(session: Session, user_id: int, f: OrderFilter, page: int,
                page_size: int) -> Page:
    """Newest first, ``page`` counted from 1."""
    conditions = _conditions(session, user_id, f)
    query: Select[OrderRow] = (
        select(OrderRow).where(*conditions).order_by(OrderRow.created_at.desc(),
                                                     OrderRow.id.desc())
        .offset((page - 1) * page_size).limit(page_size))
    items = list(session.scalars(query))
    total = session.scalar(select(func.count()).select_from(OrderRow).where(*conditions)) or 0
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
                label: str | None = None) -> list[OrderRow]:
    """Orders that may still execute, optionally only those of one strategy label."""
    conditions: list[ColumnElement[bool]] = [
        OrderRow.user_id == user_id, OrderRow.account_id == account_id,
        OrderRow.status.in_(LIVE_STATUSES)]
    if label is not None:
        conditions.append(OrderRow.strategy_label == label)
    return list(session.scalars(select(OrderRow).where(*conditions).order_by(OrderRow.id)))


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
