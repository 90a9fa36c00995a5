"""Webhook intake (BRIEF §4.5): TradingView / Chartink alerts for a configured strategy.

``POST /webhook/{token}`` — authenticated by the strategy's unguessable token plus either
``"secret_key"`` in the body or ``X-Signature: hex(HMAC-SHA256(secret, raw body))``. Every leg is
recorded (with the alert) before it is guarded; the answer lists each leg's outcome.
``execution_type`` (``entry`` or ``exit``) holds for every shape: flat, ``position_size`` and
``legs``. An exit only reduces what the strategy holds; its ``action``, when given, must be
the closing side (SELL for a long, BUY for a short), else the alert is refused (422).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tradewarden.api.json_body import JsonBodyError, JsonTooDeep, decode_json
from tradewarden.api.openalgo.requests import (
    ORDER_TYPE_VALUES,
    SIDE_VALUES,
    InstrumentFields,
    decimal_amount,
    field_errors,
    one_of,
    reduces,
    signed_whole_number,
    unfilled_placeholder,
    whole_number,
)
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.intents import OrderIntent
from tradewarden.domain.money import ZERO
from tradewarden.domain.orders import (
    ExecutionType,
    OrderType,
    Origin,
    Product,
    Side,
    new_order_id,
)
from tradewarden.domain.sizing import SIZING_DENIAL, SizingError, needs_price, size_quantity
from tradewarden.domain.strategy import SizingMode, StrategySettings
from tradewarden.engine.ledger import utcnow
from tradewarden.services import Services
from tradewarden.store import trades as trade_store
from tradewarden.store.order_queries import strategy_positions
from tradewarden.store.strategies import strategy_by_token
from tradewarden.store.tables import Alert, Strategy
from tradewarden.store.webhook_secrets import webhook_secret_of

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
MAX_BODY_BYTES = 64 * 1024
MAX_LEGS = 20


class WebhookError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Leg(InstrumentFields):
    model_config = ConfigDict(extra="ignore")
    action: str | None = None
    quantity: int | None = None
    pricetype: str = "MARKET"
    price: Decimal | None = None
    trigger_price: Decimal | None = None

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> str | None:
        return None if value in (None, "") else one_of(value, SIDE_VALUES)

    @field_validator("pricetype", mode="before")
    @classmethod
    def _pricetype(cls, value: Any) -> str:
        return one_of(value, ORDER_TYPE_VALUES)

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> int | None:
        return None if value in (None, "") else whole_number(value, minimum=1)

    @field_validator("price", "trigger_price", mode="before")
    @classmethod
    def _prices(cls, value: Any) -> Decimal | None:
        return None if value in (None, "") else decimal_amount(value)


class SmartAlert(Leg):
    position_size: int

    @field_validator("position_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return signed_whole_number(value)


class Signal(BaseModel):
    """What the whole alert is: entries (the default) or exits, in every shape."""

    model_config = ConfigDict(extra="ignore")
    execution_type: ExecutionType = ExecutionType.ENTRY

    @field_validator("execution_type", mode="before")
    @classmethod
    def _execution_type(cls, value: Any) -> ExecutionType:
        if value is None:
            return ExecutionType.ENTRY
        text = value.strip().lower() if isinstance(value, str) else None
        if text not in (ExecutionType.ENTRY.value, ExecutionType.EXIT.value):
            raise ValueError("must be entry or exit")
        return ExecutionType(text)


class MultiLeg(Signal):
    legs: list[Leg] = Field(min_length=1, max_length=MAX_LEGS)


class FlatAlert(Leg, Signal):
    """One leg with its fields at the top level."""


class FlatSmartAlert(SmartAlert, Signal):
    """A target position with its fields at the top level."""


class _Bucket:
    """Per-token rate limit: ``rate`` alerts per second, bursts up to ``burst``."""

    def __init__(self, rate: float = 10.0, burst: float = 30.0) -> None:
        self.rate, self.burst = rate, burst
        self._state: dict[str, tuple[float, float]] = {}

    def allow(self, token: str) -> bool:
        now = time.monotonic()
        tokens, last = self._state.get(token, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._state[token] = (tokens, now)
            return False
        self._state[token] = (tokens - 1, now)
        return True


_limiter = _Bucket()


@router.post("/webhook/{token}")
async def webhook(token: str, request: Request) -> JSONResponse:
    try:
        return await _handle(token, request)
    except WebhookError as exc:
        return JSONResponse({"status": "error", "message": exc.message}, status_code=exc.status)


async def _handle(token: str, request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise WebhookError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    strategy = await services.db.run(_strategy, services, token)
    if strategy is None:
        raise WebhookError(401, "unknown webhook token")
    signature = request.headers.get("x-signature")
    body: Any = None
    try:
        body = decode_json(raw) if raw.strip() else None
    except JsonTooDeep as exc:
        raise WebhookError(exc.status, exc.message) from exc
    except JsonBodyError:
        body = None
    _authenticate(_secret(services, strategy), raw, body, signature)
    if not _limiter.allow(token):
        return JSONResponse({"status": "error", "message": "too many alerts; slow down"},
                            status_code=429, headers={"Retry-After": "1"})
    if not isinstance(body, dict):
        raise WebhookError(422, "the body must be a JSON object")
    execution_type, legs = _legs(body)
    positions = await services.db.run(_positions, services, strategy.id)
    account = strategy.account_id or await services.engine.default_account(strategy.user_id)
    if account is None:
        raise WebhookError(422, "the strategy has no broker account")
    sized = await _sized(services, strategy, account, legs, execution_type)
    intents = [intent for i, leg in enumerate(legs)
               for intent in _intents(strategy, leg, execution_type, positions, i, sized)]
    intents = [_with_account(intent, account) for intent in intents]
    alert = Alert(id=new_order_id(), user_id=strategy.user_id, strategy_id=strategy.id,
                  execution_type=execution_type.value,
                  payload={k: v for k, v in body.items() if k != "secret_key"},
                  received_at=utcnow())
    outcomes = await services.engine.intake.submit(strategy.user_id, intents, alert=alert)
    return JSONResponse({"status": "accepted", "alert_id": alert.id, "orders": [
        {"leg": i, "orderid": o.order.id, "status": o.order.status.value, "reason": o.reason,
         "reason_code": o.order.reason_code}
        for i, o in enumerate(outcomes)]})


def _strategy(services: Services, token: str) -> Strategy | None:
    with services.db.read() as session:
        row = strategy_by_token(session, token)
        if row is not None:
            session.expunge(row)
        return row


def _positions(services: Services, strategy_id: int) -> dict[tuple[str, str, str], int]:
    with services.db.read() as session:
        return strategy_positions(session, strategy_id)


def _secret(services: Services, strategy: Strategy) -> str | None:
    """The strategy's plain secret; ``None`` (every alert refused) when the key cannot read it."""
    secret = webhook_secret_of(strategy, services.box)
    if secret is None:
        log.warning("strategy %d: webhook alert refused, its stored secret cannot be decrypted "
                    "with the configured key", strategy.id)
    return secret


def _authenticate(secret: str | None, raw: bytes, body: Any, signature: str | None) -> None:
    """Check the signature or the body's ``secret_key``; a ``None`` secret matches nothing."""
    if signature:
        signed = signature.strip().lower().encode("utf-8", "replace")
        if secret is None or not hmac.compare_digest(_hex_hmac(secret, raw), signed):
            raise WebhookError(403, "bad X-Signature")
        return
    given = body.get("secret_key") if isinstance(body, dict) else None
    if not isinstance(given, str) or not given:
        if body is None:
            raise WebhookError(422, "malformed JSON body")
        raise WebhookError(401, "missing secret_key or X-Signature")
    if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
        raise WebhookError(403, "wrong secret_key")


def _hex_hmac(secret: str, raw: bytes) -> bytes:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode()


def _legs(body: dict[str, Any]) -> tuple[ExecutionType, list[Leg]]:
    """The alert's execution type and legs, whatever its shape (422 naming each bad field, or
    an unfilled TradingView placeholder in a field the shape reads)."""
    shape: type[MultiLeg | FlatSmartAlert | FlatAlert] = (
        MultiLeg if "legs" in body else FlatSmartAlert if "position_size" in body else FlatAlert)
    placeholder = unfilled_placeholder(body, shape)
    if placeholder is not None:
        raise WebhookError(422, placeholder)
    try:
        alert = shape.model_validate(body)
    except ValidationError as exc:
        raise WebhookError(422, field_errors(exc)) from exc
    return alert.execution_type, alert.legs if isinstance(alert, MultiLeg) else [alert]


async def _sized(services: Services, strategy: Strategy, account: int, legs: list[Leg],
                 execution_type: ExecutionType) -> dict[int, int | str]:
    """Quantities for entry legs without one, from the strategy's sizing (leg index → quantity,
    or the reason it cannot be sized)."""
    if execution_type is not ExecutionType.ENTRY:
        return {}
    settings = StrategySettings.model_validate(strategy.settings or {})
    sized: dict[int, int | str] = {}
    for index, leg in enumerate(legs):
        if isinstance(leg, SmartAlert) or leg.quantity:
            continue
        key = InstrumentKey.of(leg.exchange, leg.symbol)
        instrument = services.engine.master.resolve(key)
        price = leg.price if needs_price(settings) and leg.price else None
        if price is None and needs_price(settings):
            price = await services.engine.trades.price_of(account, key)
        in_use = (await services.db.run(_funds_in_use, services, strategy.id)
                  if settings.sizing is SizingMode.PERCENT_OF_ALLOCATION else ZERO)
        try:
            sized[index] = size_quantity(settings, price=price, funds_in_use=in_use,
                                         lot_size=instrument.lot_size if instrument else 1)
        except SizingError as exc:
            if settings.sizing is SizingMode.FIXED_QUANTITY:
                raise WebhookError(422, f"legs.{index}.quantity: required ({exc})") from exc
            sized[index] = f"funds not allocated: {exc}"
    return sized


def _funds_in_use(services: Services, strategy_id: int) -> Decimal:
    with services.db.read() as session:
        return trade_store.funds_in_use(session, strategy_id)


def _intents(strategy: Strategy, leg: Leg, execution_type: ExecutionType,
             positions: dict[tuple[str, str, str], int], index: int,
             sized: dict[int, int | str]) -> list[OrderIntent]:
    """The orders one leg asks for. A smart alert that flips the position is two orders: an
    exit of what is held (always allowed) and an entry for the new side (fully guarded)."""
    held = positions.get((leg.exchange, leg.symbol, leg.product), 0)
    if not isinstance(leg, SmartAlert):
        return [_intent(strategy, leg, execution_type, held, index, sized.get(index))]
    target = leg.position_size
    if target == held:
        raise WebhookError(422, f"legs.{index}: position already at {target}")
    if execution_type is ExecutionType.EXIT:
        if not reduces(held, target):
            raise WebhookError(422, f"legs.{index}: execution_type is exit, but position_size "
                                    f"{target} does not reduce the strategy's {leg.symbol} "
                                    f"({held:+d})")
        _check_exit_action(leg, held, index)
    flips = held != 0 and target != 0 and (held > 0) != (target > 0)
    if flips:
        return [_order(strategy, leg, Side.SELL if held > 0 else Side.BUY, abs(held),
                       ExecutionType.EXIT),
                _order(strategy, leg, Side.BUY if target > 0 else Side.SELL, abs(target),
                       ExecutionType.ENTRY)]
    return [_order(strategy, leg, Side.BUY if target > held else Side.SELL, abs(target - held),
                   ExecutionType.EXIT if reduces(held, target) else ExecutionType.ENTRY)]


def _check_exit_action(leg: Leg, held: int, index: int) -> None:
    """An exit's action, when given, must close the held side (SELL a long, BUY a short): a
    "BUY exit" meant for a short already closed must not sell a long opened since."""
    closing = Side.SELL if held > 0 else Side.BUY
    if leg.action is not None and Side(leg.action) is not closing:
        raise WebhookError(422, f"legs.{index}.action: {leg.action} does not close the "
                                f"strategy's {leg.symbol} ({held:+d}): an exit of a "
                                f"{'long' if held > 0 else 'short'} is a {closing.value}")


def _intent(strategy: Strategy, leg: Leg, execution_type: ExecutionType, held: int,
            index: int, sized: int | str | None) -> OrderIntent:
    if execution_type is ExecutionType.EXIT:
        if held == 0:
            raise WebhookError(422, f"legs.{index}: the strategy holds no {leg.symbol} to exit")
        _check_exit_action(leg, held, index)
        side = Side.SELL if held > 0 else Side.BUY
        quantity = min(leg.quantity or abs(held), abs(held))
    else:
        if leg.action is None:
            raise WebhookError(422, f"legs.{index}.action: required for entries")
        side = Side(leg.action)
        if isinstance(sized, str):  # recorded and denied, so the trader sees why
            return replace(_order(strategy, leg, side, 1, execution_type),
                           extra={SIZING_DENIAL: sized})
        wanted = leg.quantity or sized
        if not wanted:
            raise WebhookError(422, f"legs.{index}.quantity: required")
        quantity = wanted
    return _order(strategy, leg, side, quantity, execution_type)


def _order(strategy: Strategy, leg: Leg, side: Side, quantity: int,
           execution_type: ExecutionType) -> OrderIntent:
    order_type = OrderType(leg.pricetype)
    needs_price = order_type in (OrderType.LIMIT, OrderType.SL)
    needs_trigger = order_type in (OrderType.SL, OrderType.SL_M)
    return OrderIntent(
        account_id=0, exchange=leg.exchange, symbol=leg.symbol, side=side, quantity=quantity,
        order_type=order_type, product=Product(leg.product),
        price=leg.price if needs_price else None,
        trigger_price=leg.trigger_price if needs_trigger else None,
        origin=Origin.WEBHOOK, execution_type=execution_type, strategy_id=strategy.id,
        strategy_label=strategy.name, position_guards=strategy.position_guards,
        allow_amo=strategy.allow_amo)


def _with_account(intent: OrderIntent, account_id: int) -> OrderIntent:
    return replace(intent, account_id=account_id)
