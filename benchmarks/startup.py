"""Startup benchmark (BRIEF §8): 1 000 000 historical + 10 000 open orders → ready.

Prepares, through the real parts:

* the 1 000 000-order history of the ``api`` benchmark (cached in ``.tradewarden-bench/``; its
  orders are all final, or failed / waiting far in the retry queue: nothing at a broker);
* ``--open`` resting orders over ``--accounts`` accounts, recorded by the ledger and placed at
  a paper broker whose state file a standalone ``tradewarden paper-broker serve`` then serves.

Then it starts ``tradewarden run --paper-url`` on a copy of that database ``--runs`` times and
reports ``ready_s``: from the process start to the first ``/healthz`` 200 — which the service
answers only once startup recovery and the first reconciliation of every account are done.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from benchmarks._orders_dataset import SECRET_KEY, cached_database
from tradewarden.brokers.base import OrderRequest
from tradewarden.brokers.instruments import bundled_master
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.orders import (
    Order,
    OrderType,
    Origin,
    Product,
    Side,
    new_client_order_id,
    new_order_id,
)
from tradewarden.engine.ledger import Ledger, utcnow
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Users


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _place_open_orders(db: Database, state: Path, accounts: int, orders: int) -> int:
    """Record ``orders`` resting LIMIT buys (ledger) and place them at the paper broker whose
    state lives in ``state``; returns how many."""
    broker = LocalPaperBroker.open(state, clock="open")
    symbols = [i.symbol for i in bundled_master() if i.exchange == "NSE"][:50]
    broker.exchange.set_prices({i.key: Decimal(1000) for i in bundled_master()
                                if i.exchange == "NSE" and i.symbol in symbols})
    with db.transaction() as session:
        user = Users(session).create("startup-bench")
        ids = [(Accounts(session).add(user, broker="paper", name=f"open-{n:03d}").id,
                f"open-{n:03d}") for n in range(accounts)]
        user_id = user.id
    ledger = Ledger(db)
    placed = 0
    for account_id, name in ids:
        now = utcnow()
        batch = [Order(id=new_order_id(), user_id=user_id, account_id=account_id,
                       client_order_id=new_client_order_id(), exchange="NSE",
                       symbol=symbols[k % len(symbols)], side=Side.BUY, quantity=1,
                       order_type=OrderType.LIMIT, product=Product.MIS,
                       price=Decimal(900) + Decimal(k) / 20, origin=Origin.API,
                       created_at=now, updated_at=now) for k in range(orders // accounts)]
        with db.transaction() as session:
            for applied in ledger.create_many_in_session(session, batch):
                order = applied.order
                broker_id = broker.exchange.place(name, OrderRequest(
                    exchange="NSE", symbol=order.symbol, side=order.side, quantity=1,
                    order_type=order.order_type, product=order.product, price=order.price,
                    tag=order.client_order_id))
                submitted = ledger.apply_in_session(session, order.id,
                                                    OrderEvent(EventType.ORDER_SUBMITTED))
                ledger.apply_in_session(session, order.id, OrderEvent(
                    EventType.ORDER_ACCEPTED, EventSource.BROKER, broker_order_id=broker_id,
                    broker_status="OPEN"), known=submitted.order)
                placed += 1
    return placed


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited with {process.returncode}")
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise RuntimeError("the service did not become ready")


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "ab") as output:
        return subprocess.Popen([sys.executable, "-m", "tradewarden", *args], stdout=output,
                                stderr=subprocess.STDOUT, env={**os.environ, **env})


def main(argv: Sequence[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks startup")
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--open", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(list(argv))
    cached, build_s = cached_database(args.history, args.users)
    with tempfile.TemporaryDirectory(prefix="tw-startup-") as tmp:
        work = Path(tmp)
        prepared = work / "prepared.db"
        shutil.copyfile(cached, prepared)
        state = work / "paper.db"
        began = time.perf_counter()
        db = Database(f"sqlite:///{prepared}")
        try:
            placed = _place_open_orders(db, state, args.accounts, args.open)
        finally:
            db.close()
        setup_s = time.perf_counter() - began
        broker_port = _port()
        broker = _spawn(["paper-broker", "serve", "--port", str(broker_port), "--state",
                         str(state), "--clock", "open"], work / "broker.log", {})
        ready: list[float] = []
        try:
            _wait_ready_broker(f"http://127.0.0.1:{broker_port}")
            for run in range(args.runs):
                database = work / f"run-{run}.db"
                shutil.copyfile(prepared, database)
                port = _port()
                started = time.perf_counter()
                service = _spawn(
                    ["run", "--port", str(port), "--data-dir", str(work / f"data-{run}"),
                     "--database-url", f"sqlite:///{database}",
                     "--paper-url", f"http://127.0.0.1:{broker_port}"],
                    work / f"service-{run}.log",
                    {"TRADEWARDEN_LOG_LEVEL": "WARNING", "TRADEWARDEN_SECRET_KEY": SECRET_KEY})
                try:
                    _wait_ready(f"http://127.0.0.1:{port}", service)
                    ready.append(time.perf_counter() - started)
                finally:
                    service.terminate()
                    service.wait(30)
        finally:
            broker.kill()
            broker.wait()
    return {
        "benchmark": "startup",
        "historical_orders": args.history,
        "open_orders": placed,
        "accounts": args.accounts + args.users,
        "ready_s": round(statistics.median(ready), 2),
        "ready_runs_s": [round(value, 2) for value in ready],
        "setup_s": round(setup_s, 1),
        "dataset_build_s": round(build_s, 1) if build_s is not None else "cached",
        "database": "sqlite (WAL)",
    }


def _wait_ready_broker(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/control/orders", params={"account": "none"},
                         timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the paper broker did not start")
