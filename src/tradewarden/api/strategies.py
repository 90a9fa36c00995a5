"""Strategies CRUD (BRIEF §3.5, §4.4) with webhook token and secret generation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tradewarden.api.deps import CallerDep, ServicesDep
from tradewarden.api.strategy_names import strategy_names
from tradewarden.clock import utcnow
from tradewarden.crypto import SecretBox
from tradewarden.domain.strategy import StrategyMode, StrategySettings
from tradewarden.domain.trades import TradeError
from tradewarden.engine.trades.operations import TradeNotFound
from tradewarden.store.order_queries import strategy_positions, strategy_working_orders
from tradewarden.store.repositories import Accounts, AlreadyExists
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import Strategy
from tradewarden.store.webhook_secrets import issue_webhook_secret, webhook_secret_of

router = APIRouter(prefix="/api/v1/strategies", tags=["strategies"])
StrategyId = Annotated[int, Path(ge=1, le=2**31 - 1)]
AccountId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class StrategyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w .:-]+$")
    account_id: AccountId | None = None
    mode: StrategyMode = StrategyMode.BOTH
    position_guards: bool = True
    allow_amo: bool = False
    settings: StrategySettings = Field(default_factory=StrategySettings)


class StrategyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w .:-]+$")
    account_id: AccountId | None = None
    mode: StrategyMode | None = None
    position_guards: bool | None = None
    allow_amo: bool | None = None
    is_paused: bool | None = None
    settings: StrategySettings | None = None
    rotate_secret: bool = False


class StrategyOut(BaseModel):
    id: int
    name: str
    account_id: int | None
    mode: str
    position_guards: bool
    allow_amo: bool
    is_paused: bool
    settings: dict[str, Any]
    webhook_token: str
    webhook_secret: str  # plain (stored encrypted); "" when the configured key cannot read it
    webhook_url: str
    created_at: datetime
    updated_at: datetime


def _out(row: Strategy, request: Request, box: SecretBox) -> StrategyOut:
    base = str(request.base_url).rstrip("/")
    return StrategyOut(
        id=row.id, name=row.name, account_id=row.account_id, mode=row.mode,
        position_guards=row.position_guards, allow_amo=row.allow_amo, is_paused=row.is_paused,
        settings=row.settings, webhook_token=row.webhook_token,
        webhook_secret=webhook_secret_of(row, box) or "",
        webhook_url=f"{base}/webhook/{row.webhook_token}", created_at=row.created_at,
        updated_at=row.updated_at)


def _check_account(session: Any, user_id: int, account_id: int | None) -> None:
    if account_id is None:
        return
    if account_id not in {a.id for a in Accounts(session).for_user(user_id)}:
        raise HTTPException(422, detail=[{"loc": ["body", "account_id"],
                                          "msg": "no such broker account", "type": "value_error"}])


@router.get("", response_model=list[StrategyOut])
async def list_(request: Request, caller: CallerDep, services: ServicesDep) -> list[StrategyOut]:
    def query() -> list[StrategyOut]:
        with services.db.read() as session:
            return [_out(r, request, services.box)
                    for r in Strategies(session, caller.user_id).list()]

    return await services.db.run(query)


@router.post("", response_model=StrategyOut, status_code=201)
async def create(body: StrategyIn, request: Request, caller: CallerDep,
                 services: ServicesDep) -> StrategyOut:
    def write() -> StrategyOut:
        with services.db.transaction() as session:
            _check_account(session, caller.user_id, body.account_id)
            row = Strategies(session, caller.user_id).create(
                name=body.name, account_id=body.account_id, mode=body.mode.value,
                position_guards=body.position_guards, allow_amo=body.allow_amo,
                settings=body.settings.model_dump(mode="json", exclude_defaults=True),
                box=services.box)
            return _out(row, request, services.box)

    try:
        created = await services.db.run(write)
    except AlreadyExists as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    strategy_names(request.app.state).forget(caller.user_id)
    await services.engine.trades.reload_strategy(created.id)
    return created


@router.get("/{strategy_id}", response_model=StrategyOut)
async def get(strategy_id: StrategyId, request: Request, caller: CallerDep,
              services: ServicesDep) -> StrategyOut:
    def query() -> StrategyOut | None:
        with services.db.read() as session:
            row = Strategies(session, caller.user_id).get(strategy_id)
            return _out(row, request, services.box) if row is not None else None

    found = await services.db.run(query)
    if found is None:
        raise HTTPException(404, detail="strategy not found")
    return found


@router.patch("/{strategy_id}", response_model=StrategyOut)
async def patch(strategy_id: StrategyId, body: StrategyPatch, request: Request, caller: CallerDep,
                services: ServicesDep) -> StrategyOut:
    def write() -> StrategyOut | None:
        with services.db.transaction() as session:
            strategies = Strategies(session, caller.user_id)
            row = strategies.get(strategy_id)
            if row is None:
                return None
            if body.name is not None and body.name != row.name:
                strategies.rename_ok(row, body.name)
                row.name = body.name
            if "account_id" in body.model_fields_set:
                _check_account(session, caller.user_id, body.account_id)
                row.account_id = body.account_id
            for name in ("position_guards", "allow_amo", "is_paused"):
                value = getattr(body, name)
                if value is not None:
                    setattr(row, name, value)
            if body.mode is not None:
                row.mode = body.mode.value
            if body.settings is not None:
                row.settings = body.settings.model_dump(mode="json", exclude_defaults=True)
            if body.rotate_secret:
                issue_webhook_secret(row, services.box)
            row.updated_at = utcnow()
            session.flush()
            return _out(row, request, services.box)

    try:
        found = await services.db.run(write)
    except AlreadyExists as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    if found is None:
        raise HTTPException(404, detail="strategy not found")
    strategy_names(request.app.state).forget(caller.user_id)
    await services.engine.trades.reload_strategy(strategy_id)
    return found


@router.delete("/{strategy_id}", status_code=204)
async def delete(strategy_id: StrategyId, request: Request, caller: CallerDep,
                 services: ServicesDep,
                 on_active: Literal["close", "transfer"] | None = None,
                 to: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """Delete a strategy. Refused (409) while it has active trades, unless ``on_active`` says
    what to do with them: ``close`` exits them, ``transfer`` (with ``to``) moves them to
    another strategy. Without trades, refused while it holds positions or has working
    orders."""
    def owned() -> bool:
        with services.db.read() as session:
            return Strategies(session, caller.user_id).get(strategy_id) is not None

    if not await services.db.run(owned):
        raise HTTPException(404, detail="strategy not found")
    if on_active == "transfer" and to is None:
        raise HTTPException(422, detail=[{"loc": ["query", "to"], "type": "value_error",
                                          "msg": "transfer needs the strategy id in 'to'"}])
    try:
        blocking, handled = await services.engine.trade_ops.resolve_for_delete(
            caller.user_id, strategy_id, on_active, to)
    except TradeNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except TradeError as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    if blocking:
        raise HTTPException(409, detail={
            "message": f"the strategy has {len(blocking)} active trade(s); choose "
                       "on_active=close to exit them or on_active=transfer&to=ID to move them",
            "active_trades": [{"id": t.id, "symbol": t.symbol, "exchange": t.exchange,
                               "side": t.side.value, "quantity": t.open_quantity,
                               "status": t.status.value} for t in blocking]})

    def write() -> str | None:
        with services.db.transaction() as session:
            row = Strategies(session, caller.user_id).get(strategy_id)
            if row is None:
                return "missing"
            if not handled:  # positions of closed/moved trades are being taken care of
                positions = {k: v for k, v in strategy_positions(session, row.id).items() if v}
                working = strategy_working_orders(session, row.id)
                if positions or working:
                    held = ", ".join(f"{s} {q:+d}" for (_, s, _), q in positions.items())
                    return (f"strategy {row.name} still has {len(positions)} open position(s)"
                            f"{' (' + held + ')' if held else ''} and {working} working "
                            "order(s); close or transfer them first")
            now = utcnow()
            row.deleted_at = now
            row.name = f"{row.name}#deleted-{row.id}"[:64]
            return None

    problem = await services.db.run(write)
    if problem == "missing":
        raise HTTPException(404, detail="strategy not found")
    if problem is not None:
        raise HTTPException(409, detail=problem)
    strategy_names(request.app.state).forget(caller.user_id)
    await services.engine.trades.reload_strategy(strategy_id)
    return Response(status_code=204)
