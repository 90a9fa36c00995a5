"""``tradewarden paper-broker serve``: the standalone simulated broker (BRIEF §5)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from tradewarden.cli import CliError

# Not the in-process broker's <data-dir>/paper-broker.db: both may run side by side.
DEFAULT_STATE = Path(".tradewarden") / "paper-broker-server.db"
DEFAULT_KITE_STATE = Path(".tradewarden") / "kite-fake.db"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "paper-broker", help="the simulated broker"
    )
    commands = parser.add_subparsers(dest="paper_command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="run the paper broker over HTTP (with control API)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9100, help="listen port (default 9100)")
    serve.add_argument(
        "--state",
        type=Path,
        default=None,
        help=f"SQLite state file (default {DEFAULT_STATE}; {DEFAULT_KITE_STATE} for --dialect "
        "kite)",
    )
    serve.add_argument(
        "--clock",
        choices=("manual", "real", "open"),
        default="real",
        help="manual: session set via /control/clock (starts closed); "
        "real: NSE calendar and IST wall time (default); open: always open",
    )
    serve.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for injected faults (default fixed, reproducible)",
    )
    serve.add_argument(
        "--dialect",
        choices=("paper", "kite"),
        default="paper",
        help="paper: Tradewarden's own broker API (default); kite: a Kite Connect v3 fake "
        "(REST, websocket, /_fake control) that prints a demo api_key, api_secret and "
        "request_token",
    )
    serve.add_argument("--api-key", default=None, help="kite dialect: the demo user's api_key")
    serve.add_argument(
        "--api-secret", default=None, help="kite dialect: the demo user's api_secret"
    )
    serve.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from tradewarden.brokers.paper.faults import DEFAULT_SEED
    from tradewarden.brokers.paper.server import serve
    from tradewarden.brokers.paper.store import StateFileBusy

    if not 0 <= args.port <= 65535:
        raise CliError(f"port {args.port} is out of range")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.dialect == "kite":
            from tradewarden.brokers.kite.fake import serve as serve_kite

            serve_kite(
                host=args.host,
                port=args.port,
                state_path=args.state or DEFAULT_KITE_STATE,
                clock=args.clock,
                seed=DEFAULT_SEED if args.seed is None else args.seed,
                log_level=args.log_level,
                api_key=args.api_key,
                api_secret=args.api_secret,
            )
            return 0
        serve(
            host=args.host,
            port=args.port,
            state_path=args.state or DEFAULT_STATE,
            clock=args.clock,
            seed=DEFAULT_SEED if args.seed is None else args.seed,
            log_level=args.log_level,
        )
    except (OSError, StateFileBusy) as exc:
        raise CliError(f"cannot serve the paper broker: {exc}") from exc
    return 0
