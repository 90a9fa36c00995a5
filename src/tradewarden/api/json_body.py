"""The one JSON decoder for request bodies: nesting depth limited before decoding.

Python's decoder recurses once per level: a body nested a few thousand levels deep raises
``RecursionError`` (a 500), and one nested a few hundred deep decodes into a value that later
work (validation, storing an alert's payload) may choke on. No request of ours nests more than a
handful of levels, so deeper bodies are refused (400) before any decoding. Every reader of a JSON
body uses this module: the OpenAlgo and trades routes (``read_json``), the webhooks, and, for
the bodies FastAPI decodes itself, the app's ASGI entry (``guard_json_body``).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from starlette.types import Message, Receive, Scope

#: Deeper bodies are refused; our deepest (a webhook's legs, a strategy's settings) use 3.
MAX_JSON_DEPTH = 32
#: Bodies FastAPI decodes are refused above this size, before authentication (our largest, a
#: 100-leg basket, is a few tens of KiB; the routes that read their own body have limits of
#: their own).
MAX_JSON_BYTES = 256 * 1024
TOO_DEEP = f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"

#: A JSON string (its brackets do not nest), escapes included; one cut off runs to the end.
_STRING = re.compile(r'"(?:[^"\\]++|\\[\s\S])*+"?')
_NESTING = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonBodyError(ValueError):
    """A body that is not acceptable JSON; ``status`` is 400 (or 413: too large)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class JsonTooDeep(JsonBodyError):
    """Nested deeper than ``MAX_JSON_DEPTH``."""

    def __init__(self) -> None:
        super().__init__(TOO_DEEP)


def text_of(raw: bytes) -> str:
    """The body as text, in the encoding JSON allows (UTF-8, -16 or -32) as ``json`` detects."""
    try:
        return raw.decode(json.detect_encoding(raw), "surrogatepass")
    except (UnicodeDecodeError, LookupError) as exc:
        raise JsonBodyError("malformed JSON: the body is not UTF-8 text") from exc


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` opens more than ``limit`` arrays/objects inside each other (brackets in
    strings do not count). Strings are dropped, then everything but brackets, then the deepest
    running depth is taken: each step runs in C, linear whatever the input."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NESTING.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def decode_json(raw: bytes) -> Any:
    """Decode a request body; ``JsonBodyError`` (400) when it is too deep or not JSON."""
    text = text_of(raw)
    if too_deep(text):
        raise JsonTooDeep
    try:
        return json.loads(text)
    except ValueError as exc:
        raise JsonBodyError(f"malformed JSON: {exc}") from exc


def is_json_request(scope: Scope) -> bool:
    """An HTTP request whose body FastAPI would decode as JSON (by its content type)."""
    if scope["type"] != "http":
        return False
    content_type: bytes = dict(scope["headers"]).get(b"content-type", b"")
    kind = content_type.split(b";")[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json"))


async def guard_json_body(receive: Receive) -> tuple[Receive, JsonBodyError | None]:
    """Read a JSON request's body and check its size and depth before FastAPI decodes it.

    Answers the ``receive`` to hand on (replaying the body that was read) and the error to
    answer instead, if any.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the app see it
            return _replay([message], receive), None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            return receive, JsonBodyError("request body too large", status=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw = b"".join(chunks)
    replayed = _replay([{"type": "http.request", "body": raw, "more_body": False}], receive)
    try:
        text = text_of(raw)
    except JsonBodyError:
        return replayed, None  # not text at all: FastAPI answers it as malformed JSON
    return replayed, JsonTooDeep() if too_deep(text) else None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` first, then what ``receive`` gives."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
