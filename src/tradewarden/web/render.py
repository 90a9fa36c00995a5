"""Jinja2 rendering of dashboard pages, with the security headers every page carries."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tradewarden import __version__
from tradewarden.web import formatting, trade_views

STATIC_DIR = Path(__file__).with_name("static")

#: Pages are private and dynamic: never cached, never framed, scripts and styles only ours.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

#: Navigation: (key, label, path or None while the page does not exist yet).
NAV: tuple[tuple[str, str, str | None], ...] = (
    ("overview", "Overview", "/"),
    ("orders", "Orders", "/orders"),
    ("trades", "Trades", "/trades"),
    ("strategies", "Strategies", "/strategies"),
    ("notifications", "Notifications", "/notifications"),
    ("settings", "Settings", "/settings"),
)

#: What ``?done=…`` after a redirect tells the user.
NOTICES = {
    "retry": "Order queued for an immediate retry.",
    "drop": "Order dropped from the retry queue.",
    "cancel": "Cancel requested; the broker's answer appears here when it comes.",
    "created": "Strategy created. Its webhook URL, secret and example alerts are below.",
    "saved": "Strategy saved.",
    "paused": "Strategy paused: its new entries are denied until you resume it.",
    "resumed": "Strategy resumed.",
    "rotated": "Webhook secret rotated: update your alerts with the new secret.",
    "deleted": "Strategy deleted.",
    "revoked": "API key revoked.",
    "account_added": "Paper account added; it is monitored from the next cycle.",
    "kill_switch_on": "Kill switch ON: new entries on that account are denied.",
    "kill_switch_off": "Kill switch off: entries are allowed again.",
    "levels_saved": "Levels saved; the trade is watched with them from now on.",
    "levels_unchanged": "Nothing changed: the levels are as they were.",
    "exit_requested": "Exit order placed; the trade closes when it fills.",
    "channel_added": "Channel added. Press Test to check that messages arrive.",
    "channel_removed": "Channel removed.",
    "preferences_saved": "Preferences saved.",
    "quiet_saved": "Quiet hours saved.",
    "quiet_off": "Quiet hours off.",
    "resent": "Notification queued to be sent again.",
}


@cache
def _asset_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def static_url(name: str) -> str:
    return f"/static/{name}?v={_asset_version()}"


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("tradewarden.web", "templates"),
                      autoescape=select_autoescape(["html", "svg"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(inr=formatting.inr, signed_inr=formatting.signed_inr,
                       num=formatting.number, pnl_class=formatting.pnl_class,
                       ist_time=formatting.ist_time, ist_datetime=formatting.ist_datetime,
                       ist_short=formatting.ist_short, label=formatting.label)
    env.globals.update(static_url=static_url, nav=NAV, notices=NOTICES,
                       exit_of=trade_views.exit_of)
    return env


def render_text(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def page(request: Request, template: str, *, status: int = 200, active: str = "",
         headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render ``template`` for the signed-in user (or the sign-in page)."""
    session = getattr(request.state, "web_session", None)
    html = render_text(template, request=request, session=session, active=active,
                       csrf_token=session.csrf_token if session else "", **context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
