"""``tradewarden demo``: ``run`` with a demo strategy, walking paper prices and demo signals."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tradewarden.broker_setup import in_process_paper
from tradewarden.brokers.paper.clock import ClockMode
from tradewarden.cli.common import (
    SERVICE_ENVIRONMENT,
    add_database_options,
    add_listen_options,
    environment_help,
    settings_from,
)
from tradewarden.cli.run import serve
from tradewarden.demo import WALK_INTERVAL_S, WALK_VOLATILITY, DemoDriver

DEMO_DATA_DIR = Path(".tradewarden-demo")

def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="run the service with a demo strategy, moving paper prices and signals",
        epilog=environment_help([s for s in SERVICE_ENVIRONMENT
                                 if s not in ("data_dir", "database_url", "paper_url",
                                              "paper_clock")]))
    add_listen_options(parser)
    add_database_options(
        parser, data_dir_help=f"state directory (default ./{DEMO_DATA_DIR}; the demo never "
        "uses TRADEWARDEN_DATA_DIR or TRADEWARDEN_DATABASE_URL, so it keeps out of real data)",
        database_url_help="SQLAlchemy URL (default sqlite in the data dir)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the price walk")
    parser.add_argument("--signal-interval", type=float, default=6.0,
                        help="seconds between demo signals (default 6)")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    if args.data_dir is None:
        args.data_dir = DEMO_DATA_DIR
    settings = settings_from(args, host=args.host, port=args.port)
    if args.database_url is None:  # not the environment's database: keep out of real data
        settings = settings.model_copy(update={"database_url": None})
    brokers = in_process_paper(settings, ClockMode.OPEN, seed=args.seed,
                               walk_interval_s=WALK_INTERVAL_S, volatility=WALK_VOLATILITY)
    assert brokers.walk is not None
    driver = DemoDriver(brokers.walk, seed=args.seed, signal_interval_s=args.signal_interval)
    print("Demo: trades open, trail and exit on the dashboard within a minute. "
          f"Open http://{settings.host}:{settings.port}/", flush=True)
    serve(settings, brokers, extras=[driver])
    return 0
