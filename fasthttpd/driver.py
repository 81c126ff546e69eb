"""The contracts between a connection, its protocol driver and the application.

Theory of operation: the connection (fasthttpd.connection) owns a `Client` and asks
the server's `HttpDriverFactory` for an `HttpDriver` when the first bytes arrive
(the protocol is then known: ALPN on TLS, the bytes on cleartext). From then on
every received chunk goes to `driver.data_received`. The driver turns bytes into
`HttpStream`s, one per request (an HTTP/1.1 exchange or an HTTP/2 stream), and
hands each to `on_message`, the
version-neutral ASGI request cycle (fasthttpd.asgi). The cycle reads the body and
writes the response through the stream's methods, which the driver serializes.

A driver writes through the connection's `Writer` (fasthttpd.connection) and
reaches nothing else of the connection: not its transport, not its other members.
A protocol switch (prior-knowledge preface, `Upgrade: h2c`) is an explicit hand-off:
the old driver calls `writer.switch_driver(new_driver, unparsed_bytes)`.

Errors that mean the same whatever the protocol (ClientDisconnected) live here, so
that no protocol package imports another's.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fasthttpd.client import Client
    from fasthttpd.connection import Writer

Headers = Iterable[tuple[bytes, bytes]] | Iterable[list[bytes]]
OnMessage = Callable[["HttpStream"], None]


class ClientDisconnected(OSError):
    """The client went away: raised by `send()` once the connection or stream is gone."""


class HttpStream:
    """One request and its response, whatever the protocol.

    Request head attributes are plain values set by the driver before `on_message`.
    Response methods are called by the request cycle in ASGI order: optional
    `send_informational`, then `start_response`, `send_body` until `more_body` is
    false, then `send_trailers` when trailers were announced. `abort` may come at
    any point after `start_response`; `respond_error` only before it.

    Compiled, this is a cdef class (driver.pxd) so that the request cycle reaches
    these fields and methods without Python lookups; for that reason it is a plain
    base class, not an ABC: every method here must be overridden.
    """

    __slots__ = ("client", "method", "path", "query", "http_version", "headers", "scheme",
                 "is_disconnected")

    client: Client
    method: str  # "GET"
    path: bytes  # raw path, not percent-decoded
    query: bytes  # raw query string, without "?"
    http_version: str  # "1.0", "1.1" or "2"
    headers: list[tuple[bytes, bytes]]  # lower-cased names
    scheme: str  # "http" or "https"
    # The client is gone (connection closed, or RST_STREAM on HTTP/2); read on
    # every send().
    is_disconnected: bool

    # Request body.
    async def receive_body(self) -> tuple[bytes, bool] | None:
        """The next body part and whether more follows; None once the client is gone.

        On HTTP/1.1 the first call answers `Expect: 100-continue`. Body bytes are
        buffered up to a bound; reading resumes as the app consumes them.
        """
        raise NotImplementedError

    async def wait_disconnect(self) -> None:
        """Return once the client has gone or the response is complete."""
        raise NotImplementedError

    @property
    def is_body_complete(self) -> bool:
        """The whole request body has been delivered by `receive_body`."""
        raise NotImplementedError

    # Response.
    def send_informational(self, status: int, headers: Headers) -> None:
        """A 1xx response (103 Early Hints) before the final one."""
        raise NotImplementedError

    def start_response(self, status: int, headers: Headers, trailers: bool = False) -> None:
        """Record the final status and headers; they go out with the first body part."""
        raise NotImplementedError

    def send_body(self, data: bytes, more_body: bool) -> bool:
        """Write a body part. True means: `await drain()` before sending more.

        Raises ClientDisconnected when the client is gone, and
        fasthttpd.errors.InvalidHeader for a head that cannot be written.
        """
        raise NotImplementedError

    async def drain(self) -> None:
        """Wait until the written data is below the buffer's high-water mark."""
        raise NotImplementedError

    def send_trailers(self, trailers: Headers) -> None:
        """The trailer fields; this ends the response."""
        raise NotImplementedError

    def abort(self) -> None:
        """End the response so the client sees it truncated, never cleanly ended."""
        raise NotImplementedError

    def respond_error(self, status: int) -> None:
        """Answer a plain error (500 for an app failure) when nothing was sent yet."""
        raise NotImplementedError


class HttpDriver(abc.ABC):
    """Speaks one protocol on one connection."""

    __slots__ = ()

    @abc.abstractmethod
    def setup(self, client: Client, on_message: OnMessage, writer: Writer) -> None:
        """Called once, right after the factory picked this driver: `on_message(stream)`
        for each request whose head is complete; `writer` is all the driver may
        use of the connection (write, writelines, close, abort, pause/resume
        reading, is_writing_paused, switch_driver)."""

    @abc.abstractmethod
    def data_received(self, data: bytes) -> None:
        """Every received chunk. May call writer.pause_reading() for backpressure."""

    @abc.abstractmethod
    def connection_lost(self, exc: BaseException | None) -> None:
        """The transport is gone: wake every stream waiting on the client."""

    def pause_writing(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """The transport's write buffer is above its high-water mark."""

    def resume_writing(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """The transport's write buffer drained below its low-water mark."""

    @property
    @abc.abstractmethod
    def pending_request_count(self) -> int:
        """Request bodies still being read."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Dispatch no new request; close once every pending one is answered."""


class HttpDriverFactory(abc.ABC):
    """Chooses the driver of a new connection."""

    @abc.abstractmethod
    def select_driver(self, client: Client, data: bytes) -> HttpDriver | None:
        """The driver for `client`, given the first bytes received (on TLS too,
        where ALPN, in client.tls_info, is known before them).

        None means: not enough bytes to decide yet; call again with more.
        """


# The HTTP/2 client connection preface (RFC 9113 3.4).
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
