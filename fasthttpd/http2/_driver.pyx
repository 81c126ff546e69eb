# cython: language_level=3
"""Http2Driver: HTTP/2 on one connection, on the compiled core (fasthttpd/http2/_core).

Theory of operation. The driver *is* the core's ServerConnection, extended: the
core parses each received chunk and calls the hooks overridden here directly (C
calls, no event objects), and the driver turns them into CoreHttp2Streams for the
ASGI cycle. Everything the core queued in answer leaves in a single `write` at
the end of the chunk. New requests are handed to `on_message` only after the
whole chunk, so a stream the client opens and resets in the same breath never
starts the app. Responses written later, from the apps' tasks, ask for one flush
on the next loop iteration, which then carries all the frames queued meanwhile.

Flow control. Inbound, a stream's DATA is acknowledged when the app reads it
(receive_body), so the window we advertise bounds what is buffered per stream,
and the connection window bounds the sum. Outbound, a body part is sent as far as
the windows allow; the rest waits in the stream until a WINDOW_UPDATE, and the
app waits in `drain()`. Output stops, and apps wait, while the transport's buffer
is above its high-water mark.

Abuse limits (the h2_* settings), as the h2-based driver (fasthttpd/http2/driver.py):
the core counts resets (the client's, and ours for the client's errors) and frames
that do no work; past the per-second limits the connection ends with GOAWAY
ENHANCE_YOUR_CALM. The decoded header list is capped (HPACK bomb guard) and a
header block in more than 64 CONTINUATION frames ends the connection.
Acknowledgements queued while the client does not read are counted, and the
connection is dropped past a cap.

Deadlines: one timer per connection; see `_on_tick`.

Extended CONNECT (RFC 8441): with `--ws` other than none the core advertises
SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 and accepts `:protocol` only with CONNECT; such
a request becomes a CoreWebSocketStream and reaches `open_extended_connect`, which
hands `:protocol websocket` to the same ASGI WebSocket cycle as an HTTP/1.1 upgrade
(fasthttpd.websocket.hooks) and answers any other protocol 501. Once the app accepts,
the stream answers 200 and carries the WebSocket session (the byte-stream interface
of fasthttpd.websocket.session): DATA goes to the session as it arrives and its
window is given back once the session has taken it, or held, and the window with
it, while the session pauses reading; the session's frames leave as DATA under the
stream's and the connection's windows, and the session waits while they cannot.
With `--ws none` nothing is advertised and `:protocol` is a malformed request. A
plain CONNECT (a tunnel) gets 501.
"""

import base64
import logging

from email.utils import formatdate

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.time cimport time, time_t

from fasthttpd.driver import ClientDisconnected, HttpDriver
from fasthttpd.errors import InvalidHeader
from fasthttpd.http2.headers import CONNECTION_SPECIFIC
from fasthttpd.websocket import hooks as websocket_hooks

from fasthttpd.client cimport Client
from fasthttpd.driver cimport HttpStream
from fasthttpd.http2._core cimport (
    ERR_CANCEL,
    ERR_ENHANCE_YOUR_CALM,
    ERR_INTERNAL,
    ERR_NO_ERROR,
    ERR_PROTOCOL,
    ServerConnection,
    StreamState,
)

logger = logging.getLogger("fasthttpd.error")

# Queued output is written out once it grows past this while a body is being
# framed, so that a large window cannot make one send pile up in memory.
cdef Py_ssize_t FLUSH_THRESHOLD = 256 * 1024
# The upgrade request's fields that described the HTTP/1.1 connection itself.
_UPGRADE_FIELDS = CONNECTION_SPECIFIC | {b"http2-settings", b"te"}
_ERROR_BODY = {408: b"Request Timeout", 500: b"Internal Server Error", 501: b"Not Implemented",
               503: b"Service Unavailable"}
_STATUS = {code: str(code).encode() for code in range(100, 600)}

# Response field names: RFC 9113 8.2.1 (no 0x00-0x20, 0x7f-0xff or colon; upper
# case is lowered), values: no control character but HTAB, as the HTTP/1.1
# serializer. Byte tables, one pass per field, instead of regular expressions.
cdef bint NAME_BYTE_OK[256]
cdef bint VALUE_BYTE_BAD[256]


cdef _init_tables():
    cdef int c
    for c in range(256):
        NAME_BYTE_OK[c] = 0x20 < c < 0x7f and c != 0x3a
        VALUE_BYTE_BAD[c] = (c < 0x20 and c != 0x09) or c == 0x7f


_init_tables()


cdef list _fields(object headers, list out, str what):
    """Append the app's fields to `out`, lower-cased and checked; connection-specific
    ones are dropped (they mean nothing on an HTTP/2 stream, RFC 9113 8.2.2)."""
    cdef bytes name, value
    cdef const unsigned char* p
    cdef Py_ssize_t n, i
    cdef bint upper
    for field in headers:
        name = field[0] if type(field[0]) is bytes else bytes(field[0])
        value = field[1] if type(field[1]) is bytes else bytes(field[1])
        p = <const unsigned char*>PyBytes_AS_STRING(name)
        n = PyBytes_GET_SIZE(name)
        if n == 0:
            raise InvalidHeader(f"empty {what} name")
        upper = False
        for i in range(n):
            if not NAME_BYTE_OK[p[i]]:
                raise InvalidHeader(f"invalid {what} name {name!r}")
            if 0x41 <= p[i] <= 0x5a:
                upper = True
        if upper:
            name = name.lower()
        p = <const unsigned char*>PyBytes_AS_STRING(value)
        n = PyBytes_GET_SIZE(value)
        for i in range(n):
            if VALUE_BYTE_BAD[p[i]]:
                raise InvalidHeader(f"{what} value with a control character")
        if name in CONNECTION_SPECIFIC:
            continue
        out.append((name, value))
    return out


cdef time_t _date_second = 0
cdef bytes _date_value = b""


cdef bytes http_date():
    """The Date header value, formatted at most once a second."""
    global _date_second, _date_value
    cdef time_t now = time(NULL)
    if now != _date_second:
        _date_second = now
        _date_value = formatdate(now, usegmt=True).encode("ascii")
    return _date_value


cdef list response_head(object status, object headers, object server, bint date):
    """`:status` and the app's fields, ready for HPACK; InvalidHeader when they cannot
    be written."""
    code = _STATUS.get(status) if type(status) is int else None
    if code is None:
        raise InvalidHeader(f"invalid status {status!r}")
    cdef list head = [(b":status", code)]
    if server is not None:
        head.append((b"server", server))
    if date:
        head.append((b"date", http_date()))
    return _fields(headers, head, "header")


cdef list trailer_fields(object headers):
    return _fields(headers, [], "trailer")


cdef class CoreHttp2Stream(HttpStream):
    """One request/response exchange on an HTTP/2 stream (see fasthttpd/http2/stream.py,
    whose behaviour this follows field for field)."""

    cdef public Http2Driver driver
    cdef public StreamState state
    cdef public unsigned int stream_id
    cdef public int status
    cdef public Py_ssize_t bytes_sent
    cdef public bint complete, body_ended, head_sent, trailers, no_body, end_after
    cdef public list chunks
    cdef public Py_ssize_t unacknowledged
    cdef public object body_waiter, disconnect_waiter, drain_waiter
    cdef public double body_wait_since, drain_since
    # The request-body rate window (--limit-request-body-rate): its end in loop time
    # (0: no rate to check) and the body bytes received in it.
    cdef public double rate_window_end
    cdef public Py_ssize_t rate_window_bytes
    cdef public object response_headers, outbound, pending_trailers

    # Fed by the driver.
    cdef feed(self, bytes data, Py_ssize_t flow_length):
        self.rate_window_bytes += PyBytes_GET_SIZE(data)
        self.chunks.append(data)
        self.unacknowledged += flow_length
        self.wake_body()

    cdef end_body(self):
        """The client sent END_STREAM."""
        self.body_ended = True
        self.wake_body()

    cdef wake_body(self):
        waiter = self.body_waiter
        if waiter is not None:
            self.body_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    cdef wake_drain(self):
        waiter = self.drain_waiter
        if waiter is not None:
            self.drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    cdef wake_disconnect(self):
        waiter = self.disconnect_waiter
        if waiter is not None:
            self.disconnect_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    cdef lose(self):
        """The client reset the stream or the connection is gone: wake every waiter."""
        self.is_disconnected = True
        self.chunks.clear()
        self.wake_body()
        self.wake_drain()
        self.wake_disconnect()

    # HttpStream: request side.
    @property
    def is_body_complete(self):
        return self.body_ended and not self.chunks

    async def receive_body(self):
        cdef list chunks
        cdef Py_ssize_t size
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

    async def wait_disconnect(self):
        if self.is_disconnected or self.complete:
            return
        waiter = self.disconnect_waiter
        if waiter is None:
            waiter = self.disconnect_waiter = self.driver.loop.create_future()
        await waiter

    # HttpStream: response side.
    cpdef send_informational(self, status, headers):
        if self.head_sent or self.complete or self.is_disconnected:
            return
        driver = self.driver
        # RFC 9113 8.1: an informational response is a HEADERS frame without END_STREAM.
        driver.send_headers(self.state, response_head(status, headers, None, False), False)
        driver.schedule_flush()

    cpdef start_response(self, status, headers, trailers=False):
        self.status = status
        self.response_headers = headers
        self.trailers = trailers
        if status == 204 or status == 304:
            self.no_body = True

    cpdef bint send_body(self, data, bint more_body) except -1:
        cdef Http2Driver driver = self.driver
        cdef bint end = not more_body and not self.trailers
        cdef list head
        if self.is_disconnected or self.complete:
            raise ClientDisconnected("the client reset the stream or closed the connection")
        if self.no_body:
            data = b""
        if not self.head_sent:
            head = response_head(self.status, self.response_headers, driver.server_header,
                                 driver.date_header)
            self.head_sent = True
            if end and not data:
                driver.send_headers(self.state, head, True)
                driver.stream_complete(self)
                driver.schedule_flush()
                return False
            driver.send_headers(self.state, head, False)
        self.bytes_sent += len(data)
        if self.outbound:  # only when the caller did not wait for drain()
            self.outbound = bytes(self.outbound) + data
        else:
            self.outbound = data
        self.end_after = end
        return driver.send_outbound(self)

    async def drain(self):
        driver = self.driver
        while self.outbound or driver.writing_paused:
            if self.is_disconnected:
                raise ClientDisconnected("the client reset the stream or closed the connection")
            waiter = self.drain_waiter = driver.loop.create_future()
            self.drain_since = driver.loop.time()
            driver.draining.add(self)
            try:
                await waiter
            finally:
                driver.draining.discard(self)
        if self.is_disconnected:
            raise ClientDisconnected("the client reset the stream or closed the connection")

    cpdef send_trailers(self, trailers):
        cdef Http2Driver driver = self.driver
        if self.is_disconnected or self.complete:
            raise ClientDisconnected("the client reset the stream or closed the connection")
        if not self.head_sent:  # trailers announced but no body part sent
            self.send_body(b"", True)
        fields = trailer_fields(trailers)
        if self.outbound:
            # Body bytes still wait for window; the trailers follow them.
            self.end_after = False
            self.pending_trailers = fields
            return
        # RFC 9113 8.1: trailers are a last HEADERS frame carrying END_STREAM.
        driver.send_headers(self.state, fields, True)
        driver.stream_complete(self)
        driver.schedule_flush()

    cpdef abort(self):
        if not self.complete and not self.is_disconnected:
            self.driver.abort_stream(self, ERR_INTERNAL)

    cpdef respond_error(self, int status):
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

    def __repr__(self):
        return f"<CoreHttp2Stream {self.stream_id} {self.method} {self.path!r}>"


cdef class CoreWebSocketStream(CoreHttp2Stream):
    """An extended CONNECT stream (RFC 8441); after `accept`, a WebSocket session's
    carrier (the byte-stream interface of fasthttpd.websocket.session).

    Before the accept it is an ordinary stream: a denial, a 403 or a 500 is an
    ordinary response, and DATA that arrives early waits in `chunks` under the
    stream's window. Afterwards DATA goes straight to the session; `held` counts
    the flow-controlled bytes it has taken and that are not acknowledged yet (they
    stay so while the session pauses reading, which closes the window).
    """

    cdef public object session
    cdef public bint read_paused
    cdef public Py_ssize_t held

    def accept(self, headers, session):
        """Answer 200 (RFC 8441 5) and carry the session from now on."""
        cdef Http2Driver driver = self.driver
        cdef list chunks
        session.carrier = self
        self.session = session
        self.start_response(200, headers)
        self.send_body(b"", True)  # HEADERS without END_STREAM
        if driver.websockets is not None:
            driver.websockets.add(self)
        chunks, self.chunks = self.chunks, []
        if chunks:  # DATA that came with or right after the CONNECT
            self.held += self.unacknowledged
            self.unacknowledged = 0
            session.data_received(b"".join(chunks))
            self._acknowledge()
        if self.body_ended and not self.read_paused:
            self._peer_ended()

    # Fed by the driver.
    cdef feed(self, bytes data, Py_ssize_t flow_length):
        if self.session is None or self.read_paused:
            CoreHttp2Stream.feed(self, data, flow_length)
            return
        self.held += flow_length
        if data:
            self.session.data_received(data)
        self._acknowledge()

    cdef end_body(self):
        self.body_ended = True
        if self.session is None:
            self.wake_body()
        elif not self.read_paused:
            self._peer_ended()

    cdef _peer_ended(self):
        # The client ended its side: nothing more will come (like a TCP FIN), so the
        # session is over and our side ends too.
        self.session.connection_lost(None)
        self.close()

    cdef wake_disconnect(self):
        # The stream is over: ended both ways, reset, or the connection is gone.
        cdef Http2Driver driver = self.driver
        CoreHttp2Stream.wake_disconnect(self)
        if self.session is not None:
            if driver.websockets is not None:
                driver.websockets.discard(self)
            if self.held:  # taken by the session: the connection window gets it back
                driver.body_consumed(self, self.held)
                self.held = 0
            self.session.connection_lost(None)

    cdef _acknowledge(self):
        if self.held and not self.read_paused:
            self.driver.body_consumed(self, self.held)
            self.held = 0

    # The carrier interface (fasthttpd.websocket.session).
    @property
    def is_writing_paused(self):
        return bool(self.outbound) or self.driver.writing_paused

    def write(self, data):
        if self.complete or self.is_disconnected:
            return
        if self.send_body(data, True):
            self._watch_drain()

    def close(self):
        if not self.complete and not self.is_disconnected:
            self.send_body(b"", False)  # END_STREAM after what is queued

    cpdef abort(self):
        if not self.complete and not self.is_disconnected:
            self.driver.abort_stream(self, ERR_CANCEL)

    def pause_reading(self):
        self.read_paused = True  # the window closes as unacknowledged DATA accumulates

    def resume_reading(self):
        cdef list chunks
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
        if (self.body_ended and session is not None and not self.read_paused
                and not self.complete and not self.is_disconnected):
            self._peer_ended()
        self.driver.schedule_flush()

    cdef _watch_drain(self):
        """Be woken (wake_drain) once the queued bytes have left or writing resumes;
        the driver's send deadline (h2_send_timeout) applies while this waits."""
        cdef Http2Driver driver = self.driver
        if self.drain_waiter is None:
            self.drain_waiter = True  # no future: wake_drain below is the waiter
            self.drain_since = driver.loop.time()
            driver.draining.add(self)

    cdef wake_drain(self):
        if self.session is None:
            CoreHttp2Stream.wake_drain(self)
            return
        self.drain_waiter = None
        self.driver.draining.discard(self)
        if self.is_disconnected:
            return
        if self.outbound or self.driver.writing_paused:
            self._watch_drain()
        else:
            self.session.resume_writing()

    def stop(self):
        """Server shutdown: the session sends Close 1001."""
        if self.session is not None:
            self.session.stop()

    def __repr__(self):
        return f"<CoreWebSocketStream {self.stream_id} {self.path!r}>"


cdef class Http2Driver(ServerConnection):
    """HTTP/2 for one connection on the compiled core; see the module docstring."""

    cdef public object state, loop, config, on_message, write, writer
    cdef public Client client
    cdef public dict streams            # stream id -> CoreHttp2Stream, response not complete
    cdef public dict blocked            # body bytes waiting for window
    cdef public set draining            # apps waiting in drain()
    cdef public list to_dispatch
    cdef public bint writing_paused, finished, stopping, in_receive, flush_scheduled
    cdef public double paused_since, idle_since, tick, window_end, last_tick
    cdef public double body_window_min  # bytes a body must bring per --timeout-request-body
    cdef public Py_ssize_t unflushed, receiving, queued_acks
    cdef public object timer, server_header
    cdef public set websockets          # RFC 8441 streams told of a shutdown; None: --ws none
    cdef public bint date_header
    cdef public Py_ssize_t max_resets, max_control_frames, max_queued_acks, max_fields
    cdef object _flush_callback

    def __init__(self, state):
        config = state.config
        super().__init__(config.h2_max_concurrent_streams, config.h2_initial_window_size,
                         config.h2_connection_window_size, config.h2_max_header_list_size)
        self.state = state
        self.loop = state.loop
        self.config = config
        # RFC 8441 3: advertised only when WebSockets are served: a browser that sees
        # SETTINGS_ENABLE_CONNECT_PROTOCOL opens its WebSockets over this connection
        # and does not fall back to HTTP/1.1.
        self.enable_connect_protocol = config.ws != "none"
        self.websockets = set() if self.enable_connect_protocol else None
        self.streams = {}
        self.blocked = {}
        self.draining = set()
        self.to_dispatch = []
        self.idle_since = self.loop.time()
        # Once a second by default; finer only when a deadline is shorter than 4 s.
        self.tick = min(1.0, max(0.05, min(config.timeout_keep_alive, config.h2_send_timeout,
                                           config.timeout_request_body) / 4))
        self.server_header = b"fasthttpd" if config.server_header else None
        self.date_header = config.date_header
        self.max_resets = config.h2_max_resets_per_second
        self.max_control_frames = config.h2_max_control_frames_per_second
        self.max_queued_acks = config.h2_max_queued_control_frames
        self.max_fields = config.limit_request_fields
        self.body_window_min = config.limit_request_body_rate * config.timeout_request_body
        self._flush_callback = self._flush

    # HttpDriver.
    def setup(self, client, on_message, writer):
        self.client = client
        self.on_message = on_message
        self.writer = writer  # the connection's narrow writer (contracts.md)
        self.write = writer.write
        self.last_tick = self.loop.time()
        self.timer = self.loop.call_later(self.tick, self._on_tick)

    @property
    def pending_request_count(self):
        return self.receiving

    def data_received(self, data):
        cdef int failed
        cdef double now
        if self.finished or not data:
            return
        if type(data) is not bytes:  # a transport that hands over a bytearray or view
            data = bytes(data)
        if not self.started:
            self.start()
        now = self.loop.time()
        if now >= self.window_end:
            self.window_end = now + 1.0
            self.resets = self.control_frames = 0
        # Until the final flush below, whatever the hooks make us send waits for it.
        self.in_receive = True
        try:
            failed = self.receive(data)
        finally:
            self.in_receive = False
        if failed:
            if self.error_reason:
                logger.debug("HTTP/2 connection error from %s: %s", self.client.remote_address,
                             self.error_reason)
            self._terminate(-1)
            return
        if self.resets > self.max_resets or self.control_frames > self.max_control_frames:
            self._calm_down()
            return
        if self.acks:
            if self.writing_paused:
                self.queued_acks += self.acks
            self.acks = 0
            if self.queued_acks > self.max_queued_acks:
                logger.info("HTTP/2 client %s does not read its acknowledgements; closing",
                            self.client.remote_address)
                self._abort()
                return
        if self.to_dispatch:
            self._dispatch()
        self._flush()

    def connection_lost(self, exc):
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for stream in list(self.streams.values()):
            self._forget(stream, True)
        self.to_dispatch.clear()

    def pause_writing(self):
        if not self.writing_paused:
            self.writing_paused = True
            self.paused_since = self.loop.time()

    def resume_writing(self):
        cdef CoreHttp2Stream stream
        self.writing_paused = False
        self.queued_acks = 0
        self._send_all_blocked()
        for stream in list(self.draining):
            if not stream.outbound:
                stream.wake_drain()
        self.schedule_flush()

    def stop(self):
        """GOAWAY with the last stream id, finish the streams in flight, then close."""
        if self.stopping or self.finished:
            return
        self.stopping = True
        for stream in list(self.websockets or ()):
            stream.stop()  # Close 1001; their streams end with the closing handshake
        if not self.started:
            self._close()
            return
        # RFC 9113 6.8: streams up to the last id finish; later ones are refused.
        self.goaway(ERR_NO_ERROR, self.highest_stream_id)
        self._flush()
        if not self.streams:
            self._close()

    # The h2c upgrade (RFC 7540 3.2, kept by RFC 9113 3.1 for existing deployments).
    def accept_h2c_upgrade(self, settings_header_value, request_head):
        """Take over after Http1Driver answered 101: stream 1 is the upgrade request."""
        cdef CoreHttp2Stream stream
        cdef StreamState s
        value = bytes(settings_header_value).strip()
        try:
            payload = base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
            self.start()
            self.apply_upgrade_settings(payload)
        except ValueError as exc:  # bad base64 (binascii.Error), a bad SETTINGS payload
            logger.info("bad HTTP2-Settings from %s: %s", self.client.remote_address, exc)
            self._close()
            return
        headers = [(name, v) for name, v in request_head.headers if name not in _UPGRADE_FIELDS]
        s = self.open_upgrade_stream()
        stream = self._new_stream(CoreHttp2Stream.__new__(CoreHttp2Stream), s,
                                  request_head.method, request_head.path,
                                  request_head.query, self.client.scheme, headers, True)
        self._open(stream)
        self._dispatch()
        self._flush()

    # Core hooks.
    cpdef on_request(self, StreamState s, list headers, bint end_stream):
        cdef CoreHttp2Stream stream
        cdef bytes target = self.req_path or b""
        cdef bytes query = b""
        cdef Py_ssize_t mark = target.find(b"?")
        if mark >= 0:
            query = target[mark + 1:]
            target = target[:mark]
        scheme = self.req_scheme
        if self.req_protocol is None:
            stream = CoreHttp2Stream.__new__(CoreHttp2Stream)
        else:  # RFC 8441 extended CONNECT (the core checked its form)
            stream = CoreWebSocketStream.__new__(CoreWebSocketStream)
        stream = self._new_stream(stream, s, self.req_method, target, query,
                                  "https" if scheme == b"https" else
                                  "http" if scheme == b"http" or scheme is None else
                                  scheme.decode("ascii", "replace"),
                                  headers, end_stream)
        self._open(stream)
        if stream.method == "CONNECT":
            if self.req_protocol is not None:
                self.open_extended_connect(stream, self.req_protocol)
            else:
                stream.respond_error(501)  # tunnels are not served
            return
        if len(headers) > self.max_fields:
            stream.respond_error(431)
        elif not end_stream and self.body_window_min > 0:
            # The first --timeout-request-body window is the grace period.
            stream.rate_window_end = self.loop.time() + self.config.timeout_request_body

    cpdef on_data(self, StreamState s, bytes data, Py_ssize_t flow_length, bint end_stream):
        cdef CoreHttp2Stream stream = s.handle
        if stream is None or stream.is_disconnected or stream.complete:
            # Nobody will read it: give the window back at once.
            self.acknowledge(s, flow_length)
            return
        if data or flow_length:
            stream.feed(data, flow_length)
        if end_stream and not stream.body_ended:
            stream.end_body()
            self.receiving -= 1
            self.client.pending_request_count -= 1

    cpdef on_stream_reset(self, StreamState s, int code, bint by_client):
        cdef CoreHttp2Stream stream = s.handle
        if not by_client:
            logger.debug("HTTP/2 stream %d from %s reset: %s", s.stream_id,
                         self.client.remote_address, self.error_reason)
        if stream is not None:
            stream.complete = True  # the RST_STREAM has been sent or received
            self._forget(stream, True)

    cpdef on_window_update(self, StreamState s):
        cdef CoreHttp2Stream stream
        if not self.blocked:
            self.control_frames += 1  # nothing was waiting for it
            return
        if s is None:
            self._send_all_blocked()
        else:
            stream = self.blocked.get(s.stream_id)
            if stream is not None:
                self.send_outbound(stream)

    cpdef on_goaway(self, int code):
        # The client leaves; the streams in flight cannot be answered reliably.
        logger.debug("HTTP/2 client %s sent GOAWAY (%d)", self.client.remote_address, code)
        self.error_reason = ""
        self.closed = True

    def open_extended_connect(self, CoreWebSocketStream stream, bytes protocol):
        """An extended CONNECT (RFC 8441 4), reached only when enable_connect_protocol
        is on: `:protocol websocket` goes to the WebSocket cycle, others get 501."""
        self.to_dispatch.remove(stream)  # dispatched below, to the WebSocket cycle
        if stream.body_ended:
            # END_STREAM on the CONNECT leaves the WebSocket no way to send.
            logger.debug("malformed HTTP/2 request on stream %d from %s: extended "
                         "CONNECT with END_STREAM", stream.stream_id, self.client.remote_address)
            self.resets += 1  # server-provoked resets count (CVE-2025-8671)
            self.abort_stream(stream, ERR_PROTOCOL)
            return
        if protocol != b"websocket":
            stream.respond_error(501)
            return
        if len(stream.headers) > self.max_fields:
            stream.respond_error(431)
            return
        # After the chunk that opened it (a stream reset in the same breath never
        # starts the app), as for requests.
        self.loop.call_soon(self._dispatch_websocket, stream)

    def _dispatch_websocket(self, CoreWebSocketStream stream):
        if not stream.is_disconnected and not stream.complete:
            websocket_hooks.dispatch(self.on_message, stream, http2=True)
            self.schedule_flush()

    # Streams.
    cdef CoreHttp2Stream _new_stream(self, CoreHttp2Stream stream, StreamState s, method,
                                     path, query, scheme, list headers, bint body_ended):
        stream.driver = self
        stream.state = s
        stream.stream_id = s.stream_id
        stream.client = self.client
        stream.method = method
        stream.path = path
        stream.query = query
        stream.http_version = "2"
        stream.headers = headers
        stream.scheme = scheme
        stream.body_ended = body_ended
        stream.chunks = []
        stream.response_headers = ()
        stream.no_body = method == "HEAD"
        stream.outbound = b""
        s.handle = stream
        return stream

    cdef _open(self, CoreHttp2Stream stream):
        cdef Client client = self.client
        self.streams[stream.stream_id] = stream
        client.pending_response_count += 1
        if not stream.body_ended:
            client.pending_request_count += 1
            self.receiving += 1
        self.to_dispatch.append(stream)

    cdef _dispatch(self):
        cdef CoreHttp2Stream stream
        streams = self.to_dispatch
        self.to_dispatch = []
        on_message = self.on_message
        for stream in streams:
            if not stream.is_disconnected and not stream.complete:
                on_message(stream)

    # Outgoing data.
    cdef bint send_outbound(self, CoreHttp2Stream stream) except -1:
        """Send the stream's waiting body bytes as far as the windows allow.

        Returns True while bytes remain or the transport is full: the app must
        wait in drain().
        """
        cdef StreamState s = stream.state
        cdef Py_ssize_t size, chunk
        cdef long long window
        data = stream.outbound
        while True:
            size = len(data)
            if not size:
                if stream.end_after:
                    self.send_data(s, b"", True)
                break
            window = self.send_window_of(s)
            if window <= 0 or self.writing_paused:
                break
            chunk = min(size, window, FLUSH_THRESHOLD)
            if chunk == size:
                self.send_data(s, data, stream.end_after)
                data = b""
            else:
                if type(data) is not memoryview:
                    data = memoryview(data)
                self.send_data(s, data[:chunk], False)
                data = data[chunk:]
            self.unflushed += chunk
            if self.unflushed >= FLUSH_THRESHOLD:
                # Written out now, so that an app that never waits cannot pile its
                # body up here; the write may pause writing: the loop then stops.
                self._flush()
            if not data:
                break
        stream.outbound = data
        if data:
            self.blocked[stream.stream_id] = stream
            self.schedule_flush()
            return True
        if self.blocked:
            self.blocked.pop(stream.stream_id, None)
        if stream.end_after:
            self.stream_complete(stream)
        elif stream.pending_trailers is not None:
            self.send_headers(s, stream.pending_trailers, True)
            stream.pending_trailers = None
            self.stream_complete(stream)
        if stream.drain_waiter is not None and not self.writing_paused:
            stream.wake_drain()
        self.schedule_flush()
        return self.writing_paused

    cdef _send_all_blocked(self):
        cdef CoreHttp2Stream stream
        for stream in list(self.blocked.values()):
            if self.writing_paused:
                return
            self.send_outbound(stream)

    cdef body_consumed(self, CoreHttp2Stream stream, Py_ssize_t size):
        """The app has read `size` flow-controlled bytes: reopen the windows."""
        if size and not self.finished:
            self.acknowledge(stream.state, size)
            self.schedule_flush()

    cpdef schedule_flush(self):
        if not self.flush_scheduled and not self.in_receive and not self.finished:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush_callback)

    def _flush(self):
        self.flush_scheduled = False
        self.unflushed = 0
        if self.finished:
            return
        data = self.take_output()
        if type(data) is list:
            self.writer.writelines(data)
        elif data:
            self.write(data)

    # Stream endings.
    cdef stream_complete(self, CoreHttp2Stream stream):
        """END_STREAM went out: the response is complete."""
        stream.complete = True
        if not stream.body_ended and not stream.is_disconnected:
            # RFC 9113 8.1: a complete response may stop the rest of the request
            # with RST_STREAM NO_ERROR (the server's choice, not counted).
            self.reset_stream(stream.state, ERR_NO_ERROR)
        self._forget(stream, False)

    cdef abort_stream(self, CoreHttp2Stream stream, int error_code):
        """Abort one response: RST_STREAM, and the app's waits end."""
        if not self.finished:
            self.reset_stream(stream.state, error_code)
            self.schedule_flush()
        stream.complete = True
        self._forget(stream, True)

    cdef _forget(self, CoreHttp2Stream stream, bint lost):
        cdef unsigned int stream_id = stream.stream_id
        cdef Client client
        if self.streams.pop(stream_id, None) is None:
            if lost:
                stream.lose()
            return
        if self.blocked:
            self.blocked.pop(stream_id, None)
        stream.pending_trailers = None
        client = self.client
        client.pending_response_count -= 1
        if not stream.body_ended:
            stream.body_ended = True
            self.receiving -= 1
            client.pending_request_count -= 1
        if stream.unacknowledged and not self.finished:
            # Buffered body nobody will read: the connection window gets it back.
            self.acknowledge(stream.state, stream.unacknowledged)
            stream.unacknowledged = 0
        if lost:
            stream.lose()
        else:
            stream.wake_disconnect()
        if not self.streams:
            self.idle_since = self.loop.time()
            if self.stopping:
                self._flush()
                self._close()

    # Ending the connection.
    cdef _calm_down(self):
        logger.warning("HTTP/2 client %s exceeded the reset or control-frame rate; "
                       "GOAWAY ENHANCE_YOUR_CALM", self.client.remote_address)
        self._terminate(ERR_ENHANCE_YOUR_CALM)

    cdef _terminate(self, int error_code):
        """GOAWAY (already queued by the core when error_code is -1), then close."""
        cdef CoreHttp2Stream stream
        if self.finished:
            return
        if error_code >= 0:
            self.connection_error(error_code, "")
        data = self.data_to_send()
        self.finished = True
        for stream in list(self.streams.values()):
            self._forget(stream, True)
        self.to_dispatch.clear()
        self.write(data, True)

    cdef _close(self):
        if not self.finished:
            self.finished = True
            self.writer.close()

    cdef _abort(self):
        # A client that does not read: a TCP reset, so that the kernel drops what it
        # still holds for it too (Writer.reset).
        cdef CoreHttp2Stream stream
        self.finished = True
        for stream in list(self.streams.values()):
            self._forget(stream, True)
        self.writer.reset()

    # The one timer: idle connections, stalled windows, stalled bodies, a client
    # that stopped reading.
    def _on_tick(self):
        cdef CoreHttp2Stream stream
        self.timer = None
        if self.finished:
            return
        now = self.loop.time()
        config = self.config
        if not self.streams:
            if now - self.idle_since >= config.timeout_keep_alive:
                logger.debug("closing idle HTTP/2 connection from %s", self.client.remote_address)
                self._terminate(ERR_NO_ERROR)
                return
        else:
            send_limit = now - config.h2_send_timeout
            if self.writing_paused and self.paused_since <= send_limit:
                logger.info("HTTP/2 client %s stopped reading; closing", self.client.remote_address)
                self._abort()
                return
            body_limit = now - config.timeout_request_body
            for stream in list(self.streams.values()):
                if stream.drain_waiter is not None and stream.drain_since <= send_limit:
                    logger.info("HTTP/2 stream %d: no window for %.0fs; reset",
                                stream.stream_id, config.h2_send_timeout)
                    self.resets += 1
                    self.abort_stream(stream, ERR_CANCEL)
                elif stream.body_waiter is not None and stream.body_wait_since <= body_limit:
                    logger.info("HTTP/2 stream %d: request body stalled; reset", stream.stream_id)
                    self.resets += 1
                    self.abort_stream(stream, ERR_CANCEL)
                elif stream.rate_window_end and not stream.body_ended:
                    self._check_body_rate(stream, now)
        self.last_tick = now
        self.timer = self.loop.call_later(self.tick, self._on_tick)

    cdef _check_body_rate(self, CoreHttp2Stream stream, double now):
        """--limit-request-body-rate, as Http1Driver applies it: at the end of each
        --timeout-request-body window (the first is the grace period) the body must
        have brought rate * window bytes. Time in which the client cannot send (the
        stream's or the connection's window is used up because the app does not
        read) is ours, not the client's: the window moves with it."""
        if self.recv_window <= 0 or stream.state.recv_window <= 0:
            stream.rate_window_end += now - self.last_tick
            return
        if now < stream.rate_window_end:
            return
        if stream.rate_window_bytes == 0 and stream.body_waiter is not None:
            return  # not slow but stalled, while the app waits: the body-gap deadline's case
        if stream.rate_window_bytes >= self.body_window_min:
            stream.rate_window_end = now + self.config.timeout_request_body
            stream.rate_window_bytes = 0
            return
        rate = self.config.limit_request_body_rate
        if not stream.head_sent:
            logger.info("408 request body on HTTP/2 stream %d from %s slower than %g bytes/s",
                        stream.stream_id, self.client.remote_address, rate)
            stream.respond_error(408)
            stream.lose()  # the app reading the body sees a disconnect
        else:
            logger.info("HTTP/2 stream %d: request body from %s slower than %g bytes/s; reset",
                        stream.stream_id, self.client.remote_address, rate)
            self.resets += 1
            self.abort_stream(stream, ERR_CANCEL)


# A cdef class cannot derive from the ABC: it joins the contract as a registered one.
HttpDriver.register(Http2Driver)
