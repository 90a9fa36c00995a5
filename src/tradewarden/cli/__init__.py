"""The ``tradewarden`` command line. Each command group lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# Modules that each expose ``register(subparsers)``; order is the order shown in --help.
_COMMAND_MODULES = (
    "tradewarden.cli.run",
    "tradewarden.cli.demo",
    "tradewarden.cli.db",
    "tradewarden.cli.users",
    "tradewarden.cli.orders",
    "tradewarden.cli.calendar",
    "tradewarden.cli.legacy",
    "tradewarden.cli.paper",
    "tradewarden.cli.notify",
)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (exit code 2), pointing at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tradewarden",
        description="Order management and trade monitoring for Indian markets.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return result


class CliError(Exception):
    """A user-facing command failure: printed as ``error: …`` with exit code 2."""
