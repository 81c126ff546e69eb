"""WebSockets over HTTP/2 (RFC 8441) on the h2-based driver.

Theory of operation. The driver advertises SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
and hands a request carrying `:protocol` to `open_stream`. An extended CONNECT
(`:method CONNECT`, `:protocol websocket`, with `:scheme`, `:path` and
`:authority`, RFC 8441 4) becomes a `WebSocketStream` and goes to the same ASGI
WebSocket cycle as an HTTP/1.1 upgrade; any other `:protocol` is refused.

Before the app accepts, the stream is an ordinary Http2Stream: a denial, a 403 or
a 500 is an ordinary response, and DATA that arrives early is buffered under the
stream's flow-control window. `accept` sends the 200 (without END_STREAM) and
turns the stream into the session's carrier (the byte-stream interface of
fasthttpd.websocket.session): DATA goes straight to the session and is
acknowledged once processed, or held (and the window with it) while the session
has paused reading; the session's frames leave as DATA under HTTP/2 flow control,
and closing the carrier ends the stream (END_STREAM).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fasthttpd.http2.headers import parse_request
from fasthttpd.http2.stream import Http2Stream
from fasthttpd.websocket import hooks

if TYPE_CHECKING:
    from fasthttpd.http2.driver import H2LibraryDriver
    from fasthttpd.websocket.session import WebSocketSession

logger = logging.getLogger("fasthttpd.error")

_CANCEL = 8  # h2.errors.ErrorCodes.CANCEL (RFC 9113 7)


def has_protocol(headers: list[tuple[bytes, bytes]]) -> bool:
    """The request carries `:protocol` (among its leading pseudo-header fields)."""
    for name, _ in headers:
        if name[:1] != b":":
            return False
        if name == b":protocol":
            return True
    return False


def open_stream(driver: H2LibraryDriver, stream_id: int, raw: list[tuple[bytes, bytes]],
                ended: bool) -> None:
    """An extended CONNECT arrived on `stream_id` (RFC 8441 4)."""
    protocol = method = None
    fields: list[tuple[bytes, bytes]] = []
    for name, value in raw:
        if name == b":protocol" and protocol is None:
            protocol = value
        elif name == b":method" and method is None:
            method = value
            fields.append((name, b"GET"))  # checked below as the GET it stands for
        else:
            fields.append((name, value))
    head = parse_request(fields)
    if isinstance(head, str) or method != b"CONNECT" or ended or not head.path:
        # RFC 8441 4: :protocol only on a CONNECT that has :scheme, :path, :authority.
        driver._reject(stream_id, head if isinstance(head, str) else "malformed extended CONNECT")
        return
    stream = WebSocketStream(driver, stream_id, "CONNECT", head.path, head.query,
                             head.scheme, head.headers, False)
    driver._open(stream)
    driver.to_dispatch.remove(stream)  # dispatched below, to the WebSocket cycle
    if protocol != b"websocket":
        stream.respond_error(501)
        return
    driver.loop.call_soon(_dispatch, driver, stream)


def _dispatch(driver: H2LibraryDriver, stream: WebSocketStream) -> None:
    # After the batch of events that opened it (a stream reset in the same breath
    # never starts the app), as the driver does for requests.
    if not stream.is_disconnected and not stream.complete:
        hooks.dispatch(driver.on_message, stream, http2=True)
        driver.schedule_flush()


class WebSocketStream(Http2Stream):
    """An extended CONNECT stream; after `accept`, a WebSocket session's carrier."""

    __slots__ = ("session", "read_paused", "held")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.session: WebSocketSession | None = None
        self.read_paused = False
        self.held = 0  # flow-controlled bytes delivered to the session, not acknowledged

    def accept(self, headers: list[tuple[bytes, bytes]], session: WebSocketSession) -> None:
        """Answer 200 (RFC 8441 5) and carry the session from now on."""
        session.carrier = self
        self.session = session
        self.start_response(200, headers)
        self.send_body(b"", True)  # HEADERS without END_STREAM
        websockets = self.driver.websockets
        if websockets is not None:
            websockets.add(self)
            session.on_closed = lambda: websockets.discard(self)
        chunks, self.chunks = self.chunks, []
        if chunks:  # DATA that came with or right after the CONNECT
            self.held += self.unacknowledged
            self.unacknowledged = 0
            session.data_received(b"".join(chunks))
            self._acknowledge()
        if self.body_ended:
            session.connection_lost(None)

    # Fed by the driver.
    def feed(self, data: bytes, flow_controlled_length: int) -> None:
        session = self.session
        if session is None:
            super().feed(data, flow_controlled_length)
            return
        if self.read_paused:
            self.chunks.append(data)
            self.unacknowledged += flow_controlled_length
            return
        self.held += flow_controlled_length
        if data:
            session.data_received(data)
        self._acknowledge()

    def end_body(self) -> None:
        super().end_body()
        if self.session is not None and not self.read_paused:
            # The peer ended its side: nothing more will come (like a TCP FIN).
            self.session.connection_lost(None)

    def wake_disconnect(self) -> None:
        # The stream is over (ended both ways, reset, or the connection is gone).
        super().wake_disconnect()
        if self.session is not None:
            self.session.connection_lost(None)

    def _acknowledge(self) -> None:
        if self.held and not self.read_paused:
            self.driver.body_consumed(self, self.held)
            self.held = 0

    # The carrier interface (fasthttpd.websocket.session).
    @property
    def is_writing_paused(self) -> bool:
        return bool(self.outbound) or self.driver.writing_paused

    def write(self, data: bytes) -> None:
        if self.complete or self.is_disconnected:
            return
        if self.send_body(data, True):
            self._watch_drain()

    def close(self) -> None:
        if not self.complete and not self.is_disconnected:
            self.send_body(b"", False)  # END_STREAM after what is queued

    def abort(self) -> None:
        if not self.complete and not self.is_disconnected:
            self.driver.reset_stream(self, _CANCEL)

    def pause_reading(self) -> None:
        self.read_paused = True  # the window closes as unacknowledged DATA accumulates

    def resume_reading(self) -> None:
        if not self.read_paused:
            return
        self.read_paused = False
        session = self.session
        chunks, self.chunks = self.chunks, []
        self.held += self.unacknowledged
        self.unacknowledged = 0
        if chunks and session is not None:
            session.data_received(b"".join(chunks))
        self._acknowledge()
        if self.body_ended and session is not None and not self.read_paused:
            session.connection_lost(None)
        self.driver.schedule_flush()

    def _watch_drain(self) -> None:
        """Be woken (wake_drain) once the queued frames have left: the driver wakes
        streams that have a drain waiter, as it does for an app in drain()."""
        if self.drain_waiter is None:
            driver = self.driver
            self.drain_waiter = driver.loop.create_future()
            self.drain_since = driver.loop.time()
            driver.draining.add(self)

    def wake_drain(self) -> None:
        super().wake_drain()
        self.driver.draining.discard(self)
        session = self.session
        if session is None:
            return
        if self.is_writing_paused and not self.is_disconnected:
            self._watch_drain()
        else:
            session.resume_writing()

    def stop(self) -> None:
        """Server shutdown."""
        if self.session is not None:
            self.session.stop()
