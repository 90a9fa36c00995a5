"""``tradewarden paper-broker serve`` (placeholder until the simulator lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "paper-broker", help="the simulated broker"
    )
    parser.set_defaults(handler=lambda args: 1)
