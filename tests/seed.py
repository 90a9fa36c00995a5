"""Rows most tests need: a user with a paper account, and new orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tradewarden.domain.orders import (
    Order,
    OrderType,
    Product,
    Side,
    new_client_order_id,
    new_order_id,
)
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Users


@dataclass(frozen=True)
class Owner:
    user_id: int
    account_id: int


def seed_owner(db: Database, username: str = "trader", account: str = "paper-t") -> Owner:
    with db.transaction() as session:
        user = Users(session).create(username)
        acct = Accounts(session).add(user, broker="paper", name=account)
        return Owner(user.id, acct.id)


def new_order(owner: Owner, quantity: int = 10, symbol: str = "RELIANCE") -> Order:
    now = datetime.now(UTC)
    return Order(
        id=new_order_id(), user_id=owner.user_id, account_id=owner.account_id,
        client_order_id=new_client_order_id(), exchange="NSE", symbol=symbol, side=Side.BUY,
        quantity=quantity, order_type=OrderType.LIMIT, product=Product.CNC,
        price=Decimal("2500.05"), created_at=now, updated_at=now,
    )
