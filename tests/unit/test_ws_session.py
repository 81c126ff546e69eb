"""WebSocketSession over an in-memory carrier: only the byte stream is fake; the
session, the frame codec and the timers are the real ones."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from fasthttpd.driver import ClientDisconnected
from fasthttpd.websocket import session as session_module
from fasthttpd.websocket.session import CLOSED, CLOSING, OPEN, WebSocketSession


class Settings:
    def __init__(self, max_queue: int = 32, ping_interval: float = 0.0,
                 ping_timeout: float = 0.0) -> None:
        self.max_size = 1 << 20
        self.max_queue = max_queue
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout


class MemoryCarrier:
    """The byte-stream interface of fasthttpd.websocket.session, recording calls."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.writes = 0
        self.closed = False
        self.aborted = False
        self.reading_paused = False
        self.is_writing_paused = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.written += data
        self.writes += 1

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False

    def frames(self) -> list[tuple[int, bytes]]:
        """The server frames written so far (unmasked), consumed."""
        out = []
        data = bytes(self.written)
        while data:
            n = data[1] & 0x7F
            offset = 2
            if n == 126:
                n, offset = struct.unpack("!H", data[2:4])[0], 4
            elif n == 127:
                n, offset = struct.unpack("!Q", data[2:10])[0], 10
            out.append((data[0] & 0x0F, data[offset:offset + n]))
            data = data[offset + n:]
        self.written.clear()
        return out


def client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
    return bytes([(0x80 if fin else 0) | opcode]) + length + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def make(loop: asyncio.AbstractEventLoop, **settings: Any) -> tuple[WebSocketSession,
                                                                       MemoryCarrier]:
    carrier = MemoryCarrier()
    return WebSocketSession(carrier, loop, Settings(**settings)), carrier  # type: ignore[arg-type]


def test_messages_reach_the_app_in_order(loop: asyncio.AbstractEventLoop) -> None:
    session, _ = make(loop)
    session.data_received(client_frame(1, b"one") + client_frame(2, b"tw", fin=False)
                          + client_frame(0, b"o"))
    first = loop.run_until_complete(session.receive())
    second = loop.run_until_complete(session.receive())
    assert (first.is_text, first.data) == (True, "one")
    assert (second.is_text, second.data) == (False, b"two")
    assert session.messages_in == 2


def test_answers_to_queued_messages_leave_in_one_write(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    session.data_received(b"".join(client_frame(1, b"m%d" % i) for i in range(16)))

    async def echo_all() -> None:
        for _ in range(16):
            message = await session.receive()
            session.send_message(message.data)

    loop.run_until_complete(echo_all())
    assert carrier.writes == 1  # gathered while more messages waited for the app
    assert carrier.frames() == [(1, b"m%d" % i) for i in range(16)]
    session.send_message("alone")  # nothing queued: written at once
    assert carrier.writes == 2


def test_gathered_answers_leave_by_the_next_iteration(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    session.data_received(client_frame(1, b"a") + client_frame(1, b"b"))
    loop.run_until_complete(session.receive())
    session.send_message("reply")  # one message still queued: held for now
    assert carrier.writes == 0
    loop.run_until_complete(asyncio.sleep(0))
    assert carrier.frames() == [(1, b"reply")]
    session.data_received(client_frame(9, b"p"))  # control frames keep the order
    assert carrier.frames() == [(10, b"p")]


def test_ping_gets_a_pong_with_its_payload(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    session.data_received(client_frame(9, b"hi"))
    assert carrier.frames() == [(10, b"hi")]


def test_peer_close_is_echoed_and_ends_the_stream(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    session.data_received(client_frame(8, struct.pack("!H", 4000) + b"bye"))
    assert carrier.frames() == [(8, struct.pack("!H", 4000))]
    assert carrier.closed and session.state == CLOSED
    assert loop.run_until_complete(session.receive()) is None
    assert (session.close_code, session.close_reason) == (4000, "bye")
    with pytest.raises(ClientDisconnected):
        session.send_message("late")


def test_empty_close_is_1005_for_the_app(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    session.data_received(client_frame(8, b""))
    assert carrier.frames() == [(8, b"")]
    assert session.close_code == 1005


def test_protocol_error_closes_with_its_code(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    session.data_received(client_frame(1, b"\xff"))  # not UTF-8
    frames = carrier.frames()
    assert frames[0][0] == 8 and struct.unpack("!H", frames[0][1][:2])[0] == 1007
    assert carrier.closed and session.close_code == 1007
    session.data_received(client_frame(1, b"ignored"))  # nothing more is processed
    assert carrier.frames() == []


def test_reading_pauses_while_the_app_does_not_receive(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop, max_queue=4)
    session.data_received(b"".join(client_frame(1, b"m%d" % i) for i in range(4)))
    assert carrier.reading_paused
    loop.run_until_complete(session.receive())
    assert carrier.reading_paused  # 3 left: above half the queue
    loop.run_until_complete(session.receive())
    assert not carrier.reading_paused


def test_reading_pauses_while_writing_is_paused(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    carrier.is_writing_paused = True
    session.data_received(client_frame(9, b"p"))
    assert carrier.reading_paused  # a peer that pings but does not read costs nothing more
    must_drain = session.send_message(b"x")
    assert must_drain
    drained = loop.create_task(session.drain())
    loop.run_until_complete(asyncio.sleep(0))
    assert not drained.done()
    carrier.is_writing_paused = False
    session.resume_writing()
    loop.run_until_complete(drained)
    assert not carrier.reading_paused


def test_app_close_waits_for_the_peer_close(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    session.data_received(client_frame(1, b"queued"))
    session.close(1000, "done")
    assert session.state == CLOSING and not carrier.closed
    assert carrier.frames() == [(8, struct.pack("!H", 1000) + b"done")]
    session.data_received(client_frame(1, b"after our close"))  # discarded
    session.data_received(client_frame(8, struct.pack("!H", 1000)))
    assert carrier.frames() == []  # not echoed again
    assert carrier.closed and session.state == CLOSED
    assert loop.run_until_complete(session.receive()) is None


def test_closing_handshake_is_bounded(loop: asyncio.AbstractEventLoop,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "CLOSE_TIMEOUT", 0.05)
    session, carrier = make(loop)
    session.close(1000, "")
    loop.run_until_complete(asyncio.sleep(0.15))
    assert carrier.aborted


def test_unanswered_ping_closes_with_1011(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop, ping_interval=0.05, ping_timeout=0.05)
    loop.run_until_complete(asyncio.sleep(0.08))
    (opcode, payload), = carrier.frames()
    assert opcode == 9 and len(payload) == 4
    loop.run_until_complete(asyncio.sleep(0.08))
    frames = carrier.frames()
    assert frames[0][0] == 8 and struct.unpack("!H", frames[0][1][:2])[0] == 1011
    assert carrier.aborted and session.close_code == 1011


def test_answered_pings_keep_the_session_open(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop, ping_interval=0.03, ping_timeout=0.03)
    deadline = loop.time() + 0.3
    pings = 0
    while loop.time() < deadline:
        loop.run_until_complete(asyncio.sleep(0.01))
        for opcode, payload in carrier.frames():
            assert opcode == 9
            pings += 1
            session.data_received(client_frame(10, payload))
    assert pings >= 3 and session.state == OPEN and not carrier.closed


def test_stop_sends_1001_and_tells_the_app(loop: asyncio.AbstractEventLoop) -> None:
    session, carrier = make(loop)
    waiting = loop.create_task(session.receive())
    loop.run_until_complete(asyncio.sleep(0))
    session.stop()
    assert loop.run_until_complete(waiting) is None
    assert session.close_code == 1001
    assert carrier.frames()[0][1][:2] == struct.pack("!H", 1001)
    session.data_received(client_frame(8, struct.pack("!H", 1001)))
    assert carrier.closed


def test_lost_stream_is_1006(loop: asyncio.AbstractEventLoop) -> None:
    session, _ = make(loop)
    waiting = loop.create_task(session.receive())
    loop.run_until_complete(asyncio.sleep(0))
    session.connection_lost(None)
    assert loop.run_until_complete(waiting) is None
    assert session.close_code == 1006
    with pytest.raises(ClientDisconnected):
        session.send_message("x")


def test_worker_metrics_count_websockets_and_messages() -> None:
    from fasthttpd.workers.metrics import PoolMetrics, WorkerMetrics, render_prometheus

    worker = WorkerMetrics()
    pool = PoolMetrics()
    worker.websocket_opened()
    worker.websocket_opened()
    worker.websocket_messages(5, 0)
    worker.websocket_messages(0, 2)
    pool.add(1, worker.take_delta())
    worker.websocket_closed()
    worker.websocket_closed()
    worker.websocket_messages(1, 1)
    pool.add(1, worker.take_delta())
    assert worker.take_delta() == {"conn": 0}  # the gauge went back to 0 and was sent once
    text = render_prometheus(pool, {}, 1, 1)
    assert "fasthttpd_open_websockets 0\n" in text
    assert 'fasthttpd_websocket_messages_total{direction="in"} 6\n' in text
    assert 'fasthttpd_websocket_messages_total{direction="out"} 3\n' in text
    assert pool.open_websockets == 0
