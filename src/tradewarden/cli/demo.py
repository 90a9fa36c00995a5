"""``tradewarden demo``: ``run`` with a demo strategy, walking paper prices and demo signals."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tradewarden.broker_setup import in_process_paper
from tradewarden.cli.common import add_database_options, settings_from
from tradewarden.cli.run import serve
from tradewarden.demo import DemoDriver


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="run the service with a demo strategy, moving paper prices and signals")
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default 8000)")
    add_database_options(parser)
    parser.add_argument("--seed", type=int, default=None, help="seed of the price walk")
    parser.add_argument("--signal-interval", type=float, default=6.0,
                        help="seconds between demo signals (default 6)")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    if args.data_dir is None and args.database_url is None:
        args.data_dir = Path(".tradewarden-demo")  # keep the demo out of real data
    settings = settings_from(args, host=args.host, port=args.port)
    brokers = in_process_paper(settings)
    assert brokers.simulator is not None
    driver = DemoDriver(brokers.simulator, seed=args.seed,
                        signal_interval_s=args.signal_interval)
    print("Demo: trades open, trail and exit on the dashboard within a minute. "
          f"Open http://{settings.host}:{settings.port}/", flush=True)
    serve(settings, brokers, extras=[driver])
    return 0
