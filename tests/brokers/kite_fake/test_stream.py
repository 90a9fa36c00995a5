"""The Kite fake's websocket: binary ticks decoded from Kite's documented packet layout, JSON
order updates, heartbeats, a refused handshake and a stall."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from kiteconnect import KiteConnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.brokers.kite_fake.conftest import API_KEY, USER, FakeServer


def _frames(message: bytes) -> list[bytes]:
    """Split a binary message: uint16 packet count, then uint16 length + packet each."""
    (count,) = struct.unpack(">H", message[:2])
    packets, at = [], 2
    for _ in range(count):
        (length,) = struct.unpack(">H", message[at : at + 2])
        packets.append(message[at + 2 : at + 2 + length])
        at += 2 + length
    return packets


def _decode(packet: bytes) -> dict[str, Any]:
    """ltp (8 bytes), quote (44) or full (184); prices in paise for NSE."""
    token, ltp = struct.unpack(">II", packet[:8])
    tick: dict[str, Any] = {"token": token, "last_price": ltp / 100, "length": len(packet)}
    if len(packet) >= 44:
        fields = struct.unpack(">11I", packet[:44])
        tick["volume"] = fields[4]
        tick["ohlc"] = tuple(v / 100 for v in fields[7:11])
    if len(packet) == 184:
        tick["exchange_timestamp"] = struct.unpack(">I", packet[60:64])[0]
        tick["depth"] = [struct.unpack(">IIH", packet[p : p + 10]) for p in range(64, 184, 12)]
    return tick


def _socket(fake: FakeServer, kite: KiteConnect) -> ClientConnection:
    ws_url = fake.url.replace("http://", "ws://")
    return connect(f"{ws_url}/?api_key={API_KEY}&access_token={kite.access_token}")


def _next(ws: ClientConnection, want: type) -> Any:
    """The next message of type ``want`` (bytes: ticks, not heartbeats; str: JSON)."""
    while True:
        message = ws.recv(timeout=5)
        if isinstance(message, bytes) and len(message) == 1:
            continue  # heartbeat
        if isinstance(message, want):
            return message


def test_ticks_in_each_mode(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:INFY": 1500.25}})
    token = kite.ltp("NSE:INFY")["NSE:INFY"]["instrument_token"]
    with _socket(fake, kite) as ws:
        ws.send(json.dumps({"a": "subscribe", "v": [token]}))
        (snapshot,) = [_decode(p) for p in _frames(_next(ws, bytes))]
        assert snapshot["token"] == token and snapshot["length"] == 44  # quote mode by default
        assert snapshot["last_price"] == 1500.25
        ws.send(json.dumps({"a": "mode", "v": ["full", [token]]}))
        full = _decode(_frames(_next(ws, bytes))[0])
        assert full["length"] == 184 and len(full["depth"]) == 10
        fake.control("prices", {"prices": {"NSE:INFY": 1510.5}, "volume": 700})
        tick = _decode(_frames(_next(ws, bytes))[0])
        assert (tick["last_price"], tick["volume"]) == (1510.5, 700)
        assert tick["ohlc"] == (1500.25, 1510.5, 1500.25, 1500.25)  # open, high, low, close
        ws.send(json.dumps({"a": "mode", "v": ["ltp", [token]]}))
        assert _decode(_frames(_next(ws, bytes))[0])["length"] == 8


def test_order_updates_for_every_status_change(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:SBIN": 800}})
    with _socket(fake, kite) as ws:
        order_id = kite.place_order(
            variety="regular",
            exchange="NSE",
            tradingsymbol="SBIN",
            transaction_type="BUY",
            quantity=2,
            product="MIS",
            order_type="MARKET",
            market_protection=-1,
            tag="TWSTREAM1",
        )
        seen = []
        while not seen or seen[-1]["status"] != "COMPLETE":
            message = json.loads(_next(ws, str))
            assert message["type"] == "order"
            seen.append(message["data"])
    assert {d["order_id"] for d in seen} == {order_id}
    assert seen[0]["status"] == "PUT ORDER REQ RECEIVED"
    last = seen[-1]
    assert (last["user_id"], last["tag"], last["filled_quantity"]) == (USER, "TWSTREAM1", 2)
    assert last["unfilled_quantity"] == 0 and len(last["checksum"]) == 64


def test_heartbeat_when_idle_and_nothing_while_stalled(fake: FakeServer, kite: KiteConnect) -> None:
    with _socket(fake, kite) as ws:
        assert ws.recv(timeout=5) == b"\x00"
        fake.control("stream/stall", {"user_id": USER, "stalled": True})
        with pytest.raises(TimeoutError):  # at most a heartbeat already on its way, then none
            for _ in range(2):
                ws.recv(timeout=2.5)
        fake.control("stream/stall", {"user_id": USER, "stalled": False})
        assert ws.recv(timeout=5) == b"\x00"


def test_a_bad_access_token_is_refused_at_the_handshake(fake: FakeServer) -> None:
    ws_url = fake.url.replace("http://", "ws://")
    with pytest.raises(InvalidStatus) as caught:
        connect(f"{ws_url}/?api_key={API_KEY}&access_token=wrong")
    assert caught.value.response.status_code == 403
