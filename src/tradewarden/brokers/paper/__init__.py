"""The simulated broker (paper exchange): in-process or as a standalone HTTP server.

Engine-facing entry points:

* :class:`LocalPaperBroker` — one in-process simulator for many accounts
  (``LocalPaperBroker.open(state_path, clock="open")``, then ``.adapter(account)``);
* :class:`RemotePaperBroker` — a standalone ``tradewarden paper-broker serve`` at a URL
  (``RemotePaperBroker(url)``, then ``.adapter(account)``);
* :func:`open_paper_broker` — either, from a URL or a state path.
"""

from __future__ import annotations

from pathlib import Path

from tradewarden.brokers.paper.clock import ClockMode
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.local import PAPER_CAPABILITIES, LocalPaperAdapter, LocalPaperBroker
from tradewarden.brokers.paper.remote import RemotePaperAdapter, RemotePaperBroker
from tradewarden.brokers.paper.statuses import PAPER_STATUS_TABLE, PaperStatus, map_paper_status

PaperBroker = LocalPaperBroker | RemotePaperBroker

__all__ = [
    "PAPER_CAPABILITIES",
    "PAPER_STATUS_TABLE",
    "ClockMode",
    "LocalPaperAdapter",
    "LocalPaperBroker",
    "PaperBroker",
    "PaperExchange",
    "PaperStatus",
    "RemotePaperAdapter",
    "RemotePaperBroker",
    "map_paper_status",
    "open_paper_broker",
]


def open_paper_broker(
    *,
    url: str | None = None,
    state_path: Path | None = None,
    clock: ClockMode | str = ClockMode.OPEN,
    timeout_s: float = 10.0,
) -> PaperBroker:
    """A remote broker when ``url`` is given, else an in-process one with its state at
    ``state_path`` (``None``: memory only)."""
    if url:
        return RemotePaperBroker(url, timeout_s=timeout_s)
    return LocalPaperBroker.open(state_path, clock=clock)
