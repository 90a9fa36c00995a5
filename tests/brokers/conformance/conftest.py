"""The venue registry and the ``venue`` fixture every conformance test is parametrised over.

To add a broker: write a fixture yielding its :class:`~.venue.Venue` and add one
:data:`VENUES` entry naming that fixture and the venue's capabilities.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from tests.brokers.conformance.paper import PAPER_CAPABILITIES, PaperHttpVenue, PaperLocalVenue
from tests.brokers.conformance.venue import Capability, Venue
from tests.brokers.conftest import PaperServer
from tradewarden.brokers.paper import LocalPaperBroker

NEEDS = "venue_needs"


@dataclass(frozen=True, slots=True)
class VenueEntry:
    fixture: str
    capabilities: frozenset[Capability]


#: Every venue the suite runs against.
VENUES: dict[str, VenueEntry] = {
    "paper-http": VenueEntry("paper_http_venue", PAPER_CAPABILITIES),
    "paper-local": VenueEntry("paper_local_venue", PAPER_CAPABILITIES),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{NEEDS}(*capabilities): run only for venues having all these capabilities"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``venue`` over the venues with every capability the test needs.

    A test no venue can run yet gets one ``no-venue`` case, deselected at collection (never a
    skip: nothing here skips under CI)."""
    if "venue" not in metafunc.fixturenames:
        return
    needed: set[Capability] = set()
    for mark in metafunc.definition.iter_markers(NEEDS):
        needed.update(Capability(c) for c in mark.args)
    names = [n for n, e in VENUES.items() if needed <= e.capabilities]
    metafunc.parametrize("venue_name", names or ["no-venue"], ids=names or ["no-venue"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unrunnable = [i for i in items if i.name.endswith("[no-venue]")]
    if unrunnable:
        config.hook.pytest_deselected(items=unrunnable)
        items[:] = [i for i in items if i not in unrunnable]


@pytest.fixture
def venue(request: pytest.FixtureRequest, venue_name: str) -> Venue:
    return cast(Venue, request.getfixturevalue(VENUES[venue_name].fixture))


@pytest.fixture(scope="module")
def conformance_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperServer]:
    """One standalone paper broker process per test module (manual clock)."""
    root = tmp_path_factory.mktemp("conformance-paper")
    server = PaperServer(root / "state.db", root / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def paper_http_venue(conformance_server: PaperServer) -> AsyncIterator[PaperHttpVenue]:
    venue = PaperHttpVenue(conformance_server.url)
    await venue.reset()
    yield venue
    await venue.reset()
    await venue.aclose()


@pytest.fixture
async def paper_local_venue(tmp_path: Path) -> AsyncIterator[PaperLocalVenue]:
    broker = LocalPaperBroker.open(tmp_path / "paper.db", clock="manual")
    yield PaperLocalVenue(broker)
    for account in list(broker.exchange.account_names()):
        await broker.adapter(account).aclose()
    await broker.aclose()
