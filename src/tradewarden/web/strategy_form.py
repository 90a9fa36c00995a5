"""The strategy form: flat HTML fields ↔ the API's ``StrategyIn`` (validated server-side by the
same models), with every problem attached to the field it is about."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from tradewarden.api.strategies import StrategyIn
from tradewarden.domain.contracts import monthly_expiries, option_symbol
from tradewarden.domain.strategy import StrategySettings
from tradewarden.store.tables import Strategy
from tradewarden.web.forms import Form

LEVELS = ("stop_loss", "target", "trailing_stop")
LIMITS = ("portfolio_stop_loss", "portfolio_target", "portfolio_trailing_stop")
AMOUNTS = ("allocated_funds", "sizing_value", "daily_loss_limit")
TIMES = ("window_start", "window_end", "square_off_time")
FLAGS = ("position_guards", "allow_amo")
MAX_AMOUNT = Decimal("1e12")
FIELD_NAMES = ("name", "account_id", "mode", *FLAGS, *AMOUNTS, "sizing", "max_open_positions",
               *(f"{n}_{p}" for n in LEVELS + LIMITS for p in ("kind", "value")), *TIMES)
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")


@dataclass
class StrategyForm:
    """Field values as typed (strings) and the problems found, by field name."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    model: StrategyIn | None = None

    @property
    def settings(self) -> StrategySettings | None:
        return self.model.settings if self.model is not None else None


def defaults() -> dict[str, str]:
    values = dict.fromkeys(FIELD_NAMES, "")
    values.update(mode="both", position_guards="on", sizing="fixed_quantity",
                  square_off_time="15:15")
    return values


def values_of(row: Strategy) -> dict[str, str]:
    """The form as it shows a saved strategy."""
    settings = StrategySettings.model_validate(row.settings or {})
    values = dict.fromkeys(FIELD_NAMES, "")
    values.update(name=row.name, account_id=str(row.account_id or ""), mode=row.mode,
                  position_guards="on" if row.position_guards else "",
                  allow_amo="on" if row.allow_amo else "", sizing=settings.sizing.value)
    for name in AMOUNTS:
        amount = getattr(settings, name)
        values[name] = "" if amount is None else format(amount.normalize(), "f")
    values["max_open_positions"] = str(settings.max_open_positions or "")
    for name in LEVELS + LIMITS:
        level = getattr(settings, name)
        if level is not None:
            values[f"{name}_kind"] = level.kind.value
            values[f"{name}_value"] = format(level.value.normalize(), "f")
    for name in TIMES:
        moment = getattr(settings, name)
        values[name] = moment.strftime("%H:%M") if moment is not None else ""
    return values


def parse(form: Form | dict[str, str]) -> StrategyForm:
    """Check a submitted form; ``model`` is set when everything is valid."""
    raw = form.as_dict() if isinstance(form, Form) else dict(form)
    values = {name: raw.get(name, "")[:100] for name in FIELD_NAMES}
    result = StrategyForm(values)
    document: dict[str, Any] = {"name": values["name"], "mode": values["mode"] or "both",
                                "position_guards": bool(values["position_guards"]),
                                "allow_amo": bool(values["allow_amo"])}
    if values["account_id"]:
        document["account_id"] = _whole(result, "account_id")
    settings: dict[str, Any] = {"sizing": values["sizing"] or "fixed_quantity"}
    for name in AMOUNTS:
        if values[name]:
            settings[name] = _amount(result, name)
    if values["max_open_positions"]:
        settings["max_open_positions"] = _whole(result, "max_open_positions")
    for name in LEVELS + LIMITS:
        kind, amount = values[f"{name}_kind"], values[f"{name}_value"]
        if kind:
            settings[name] = {"kind": kind, "value": _amount(result, f"{name}_value")
                              if amount else None}
            if not amount:
                result.errors[f"{name}_value"] = "enter a value, or choose “off”"
        elif amount:
            result.errors[f"{name}_kind"] = "choose points/percent, or clear the value"
    for name in TIMES:
        text = values[name]
        settings[name] = None
        if text:
            if _TIME.match(text):
                settings[name] = text
            else:
                result.errors[name] = "use a time like 09:30"
    document["settings"] = settings
    if result.errors:
        return result
    try:
        result.model = StrategyIn.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            where = _field_for(tuple(str(p) for p in error["loc"]), str(error["msg"]))
            result.errors.setdefault(where, _message(str(error["msg"])))
    return result


def parse_for_preview(values: dict[str, str]) -> StrategyForm:
    """Like ``parse``, but the preview does not care about the name."""
    form = parse({**values, "name": values.get("name") or "preview"})
    form.errors.pop("name", None)
    return form


def _amount(result: StrategyForm, name: str) -> Decimal | None:
    text = result.values[name].replace(",", "").replace("₹", "").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        result.errors[name] = "enter a number"
        return None
    if not amount.is_finite() or abs(amount) > MAX_AMOUNT:
        result.errors[name] = "enter a number below 10^12"
        return None
    if amount.as_tuple().exponent < -6:  # type: ignore[operator]
        result.errors[name] = "use at most 6 decimals"
        return None
    return amount


def _whole(result: StrategyForm, name: str) -> int | None:
    text = result.values[name]
    if not (text.isascii() and text.isdecimal()) or len(text) > 9:
        result.errors[name] = "enter a whole number"
        return None
    return int(text)


def _field_for(loc: tuple[str, ...], message: str) -> str:
    """The form field a validation error belongs to."""
    parts = [p for p in loc if p != "settings"]
    if parts and parts[0] in LEVELS + LIMITS:
        return f"{parts[0]}_{parts[1] if len(parts) > 1 else 'value'}"
    if parts and parts[0] in FIELD_NAMES:
        return parts[0]
    # a rule about several settings: the last field its message names
    named = [(message.rfind(name), name) for name in FIELD_NAMES if name in message]
    return max(named)[1] if named else "form"


def _message(text: str) -> str:
    text = text.removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


#: what the examples show in place of the secret until it is revealed
MASKED_SECRET = "\u2022" * 8
EXAMPLE_TITLES = (("single", "Single order"), ("smart", "Smart order (target position)"),
                  ("exit", "Exit signal (closes the strategy's position)"),
                  ("multi", "Multi-leg"))


@dataclass(frozen=True, slots=True)
class Example:
    """One example alert: as shown (secret masked) and as copied (the real secret)."""

    name: str
    title: str
    masked: str
    full: str


def example_expiry(today: date) -> date:
    """A monthly NIFTY expiry at least a week after ``today`` (so an example never expires)."""
    return monthly_expiries(today + timedelta(days=7), 1)[0]


def _example_bodies(secret: str, today: date) -> dict[str, dict[str, Any]]:
    expiry = example_expiry(today)
    legs = [{"symbol": option_symbol("NIFTY", expiry, strike, "CE"), "exchange": "NFO",
             "action": action, "quantity": "65", "pricetype": "MARKET", "product": "NRML"}
            for strike, action in ((26000, "BUY"), (26500, "SELL"))]
    return {
        "single": {"symbol": "RELIANCE", "exchange": "NSE", "action": "BUY", "quantity": "1",
                   "pricetype": "MARKET", "product": "MIS", "secret_key": secret},
        "smart": {"symbol": "RELIANCE", "exchange": "NSE", "action": "BUY",
                  "position_size": "10", "product": "MIS", "secret_key": secret},
        "exit": {"execution_type": "exit", "symbol": "RELIANCE", "exchange": "NSE",
                 "product": "MIS", "secret_key": secret},
        "multi": {"execution_type": "entry", "secret_key": secret, "legs": legs},
    }


def webhook_examples(secret: str, today: date) -> list[Example]:
    """Example alert bodies (single, smart, exit, multi-leg) for the strategy's secret, with
    option contracts that expire after ``today`` (IST)."""
    shown = _example_bodies(MASKED_SECRET, today)
    full = _example_bodies(secret, today)
    return [Example(name, title, json.dumps(shown[name], indent=2, ensure_ascii=False),
                    json.dumps(full[name], indent=2)) for name, title in EXAMPLE_TITLES]
