"""``tradewarden demo``: the service with a demo strategy and a stream of demo signals on the
in-process paper broker, whose prices walk (:class:`~tradewarden.brokers.paper.walk.PriceWalk`,
livelier than ``run``'s), so a newcomer sees trades open, trail and exit on the dashboard within
a minute.

Every signal goes through the real intake, guards, executor and trade manager like a webhook
alert would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from sqlalchemy import select

from tradewarden.brokers.paper.walk import PriceWalk
from tradewarden.clock import utcnow
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.intents import OrderIntent
from tradewarden.domain.orders import Origin, Product, Side
from tradewarden.domain.strategy import StrategySettings
from tradewarden.services import Services
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import Strategy, User

log = logging.getLogger(__name__)

DEMO_STRATEGY = "demo"
#: Liquid NSE names the demo trades.
SYMBOLS = ("RELIANCE", "TCS", "INFY", "HDFCBANK", "SBIN", "ICICIBANK")
#: The demo's price walk: every 0.5 s, 0.06 % per step, so stops and targets are hit quickly.
WALK_INTERVAL_S = 0.5
WALK_VOLATILITY = 0.0006
DEMO_SETTINGS = StrategySettings.model_validate({
    "sizing": "fixed_value", "sizing_value": "100000", "max_open_positions": 4,
    "stop_loss": {"kind": "percent", "value": "0.4"},
    "target": {"kind": "percent", "value": "0.8"},
    "trailing_stop": {"kind": "percent", "value": "0.3"},
})


class DemoDriver:
    """Sends signals on the walking prices while the service runs."""

    def __init__(self, walk: PriceWalk, *, seed: int | None = None,
                 signal_interval_s: float = 6.0) -> None:
        self.walk = walk
        self.random = random.Random(seed)
        self.signal_interval_s = signal_interval_s
        self.signals_sent = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, services: Services) -> None:
        strategy_id, user_id = await services.db.run(_ensure_strategy, services)
        await services.engine.trades.reload_strategy(strategy_id)
        self._tasks = [asyncio.create_task(self._signals(services, strategy_id, user_id),
                                           name="demo-signals")]
        log.info("demo: strategy %r (id %s) trading %s", DEMO_STRATEGY, strategy_id,
                 ", ".join(SYMBOLS))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _signals(self, services: Services, strategy_id: int, user_id: int) -> None:
        account = await services.engine.default_account(user_id)
        while True:
            await asyncio.sleep(self.signal_interval_s)
            if account is None:
                account = await services.engine.default_account(user_id)
                continue
            held = {t.symbol for t in services.engine.trades.trades.values()
                    if t.strategy_id == strategy_id}
            free = [s for s in SYMBOLS if s not in held]
            if not free:
                continue
            symbol = self.random.choice(free)
            price = self.walk.price(InstrumentKey("NSE", symbol))
            if price is None:
                continue
            side = self.random.choice((Side.BUY, Side.SELL))
            quantity = max(1, int(DEMO_SETTINGS.sizing_value or 0) // int(price))
            intent = OrderIntent(account_id=account, exchange="NSE", symbol=symbol, side=side,
                                 quantity=quantity, product=Product.MIS, origin=Origin.WEBHOOK,
                                 strategy_id=strategy_id, strategy_label=DEMO_STRATEGY,
                                 position_guards=True)
            try:
                (outcome,) = await services.engine.intake.submit(user_id, [intent])
            except Exception:
                log.exception("demo signal failed")
                continue
            self.signals_sent += 1
            log.info("demo signal: %s %d %s -> %s%s", side.value, quantity, symbol,
                     outcome.order.status.value,
                     f" ({outcome.reason})" if outcome.denied else "")


def _ensure_strategy(services: Services) -> tuple[int, int]:
    """The demo strategy of the first admin (created on first use); (strategy id, user id)."""
    with services.db.transaction() as session:
        user = session.scalars(select(User).where(User.is_admin.is_(True))
                               .order_by(User.id)).first()
        if user is None:
            raise RuntimeError("no admin user: run `tradewarden run` once first")
        existing = session.scalars(select(Strategy).where(
            Strategy.user_id == user.id, Strategy.name == DEMO_STRATEGY,
            Strategy.deleted_at.is_(None))).first()
        if existing is None:
            existing = Strategies(session, user.id).create(
                name=DEMO_STRATEGY, account_id=None, mode="both", position_guards=True,
                allow_amo=False,
                settings=DEMO_SETTINGS.model_dump(mode="json", exclude_defaults=True),
                box=services.box)
            existing.updated_at = utcnow()
        session.flush()
        return existing.id, user.id
