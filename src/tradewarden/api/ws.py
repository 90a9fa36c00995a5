"""``WS /api/v1/ws``: the caller's live ``order`` (later ``trade``, ``tick``, ``notification``)
messages as JSON text frames ``{"type": …, "data": …}``.

Authenticated by the dashboard's session cookie (same-origin pages only), an API key in the
handshake (``X-API-Key`` or ``Authorization: Bearer``; ``?apikey=`` still works but puts the key
in URLs, which proxies log), or — with no credentials in the handshake — an API key in the
client's first message, ``{"type": "auth", "apikey": "…"}``, sent within ``AUTH_TIMEOUT_S``.
Credentials in the handshake that are wrong are refused there (HTTP 403); a wrong or missing
first message closes the socket with code 1008. Sockets waiting for their first message are
capped (``MAX_WAITING``, ``MAX_WAITING_PER_ADDRESS``: more are closed with 1013, try again
later), and an address past the API's failure limit is refused at the handshake (HTTP 429)
unless its handshake carries a valid key. The server takes frames of at most
``MAX_FRAME_BYTES`` (``cli/run.py``); clients send only the auth message. The first frame sent is
``{"type": "hello", "data": {"user": …, "channels": […]}}``. A client that falls too far behind
is closed with code 4008; it should reconnect and re-read what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from tradewarden.api.auth import AuthError, client_address, key_from_headers
from tradewarden.api.deps import auth_error_response
from tradewarden.services import Services
from tradewarden.web import csrf
from tradewarden.web.live import CHANNELS, LiveClient
from tradewarden.web.sessions import SESSION_COOKIE

router = APIRouter()
log = logging.getLogger(__name__)

LAGGING_CLOSE_CODE = 4008
POLICY_CLOSE_CODE = 1008
TRY_AGAIN_CLOSE_CODE = 1013
SEND_CLOSE_TIMEOUT_S = 1.0
AUTH_TIMEOUT_S = 5.0
MAX_AUTH_MESSAGE = 4096
#: the largest frame the server reads (uvicorn's ``ws_max_size``); larger ones close with 1009
MAX_FRAME_BYTES = 64 * 1024
#: sockets accepted and waiting for their first (auth) message, in all and per address
MAX_WAITING = 64
MAX_WAITING_PER_ADDRESS = 8


class _Waiting:
    """The sockets of one app waiting for their first message, in all and per address."""

    def __init__(self) -> None:
        self.total = 0
        self.by_address: Counter[str] = Counter()

    def admit(self, address: str) -> bool:
        if self.total >= MAX_WAITING or self.by_address[address] >= MAX_WAITING_PER_ADDRESS:
            return False
        self.total += 1
        self.by_address[address] += 1
        return True

    def leave(self, address: str) -> None:
        self.total -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


def _waiting(websocket: WebSocket) -> _Waiting:
    state = websocket.app.state
    waiting: _Waiting | None = getattr(state, "ws_waiting", None)
    if waiting is None:
        waiting = state.ws_waiting = _Waiting()
    return waiting


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


async def _handshake_caller(websocket: WebSocket,
                            services: Services) -> tuple[int, str] | Literal["ask"] | None:
    """(user id, username) from the handshake's credentials, None when they are wrong, or
    ``"ask"`` when there are none (the key is expected in the first message)."""
    key = websocket.query_params.get("apikey") or key_from_headers(websocket)
    if key:
        return await _key_caller(services, key, client_address(websocket))
    token = websocket.cookies.get(SESSION_COOKIE)
    if token is None:
        return "ask"
    if not csrf.same_origin(websocket):  # no cross-site socket hijacking
        return None
    session = await services.web_sessions.lookup(token)
    return (session.user_id, session.username) if session is not None else None


async def _key_caller(services: Services, key: str | None,
                      client: str) -> tuple[int, str] | None:
    try:
        caller = await services.auth.authenticate(key, client)
    except AuthError:
        return None
    return caller.user_id, caller.username


async def _first_message_key(websocket: WebSocket) -> str | None:
    """The key of ``{"type": "auth", "apikey": …}``, the first frame after accept, or None."""
    try:
        message = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
    except TimeoutError:
        return None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text")
    if not isinstance(raw, str) or len(raw) > MAX_AUTH_MESSAGE:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != "auth":
        return None
    key = body.get("apikey")
    return key if isinstance(key, str) and key else None


@router.websocket("/api/v1/ws")
async def live(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    who = await _handshake_caller(websocket, services)
    if who is None:
        await websocket.close(code=POLICY_CLOSE_CODE)  # before accept: answered 403
        return
    if who == "ask":
        who = await _first_message_caller(websocket, services)
        if who is None:
            return
    else:
        await websocket.accept()
    client = services.live.connect(who[0])
    try:
        await websocket.send_text(json.dumps(
            {"type": "hello", "data": {"user": who[1], "channels": list(CHANNELS)}}))
        await _serve(websocket, client)
    except WebSocketDisconnect:
        pass
    finally:
        services.live.disconnect(client)


async def _first_message_caller(websocket: WebSocket,
                                services: Services) -> tuple[int, str] | None:
    """Accept a socket without credentials and authenticate its first message; None when the
    socket was refused or closed (an address past the failure limit is refused before accept,
    one with too many sockets waiting is closed with 1013)."""
    address = client_address(websocket)
    if services.auth.limiter.blocked(address):
        refusal = auth_error_response(
            AuthError(429, "too many failed authentication attempts; try again later"))
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(refusal)
        else:
            await websocket.close(code=POLICY_CLOSE_CODE)  # before accept: answered 403
        return None
    waiting = _waiting(websocket)
    if not waiting.admit(address):
        await websocket.accept()
        with contextlib.suppress(Exception):
            await websocket.close(code=TRY_AGAIN_CLOSE_CODE,
                                  reason="too many connections awaiting authentication")
        return None
    try:
        await websocket.accept()
        key = await _first_message_key(websocket)
    except WebSocketDisconnect:
        return None
    finally:
        waiting.leave(address)
    who = await _key_caller(services, key, address)
    if who is None:
        with contextlib.suppress(Exception):
            await websocket.close(code=POLICY_CLOSE_CODE, reason="authentication failed")
    return who


async def _serve(websocket: WebSocket, client: LiveClient) -> None:
    """Send until the client leaves or lags; incoming frames are read and ignored."""
    sender = asyncio.create_task(_send(websocket, client))
    receiver = asyncio.create_task(_receive(websocket))
    lagging = asyncio.create_task(client.lagging.wait())
    tasks = {sender, receiver, lagging}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if client.lagging.is_set():
        log.info("live client of user %s dropped: too far behind", client.user_id)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code=LAGGING_CLOSE_CODE,
                                                   reason="lagging; reconnect"),
                                   SEND_CLOSE_TIMEOUT_S)


async def _send(websocket: WebSocket, client: LiveClient) -> None:
    while True:
        for message in await client.next_batch():
            await websocket.send_text(json.dumps(message, default=_json_default))


async def _receive(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
