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
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._orders_dataset import SECRET_KEY, cached_database
from benchmarks._procs import free_port, spawn, wait_ok
from benchmarks.reconcile import place_resting_orders
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.store.db import Database


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
        broker = LocalPaperBroker.open(state, clock="open")
        try:
            placed = len(place_resting_orders(db, broker, args.accounts, args.open,
                                              name="open"))
        finally:
            db.close()
            broker.exchange.close()  # its state file is served by the standalone broker below
        setup_s = time.perf_counter() - began
        broker_port = free_port()
        server = spawn(["paper-broker", "serve", "--port", str(broker_port), "--state",
                        str(state), "--clock", "open"], work / "broker.log")
        ready: list[float] = []
        try:
            wait_ok(f"http://127.0.0.1:{broker_port}/control/orders?account=none", server)
            for run in range(args.runs):
                database = work / f"run-{run}.db"
                shutil.copyfile(prepared, database)
                port = free_port()
                started = time.perf_counter()
                service = spawn(
                    ["run", "--port", str(port), "--data-dir", str(work / f"data-{run}"),
                     "--database-url", f"sqlite:///{database}",
                     "--paper-url", f"http://127.0.0.1:{broker_port}"],
                    work / f"service-{run}.log",
                    {"TRADEWARDEN_LOG_LEVEL": "WARNING", "TRADEWARDEN_SECRET_KEY": SECRET_KEY})
                try:
                    wait_ok(f"http://127.0.0.1:{port}/healthz", service, timeout=120)
                    ready.append(time.perf_counter() - started)
                finally:
                    service.terminate()
                    service.wait(30)
        finally:
            server.kill()
            server.wait()
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
