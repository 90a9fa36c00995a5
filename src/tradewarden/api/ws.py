"""``WS /api/v1/ws``: the caller's live ``order`` (later ``trade``, ``tick``, ``notification``)
messages as JSON text frames ``{"type": …, "data": …}``.

Authenticated by the dashboard's session cookie (same-origin pages only) or an API key
(``?apikey=``, ``X-API-Key`` or ``Authorization: Bearer``). The first frame is
``{"type": "hello", "data": {"user": …, "channels": […]}}``. A client that falls too far behind
is closed with code 4008; it should reconnect and re-read what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from tradewarden.api.auth import AuthError, key_from_headers
from tradewarden.services import Services
from tradewarden.web import csrf
from tradewarden.web.live import CHANNELS, LiveClient
from tradewarden.web.sessions import SESSION_COOKIE

router = APIRouter()
log = logging.getLogger(__name__)

LAGGING_CLOSE_CODE = 4008
POLICY_CLOSE_CODE = 1008
SEND_CLOSE_TIMEOUT_S = 1.0


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


async def _caller(websocket: WebSocket, services: Services) -> tuple[int, str] | None:
    """(user id, username) of the connecting client, or None."""
    key = websocket.query_params.get("apikey") or key_from_headers(websocket)  # type: ignore[arg-type]
    client = websocket.client.host if websocket.client else "unknown"
    if key:
        try:
            caller = await services.auth.authenticate(key, client)
        except AuthError:
            return None
        return caller.user_id, caller.username
    token = websocket.cookies.get(SESSION_COOKIE)
    if token is None or not csrf.same_origin(websocket):  # no cross-site socket hijacking
        return None
    session = await services.web_sessions.lookup(token)
    return (session.user_id, session.username) if session is not None else None


@router.websocket("/api/v1/ws")
async def live(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    who = await _caller(websocket, services)
    if who is None:
        await websocket.close(code=POLICY_CLOSE_CODE)  # before accept: answered 403
        return
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
