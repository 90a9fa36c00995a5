"""Delivery through apprise, without ever letting a channel URL reach the logs.

apprise's own log lines can carry hosts, tokens and chat ids, so a filter on its logger drops
them all before any handler runs: while a send runs, its lines are kept for that thread only
and reduced to a status code and a ``retry_after``. urllib3's lines (request paths such as
``/bot<token>/sendMessage``) are dropped during sends. ``mask_url`` is the only form of a URL
shown anywhere.

apprise is blocking: sends run on a small thread pool with a timeout.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import apprise
from apprise.plugins.base import NotifyBase
from apprise.plugins.telegram import NotifyTelegram

from tradewarden.notify.events import Severity
from tradewarden.notify.messages import Message

log = logging.getLogger(__name__)

_capture = threading.local()


class _Swallow(logging.Filter):
    """Drops every apprise record before any handler sees it; during a send, keeps its text
    for that send's outcome (this thread only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        lines: list[str] | None = getattr(_capture, "lines", None)
        if lines is not None:
            try:
                lines.append(record.getMessage())
            except Exception:  # a malformed record must not break the send
                lines.append(str(record.msg))
        return False


def _not_during_send(record: logging.LogRecord) -> bool:
    return getattr(_capture, "lines", None) is None


_APPRISE_LOG = logging.getLogger("apprise")
_APPRISE_LOG.addFilter(_Swallow())  # apprise lines may contain hosts, tokens and chat ids
_APPRISE_LOG.setLevel(logging.INFO)  # its debug lines are not even formatted
logging.getLogger("urllib3.connectionpool").addFilter(_not_during_send)

_STATUS = re.compile(r"error=(\d{3})")
_RETRY_AFTER = re.compile(r"retry[ _]after[\"': ]*(\d+(?:\.\d+)?)", re.IGNORECASE)

NOTIFY_TYPES = {Severity.INFO: apprise.NotifyType.INFO,
                Severity.WARNING: apprise.NotifyType.WARNING,
                Severity.ERROR: apprise.NotifyType.FAILURE,
                Severity.CRITICAL: apprise.NotifyType.FAILURE}


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].strip().lower() if "://" in url else ""


def mask_url(url: str) -> str:
    """The only form in which a channel URL is shown: its scheme."""
    scheme = scheme_of(url)
    return f"{scheme}://…" if scheme else "…"


def _instantiate(url: str) -> NotifyBase | None:
    _capture.lines = []  # instantiate logs the bad parts of a URL: keep them out of the logs
    try:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    finally:
        _capture.lines = None
    return plugin if isinstance(plugin, NotifyBase) else None


def validate_url(url: str) -> str | None:
    """Why ``url`` is not a usable apprise URL (never echoing it), or None when it is."""
    if "://" not in url or not scheme_of(url):
        return "not an apprise URL: expected scheme://…, e.g. tgram://BOT_TOKEN/CHAT_ID"
    if _instantiate(url) is None:
        return (f"not a valid apprise URL for {scheme_of(url)}:// (unknown service, or a "
                "token, host or target is missing or malformed)")
    return None


def telegram_chats(url: str) -> list[str]:
    """The chat ids of a ``tgram://`` URL (group chats start with ``-``)."""
    plugin = _instantiate(url) if scheme_of(url) == "tgram" else None
    if not isinstance(plugin, NotifyTelegram):
        return []
    return [str(target[0]) for target in plugin.targets]


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one send. ``error`` is safe to store and show (no URL parts)."""

    ok: bool
    error: str | None = None
    status: int | None = None
    retry_after: float | None = None


def _outcome(ok: bool, lines: list[str]) -> Delivery:
    if ok:
        return Delivery(True)
    text = "\n".join(lines)
    status_match = _STATUS.search(text)
    status = int(status_match.group(1)) if status_match else None
    retry_match = _RETRY_AFTER.search(text)
    retry_after = float(retry_match.group(1)) if retry_match else None
    if status == 429 and retry_after is None:
        retry_after = 1.0
    if status is not None:
        error = f"HTTP {status}" + (f", retry after {retry_after:g} s" if status == 429 else "")
    elif "connection" in text.lower():
        error = "connection failed"
    else:
        error = "delivery failed"
    return Delivery(False, error, status, retry_after)


class ChannelClient:
    """Sends messages to apprise URLs on a thread pool."""

    def __init__(self, telegram_api_url: str | None = None, timeout_s: float = 30.0,
                 workers: int = 4) -> None:
        self.telegram_api_url = telegram_api_url.rstrip("/") if telegram_api_url else None
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify")

    async def send(self, url: str, message: Message, *, silent: bool = False) -> Delivery:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._send_blocking, url, message, silent)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await future
        except TimeoutError:
            return Delivery(False, f"timed out after {self.timeout_s:g} s")

    def _plugin(self, url: str, silent: bool) -> NotifyBase | None:
        plugin = _instantiate(url)
        if plugin is None:
            return None
        plugin.request_rate_per_sec = 0  # our limiter paces sends; no sleeping in apprise
        if isinstance(plugin, NotifyTelegram):
            plugin.silent = silent
            if self.telegram_api_url:  # a self-hosted Bot API server
                plugin.notify_url = f"{self.telegram_api_url}/bot"
        elif silent and hasattr(plugin, "silent"):
            plugin.silent = True
        return plugin

    def _send_blocking(self, url: str, message: Message, silent: bool) -> Delivery:
        plugin = self._plugin(url, silent)
        if plugin is None:
            return Delivery(False, "invalid channel URL")
        title, body = message.title, message.body or message.title
        body_format = apprise.NotifyFormat.TEXT
        if isinstance(plugin, NotifyTelegram):
            # apprise's Telegram text conversion drops anything looking like a tag
            # ("RMS:<Margin> Exceeds"): send HTML escaped here instead.
            title, body = html.escape(title, quote=False), html.escape(body, quote=False)
            body_format = apprise.NotifyFormat.HTML
        lines: list[str] = []
        _capture.lines = lines
        try:
            ok = bool(plugin.notify(body=body, title=title, body_format=body_format,
                                    notify_type=NOTIFY_TYPES[message.severity]))
        except Exception as exc:  # a plugin bug must not take the sender down
            lines.append(f"exception {type(exc).__name__}")
            ok = False
        finally:
            _capture.lines = None
        return _outcome(ok, lines)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
