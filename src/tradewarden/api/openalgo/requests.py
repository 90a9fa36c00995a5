"""Request bodies of the OpenAlgo routes. Numbers may arrive as strings or JSON numbers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tradewarden.domain.instruments import EXCHANGES, canonical_symbol
from tradewarden.domain.orders import OrderType, Product, Side

REFUSED_FIELDS = ("stoploss", "target", "trailing_sl", "trailing_stoploss", "gtt")


#: Upper bounds that keep every later computation (and the database's integers) safe.
MAX_QUANTITY = 10_000_000
MAX_PRICE = Decimal(100_000_000)


def _decimal(value: Any, kind: str) -> Decimal:
    """Parse a JSON number or numeric string; huge exponents are refused before any arithmetic
    (``Decimal("1e600000")`` would otherwise cost seconds to turn into an integer)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"must be {kind}")
    text = str(value).strip()
    if len(text) > 32:
        raise ValueError(f"is too long to be {kind}")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"must be {kind}") from exc
    if not number.is_finite() or number.adjusted() > 12:
        raise ValueError("is out of range")
    return number


# The validators' messages never name their field: ``field_errors`` puts the location in front.


def whole_number(value: Any, *, minimum: int) -> int:
    number = _decimal(value, "a whole number")
    if number != number.to_integral_value():
        raise ValueError("must be a whole number")
    if number < minimum:
        raise ValueError(f"must be at least {minimum}")
    if number > MAX_QUANTITY:
        raise ValueError(f"must be at most {MAX_QUANTITY}")
    return int(number)


def signed_whole_number(value: Any) -> int:
    """A whole number that may be negative (a target position: short below zero)."""
    text = str(value).strip() if not isinstance(value, bool) else "x"
    negative = text.startswith("-")
    size = whole_number(text[1:] if negative else text, minimum=0)
    return -size if negative else size


def decimal_amount(value: Any) -> Decimal:
    number = _decimal(value if value is not None else 0, "a number")
    if number < 0:
        raise ValueError("must be a number >= 0")
    if number > MAX_PRICE:
        raise ValueError(f"must be at most {MAX_PRICE}")
    return number


#: The allowed values of the enumerated fields, in the order error messages list them.
EXCHANGE_VALUES = sorted(EXCHANGES)
PRODUCT_VALUES = [p.value for p in Product]
SIDE_VALUES = [s.value for s in Side]
ORDER_TYPE_VALUES = [t.value for t in OrderType]


def one_of(value: Any, allowed: list[str]) -> str:
    text = str(value).strip().upper() if value is not None else ""
    if text not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)}")
    return text


def field_errors(exc: ValidationError) -> str:
    """A validation failure as one line: ``field: problem; legs.0.price: problem``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
#: Never echoed back, whatever they hold.
_SECRET_FIELDS = frozenset({"apikey", "secret_key"})


def _placeholder_in(value: Any, where: str) -> str | None:
    """The first TradingView placeholder in ``value``'s strings, as a message naming ``where``."""
    if isinstance(value, str):
        found = _PLACEHOLDER.search(value)
        if found is None:
            return None
        return (f"{where or 'body'}: the placeholder {found.group()} was not filled in by "
                "TradingView (check the alert's message; {{strategy.…}} placeholders are "
                "filled only in alerts created on a strategy)")
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items() if k not in _SECRET_FIELDS]
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return None
    for key, item in items:
        message = _placeholder_in(item, f"{where}.{key}" if where else key)
        if message is not None:
            return message
    return None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a ``list[Model]`` field (a basket's orders, an alert's legs)."""
    args = get_args(annotation) if get_origin(annotation) is list else ()
    if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0]
    return None


def unfilled_placeholder(body: Any, model: type[BaseModel], where: str = "") -> str | None:
    """The first TradingView placeholder (``{{strategy.order.action}}``) left in a field of
    ``body`` that ``model`` reads, as an error message naming the field; ``None`` when there
    is none. Fields the model does not read (a ``comment``) may hold anything."""
    if not isinstance(body, dict):
        return _placeholder_in(body, where)
    for name, info in model.model_fields.items():
        if name in _SECRET_FIELDS or name not in body:
            continue
        value, at = body[name], f"{where}.{name}" if where else name
        nested = _nested_model(info.annotation)
        if nested is not None and isinstance(value, list):
            for index, item in enumerate(value):
                message = unfilled_placeholder(item, nested, f"{at}.{index}")
                if message is not None:
                    return message
            continue
        message = _placeholder_in(value, at)
        if message is not None:
            return message
    return None


def reduces(held: int, target: int) -> bool:
    """Whether moving a position from ``held`` to ``target`` only closes part or all of it
    (never opens or flips): what makes a target-position order an exit."""
    return held != 0 and (target == 0 or ((target > 0) == (held > 0) and abs(target) < abs(held)))


class OpenAlgoRequest(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    apikey: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            present = [name for name in REFUSED_FIELDS if data.get(name) not in (None, "", "0", 0)]
            if present:
                raise ValueError(f"{', '.join(present)} not supported on this endpoint; attach "
                                 "stop-loss/target with the native createtrade API")
        return data


class StrategyRequest(OpenAlgoRequest):
    strategy: str = Field(min_length=1, max_length=64)


def _symbol_value(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return canonical_symbol(value)


class InstrumentFields(BaseModel):
    """Exchange, symbol and product, as every position-related request names them."""

    exchange: str
    symbol: str = Field(min_length=1, max_length=64)
    product: str = "MIS"

    @field_validator("exchange", mode="before")
    @classmethod
    def _exchange(cls, value: Any) -> str:
        return one_of(value, EXCHANGE_VALUES)

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, value: Any) -> str:
        return _symbol_value(value)

    @field_validator("product", mode="before")
    @classmethod
    def _product(cls, value: Any) -> str:
        return one_of(value, PRODUCT_VALUES)


class LegFields(InstrumentFields):
    """One order's fields (placeorder, each basket entry, splitorder, modifyorder)."""

    model_config = ConfigDict(extra="allow")

    action: str
    quantity: int
    pricetype: str = "MARKET"
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    disclosed_quantity: int = 0

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> str:
        return one_of(value, SIDE_VALUES)

    @field_validator("pricetype", mode="before")
    @classmethod
    def _pricetype(cls, value: Any) -> str:
        return one_of(value, ORDER_TYPE_VALUES)

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> int:
        return whole_number(value, minimum=1)

    @field_validator("disclosed_quantity", mode="before")
    @classmethod
    def _disclosed(cls, value: Any) -> int:
        return whole_number(value if value is not None else 0, minimum=0)

    @field_validator("price", "trigger_price", mode="before")
    @classmethod
    def _prices(cls, value: Any) -> Decimal:
        return decimal_amount(value)

    @property
    def limit_price(self) -> Decimal | None:
        """The price to record: only LIMIT and SL orders carry one."""
        return self.price if self.pricetype in ("LIMIT", "SL") else None

    @property
    def stop_price(self) -> Decimal | None:
        """The trigger to record: only SL and SL-M orders carry one."""
        return self.trigger_price if self.pricetype in ("SL", "SL-M") else None


class OrderFields(StrategyRequest, LegFields):
    idempotency_key: str | None = Field(default=None, max_length=128)


class SmartOrderRequest(OrderFields):
    position_size: int

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> int:
        return whole_number(value, minimum=0)

    @field_validator("position_size", mode="before")
    @classmethod
    def _position_size(cls, value: Any) -> int:
        return signed_whole_number(value)


class SplitOrderRequest(OrderFields):
    splitsize: int

    @field_validator("splitsize", mode="before")
    @classmethod
    def _splitsize(cls, value: Any) -> int:
        return whole_number(value, minimum=1)


class BasketRequest(StrategyRequest):
    orders: list[LegFields] = Field(min_length=1, max_length=100)


class OrderIdRequest(OpenAlgoRequest):
    orderid: str = Field(min_length=1, max_length=64)
    strategy: str | None = None

    @field_validator("orderid", mode="before")
    @classmethod
    def _orderid(cls, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value


class ModifyRequestBody(OpenAlgoRequest, LegFields):
    orderid: str = Field(min_length=1, max_length=64)
    strategy: str | None = None


class OpenPositionRequest(StrategyRequest, InstrumentFields):
    product: str
