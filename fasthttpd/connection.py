"""Connection: the asyncio protocol of one client connection, and its Writer.

It owns the `Client`, picks the driver through the server's `HttpDriverFactory`
when the first bytes arrive (by ALPN on TLS, by the bytes on cleartext, so that
the HTTP/2 preface can be recognised) and then forwards everything to the driver:
received bytes, flow-control callbacks, the end. Decision: on TLS too the choice
waits for the first bytes (ALPN is known at once), so that every driver is set up
with bytes to read and a connection that never sends a request is closed by the
same per-server sweep, without a timer of its own.

A driver gets the connection's `Writer` and nothing else of it (contracts.md):
write, writelines, close, abort, pause/resume reading, whether writing is
paused, and the hand-off to another driver. Decision: the Writer is a small
object of its own rather than the connection itself, so that a driver cannot
reach the transport or the connection's other members; compiled (connection.pxd)
it is a final cdef class whose methods a compiled driver calls as C functions,
and it binds `transport.write` once, so a response costs the driver one C call
and one call of the transport's bound method, as when the driver held that
bound method itself.
"""

from __future__ import annotations

import logging
import socket
import struct
from typing import TYPE_CHECKING, Any

from fasthttpd.client import Client
from fasthttpd.driver import HttpDriver, HttpDriverFactory, OnMessage
from fasthttpd.log import TRACE, format_peer

if TYPE_CHECKING:
    from fasthttpd.state import ServerState

logger = logging.getLogger("fasthttpd.error")

# Bytes a cleartext connection may send before its protocol is known (the
# HTTP/2 preface is 24); more without a decision closes it.
SNIFF_LIMIT = 64
# Transport write buffer: `send()` waits above HIGH, resumes below LOW.
WRITE_BUFFER_HIGH = 256 * 1024
WRITE_BUFFER_LOW = 64 * 1024
# struct linger {l_onoff = 1, l_linger = 0}: close() resets instead of draining.
_LINGER_RESET = struct.pack("ii", 1, 0)


class Writer:
    """What a driver may do to its connection; owned by the connection."""

    __slots__ = ("is_writing_paused", "closed_by_server", "_transport", "_transport_write",
                 "_connection")

    def __init__(self, connection: Connection, transport: Any) -> None:
        self._connection: Connection | None = connection
        self._transport = transport
        self._transport_write = transport.write  # bound once: the hot path
        self.is_writing_paused = False  # above the transport's high-water mark
        self.closed_by_server = False

    def write(self, data: bytes, close: bool = False) -> None:
        """Write raw bytes; with `close`, close once they are written."""
        if data:
            self._transport_write(data)
        if close:
            self.closed_by_server = True
            self._transport.close()

    def writelines(self, pieces: list[bytes], close: bool = False) -> None:
        """Write several buffers without joining them (large bodies)."""
        self._transport.writelines(pieces)
        if close:
            self.closed_by_server = True
            self._transport.close()

    def close(self) -> None:
        """Close after the buffered bytes are written."""
        self.closed_by_server = True
        self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping buffered bytes: the client sees a truncated response."""
        self.closed_by_server = True
        self._transport.abort()

    def reset(self) -> None:
        """Cut the connection and drop what the kernel still holds for the client.

        abort() drops only the transport's buffer: the socket is still closed with a
        FIN, and the kernel goes on handing the client its send buffer (megabytes on
        loopback) at whatever pace the client reads. SO_LINGER {on, 0 s} makes the
        close send a TCP RST instead (RFC 9293 3.10.4's ABORT), which discards it: a
        client cut for not reading gets nothing more.

        Decision: HTTP/2's per-stream send timeout (--h2-send-timeout, a stream
        without window) needs no reset: it resets one stream, the connection and
        its other streams go on, and flow control already bounds what that stream
        had sent. Its connection-wide cases (the client stopped reading the socket
        for --h2-send-timeout, or left too many acknowledgements unread: the HTTP/2
        drivers' _abort) are the same situation as here and use reset() too."""
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            except OSError:  # already closed, or not a TCP socket
                pass
        self.abort()

    def pause_reading(self) -> None:
        if not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._transport.is_closing():
            self._transport.resume_reading()

    def switch_driver(self, driver: HttpDriver, data: bytes) -> None:
        """Hand the connection to another driver, with the bytes already read."""
        if self._connection is not None:  # else the connection is gone
            self._connection.switch_driver(driver, data)


class Connection:
    """The protocol uvloop (or asyncio) drives for one accepted connection.

    Decision (issue 11, cheaper connections): compiled, this is a final cdef class
    (connection.pxd), not an `asyncio.Protocol` subclass (a cdef class cannot derive
    from a Python class); the event loops need only the protocol methods, which it
    has. What a new connection costs is kept to what every connection needs:

    - `listener` facts (its local address when the listening socket is bound to
      one address, Unix or not, TLS or not) are given by the server once per
      listening socket, so a connection asks its transport only for the peer's
      address (and its own only on a wildcard listener; the TLS object only on TLS);
    - the request-head deadline before a driver exists costs no timer (a per-server
      sweep, see close_undecided); the HTTP/1.1 driver arms its own timer only
      once a read leaves it something to wait for, so a connection whose one
      request is answered and closed within its first read arms no timer at all;
    - the Client is made without keyword parsing, and addresses are kept as the
      transport gives them when they already have the ASGI shape.
    """

    __slots__ = (
        "state", "factory", "on_message", "transport", "client", "driver", "writer",
        "data_received", "_sniffed", "_listener",
    )

    def __init__(self, state: ServerState, factory: HttpDriverFactory, on_message: OnMessage,
                 listener: tuple[Any, bool, bool] | None = None) -> None:
        self.state = state
        self.factory = factory
        self.on_message = on_message
        # (local address or None to ask the transport, is_unix, is_tls), or None.
        self._listener = listener
        self.transport: Any = None
        self.client: Client = None  # type: ignore[assignment]
        self.driver: HttpDriver | None = None
        self.writer: Writer = None  # type: ignore[assignment]
        self._sniffed = b""
        # Received bytes go to the protocol sniffer until a driver is chosen, then
        # straight to the driver (see switch_driver).
        self.data_received = self._sniff

    # The protocol methods the event loop calls.
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.writer = Writer(self, transport)
        transport.set_write_buffer_limits(WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW)
        listener = self._listener
        if listener is None:
            sockname = transport.get_extra_info("sockname")
            is_unix = isinstance(sockname, str) or sockname is None
            local = None if is_unix else _address(sockname)
            is_tls = True
        else:
            local, is_unix, is_tls = listener
            if local is None and not is_unix:  # a wildcard address: ask
                local = _address(transport.get_extra_info("sockname"))
        tls_info = None
        ssl_object = transport.get_extra_info("ssl_object") if is_tls else None
        if ssl_object is not None:
            from fasthttpd.tls import tls_info as read_tls_info

            tls_info = read_tls_info(ssl_object)
        remote = None if is_unix else _address(transport.get_extra_info("peername"))
        client = self.client = Client.__new__(Client)  # compiled: no keyword parsing
        client._open(remote, local, is_unix, tls_info, self.close)
        state = self.state
        state.connections.add(self)
        observer = state.observer
        if observer is not None:
            observer.connection_opened()
        # The request-head deadline runs from the accept (the TLS handshake has its
        # own bound, ssl_handshake_timeout): the driver chosen later inherits it.
        # Until then, the server's sweep enforces it (close_undecided).
        state.undecided[self] = client.expiration_time = (
            state.loop.time() + state.config.timeout_request_header)
        if state.trace:
            _trace(client, "connection made (TLS)" if tls_info is not None
                   else "connection made")

    def _sniff(self, data: bytes) -> None:
        self._select_driver(self._sniffed + data)

    def eof_received(self) -> bool | None:
        """The client shut its side: close ours too (asyncio.Protocol's default)."""
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        state = self.state
        state.connections.discard(self)
        if self.driver is None:
            state.undecided.pop(self, None)
        self.client.mark_closed(not self.writer.closed_by_server)
        if self.driver is not None:
            self.driver.connection_lost(exc)
        observer = state.observer
        if observer is not None:
            observer.connection_closed()
        if state.trace:
            _trace(self.client, "connection lost (closed by the server)"
                   if self.writer.closed_by_server else "connection lost (closed by the client)")
        # Break the reference cycles a connection is made of (connection, writer,
        # client, driver, bound methods): once gone, it is freed by reference
        # counting, not left to the cyclic collector, which cost each short-lived
        # connection more than its driver's setup. The Writer stays usable (an app
        # may still write to a closed transport); only the hand-off is gone.
        self.writer._connection = None
        self.data_received = _ignore
        self.transport = None

    def pause_writing(self) -> None:
        self.writer.is_writing_paused = True
        if self.driver is not None:
            self.driver.pause_writing()

    def resume_writing(self) -> None:
        self.writer.is_writing_paused = False
        if self.driver is not None:
            self.driver.resume_writing()

    # For the server.
    def close(self) -> None:
        """Close after the buffered bytes are written."""
        self.writer.close()

    def abort(self) -> None:
        """Close at once (a forced shutdown)."""
        self.writer.abort()

    def shutdown(self) -> None:
        """Graceful server shutdown: the driver finishes what is in flight, then closes."""
        if self.driver is None:
            self.close()
        else:
            self.driver.stop()

    # Choosing the driver.
    def switch_driver(self, driver: HttpDriver, data: bytes) -> None:
        """Hand the connection to another driver, with the bytes already read.

        The first driver gets the bytes it was chosen from right after its setup,
        within this call (the HTTP/1.1 driver arms its deadline timer at the end of
        that read, not in setup)."""
        if self.driver is None:
            self.state.undecided.pop(self, None)
        self.client.is_exported = self.driver is not None
        self.driver = driver
        if self.state.trace:
            _trace(self.client, "protocol " + _protocol_name(driver))
        driver.setup(self.client, self.on_message, self.writer)
        # uvloop caches protocol.data_received when a protocol is set: setting this
        # protocol again after pointing data_received at the driver saves a Python
        # call per received chunk.
        self.data_received = driver.data_received
        self.transport.set_protocol(self)
        if self.writer.is_writing_paused:
            driver.pause_writing()
        if data:
            driver.data_received(data)

    def _select_driver(self, data: bytes) -> None:
        driver = self.factory.select_driver(self.client, data)
        if driver is None:
            if len(data) > SNIFF_LIMIT:
                self.close()
            else:
                self._sniffed = data
            return
        self._sniffed = b""
        self.switch_driver(driver, data)


# --log-level trace: the protocol each driver speaks, by its class name.
_PROTOCOL_NAMES = {"Http1Driver": "HTTP/1.1", "Http2Driver": "HTTP/2",
                   "H2LibraryDriver": "HTTP/2 (h2 library)", "WebSocketSession": "WebSocket"}


def _protocol_name(driver: Any) -> str:
    name = type(driver).__name__
    return _PROTOCOL_NAMES.get(name, name)


def _trace(client: Client, event: str) -> None:
    """--log-level trace: one line about a connection, after its peer."""
    logger.log(TRACE, "%s - %s", format_peer(client.remote_address), event)


def _ignore(data: bytes) -> None:
    """Received bytes after the connection is gone (none arrive)."""


def listener_facts(sock: Any, is_tls: bool) -> tuple[Any, bool, bool]:
    """What every connection of a listening socket shares: its local address (None
    on a wildcard address, where each connection's own must be asked), whether it
    is a Unix socket, whether it speaks TLS."""
    if sock.family == getattr(socket, "AF_UNIX", None):
        return (None, True, is_tls)
    address = _address(sock.getsockname())
    if address is None or address[0] in ("0.0.0.0", "::"):
        return (None, False, is_tls)
    return (address, False, is_tls)


def _address(address: Any) -> tuple[str, int] | None:
    """An (host, port) pair as ASGI wants it; the transport's own when it is one."""
    if type(address) is tuple:
        if len(address) == 2 and type(address[0]) is str and type(address[1]) is int:
            return address
        if len(address) >= 2:
            return (str(address[0]), int(address[1]))
    return None


def close_undecided(state: ServerState) -> None:
    """Close the connections whose protocol is still unknown at their head deadline.

    Such a connection sent nothing, or fewer bytes than it takes to tell HTTP/1.1
    from the HTTP/2 preface; it has no driver, hence no driver timer. Decision: one
    periodic sweep per server (Server runs this every quarter of the deadline, at
    most once a second) instead of a timer per connection, which would cost every
    connection a timer armed and cancelled (about 1 us on uvloop) for the rare one
    that never speaks; the price is closing up to one tick late. `undecided` is in
    accept order, which is deadline order, so the sweep stops at the first one
    still in time.
    """
    undecided = state.undecided
    if not undecided:
        return
    now = state.loop.time()
    expired = []
    for connection, deadline in undecided.items():
        if deadline > now:
            break
        expired.append(connection)
    for connection in expired:
        del undecided[connection]
        logger.debug("no request from %s in time; closing", connection.client.remote_address)
        connection.close()
