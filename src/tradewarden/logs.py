"""Log redaction: no API key, token, cookie, password or secret reaches a log, at any level.

``install_redaction()`` wraps the process's log-record factory, so every record — ours, uvicorn's
access and error logs, the ``websockets`` handshake at DEBUG, libraries' — is cleaned where it
is made, before any handler (including ones configured later, such as uvicorn's) formats it.
``redact(text)`` is the one place that knows what a secret looks like.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "[redacted]"
_ACCESS_LOGGER = "uvicorn.access"

#: what makes a name secret, wherever it sits in the name (``refresh_token``, ``jwtToken``,
#: ``api_secret``, ``mpin``, ``X-Api-Key``): the word ends the name or a part of it (``keyboard``
#: and ``mapping`` are not secrets; ``KeyError`` is an exception's name)
_SECRET_WORD = (r"(?i:token|secret|key|passw(?:or)?d|pass(?:phrase)?|pwd|pin|otp|auth|csrf|"
                r"session|cookie|signature|credentials?|sig)s?(?![a-z])(?!Error|Exception|Warning)")
#: a name holding such a word and its value, in every shape a log line gives it: ``k=v`` (query
#: strings, form bodies, ``key=value`` text), ``"k": "v"`` (JSON, with escaped quotes inside the
#: value), ``'k': b'v'`` (reprs), ``k: v``; a quoted value is masked to its closing quote (or the
#: end of the text, if it was cut off). Each name is scanned once: linear whatever the input.
_PARAMS = re.compile(
    rf"(?<![\w.-])((?=[\w.-]*?{_SECRET_WORD})[\w.-]++[\"']?\s*[:=]\s*)(?!{re.escape(MASK)})"
    r"""(?:b?"(?:[^"\\]++|\\[\s\S])*+"?|b?'(?:[^'\\]++|\\[\s\S])*+'?|[^&\s"',;}\]]++)""")
#: header lines (``authorization: …``) and header tuples (``(b'cookie', b'…')``)
_HEADERS = re.compile(
    r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|x-csrf-token|x-signature|"
    r"sec-websocket-protocol)(['\"]?\s*[:,=]\s*(?:b?['\"])?)[^'\"\r\n]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",]+")
_TW_KEY = re.compile(r"\btw_(?!session\b|login_csrf\b)[A-Za-z0-9_-]{16,}")
_WEBHOOK_PATH = re.compile(r"(/webhook/)[^/\s?\"']+")
_TELEGRAM_BOT = re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+")
#: chat webhooks whose URL path is the secret (Discord, Slack), as urllib3 logs them at DEBUG
_HOOK_URL = re.compile(r"(/api/webhooks/|/services/)[^\s\"' ]+")
#: URLs of the usual kinds keep their host and path; their user and password are masked
_URL_PASSWORD = re.compile(r"(://)[^/@\s\"']+@")
#: any other ``scheme://…`` (apprise's ``tgram://BOT_TOKEN/CHAT``, ``pover://USER@TOKEN``,
#: ``discord://ID/TOKEN``, ``mailto://user:pass@host``, …) is a notification URL whose
#: every part may be a secret: all of it after the scheme is masked
_SERVICE_URL = re.compile(
    r"(?i)(?<![\w+.-])(?!(?:https?|wss?|file|sqlite|postgres(?:ql)?|mysql|mariadb|redis)"
    r"(?:\+\w+)?://)([a-z][a-z0-9+.-]*://)[^\s\"'<>]+")

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_SERVICE_URL, rf"\1{MASK}"),
    (_HEADERS, rf"\1\2{MASK}"),
    (_BEARER, rf"\1 {MASK}"),
    (_PARAMS, rf"\1{MASK}"),
    (_WEBHOOK_PATH, rf"\1{MASK}"),
    (_TELEGRAM_BOT, rf"\1{MASK}"),
    (_HOOK_URL, rf"\1{MASK}"),
    (_URL_PASSWORD, rf"\1{MASK}@"),
    (_TW_KEY, f"tw_{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``[redacted]``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("latin-1"))
    return value


def redact_record(record: logging.LogRecord) -> None:
    """Clean a record in place: its arguments one by one, then the whole message when a
    secret spans message and arguments (``"< %s: %s", "x-api-key", key``) — the record then
    carries the cleaned text and no arguments. uvicorn's access records keep their five
    arguments (its formatter unpacks them); each of those is cleaned on its own."""
    if isinstance(record.args, Mapping):
        record.args = {k: _clean(v) for k, v in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_clean(arg) for arg in record.args)
    if record.name != _ACCESS_LOGGER:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: redact the parts, the handler reports it
            message = None
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
        if message is not None:
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_installed: Callable[..., logging.LogRecord] | None = None


def install_redaction() -> None:
    """Clean every log record of this process as it is made (idempotent)."""
    global _installed
    current = logging.getLogRecordFactory()
    if _installed is not None and current is _installed:
        return
    base = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        redact_record(record)
        return record

    _installed = factory
    logging.setLogRecordFactory(factory)
