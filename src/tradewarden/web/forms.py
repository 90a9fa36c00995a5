"""Reading HTML form posts: URL-encoded only, size-capped, never a 5xx on garbage."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 200


class FormRejected(Exception):
    """The body is not a form we accept; ``status`` is the HTTP answer (400/413/415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Form:
    """Submitted fields; a repeated name keeps its first value (``getlist`` has all)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for name, value in pairs:
            self._first.setdefault(name, value)

    def get(self, name: str, default: str = "") -> str:
        return self._first.get(name, default).strip()

    def raw(self, name: str) -> str | None:
        """The value exactly as sent (passwords), or None when absent."""
        return self._first.get(name)

    def has(self, name: str) -> bool:
        return name in self._first

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def as_dict(self) -> dict[str, str]:
        return {name: value.strip() for name, value in self._first.items()}


async def read_form(request: Request) -> Form:
    """Parse an ``application/x-www-form-urlencoded`` body of at most ``MAX_FORM_BYTES``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise FormRejected(415, "forms must be sent URL-encoded")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise FormRejected(413, "the form is too large")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise FormRejected(413, "the form is too large")
    try:
        text = bytes(body).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRejected(400, "the form could not be read") from exc
    if any("\x00" in name or "\x00" in value for name, value in pairs):
        raise FormRejected(400, "the form contains a NUL character")
    return Form(pairs)
