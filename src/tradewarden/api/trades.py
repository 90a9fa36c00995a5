"""Trades API (seed 003 names, BRIEF §4.4): createtrade, activetrades, updatetrade, exittrade,
tradehistory. Authenticated like the OpenAlgo routes (``apikey`` in the body, or the headers);
answers ``{"status": "success", "data": …}`` or ``{"status": "error", "message": …}``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tradewarden.api.openalgo.common import (
    OpenAlgoError,
    authenticate,
    read_json,
    services_of,
    success,
)
from tradewarden.clock import IST
from tradewarden.domain.strategy import Level
from tradewarden.domain.trades import Loosening, Trade, TradeError
from tradewarden.engine.trades.operations import (
    UNCHANGED,
    TradeConflict,
    TradeNotFound,
    TradeView,
)

router = APIRouter(prefix="/api/v1", tags=["trades"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")
    apikey: str | None = None


class CreateTrade(_Body):
    orderid: str = Field(min_length=1, max_length=64)
    stop_loss: Level | None = None
    target: Level | None = None
    trailing_stop: Level | None = None


MAX_ID = 2**31 - 1
MAX_PRICE = Decimal("1e9")
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


class UpdateTrade(_Body):
    trade_id: int = Field(ge=1, le=MAX_ID)
    stop_loss: Decimal | None = Field(default=None, gt=0, le=MAX_PRICE)
    target: Decimal | None = Field(default=None, gt=0, le=MAX_PRICE)
    trailing_stop: Level | None = None
    #: loosen a protective level on purpose (a lower stop-loss or trailing level for a long,
    #: higher for a short, or removing one); refused (422) otherwise
    allow_loosen: bool = False


class ExitTrade(_Body):
    trade_id: int = Field(ge=1, le=MAX_ID)


class ListTrades(_Body):
    strategy_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class TradeHistory(ListTrades):
    from_date: date | None = Field(default=None, ge=EARLIEST, le=LATEST)
    to_date: date | None = Field(default=None, ge=EARLIEST, le=LATEST)


async def _parse(request: Request, model: type[_Body]) -> tuple[int, Any, dict[str, Any]]:
    """Read (JSON body, or query parameters for GET), authenticate, validate (422)."""
    body: dict[str, Any]
    if request.method == "POST":
        body = await read_json(request)
    else:  # never an API key in a URL (it would end up in access logs): headers only
        body = {k: v for k, v in request.query_params.items() if k != "apikey"}
    caller = await authenticate(request, body)
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": str(e["msg"]).removeprefix("Value error, ")}
                  for e in exc.errors()]
        message = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                            for e in errors)
        raise OpenAlgoError(422, message, errors=errors) from exc
    return caller.user_id, parsed, body


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(Decimal('0.01'))}"


def trade_json(trade: Trade, view: TradeView | None = None) -> dict[str, Any]:
    best = view.best_price if view else trade.best_price
    level = view.trailing_level if view else trade.trailing_level
    data: dict[str, Any] = {
        "trade_id": trade.id, "strategy_id": trade.strategy_id, "exchange": trade.exchange,
        "symbol": trade.symbol, "side": trade.side.value, "product": trade.product,
        "quantity": trade.quantity, "open_quantity": trade.open_quantity,
        "entry_order_id": trade.entry_order_id, "entry_price": _money(trade.entry_price),
        "stop_loss": _money(trade.stop_loss), "target": _money(trade.target),
        "trailing_stop": trade.trailing_stop.model_dump(mode="json")
        if trade.trailing_stop else None,
        "best_price": _money(best), "trailing_level": _money(level),
        "status": trade.status.value,
        "exit_reason": trade.exit_reason.value if trade.exit_reason else None,
        "exit_order_id": trade.exit_order_id, "exit_price": _money(trade.exit_price),
        "realised_pnl": _money(trade.realised_pnl),
        "opened_at": trade.opened_at.isoformat(),
        "closed_at": trade.closed_at.isoformat() if trade.closed_at else None,
    }
    if view is not None:
        data["ltp"] = _money(view.ltp)
        data["unrealised_pnl"] = _money(view.unrealised_pnl)
    return data


def _refused(exc: Exception) -> OpenAlgoError:
    if isinstance(exc, TradeNotFound):
        return OpenAlgoError(404, str(exc))
    if isinstance(exc, TradeConflict):
        return OpenAlgoError(409, str(exc))
    return OpenAlgoError(422, str(exc))


@router.post("/createtrade")
async def createtrade(request: Request) -> JSONResponse:
    """Manage an existing (partly) filled entry order as a trade."""
    user_id, body, _ = await _parse(request, CreateTrade)
    ops = services_of(request).engine.trade_ops
    try:
        trade = await ops.create(user_id, body.orderid, stop_loss=body.stop_loss,
                                 target=body.target, trailing_stop=body.trailing_stop)
    except (TradeError, TradeNotFound) as exc:
        raise _refused(exc) from exc
    return success(data=trade_json(trade, ops.view(trade)))


@router.api_route("/activetrades", methods=["GET", "POST"])
async def activetrades(request: Request) -> JSONResponse:
    """Active and exiting trades with live LTP and unrealised P&L."""
    user_id, body, _ = await _parse(request, ListTrades)
    ops = services_of(request).engine.trade_ops
    views = ops.active(user_id, body.strategy_id)
    total = sum((v.unrealised_pnl for v in views), Decimal(0))
    return success(data={"trades": [trade_json(v.trade, v) for v in views],
                         "total_unrealised_pnl": _money(total)})


@router.post("/updatetrade")
async def updatetrade(request: Request) -> JSONResponse:
    """Change an active trade's stop-loss / target (prices) or trailing stop; ``null`` removes
    one, an absent field is left as it is. Loosening the stop-loss or the trailing level needs
    ``allow_loosen: true``; what was loosened is listed in ``loosened``."""
    user_id, body, raw = await _parse(request, UpdateTrade)
    changes: dict[str, object] = {name: getattr(body, name) if name in raw else UNCHANGED
                                  for name in ("stop_loss", "target", "trailing_stop")}
    if all(value is UNCHANGED for value in changes.values()):
        raise OpenAlgoError(422, "give stop_loss, target or trailing_stop to change")
    ops = services_of(request).engine.trade_ops
    try:
        edited = await ops.edit(user_id, body.trade_id, allow_loosen=body.allow_loosen,
                                stop_loss=changes["stop_loss"], target=changes["target"],
                                trailing_stop=changes["trailing_stop"])
    except (TradeError, TradeNotFound) as exc:
        raise _refused(exc) from exc
    data = trade_json(edited.trade, ops.view(edited.trade))
    data["loosened"] = [_loosening_json(change) for change in edited.loosened]
    return success(data=data)


def _loosening_json(change: Loosening) -> dict[str, Any]:
    return {"level": change.level, "from": _money(change.before), "to": _money(change.after)}


@router.post("/exittrade")
async def exittrade(request: Request) -> JSONResponse:
    """Exit a trade now at market."""
    user_id, body, _ = await _parse(request, ExitTrade)
    ops = services_of(request).engine.trade_ops
    try:
        trade = await ops.exit(user_id, body.trade_id)
    except (TradeError, TradeNotFound) as exc:
        raise _refused(exc) from exc
    return success(data=trade_json(trade, ops.view(trade)), message="exit order placed")


@router.api_route("/tradehistory", methods=["GET", "POST"])
async def tradehistory(request: Request) -> JSONResponse:
    """Closed trades (newest first) with exit reasons and realised P&L; dates are IST."""
    user_id, body, _ = await _parse(request, TradeHistory)
    if body.from_date and body.to_date and body.from_date > body.to_date:
        raise OpenAlgoError(422, "from_date must not be after to_date")
    since = _ist_start(body.from_date) if body.from_date else None
    until = _ist_start(body.to_date + timedelta(days=1)) if body.to_date else None
    trades = await services_of(request).engine.trade_ops.history(
        user_id, strategy_id=body.strategy_id, since=since, until=until)
    total = sum((t.realised_pnl for t in trades), Decimal(0))
    return success(data={"trades": [trade_json(t) for t in trades],
                         "total_realised_pnl": _money(total)})


def _ist_start(day: date) -> datetime:
    return datetime.combine(day, time.min, IST).astimezone(UTC)
