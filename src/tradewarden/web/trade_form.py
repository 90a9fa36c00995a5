"""The modify-levels form of a trade: flat HTML fields ↔ the changes ``TradeOperations.update``
takes, checked by the trades API's own ``UpdateTrade`` model; every problem lands on the field
it is about."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tradewarden.api.trades import UpdateTrade
from tradewarden.domain.strategy import Level
from tradewarden.domain.trades import Trade
from tradewarden.web.forms import Form

FIELDS = ("stop_loss", "target", "trailing_kind", "trailing_value", "allow_loosen")
TRAIL_KINDS = ("points", "percent")
#: words in the engine's messages → the field they are about
MESSAGE_FIELDS = (("trailing_stop", "trailing_value"), ("trailing stop", "trailing_value"),
                  ("stop_loss", "stop_loss"), ("target", "target"))
READABLE = (("stop_loss", "stop-loss"), ("trailing_stop", "trailing stop"))


@dataclass
class LevelsForm:
    """Field values as typed, the problems found by field, and the changes to make."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)


def _plain(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def values_of(trade: Trade) -> dict[str, str]:
    trail = trade.trailing_stop
    return {"stop_loss": _plain(trade.stop_loss), "target": _plain(trade.target),
            "trailing_kind": trail.kind.value if trail else "",
            "trailing_value": _plain(trail.value) if trail else "", "allow_loosen": ""}


def readable(message: str) -> str:
    for word, text in READABLE:
        message = message.replace(word, text)
    return message


def parse(form: Form | dict[str, str], trade: Trade) -> LevelsForm:
    """Check the submitted levels; ``changes`` holds only what differs from ``trade`` (an
    empty price removes that level), plus ``allow_loosen`` when the box is ticked and
    something changes (loosening a stop is refused without it)."""
    raw = form.as_dict() if isinstance(form, Form) else dict(form)
    values = {name: raw.get(name, "").replace(",", "")[:40] for name in FIELDS}
    result = LevelsForm(values)
    kind, trail_value = values["trailing_kind"], values["trailing_value"]
    if kind and kind not in TRAIL_KINDS:
        result.errors["trailing_kind"] = "choose off, points or percent"
    elif kind and not trail_value:
        result.errors["trailing_value"] = "enter the trailing distance"
    elif trail_value and not kind:
        result.errors["trailing_kind"] = "choose points or percent for this value"
    document: dict[str, Any] = {
        "trade_id": trade.id, "stop_loss": values["stop_loss"] or None,
        "target": values["target"] or None,
        "trailing_stop": {"kind": kind, "value": trail_value} if kind and trail_value else None,
        "allow_loosen": values["allow_loosen"] or False}
    try:
        checked = UpdateTrade.model_validate(document)
    except ValidationError as exc:
        for problem in exc.errors():
            where = problem["loc"]
            name = str(where[0]) if where else "form"
            if name == "trailing_stop":
                name = "trailing_kind" if "kind" in where else "trailing_value"
            result.errors.setdefault(name, readable(
                str(problem["msg"]).removeprefix("Value error, ")))
        return result
    if result.errors:
        return result
    if checked.stop_loss != trade.stop_loss:
        result.changes["stop_loss"] = checked.stop_loss
    if checked.target != trade.target:
        result.changes["target"] = checked.target
    if not _same_level(checked.trailing_stop, trade.trailing_stop):
        result.changes["trailing_stop"] = checked.trailing_stop
    if result.changes and checked.allow_loosen:
        result.changes["allow_loosen"] = True
    return result


def _same_level(a: Level | None, b: Level | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.kind is b.kind and a.value == b.value


def refused(form: LevelsForm, message: str) -> None:
    """Put the engine's refusal (``TradeError``) on the field it names, preferring a field
    that was changed; otherwise on the form."""
    changed = {"trailing_value" if name == "trailing_stop" else name for name in form.changes}
    named = list(dict.fromkeys(name for word, name in MESSAGE_FIELDS if word in message))
    where = next((name for name in named if name in changed), named[0] if named else "form")
    form.errors[where] = readable(message)
