"""Simulated prices for the paper broker: a reference price for every instrument and a seeded
random walk from it while the session is open.

``tradewarden run`` (in-process paper broker) and ``tradewarden demo`` use :class:`PriceWalk`
so MARKET orders fill and trades see live prices; prices set through the control API (or
``exchange.set_prices``) are where the walk continues from.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from tradewarden.brokers.base import SessionName
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.levels import LEVELS
from tradewarden.clock import ist_today
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.money import round_to_step

log = logging.getLogger(__name__)

DEFAULT_WALK_SEED = 20261
#: Instruments nobody watches or trades still move: this many of them a step, in turn.
SAMPLE_SIZE = 32
_DERIVATIVE = re.compile(
    r"^(?P<underlying>[A-Z&-]+?)\d{2}[A-Z]{3}\d{2}(?P<strike>\d+(?:\.\d+)?)?(?P<kind>FUT|CE|PE)$")


def _hashed_price(symbol: str) -> Decimal:
    """A stable price between ₹50 and ₹5,000 (log-uniform) for a symbol without a level."""
    fraction = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big") / 2**64
    return Decimal(f"{50 * 100 ** fraction:.2f}")


def _equity_price(symbol: str) -> Decimal:
    return LEVELS.get(symbol) or _hashed_price(symbol)


def _option_premium(spot: Decimal, strike: Decimal, call: bool) -> Decimal:
    """Intrinsic value plus a time value that fades away from the money."""
    intrinsic = max(Decimal(0), spot - strike if call else strike - spot)
    distance = float(abs(spot - strike) / spot)
    time_value = spot * Decimal(f"{0.012 * math.exp(-distance / 0.03):.6f}")
    return intrinsic + time_value


def reference_price(instrument: Instrument) -> Decimal:
    """A realistic starting price for ``instrument``, on its tick grid."""
    match = _DERIVATIVE.match(instrument.symbol) if instrument.instrument_type != "EQ" else None
    if match is None:
        price = _equity_price(instrument.symbol)
    else:
        spot = _equity_price(match["underlying"])
        strike = match["strike"]
        price = spot if match["kind"] == "FUT" or strike is None else _option_premium(
            spot, Decimal(strike), call=match["kind"] == "CE")
    return max(instrument.tick_size, round_to_step(price, instrument.tick_size))


class PriceWalk:
    """Moves last traded prices by a seeded Gaussian step every ``interval_s`` while the
    exchange's session is open.

    Each step moves the instruments someone watches (``watched``: tick subscriptions) or trades
    (working orders, open positions), plus ``sample_size`` others in turn, so a step stays a
    few milliseconds however large the master is. Every instrument of the master has a price
    all the same (:meth:`prime`, again when the master lists new contracts on a new IST day),
    so a MARKET order fills for any of them. A walk starts from the exchange's last price (a
    restart or a control-API price continues from there), else from :func:`reference_price`.
    """

    def __init__(self, exchange: PaperExchange, *, seed: int | None = DEFAULT_WALK_SEED,
                 interval_s: float = 1.0, volatility: float = 0.0005,
                 watched: Callable[[], Iterable[InstrumentKey]] | None = None,
                 sample_size: int = SAMPLE_SIZE) -> None:
        self.exchange = exchange
        self.random = random.Random(seed)
        self.interval_s = interval_s
        self.volatility = volatility
        self.sample_size = sample_size
        self._watched = watched
        self._listed: list[InstrumentKey] = []
        self._primed_on: date | None = None
        self._cursor = 0
        self._task: asyncio.Task[None] | None = None

    def prime(self) -> None:
        """Give every instrument of the master without a price its reference price."""
        instruments = {i.key: i for i in self.exchange.instruments}
        known = self.exchange.quotes(instruments)
        missing = {key: reference_price(i) for key, i in instruments.items() if key not in known}
        if missing:
            self.exchange.set_prices(missing)
        self._listed = list(instruments)
        self._primed_on = ist_today()

    def active(self) -> set[InstrumentKey]:
        """The instruments watched (tick subscriptions) or traded (working orders, non-flat
        positions) at the exchange now."""
        keys = set(self._watched() if self._watched is not None else ())
        for account in self.exchange.account_names():
            keys.update(o.key for o in self.exchange.order_book(account, visible_only=False)
                        if o.status is None or o.status.is_working)
            keys.update(InstrumentKey(p.exchange, p.symbol)
                        for p in self.exchange.positions(account) if p.quantity)
        return keys

    def step(self) -> bool:
        """One move of the active instruments' prices and of the next few others; nothing
        outside the open session. True when prices moved."""
        if self._primed_on != ist_today():  # a new day lists new contracts: price them
            self.prime()
        if self.exchange.market_session().session is not SessionName.OPEN:
            return False
        keys = self.active() | set(self._sample())
        moved: dict[InstrumentKey, Decimal] = {}
        quotes = self.exchange.quotes(keys)
        for key in sorted(keys, key=str):  # sorted: the same seed gives the same walk
            instrument = self.exchange.instruments.get(key)
            if instrument is None:  # expired, or not listed
                continue
            quote = quotes.get(key)
            price = quote.last_price if quote else reference_price(instrument)
            change = Decimal(repr(self.random.gauss(0.0, self.volatility)))
            moved[key] = max(instrument.tick_size,
                             round_to_step(price * (1 + change), instrument.tick_size))
        self.exchange.set_prices(moved)
        return True

    def _sample(self) -> list[InstrumentKey]:
        """The next ``sample_size`` instruments of the master, in turn."""
        if not self._listed:
            return []
        size = min(self.sample_size, len(self._listed))
        start = self._cursor % len(self._listed)
        self._cursor = start + size
        keys = self._listed[start:start + size]
        return keys + self._listed[:size - len(keys)]

    def price(self, key: InstrumentKey) -> Decimal | None:
        """The instrument's last traded price now."""
        quote = self.exchange.quotes([key]).get(key)
        return quote.last_price if quote else None

    async def start(self, services: object = None) -> None:
        """Price what has no price yet and walk in the background (an app ``Extra``)."""
        self.prime()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="paper-price-walk")
        log.info("paper prices: %d instruments priced; walking the watched and traded ones "
                 "and %d others every %.2fs", len(self._listed), self.sample_size,
                 self.interval_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.step()
            except Exception:
                log.exception("paper price walk failed")
