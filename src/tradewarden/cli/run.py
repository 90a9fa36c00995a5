"""``tradewarden run``: API, web UI and engine in one process."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

import uvicorn

from tradewarden.api import ws
from tradewarden.api.app import Extra, create_app
from tradewarden.bootstrap import BootstrapError, ensure_first_start
from tradewarden.broker_setup import BrokerSetup, broker_setup
from tradewarden.cli import CliError
from tradewarden.cli.common import (
    SERVICE_ENVIRONMENT,
    add_database_options,
    add_listen_options,
    configure_logging,
    environment_help,
    open_database,
    settings_from,
)
from tradewarden.config import Settings
from tradewarden.logs import install_redaction

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="start the service (API + engine in one process)",
        epilog=environment_help(SERVICE_ENVIRONMENT))
    add_listen_options(parser)
    add_database_options(parser)
    parser.add_argument("--paper-url", default=None,
                        help="use a standalone paper broker at this URL instead of in-process "
                             "(env TRADEWARDEN_PAPER_URL)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    settings = settings_from(args, host=args.host, port=args.port, paper_url=args.paper_url)
    serve(settings)
    return 0


def serve(settings: Settings, brokers: BrokerSetup | None = None,
          extras: Sequence[Extra] = ()) -> None:
    """First-start bootstrap, then the service until Ctrl-C / SIGTERM."""
    configure_logging(settings.log_level)
    install_redaction()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    admin_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    with open_database(settings) as db:
        try:
            created = ensure_first_start(db, admin_key)
        except BootstrapError as exc:
            raise CliError(str(exc)) from exc
    if created is not None:
        print(f"First start: created user '{created.username}' and paper account "
              f"'{created.account}'.", flush=True)
        if created.api_key is not None:
            print("Admin API key (shown once, store it now):", flush=True)
            print(created.api_key, flush=True)
        else:
            print("Admin API key: taken from TRADEWARDEN_ADMIN_API_KEY.", flush=True)
    log.info("listening on http://%s:%s (database %s)", settings.host, settings.port,
             settings.resolved_database_url.split("@")[-1])
    brokers = brokers or broker_setup(settings)
    runners = [brokers.walk] if brokers.walk is not None else []
    uvicorn.run(create_app(settings, brokers, extras=[*runners, *extras]),
                host=settings.host,
                port=settings.port, log_level=settings.log_level.lower(), lifespan="on",
                ws_max_size=ws.MAX_FRAME_BYTES, **proxy_options(settings))


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded-header handling: off unless ``trusted_proxies`` names the proxies
    (uvicorn's own default believes ``X-Forwarded-For`` from any local client)."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}
