"""WebSocketSession: RFC 6455 after the handshake, over any byte stream.

Theory of operation. A session starts once the app has accepted the handshake.
Received bytes go through the sans-IO frame parser (fasthttpd.websocket.codec);
its events are handled in one pass: messages are queued for the app, pings
answered, a Close echoed (RFC 6455 5.5.1) and the stream ended, a protocol error
answered with a Close carrying its code, then the stream ended (7.1.7). The app
reads with `receive()` and writes with `send_message()` / `close()` (the ASGI
translation lives in fasthttpd.websocket.asgi).

The byte stream ("carrier") is a small interface that HTTP/1.1 (the connection,
after the 101) and an HTTP/2 stream (RFC 8441, fasthttpd.websocket.http2) both
provide, and that a stream of the compiled HTTP/2 driver is to provide too:

    carrier.write(data: bytes) -> None   # queue bytes for the peer
    carrier.close() -> None              # end after the queued bytes (FIN / END_STREAM)
    carrier.abort() -> None              # end at once (RST / RST_STREAM)
    carrier.pause_reading() -> None      # stop calling session.data_received
    carrier.resume_reading() -> None
    carrier.is_writing_paused: bool      # the peer is not taking bytes fast enough

and it calls the session back:

    session.data_received(data)          # bytes from the peer, in order
    session.connection_lost(exc)         # the stream is gone (either side)
    session.pause_writing()              # optional: is_writing_paused became true
    session.resume_writing()             # is_writing_paused became false again (a
                                         # carrier must call it then: the app and
                                         # the reading may wait for it)
    session.stop()                       # server shutdown: close with 1001

Over HTTP/1.1 the session *is* the connection's driver (the hand-off goes through
`switch_driver`), so it also has `setup` and `pending_request_count`; then the
carrier is the connection's writer.

States (`state`):

    OPEN ----app close / stop-------------------> CLOSING (our Close sent)
    OPEN ----peer Close / protocol error--------> CLOSED  (Close sent, stream ended)
    OPEN ----ping timeout-----------------------> CLOSED  (Close 1011 sent, stream cut)
    CLOSING --peer Close / close timeout--------> CLOSED
    any  -----stream lost-----------------------> CLOSED

Bounded memory: reading pauses while `max_queue` messages wait for the app, and
while the carrier's writes are paused (so a peer that pings without reading
cannot grow our output); a message is at most `max_size` (the parser checks
frame headers before payloads). Each wait is bounded: the closing handshake by
CLOSE_TIMEOUT, a ping by `ping_timeout`.

One timer per session serves the keepalive and the closing handshake.

Writes: a message the app sends while more received messages wait for it is
gathered with the answers that follow, and they leave in one write once the app
has none left to receive (or at the next loop iteration, or past GATHER_LIMIT):
an echo of sixteen pipelined messages is one write, not sixteen.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import Any

from fasthttpd.driver import ClientDisconnected, HttpDriver
from fasthttpd.websocket import codec

logger = logging.getLogger("fasthttpd.error")

OPEN = 1
CLOSING = 2  # our Close is sent; waiting for the peer's
CLOSED = 3

# Seconds the peer gets to answer our Close before the stream is cut (the
# `websockets` library's default close_timeout).
CLOSE_TIMEOUT = 10.0

# take(): nothing to receive yet.
EMPTY = object()

# Gathered output is written at once beyond this size.
GATHER_LIMIT = 64 * 1024

# Reasons reading is paused (a bit mask).
_PAUSED_QUEUE = 1
_PAUSED_WRITE = 2

# RFC 6455 7.4.1 codes the session reports to the app.
NORMAL = 1000
GOING_AWAY = 1001
NO_STATUS = 1005  # the peer's Close had no code (never sent on the wire)
ABNORMAL = 1006  # the stream ended without a Close (never sent on the wire)
INTERNAL_ERROR = 1011  # also the keepalive timeout, as the `websockets` library does

Message = codec.Message
Ping = codec.Ping
Pong = codec.Pong
Close = codec.Close
_encode_frame = codec.encode_frame
_encode_close = codec.encode_close
_OP_TEXT = codec.OP_TEXT
_OP_BINARY = codec.OP_BINARY
_OP_PONG = codec.OP_PONG
_OP_PING = codec.OP_PING
_EMPTY_CLOSE = codec.encode_frame(codec.OP_CLOSE, b"")


class SessionSettings:
    """The --ws-* settings a session needs, read once per server."""

    __slots__ = ("max_size", "max_queue", "ping_interval", "ping_timeout")

    def __init__(self, config: Any) -> None:
        self.max_size: int = config.ws_max_size
        self.max_queue: int = config.ws_max_queue
        self.ping_interval: float = config.ws_ping_interval or 0.0  # None: no pings
        self.ping_timeout: float = config.ws_ping_timeout or 0.0


class WebSocketSession:
    """One WebSocket connection after the handshake; see the module docstring."""

    __slots__ = (
        "carrier", "loop", "settings", "parser", "deflate", "peer", "state", "queue",
        "receiver", "drainers", "paused_for", "timer", "ping_payload", "close_code",
        "close_reason", "bytes_received", "bytes_sent", "messages_in", "messages_out",
        "observer", "on_closed", "out", "out_size", "flush_scheduled",
    )

    def __init__(self, carrier: Any, loop: asyncio.AbstractEventLoop,
                 settings: SessionSettings, deflate: Any = None, peer: Any = None,
                 observer: Any = None) -> None:
        self.carrier = carrier
        self.loop = loop
        self.settings = settings
        self.deflate = deflate
        self.parser = codec.FrameParser(settings.max_size, deflate)
        self.peer = peer  # for log lines
        self.state = OPEN
        self.queue: deque[Any] = deque()  # Messages the app has not received yet
        self.receiver: asyncio.Future[None] | None = None  # the app waiting in receive()
        self.drainers: list[asyncio.Future[None]] = []  # the app waiting in drain()
        self.paused_for = 0
        self.timer: asyncio.TimerHandle | None = None
        self.ping_payload: bytes | None = None  # our ping awaiting its pong
        # What the app is told in websocket.disconnect; None while the session is open.
        self.close_code: int | None = None
        self.close_reason = ""
        self.bytes_received = 0
        self.bytes_sent = 0
        self.messages_in = 0
        self.messages_out = 0
        self.observer = observer
        self.on_closed: Any = None  # called once the stream is gone
        # Frames the app sent while more messages waited for it, gathered for one write.
        self.out: list[bytes] | None = None
        self.out_size = 0
        self.flush_scheduled = False
        if settings.ping_interval > 0:
            self._arm(settings.ping_interval)

    # The HttpDriver side, when the session is the connection's driver (HTTP/1.1).
    def setup(self, client: Any, on_message: Any, writer: Any) -> None:
        # The connection's narrow writer (fasthttpd.connection.Writer) is the carrier.
        if self.carrier is None:
            self.carrier = writer
        # The HTTP/1.1 driver stopped reading while the app decided on the handshake.
        self.carrier.resume_reading()

    @property
    def pending_request_count(self) -> int:
        return 0

    # Called by the carrier.
    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        if self.state == CLOSED:
            return
        events: list[Any] = self.parser.feed(data)  # codec events: see fasthttpd/websocket/codec
        queued = 0
        for event in events:
            kind = type(event)
            if kind is Message:
                if self.state == OPEN:  # after our Close, data is discarded (RFC 6455 1.4)
                    self.queue.append(event)
                    queued += 1
            elif kind is Ping:
                if self.state == OPEN:
                    self._write(_encode_frame(_OP_PONG, event.data))
            elif kind is Pong:
                if event.data == self.ping_payload:
                    self.ping_payload = None
            elif kind is Close:
                self._close_received(event)
                break
            else:  # ProtocolError: fail the connection (RFC 6455 7.1.7)
                self._fail(event.code, event.reason)
                break
        if queued:
            self.messages_in += queued
            if self.observer is not None:
                self.observer.websocket_messages(queued, 0)
            if len(self.queue) >= self.settings.max_queue:
                self._pause(_PAUSED_QUEUE)
            self._wake_receiver()
        if self.state != CLOSED and self.carrier.is_writing_paused:
            self._pause(_PAUSED_WRITE)

    def connection_lost(self, exc: BaseException | None = None) -> None:
        if self.state != CLOSED:
            self.state = CLOSED
        self._cancel_timer()
        self._set_closed(ABNORMAL, "")
        for waiter in self.drainers:
            if not waiter.done():
                waiter.set_result(None)
        self.drainers.clear()
        on_closed, self.on_closed = self.on_closed, None
        if on_closed is not None:
            on_closed()

    def pause_writing(self) -> None:
        self._pause(_PAUSED_WRITE)

    def resume_writing(self) -> None:
        if self.carrier.is_writing_paused:
            return
        self._resume(_PAUSED_WRITE)
        drainers, self.drainers = self.drainers, []
        for waiter in drainers:
            if not waiter.done():
                waiter.set_result(None)

    def stop(self) -> None:
        """Server shutdown: Close 1001 (going away); the app is told at once."""
        if self.state == OPEN:
            self._send_close(GOING_AWAY, "server shutting down")
            self._set_closed(GOING_AWAY, "server shutting down")

    # Called by the app's side.
    async def receive(self) -> Any:
        """The next Message, or None once the session is closed (see close_code)."""
        while True:
            message = self.take()
            if message is not EMPTY:
                return message
            await self.wait()

    def take(self) -> Any:
        """The next Message, None once closed, or EMPTY: then await `wait()`.
        (The ASGI cycle calls these two instead of `receive()`: one coroutine less
        per message.)"""
        queue = self.queue
        if queue:
            message = queue.popleft()
            if self.paused_for & _PAUSED_QUEUE and len(queue) <= self.settings.max_queue // 2:
                self._resume(_PAUSED_QUEUE)
            return message
        if self.close_code is not None:
            return None
        return EMPTY

    def wait(self) -> asyncio.Future[None]:
        """A future done when `take()` has something new."""
        if self.out is not None:  # the app is about to wait: what it sent leaves now
            self._flush()
        waiter = self.receiver = self.loop.create_future()
        return waiter

    def send_message(self, data: str | bytes) -> bool:
        """Write one message; True means: await drain() before sending more."""
        if self.state != OPEN:
            raise ClientDisconnected("the WebSocket is closed")
        if isinstance(data, str):
            frame = _encode_frame(_OP_TEXT, data.encode("utf-8"), self.deflate)
        else:
            frame = _encode_frame(_OP_BINARY, data, self.deflate)
        self.bytes_sent += len(frame)
        self.messages_out += 1
        if self.observer is not None:
            self.observer.websocket_messages(0, 1)
        carrier = self.carrier
        out = self.out
        if out is None:
            if not self.queue:
                carrier.write(frame)
                return bool(carrier.is_writing_paused)
            # More messages wait for the app, whose answers are likely to follow: they
            # leave together when it has none left to receive (or next iteration).
            self.out = [frame]
            self.out_size = len(frame)
            if not self.flush_scheduled:
                self.flush_scheduled = True
                self.loop.call_soon(self._scheduled_flush)
            return False
        out.append(frame)
        self.out_size += len(frame)
        if self.queue and self.out_size < GATHER_LIMIT:
            return False
        self._flush()
        return bool(carrier.is_writing_paused)

    async def drain(self) -> None:
        """Wait while the carrier is above its high-water mark."""
        while self.carrier.is_writing_paused and self.state != CLOSED:
            waiter = self.loop.create_future()
            self.drainers.append(waiter)
            await waiter
        if self.state == CLOSED and self.close_code is not None and self.close_code == ABNORMAL:
            raise ClientDisconnected("the WebSocket connection was lost")

    def close(self, code: int, reason: str) -> None:
        """The app closes: send Close and wait (bounded) for the peer's."""
        if self.state != OPEN:
            raise ClientDisconnected("the WebSocket is closed")
        self.queue.clear()
        self._send_close(code, reason)

    def fail(self, code: int, reason: str) -> None:
        """Close without waiting for the peer (the app failed, or is cancelled)."""
        if self.state == OPEN:
            self._write(_encode_close(code, reason))
            self._set_closed(code, reason)
            self._end()

    # Internals.
    def _write(self, data: bytes) -> None:
        if self.out is not None:  # in order, after the gathered messages
            self._flush()
        self.bytes_sent += len(data)
        self.carrier.write(data)

    def _flush(self) -> None:
        out = self.out
        self.out = None
        if out and self.state != CLOSED:
            self.carrier.write(out[0] if len(out) == 1 else b"".join(out))

    def _scheduled_flush(self) -> None:
        self.flush_scheduled = False
        if self.out is not None:
            self._flush()

    def _send_close(self, code: int, reason: str) -> None:
        self._write(_encode_close(code, reason))
        self.state = CLOSING
        self._cancel_timer()
        self._arm(CLOSE_TIMEOUT)
        # Data after our Close is discarded; read on, to see the peer's Close.
        if self.paused_for & _PAUSED_QUEUE:
            self._resume(_PAUSED_QUEUE)

    def _close_received(self, event: Any) -> None:
        code = event.code
        if self.state == OPEN:
            # RFC 6455 5.5.1: answer with a Close, echoing the status code.
            self._write(_EMPTY_CLOSE if code is None else _encode_close(code))
        self._set_closed(NO_STATUS if code is None else code, event.reason)
        self._end()

    def _fail(self, code: int, reason: str) -> None:
        peer = self.peer
        logger.info("WebSocket protocol error from %s: %s (closing with %d)",
                    peer[0] if peer else "-", reason, code)
        if self.state == OPEN:
            self._write(_encode_close(code, reason))
        self._set_closed(code, reason)
        self._end()

    def _end(self) -> None:
        """End the stream after the queued bytes: the server closes first (RFC 6455 7.1.1);
        a peer that does not take them is cut after CLOSE_TIMEOUT."""
        if self.state == CLOSED:
            return
        self.state = CLOSED
        self._cancel_timer()
        self.timer = self.loop.call_later(CLOSE_TIMEOUT, self.carrier.abort)
        self.carrier.close()

    def _set_closed(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        self._wake_receiver()

    def _wake_receiver(self) -> None:
        waiter = self.receiver
        if waiter is not None:
            self.receiver = None
            if not waiter.done():
                waiter.set_result(None)

    def _pause(self, reason: int) -> None:
        if not self.paused_for:
            self.carrier.pause_reading()
        self.paused_for |= reason

    def _resume(self, reason: int) -> None:
        if self.paused_for & reason:
            self.paused_for &= ~reason
            if not self.paused_for and self.state != CLOSED:
                self.carrier.resume_reading()

    # The one timer: keepalive while OPEN, the closing handshake while CLOSING.
    def _arm(self, delay: float) -> None:
        self.timer = self.loop.call_later(delay, self._on_timer)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:
        self.timer = None
        state = self.state
        if state == CLOSING:
            logger.debug("WebSocket peer %s did not answer our Close in time", self.peer)
            self.state = CLOSED
            self.carrier.abort()
            return
        if state != OPEN:
            return
        settings = self.settings
        if self.ping_payload is not None:
            # RFC 6455 leaves the choice to us; 1011 is what the `websockets`
            # library (uvicorn's default) sends on a keepalive timeout.
            peer = self.peer
            logger.info("WebSocket peer %s did not answer a ping within %gs; closing",
                        peer[0] if peer else "-", settings.ping_timeout)
            self._write(_encode_close(INTERNAL_ERROR, "keepalive ping timeout"))
            self._set_closed(INTERNAL_ERROR, "keepalive ping timeout")
            self.state = CLOSED
            self.carrier.abort()  # it is not reading: waiting for the bytes to leave is moot
            return
        self.ping_payload = os.urandom(4)
        self._write(_encode_frame(_OP_PING, self.ping_payload))
        if settings.ping_timeout > 0:
            self.timer = self.loop.call_later(settings.ping_timeout, self._on_ping_timeout)
        else:
            self.ping_payload = None
            self._arm(settings.ping_interval)

    def _on_ping_timeout(self) -> None:
        self.timer = None
        if self.state != OPEN:
            return
        if self.ping_payload is not None:
            self._on_timer()  # still unanswered: closes
            return
        rest = self.settings.ping_interval - self.settings.ping_timeout
        self._arm(max(rest, 0.0))


# Over HTTP/1.1 the session is the connection's driver; compiled it is a cdef class
# (session.pxd), so it joins the contract as a registered implementation.
HttpDriver.register(WebSocketSession)
