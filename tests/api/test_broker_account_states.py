"""A server with a Kite account it cannot serve yet: it starts, leaves the account out (one
warning), shows its state in /readyz and /metrics without secrets, and API keys bound to an
account act on it (unbound keys on the user's default account)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.api.conftest import ADMIN_KEY, Server, serve
from tests.procs import free_port
from tradewarden.bootstrap import ensure_first_start
from tradewarden.config import Settings
from tradewarden.crypto import box_for
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, ApiKeys, Users
from tradewarden.store.tables import OrderRow

SECRET = "qv8SecretOfTheKiteApp"
TOKEN = "qv8AccessTokenOfToday"
ORDER = {"strategy": "script", "exchange": "NSE", "symbol": "RELIANCE", "action": "BUY",
         "quantity": "1", "pricetype": "MARKET", "product": "MIS"}


@dataclass
class Setup:
    server: Server
    keys: dict[str, str]  # paper-1, kite: keys bound to those accounts
    accounts: dict[str, int]


@pytest.fixture
def setup(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Setup]:
    caplog.set_level(logging.DEBUG)
    settings = Settings(data_dir=tmp_path / "data", port=free_port(), monitor_interval_s=0.3,
                        monitor_idle_interval_s=0.3)
    url = settings.resolved_database_url
    migrate.upgrade(url)
    db = Database(url)
    try:
        ensure_first_start(db, ADMIN_KEY)
        with db.transaction() as session:
            admin = Users(session).require("admin")
            accounts = Accounts(session)
            kite = accounts.add(admin, broker="kite", name="zk1", box=box_for(settings),
                                options={"api_key": "kiteapp1", "api_secret": SECRET,
                                         "access_token": TOKEN})
            second = accounts.add(admin, broker="paper", name="paper-2")
            accounts.set_default(second)
            first = accounts.require(admin, "paper-1")
            keys = {"paper-1": ApiKeys(session).create(admin, account=first).key,
                    "kite": ApiKeys(session).create(admin, account=kite).key}
            ids = {"paper-1": first.id, "paper-2": second.id, "kite": kite.id}
    finally:
        db.close()
    with serve(settings) as server:
        server.simulator.exchange.set_prices({InstrumentKey("NSE", "RELIANCE"): Decimal("100")})
        yield Setup(server, keys, ids)


def _account_of(server: Server, order_id: str) -> int:
    db = Database(server.settings.resolved_database_url)
    try:
        with db.read() as session:
            row = session.get(OrderRow, order_id)
            assert row is not None
            return row.account_id
    finally:
        db.close()


def test_unserved_kite_account_is_shown_not_served(setup: Setup,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    server = setup.server
    answers: list[str] = []
    ready = server.client().get("/readyz")
    answers.append(ready.text)
    assert ready.status_code == 200
    body = ready.json()
    assert body["accounts"] == [{"name": "zk1", "broker": "kite", "state": "error",
                                 "reason": "no adapter for broker kite yet",
                                 "session_expires_at": None}]
    assert body["degraded"]["accounts_not_ready"] == 1
    metrics = server.client().get("/metrics").text
    answers.append(metrics)
    assert 'tradewarden_account_state{account="zk1",broker="kite",state="error"} 1' in metrics
    assert ('tradewarden_account_state{account="paper-1",broker="paper",state="ready"} 1'
            in metrics)
    records = [*caplog.get_records("setup"), *caplog.records]  # the server starts in setup
    warnings = [r.getMessage() for r in records
                if r.levelno == logging.WARNING and "not served" in r.getMessage()]
    assert warnings == ["account zk1 (kite) not served: no adapter for broker kite yet"]

    refused = server.openalgo("placeorder", key=setup.keys["kite"], **ORDER)
    answers.append(refused.text)
    assert refused.status_code == 400 and "no active broker account" in refused.text
    for endpoint in ("ping", "funds", "orderbook", "positionbook"):
        answers.append(server.openalgo(endpoint, key=setup.keys["kite"]).text)
        answers.append(server.openalgo(endpoint).text)
    for text in [*answers, *(r.getMessage() for r in records)]:
        assert SECRET not in text and TOKEN not in text


def test_bound_keys_act_on_their_account_unbound_on_the_default(setup: Setup) -> None:
    server = setup.server
    bound = server.openalgo("placeorder", key=setup.keys["paper-1"], **ORDER)
    assert bound.status_code == 200, bound.text
    assert _account_of(server, bound.json()["orderid"]) == setup.accounts["paper-1"]
    unbound = server.openalgo("placeorder", **{**ORDER, "quantity": "2"})
    assert unbound.status_code == 200, unbound.text
    assert _account_of(server, unbound.json()["orderid"]) == setup.accounts["paper-2"]
    assert server.openalgo("ping").json()["data"]["broker"] == "paper"
