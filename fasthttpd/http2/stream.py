"""Http2Stream: one HTTP/2 request and its response, as the ASGI cycle sees it.

Theory of operation. The driver creates a stream when a request's HEADERS arrive
and feeds it DATA as it comes; the stream keeps the chunks until the app reads
them, and only then tells the driver to acknowledge them, so the client's window
reopens at the pace of the app (the advertised window bounds what is buffered).

Outbound, the head is held until the first body part (so a small response leaves
as HEADERS and DATA in one write). A body part is handed to the driver, which
sends what the flow-control windows allow and keeps the rest in `outbound`;
`send_body` then answers True and `drain()` waits until the rest has gone. A
stream is `complete` once END_STREAM (or RST_STREAM) is sent, and `is_disconnected`
once the client reset it or the connection went away.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fasthttpd.driver import ClientDisconnected, Headers, HttpStream
from fasthttpd.http2.headers import response_head, trailer_fields

if TYPE_CHECKING:
    from fasthttpd.client import Client
    from fasthttpd.http2.driver import H2LibraryDriver

_ERROR_BODY = {408: b"Request Timeout", 500: b"Internal Server Error",
               503: b"Service Unavailable"}


class Http2Stream(HttpStream):
    """One request/response exchange on an HTTP/2 stream."""

    __slots__ = (
        "driver", "stream_id", "status", "bytes_sent", "complete",
        "body_ended", "chunks", "unacknowledged", "body_waiter", "body_wait_since",
        "disconnect_waiter", "head_sent", "response_headers", "trailers", "no_body",
        "outbound", "end_after", "drain_waiter", "drain_since", "rate_window_end",
        "rate_window_bytes",
    )

    def __init__(self, driver: H2LibraryDriver, stream_id: int, method: str, path: bytes,
                 query: bytes, scheme: str, headers: list[tuple[bytes, bytes]],
                 body_ended: bool) -> None:
        self.driver = driver
        self.stream_id = stream_id
        self.client: Client = driver.client
        self.method = method
        self.path = path
        self.query = query
        self.http_version = "2"
        self.headers = headers
        self.scheme = scheme
        self.status = 0
        self.bytes_sent = 0
        self.complete = False  # END_STREAM or RST_STREAM sent: nothing more goes out
        self.is_disconnected = False  # reset by the client, or the connection is gone
        self.body_ended = body_ended  # END_STREAM received
        self.chunks: list[bytes] = []
        self.unacknowledged = 0  # flow-controlled bytes buffered, not yet acknowledged
        self.body_waiter: asyncio.Future[None] | None = None
        self.body_wait_since = 0.0
        self.disconnect_waiter: asyncio.Future[None] | None = None
        self.head_sent = False
        self.response_headers: Any = ()
        self.trailers = False
        self.no_body = method == "HEAD"
        self.outbound: bytes | memoryview = b""  # body bytes waiting for window
        self.end_after = False  # END_STREAM goes with the last of `outbound`
        self.drain_waiter: asyncio.Future[None] | None = None
        self.drain_since = 0.0
        # The request-body rate window (--limit-request-body-rate): its end in loop
        # time (0: no rate to check) and the body bytes received in it.
        self.rate_window_end = 0.0
        self.rate_window_bytes = 0

    # Fed by the driver.
    def feed(self, data: bytes, flow_controlled_length: int) -> None:
        self.rate_window_bytes += len(data)
        self.chunks.append(data)
        self.unacknowledged += flow_controlled_length
        self.wake_body()

    def end_body(self) -> None:
        self.body_ended = True
        self.wake_body()

    def wake_body(self) -> None:
        waiter = self.body_waiter
        if waiter is not None:
            self.body_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def wake_drain(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None:
            self.drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def lose(self) -> None:
        """The client reset the stream or the connection is gone: wake every waiter."""
        self.is_disconnected = True
        self.chunks.clear()
        self.wake_body()
        self.wake_drain()
        self.wake_disconnect()

    def wake_disconnect(self) -> None:
        waiter = self.disconnect_waiter
        if waiter is not None:
            self.disconnect_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # HttpStream: request side.
    @property
    def is_body_complete(self) -> bool:
        return self.body_ended and not self.chunks

    async def receive_body(self) -> tuple[bytes, bool] | None:
        while True:
            if self.is_disconnected:
                return None
            chunks = self.chunks
            if chunks:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                size = self.unacknowledged
                self.unacknowledged = 0
                # The window reopens now that the app has the bytes, not on arrival.
                self.driver.body_consumed(self, size)
                return data, not self.body_ended
            if self.body_ended:
                return b"", False
            driver = self.driver
            waiter = self.body_waiter = driver.loop.create_future()
            self.body_wait_since = driver.loop.time()
            await waiter

    async def wait_disconnect(self) -> None:
        if self.is_disconnected or self.complete:
            return
        waiter = self.disconnect_waiter
        if waiter is None:
            waiter = self.disconnect_waiter = self.driver.loop.create_future()
        await waiter

    # HttpStream: response side.
    def send_informational(self, status: int, headers: Headers) -> None:
        if self.head_sent or self.complete:
            return
        driver = self.driver
        # RFC 9113 8.1: an informational response is a HEADERS frame without END_STREAM.
        driver.send_headers(self, response_head(status, headers, None, False))
        driver.schedule_flush()

    def start_response(self, status: int, headers: Headers, trailers: bool = False) -> None:
        self.status = status
        self.response_headers = headers
        self.trailers = trailers
        if status == 204 or status == 304:
            self.no_body = True

    def send_body(self, data: bytes, more_body: bool) -> bool:
        if self.is_disconnected or self.complete:
            raise ClientDisconnected("the client reset the stream or closed the connection")
        driver = self.driver
        end = not more_body and not self.trailers
        if self.no_body:
            data = b""
        if not self.head_sent:
            head = response_head(self.status, self.response_headers, driver.server_header,
                                 driver.date_header)
            self.head_sent = True
            if end and not data:
                driver.send_headers(self, head, end_stream=True)
                driver.stream_complete(self)
                driver.schedule_flush()
                return False
            driver.send_headers(self, head)
        self.bytes_sent += len(data)
        if self.outbound:  # only when the caller did not wait for drain()
            self.outbound = bytes(self.outbound) + data
        else:
            self.outbound = data
        self.end_after = end
        return driver.send_outbound(self)

    async def drain(self) -> None:
        driver = self.driver
        while self.outbound or driver.writing_paused:
            if self.is_disconnected:
                raise ClientDisconnected("the client reset the stream or closed the connection")
            waiter = self.drain_waiter = driver.loop.create_future()
            self.drain_since = driver.loop.time()
            driver.drain_started(self)
            try:
                await waiter
            finally:
                driver.drain_ended(self)
        if self.is_disconnected:
            raise ClientDisconnected("the client reset the stream or closed the connection")

    def send_trailers(self, trailers: Headers) -> None:
        if self.is_disconnected or self.complete:
            raise ClientDisconnected("the client reset the stream or closed the connection")
        driver = self.driver
        if not self.head_sent:  # trailers announced but no body part sent
            self.send_body(b"", True)
        fields = trailer_fields(trailers)
        if self.outbound:
            # Body bytes still wait for window; the trailers follow them.
            self.end_after = False
            driver.trailers_after_outbound(self, fields)
            return
        # RFC 9113 8.1: trailers are a last HEADERS frame carrying END_STREAM.
        driver.send_headers(self, fields, end_stream=True)
        driver.stream_complete(self)
        driver.schedule_flush()

    def abort(self) -> None:
        if not self.complete and not self.is_disconnected:
            self.driver.reset_stream(self, _INTERNAL_ERROR)

    def respond_error(self, status: int) -> None:
        if self.complete or self.is_disconnected:
            return
        if self.head_sent:
            self.abort()
            return
        body = _ERROR_BODY.get(status, b"Error")
        self.no_body = self.method == "HEAD"
        self.start_response(status, [(b"content-type", b"text/plain; charset=utf-8"),
                                     (b"content-length", str(len(body)).encode())])
        self.send_body(body, False)

    def __repr__(self) -> str:
        return f"<Http2Stream {self.stream_id} {self.method} {self.path!r}>"


_INTERNAL_ERROR = 2  # h2.errors.ErrorCodes.INTERNAL_ERROR (RFC 9113 7)
