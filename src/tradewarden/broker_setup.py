"""Which broker backs the accounts of this process: the in-process paper simulator by default,
or a standalone paper broker over HTTP (``--paper-url``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from tradewarden.brokers.base import BrokerAdapter
from tradewarden.brokers.paper.clock import ClockMode
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.brokers.paper.walk import DEFAULT_WALK_SEED, PriceWalk
from tradewarden.config import Settings
from tradewarden.engine.accounts import AccountInfo, AdapterFactory

log = logging.getLogger(__name__)
SIMULATED_PRICES = "Paper (simulated prices)"


class UnsupportedBroker(Exception):
    """An account names a broker this build has no adapter for."""


@dataclass
class BrokerSetup:
    """How adapters are made, and how to release what they share."""

    factory: AdapterFactory
    close: Callable[[], Awaitable[None]]
    #: The in-process simulator, when there is one (the demo and tests drive it directly).
    simulator: LocalPaperBroker | None = None
    #: The in-process simulator's price walk; ``serve`` runs it alongside the engine.
    walk: PriceWalk | None = None


def paper_mode(settings: Settings) -> str:
    """How this configuration's paper accounts get their prices, in a few words (dashboard
    settings, ``accounts list``)."""
    if settings.paper_url:
        return f"Paper (standalone broker at {settings.paper_url})"
    return SIMULATED_PRICES


def in_process_paper(settings: Settings, clock: ClockMode | str | None = None, *,
                     seed: int | None = DEFAULT_WALK_SEED, walk_interval_s: float = 1.0,
                     volatility: float = 0.0005) -> BrokerSetup:
    """One simulator in this process, its state in ``<data-dir>/paper-broker.db``; every
    instrument has a price from the start, and the prices of those watched or traded walk
    (``walk``) while the session is open.
    The session follows ``clock``, by default the ``paper_clock`` setting."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    broker = LocalPaperBroker.open(settings.data_dir / "paper-broker.db",
                                   clock=clock or settings.paper_clock)
    walk = PriceWalk(broker.exchange, seed=seed, interval_s=walk_interval_s,
                     volatility=volatility, watched=broker.watched)

    def factory(info: AccountInfo) -> BrokerAdapter:
        _require_paper(info)
        return broker.adapter(info.name, initial_cash=(
            Decimal(info.initial_cash) if info.initial_cash is not None else None))

    return BrokerSetup(factory=factory, close=broker.aclose, simulator=broker, walk=walk)


def paper_over_http(settings: Settings) -> BrokerSetup:
    """Adapters talking to a standalone ``tradewarden paper-broker serve`` at ``paper_url``."""
    from tradewarden.brokers.paper.remote import RemotePaperBroker

    assert settings.paper_url is not None
    remote = RemotePaperBroker(settings.paper_url, timeout_s=settings.broker_timeout_s)

    def factory(info: AccountInfo) -> BrokerAdapter:
        _require_paper(info)
        return remote.adapter(info.name, initial_cash=(
            Decimal(info.initial_cash) if info.initial_cash is not None else None))

    return BrokerSetup(factory=factory, close=remote.aclose)


def broker_setup(settings: Settings) -> BrokerSetup:
    """The broker backing chosen by the settings."""
    return paper_over_http(settings) if settings.paper_url else in_process_paper(settings)


def _require_paper(info: AccountInfo) -> None:
    if info.broker != "paper":
        raise UnsupportedBroker(f"account {info.name}: no adapter for broker {info.broker!r}")
