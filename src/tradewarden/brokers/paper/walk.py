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
from collections.abc import Iterable
from decimal import Decimal

from tradewarden.brokers.base import SessionName
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.levels import LEVELS
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.money import round_to_step

log = logging.getLogger(__name__)

DEFAULT_WALK_SEED = 20261
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
    """Moves the last traded price of every walked instrument by a seeded Gaussian step every
    ``interval_s`` while the exchange's session is open.

    Starts from the exchange's last price (a restart or a control-API price continues from
    there), else from :func:`reference_price`.
    """

    def __init__(self, exchange: PaperExchange, *, seed: int | None = DEFAULT_WALK_SEED,
                 interval_s: float = 1.0, volatility: float = 0.0005,
                 instruments: Iterable[Instrument] | None = None) -> None:
        self.exchange = exchange
        self.random = random.Random(seed)
        self.interval_s = interval_s
        self.volatility = volatility
        self._instruments: dict[InstrumentKey, Instrument] = {
            i.key: i for i in (exchange.instruments if instruments is None else instruments)}
        self._task: asyncio.Task[None] | None = None

    @property
    def keys(self) -> list[InstrumentKey]:
        return list(self._instruments)

    def prime(self) -> None:
        """Give every walked instrument without a price its reference price."""
        known = self.exchange.quotes(self._instruments)
        missing = {key: reference_price(i) for key, i in self._instruments.items()
                   if key not in known}
        if missing:
            self.exchange.set_prices(missing)

    def step(self) -> bool:
        """One move of every price; nothing outside the open session. True when prices moved."""
        if self.exchange.market_session().session is not SessionName.OPEN:
            return False
        quotes = self.exchange.quotes(self._instruments)
        moved: dict[InstrumentKey, Decimal] = {}
        for key, instrument in self._instruments.items():
            quote = quotes.get(key)
            price = quote.last_price if quote else reference_price(instrument)
            change = Decimal(repr(self.random.gauss(0.0, self.volatility)))
            moved[key] = max(instrument.tick_size,
                             round_to_step(price * (1 + change), instrument.tick_size))
        self.exchange.set_prices(moved)
        return True

    def price(self, key: InstrumentKey) -> Decimal | None:
        """The instrument's last traded price now."""
        quote = self.exchange.quotes([key]).get(key)
        return quote.last_price if quote else None

    async def start(self, services: object = None) -> None:
        """Price what has no price yet and walk in the background (an app ``Extra``)."""
        self.prime()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="paper-price-walk")
        log.info("paper prices: walking %d instruments every %.2fs", len(self._instruments),
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
