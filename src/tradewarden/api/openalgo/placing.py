"""OpenAlgo order-placing routes: place, smart, basket, split, modify, cancel, cancel-all, close."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from tradewarden.api.auth import Caller
from tradewarden.api.openalgo.common import (
    OpenAlgoError,
    parse,
    services_of,
    success,
)
from tradewarden.api.openalgo.requests import (
    BasketRequest,
    LegFields,
    ModifyRequestBody,
    OrderFields,
    OrderIdRequest,
    SmartOrderRequest,
    SplitOrderRequest,
    StrategyRequest,
    reduces,
)
from tradewarden.api.strategy_names import Named, strategy_names
from tradewarden.domain.intents import OrderIntent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import (
    ExecutionType,
    Order,
    OrderType,
    Origin,
    Product,
    Side,
)
from tradewarden.engine.actions import ActionRefused
from tradewarden.engine.intake import IntakeOutcome
from tradewarden.engine.ledger import ConcurrencyConflict
from tradewarden.services import Services
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.order_queries import live_orders, net_positions, net_quantities
from tradewarden.store.repositories import Orders
from tradewarden.store.tables import OrderRow, Strategy

router = APIRouter(prefix="/api/v1", tags=["openalgo"])
MAX_SPLIT_ORDERS = 100
MAX_IDEMPOTENCY_KEY = 128


Position = tuple[str, str, str]  # exchange, symbol, product


@dataclass(frozen=True, slots=True)
class LabelScope:
    """What an OpenAlgo ``strategy`` field means for the caller.

    A label equal to the name of one of the caller's configured strategies means that
    strategy: its orders (whatever label they carry) and orders placed earlier under the same
    free label, in the strategy's account; new orders are booked to the strategy. Any other
    label means the orders that carry it and belong to no strategy, in the default account.
    """

    label: str
    account_id: int
    strategy_id: int | None = None

    def owns(self) -> ColumnElement[bool]:
        """The SQL condition for the orders of this scope (within its account)."""
        free = and_(OrderRow.strategy_id.is_(None), OrderRow.strategy_label == self.label)
        if self.strategy_id is None:
            return free
        return or_(OrderRow.strategy_id == self.strategy_id, free)

    def positions(self, session: Session, user_id: int, *where: ColumnElement[bool],
                  ) -> dict[tuple[int | None, str, str, str], int]:
        """Net filled quantity per (booked strategy id, exchange, symbol, product) of the
        scope's orders (that match ``where``)."""
        grouped = net_quantities(
            session, (OrderRow.strategy_id, OrderRow.exchange, OrderRow.symbol, OrderRow.product),
            OrderRow.user_id == user_id, OrderRow.account_id == self.account_id, self.owns(),
            *where)
        return {(owner, str(e), str(s), str(p)): q for (owner, e, s, p), q in grouped.items()}

    def net_positions(self, session: Session, user_id: int) -> dict[Position, int]:
        """Net filled quantity per (exchange, symbol, product), all owners together."""
        return net_positions(session, OrderRow.user_id == user_id,
                             OrderRow.account_id == self.account_id, self.owns())


def _strategy_named(session: Session, user_id: int, label: str) -> Named:
    """(id, account id) of the caller's configured strategy called ``label``, if any."""
    row = session.execute(select(Strategy.id, Strategy.account_id).where(
        Strategy.user_id == user_id, Strategy.name == label,
        Strategy.deleted_at.is_(None))).first()
    return None if row is None else (row[0], row[1])


async def label_scope(request: Request, caller: Caller, label: str) -> LabelScope | None:
    """The scope of ``label`` for the caller; ``None`` when there is no account to act on.

    Which strategy the label names comes from the app's :class:`StrategyNames` cache (the
    intake path pays no database read for it while the answer is fresh)."""
    services = services_of(request)
    names = strategy_names(request.app.state)
    known, strategy = names.get(caller.user_id, label)
    if not known:
        def read() -> Named:
            with services.db.read() as session:
                return _strategy_named(session, caller.user_id, label)

        generation = names.generation
        strategy = await services.db.run(read)
        names.put(caller.user_id, label, strategy, generation)
    account = strategy[1] if strategy is not None else None
    if account is None:
        account = await services.engine.default_account(caller.user_id, caller.account_id)
    if account is None:
        return None
    return LabelScope(label, account, strategy[0] if strategy is not None else None)


async def _scope(request: Request, caller: Caller, label: str) -> LabelScope:
    scope = await label_scope(request, caller, label)
    if scope is None:
        raise OpenAlgoError(400, "no active broker account for this user")
    return scope


def _intent(scope: LabelScope, leg: LegFields, *, side: str | None = None,
            quantity: int | None = None,
            execution_type: ExecutionType = ExecutionType.ENTRY,
            idempotency_key: str | None = None) -> OrderIntent:
    return OrderIntent(
        account_id=scope.account_id, exchange=leg.exchange, symbol=leg.symbol,
        side=Side(side or leg.action), quantity=quantity if quantity is not None else leg.quantity,
        order_type=OrderType(leg.pricetype), product=Product(leg.product),
        price=leg.limit_price, trigger_price=leg.stop_price, origin=Origin.OPENALGO,
        execution_type=execution_type, strategy_id=scope.strategy_id,
        strategy_label=scope.label, idempotency_key=idempotency_key,
        extra={"disclosed_quantity": leg.disclosed_quantity} if leg.disclosed_quantity else {})


def _answer(outcome: IntakeOutcome) -> JSONResponse:
    order = outcome.order
    if outcome.denied:
        raise OpenAlgoError(400, order.reason or "order denied", orderid=order.id,
                            reason_code=order.reason_code)
    return success(orderid=order.id)


def _leg_result(outcome: IntakeOutcome, **extra: Any) -> dict[str, Any]:
    order = outcome.order
    if outcome.denied:
        return {**extra, "status": "error", "orderid": order.id, "message": order.reason,
                "reason_code": order.reason_code}
    return {**extra, "status": "success", "orderid": order.id}


@router.post("/placeorder")
async def placeorder(request: Request) -> JSONResponse:
    caller, body = await parse(request, OrderFields)
    services = services_of(request)
    scope = await _scope(request, caller, body.strategy)
    intent = _intent(scope, body,
                     idempotency_key=_idempotency_key(request, body.idempotency_key))
    (outcome,) = await services.engine.intake.submit(caller.user_id, [intent])
    return _answer(outcome)


def _idempotency_key(request: Request, in_body: str | None) -> str | None:
    """The client's idempotency key: ``Idempotency-Key`` header or ``idempotency_key`` field.

    A second order with the same key is denied ``duplicate_blocked`` (and stays visible).
    """
    key = (request.headers.get("idempotency-key") or in_body or "").strip()
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise OpenAlgoError(400, f"idempotency key longer than {MAX_IDEMPOTENCY_KEY} characters")
    return key


@router.post("/placesmartorder")
async def placesmartorder(request: Request) -> JSONResponse:
    caller, body = await parse(request, SmartOrderRequest)
    services = services_of(request)
    scope = await _scope(request, caller, body.strategy)

    def query() -> dict[int | None, int]:
        """The position's net quantity per owner (the strategy, the free label)."""
        with services.db.read() as session:
            return {owner: net for (owner, *_), net in scope.positions(
                session, caller.user_id, OrderRow.exchange == body.exchange,
                OrderRow.symbol == body.symbol, OrderRow.product == body.product).items()}

    parts = await services.db.run(query)
    current = sum(parts.values())
    target = body.position_size
    if target == 0 and current == 0:
        if body.quantity == 0:
            return success(message="No position and quantity 0. No action needed.")
        (outcome,) = await services.engine.intake.submit(
            caller.user_id, [_intent(scope, body)])
        return _answer(outcome)
    if target == current:
        return success(message="Positions Already Matched. No Action needed.")
    outcomes = await services.engine.intake.submit(
        caller.user_id, _moves(scope, body, parts, target))
    if len(outcomes) == 1:
        return _answer(outcomes[0])
    orderids = [o.order.id for o in outcomes]
    denied = [o for o in outcomes if o.denied]
    if denied:
        raise OpenAlgoError(400, "; ".join(o.reason or "order denied" for o in denied),
                            orderid=denied[0].order.id, orderids=orderids)
    return success(orderid=orderids[-1], orderids=orderids)


def _moves(scope: LabelScope, leg: LegFields, parts: dict[int | None, int],
           target: int) -> list[OrderIntent]:
    """The orders that take the position (``parts``: net per owner) to ``target``.

    No owner's part is pushed past zero by another's order: what the scope's own part cannot
    absorb of a reduction is taken from the other parts it reduces (the free label's, when
    the label names a strategy), each booked where it is, as exits; the rest is one order
    booked to the scope, an exit when it only reduces the scope's own part.
    """
    delta = target - sum(parts.values())
    side = "BUY" if delta > 0 else "SELL"
    own = parts.get(scope.strategy_id, 0)
    left = abs(delta) - (abs(own) if own and (own > 0) != (delta > 0) else 0)
    intents: list[OrderIntent] = []
    for owner, held in sorted(parts.items(), key=lambda item: item[0] or 0):
        if left <= 0:
            break
        if owner == scope.strategy_id or not held or (held > 0) == (delta > 0):
            continue
        part = min(left, abs(held))
        intents.append(_intent(replace(scope, strategy_id=owner), leg, side=side,
                               quantity=part, execution_type=ExecutionType.EXIT))
        left -= part
    rest = abs(delta) - sum(intent.quantity for intent in intents)
    if rest:
        moved = own + (rest if delta > 0 else -rest)
        intents.append(_intent(scope, leg, side=side, quantity=rest, execution_type=(
            ExecutionType.EXIT if reduces(own, moved) else ExecutionType.ENTRY)))
    return intents


@router.post("/basketorder")
async def basketorder(request: Request) -> JSONResponse:
    caller, body = await parse(request, BasketRequest)
    services = services_of(request)
    scope = await _scope(request, caller, body.strategy)
    ordered = [leg for leg in body.orders if leg.action == "BUY"] + [
        leg for leg in body.orders if leg.action == "SELL"]
    results = []
    for leg in ordered:
        (outcome,) = await services.engine.intake.submit(
            caller.user_id, [_intent(scope, leg)])
        results.append(_leg_result(outcome, symbol=leg.symbol))
    return success(results=results)


@router.post("/splitorder")
async def splitorder(request: Request) -> JSONResponse:
    caller, body = await parse(request, SplitOrderRequest)
    full, remainder = divmod(body.quantity, body.splitsize)
    sizes = [body.splitsize] * full + ([remainder] if remainder else [])
    if len(sizes) > MAX_SPLIT_ORDERS:
        raise OpenAlgoError(400, "Total number of orders would exceed maximum limit of "
                                 f"{MAX_SPLIT_ORDERS}")
    services = services_of(request)
    scope = await _scope(request, caller, body.strategy)
    outcomes = await services.engine.intake.submit(
        caller.user_id, [_intent(scope, body, quantity=size) for size in sizes])
    results = [_leg_result(outcome, order_num=index + 1, quantity=size)
               for index, (outcome, size) in enumerate(zip(outcomes, sizes, strict=True))]
    return success(total_quantity=body.quantity, split_size=body.splitsize, results=results)


@router.post("/modifyorder")
async def modifyorder(request: Request) -> JSONResponse:
    caller, body = await parse(request, ModifyRequestBody)
    services = services_of(request)
    order = await _owned_order(services, caller, body.orderid)
    mismatched = [name for name, ours, theirs in (
        ("exchange", order.exchange, body.exchange), ("symbol", order.symbol, body.symbol),
        ("action", order.side.value, body.action),
        ("product", order.product.value, body.product)) if ours != theirs]
    if mismatched:
        raise OpenAlgoError(400, f"{', '.join(mismatched)} cannot be changed by modifyorder")
    order_type = OrderType(body.pricetype)
    try:
        await services.engine.actions.modify(
            order, quantity=body.quantity if body.quantity != order.quantity else None,
            price=body.limit_price if body.limit_price != order.price else None,
            trigger_price=body.stop_price if body.stop_price != order.trigger_price else None,
            order_type=order_type if order_type is not order.order_type else None)
    except (ActionRefused, InvalidEvent, ConcurrencyConflict) as exc:
        raise OpenAlgoError(400, str(exc)) from exc
    return success(orderid=order.id)


@router.post("/cancelorder")
async def cancelorder(request: Request) -> JSONResponse:
    caller, body = await parse(request, OrderIdRequest)
    services = services_of(request)
    order = await _owned_order(services, caller, body.orderid)
    try:
        await services.engine.actions.cancel(order)
    except (ActionRefused, InvalidEvent, ConcurrencyConflict) as exc:
        raise OpenAlgoError(400, str(exc)) from exc
    return success(orderid=order.id)


@router.post("/cancelallorder")
async def cancelallorder(request: Request) -> JSONResponse:
    caller, body = await parse(request, StrategyRequest)
    services = services_of(request)
    scope = await _scope(request, caller, body.strategy)

    def query() -> list[Order]:
        with services.db.read() as session:
            return [order_from_row(r) for r in live_orders(session, caller.user_id,
                                                           scope.account_id, scope.owns())]

    cancelled: list[str] = []
    failed: list[dict[str, str]] = []
    for order in await services.db.run(query):
        try:
            await services.engine.actions.cancel(order)
            cancelled.append(order.id)
        except (ActionRefused, InvalidEvent, ConcurrencyConflict) as exc:
            failed.append({"orderid": order.id, "reason": str(exc)})
    return success(canceled_orders=cancelled, failed_cancellations=failed,
                   message=f"Canceled {len(cancelled)} orders. Failed to cancel "
                           f"{len(failed)} orders.")


@router.post("/closeposition")
async def closeposition(request: Request) -> JSONResponse:
    caller, body = await parse(request, StrategyRequest)
    services = services_of(request)
    scope = await _scope(request, caller, body.strategy)

    def query() -> dict[tuple[int | None, str, str, str], int]:
        with services.db.read() as session:
            return scope.positions(session, caller.user_id)

    positions = await services.db.run(query)
    # each part is closed where it is booked (the strategy's, or the free label's)
    intents = [OrderIntent(
        account_id=scope.account_id, exchange=exchange, symbol=symbol,
        side=Side.SELL if net > 0 else Side.BUY, quantity=abs(net),
        order_type=OrderType.MARKET, product=Product(product), origin=Origin.OPENALGO,
        execution_type=ExecutionType.EXIT, strategy_id=owner, strategy_label=body.strategy)
        for (owner, exchange, symbol, product), net in sorted(
            positions.items(), key=lambda item: (item[0][0] or 0, item[0][1:])) if net]
    if not intents:
        return success(message="No open positions to close")
    outcomes = await services.engine.intake.submit(caller.user_id, intents)
    denied = [o for o in outcomes if o.denied]
    if denied:
        raise OpenAlgoError(400, "; ".join(f"{o.order.symbol}: {o.reason}" for o in denied),
                            orderids=[o.order.id for o in outcomes])
    return success(message="All Open Positions Squared Off",
                   orderids=[o.order.id for o in outcomes])


async def _owned_order(services: Services, caller: Caller, order_id: str) -> Order:
    def query() -> Order | None:
        with services.db.read() as session:
            row = Orders(session, caller.user_id).get(order_id)
            return order_from_row(row) if row is not None else None

    order = await services.db.run(query)
    if order is None:
        raise OpenAlgoError(404, f"Order {order_id} not found")
    return order
