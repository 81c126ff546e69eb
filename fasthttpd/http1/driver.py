"""Http1Driver: HTTP/1.1 on one connection, on the compiled parser and serializer.

Theory of operation. Every received chunk goes through the sans-IO parser, which
returns events. A `Request` event becomes an `Http1Stream`, appended to `queue`;
body chunks and the `EndOfMessage` go to `receiving`, the stream whose body is being
read. Responses leave strictly in request order (RFC 9112 9.3.2). The stream at the
head of `queue` always runs; a pipelined request behind it runs at once too when it
and every request before it are safe and body-less (9.3.2 allows parallel
processing of safe methods), its output held until its turn. Responses that become
ready in one loop iteration while more are queued, or during one read (apps started
eagerly on Python 3.12+), leave in one `transport.write`.
A response head is held back until the first body part, so that a small response
is one write.

The state is two small machines, each an integer moved only by the methods named
in its table (compiled, the integers are C ints; the tables are the documentation
the code follows, one assignment per arrow).

A stream's lifecycle, `Http1Stream.phase` (moved only by Http1Stream's methods):

    QUEUED --start()--> RUNNING --start_response()--> HEAD_HELD
    HEAD_HELD --send_body(), first part--> STREAMING --last part / trailers--> COMPLETE
    HEAD_HELD --send_body(), only part--> COMPLETE
    RUNNING, HEAD_HELD --respond_error()--> COMPLETE (a plain error response)
    RUNNING .. STREAMING --abort()--> ABORTED (the connection is cut)
    QUEUED .. HEAD_HELD --drop()--> ABORTED (never answered: framing error, body timeout)

  QUEUED     read; its app has not started (it waits behind an unsafe request)
  RUNNING    its app runs; no final response yet (a 100 or 103 may have gone)
  HEAD_HELD  status and headers given; the head waits for the first body part
  STREAMING  the head is out (or held for its turn); more body parts follow
  COMPLETE   the whole response was emitted (or is held for its turn)
  ABORTED    the response will never be complete; the client sees a truncation

The read side, `Http1Driver.reading` (moved only by the driver's input methods:
setup, data_received/_after_input, _request_received, _end_of_message,
response_complete and the endings), and the deadline each state arms:

    HEAD --request head--> BODY --end of message--> IDLE --first byte--> HEAD
    BODY --response complete, body unread--> DISCARD --end of message--> IDLE
    any --Connection: close request read (RFC 9112 9.6), framing error,
          deadline, h2c switch, close, abort--> CLOSED

  IDLE      between requests, no byte of the next head; deadline: keep-alive
            (--timeout-keep-alive) once nothing is in flight, none while an app runs
  HEAD      part of a head received, or a new connection; deadline: the head
            (--timeout-request-header, not extended by dribbling; a new
            connection's counts from its accept)
  BODY      reading the body of `receiving`; deadlines: the gap and the minimum
            rate (--timeout-request-body, --limit-request-body-rate); none while
            reading is paused because the app does not read
  DISCARD   reading, to throw it away, the rest of a body whose response is
            complete (up to DISCARD_LIMIT, to reuse the connection); deadlines as BODY
  CLOSED    nothing received is processed any more; no deadline (the connection
            closes once the responses owed are written)

Output has one path, `emit`: it holds a stream's bytes until the stream's turn,
then writes them now, gathers them for one write at the end of the read or loop
iteration, or writes large pieces beside each other.

Backpressure: reading pauses while the receiving stream holds more than
`BODY_BUFFER_LIMIT` unread bytes or more than `PIPELINE_LIMIT` requests wait;
`send_body` asks its caller to `drain()` while the transport's write buffer is full
or while the stream is not yet at the head of the queue; a client that keeps the
write buffer full for --timeout-response-send is cut off.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from http import HTTPStatus
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fasthttpd import http1
from fasthttpd.driver import ClientDisconnected, Headers, HttpDriver, HttpStream
from fasthttpd.http1.events import EndOfMessage, Request
from fasthttpd.http1.framing import (  # their one home; compiled, C ints (driver.pxd)
    FLAG_HEAD,
    FLAG_HTTP10,
    FLAG_KEEP_ALIVE,
    FLAG_TRAILERS,
    FRAMING_CHUNKED,
    FRAMING_LENGTH,
    FRAMING_NONE,
)
from fasthttpd.websocket import hooks as websocket

if TYPE_CHECKING:
    from fasthttpd.client import Client
    from fasthttpd.connection import Writer
    from fasthttpd.driver import OnMessage
    from fasthttpd.state import ServerState

logger = logging.getLogger("fasthttpd.error")

# Unread request-body bytes buffered per stream before reading pauses.
BODY_BUFFER_LIMIT = 256 * 1024
# Pipelined requests parsed ahead of the one being answered before reading pauses.
PIPELINE_LIMIT = 32
# A body the app left unread is read and discarded up to this size so that the
# connection can be reused; beyond it the connection closes instead (RFC 9112 9.6).
# ("Discard" is reading input to throw it away; "drain", as in `drain()`, is only
# ever the write buffer emptying.)
DISCARD_LIMIT = 64 * 1024
# Output gathered for one write is written at once beyond this size.
GATHER_LIMIT = 64 * 1024
# A body part larger than this is written beside its head or chunk framing
# (writelines) rather than copied into one buffer with them.
LARGE_BODY = 32 * 1024
# Methods whose pipelined requests may run before earlier ones are answered.
SAFE_METHODS = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE"))

INFINITY = float("inf")

# Http1Stream.phase (the lifecycle table in the module docstring).
QUEUED = 0
RUNNING = 1
HEAD_HELD = 2
STREAMING = 3
COMPLETE = 4
ABORTED = 5

# Http1Driver.reading (the read-side table in the module docstring).
IDLE = 0
HEAD = 1
BODY = 2
DISCARD = 3
CLOSED = 4

_METHOD_NAMES = {m: m.decode("ascii") for m in (
    b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"CONNECT")}


class Http1Stream(HttpStream):
    """One HTTP/1.1 request and its response; `phase` is its lifecycle.

    The driver reads `phase`, `runs_ahead`, `body_complete`, `continue_owed` and
    `request`, and changes the stream only through its methods."""

    __slots__ = (
        "driver", "request", "phase", "runs_ahead", "body_complete", "continue_owed",
        "status", "_chunks", "_buffered", "_body_waiter", "_disconnect_waiter", "_flags",
        "_status", "_headers", "_trailers", "_framing", "_remaining", "_keep_alive",
        "_held", "_close_after", "_turn",
    )

    def __init__(self, driver: Http1Driver, request: Request) -> None:
        self._open(driver, request)

    def _open(self, driver: Http1Driver, request: Request) -> None:
        # Apart from __init__ so that, compiled, its arguments are typed (driver.pxd).
        self.driver = driver
        self.client = driver.client
        self.request = request
        method = request.method
        self.method = _METHOD_NAMES.get(method) or method.decode("ascii")
        self.path = request.path
        self.query = request.query
        self.http_version = request.http_version
        self.headers = request.headers
        self.scheme = driver.client.scheme
        body_less = request.framing == FRAMING_NONE
        self.phase = QUEUED
        self.runs_ahead = body_less and method in SAFE_METHODS and request.upgrade is None
        self.body_complete = body_less  # every body byte was received
        self.continue_owed = request.expect_continue  # a 100 Continue may be owed
        self.is_disconnected = False
        self.status = 0
        self._chunks: deque[bytes] | None = None
        self._buffered = 0
        self._body_waiter: asyncio.Future[None] | None = None
        self._disconnect_waiter: asyncio.Future[None] | None = None
        self._trailers = False
        self._keep_alive = request.keep_alive
        # Request facts the response framing depends on (fasthttpd/_serializer.pyi).
        self._flags = ((FLAG_HEAD if method == b"HEAD" else 0)
                       | (FLAG_HTTP10 if request.http_version == "1.0" else 0))
        self._held: list[bytes] | None = None  # output emitted before its turn
        self._close_after = False
        self._turn: asyncio.Future[None] | None = None

    # Lifecycle, for the driver.
    def start(self) -> None:
        """QUEUED -> RUNNING: the driver hands it to the app."""
        self.phase = RUNNING

    def drop(self) -> None:
        """-> ABORTED without a response: it will never be answered."""
        self.phase = ABORTED
        self.lose_connection()

    def take_held(self) -> tuple[bytes | list[bytes], bool] | None:
        """Its turn came: the output emitted ahead of it, and whether it closes."""
        held = self._held
        if held is None:
            return None
        self._held = None
        # Small held output joins the batch's single write; large goes as is.
        data: bytes | list[bytes] = (
            held[0] if len(held) == 1 else
            held if sum(map(len, held)) > LARGE_BODY else b"".join(held))
        return data, self._close_after

    def hold(self, data: bytes | list[bytes], close: bool) -> None:
        """Keep output emitted before its turn."""
        pieces = data if isinstance(data, list) else [data]
        if self._held is None:
            self._held = pieces
        else:
            self._held += pieces
        self._close_after = close

    def drop_unread_body(self) -> int:
        """The response is complete and the app left body bytes unread: forget the
        buffered ones; returns how many there were."""
        buffered = self._buffered
        if self._chunks:
            self._chunks.clear()
        return buffered

    # Request body, fed by the driver.
    def feed_body(self, data: bytes) -> None:
        # Body bytes came without waiting for 100 Continue: none is owed any more
        # (RFC 9110 10.1.1 lets the server omit it), and the connection stays reusable.
        self.continue_owed = False
        if self.phase >= COMPLETE:  # response already sent: discarding an unread body
            self.driver.discarded(len(data))
            return
        if self._chunks is None:
            self._chunks = deque()
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > BODY_BUFFER_LIMIT:
            self.driver.pause_body()
        self._wake_body()

    def end_body(self) -> None:
        self.body_complete = True
        self.continue_owed = False
        self._wake_body()

    def _wake_body(self) -> None:
        waiter = self._body_waiter
        if waiter is not None:
            self._body_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def lose_connection(self) -> None:
        self.is_disconnected = True
        self._wake_body()
        for waiter in (self._disconnect_waiter, self._turn):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def take_turn(self) -> None:
        """This stream reached the head of the queue."""
        turn = self._turn
        if turn is not None and not turn.done():
            turn.set_result(None)

    # HttpStream: request side.
    @property
    def is_body_complete(self) -> bool:
        return self.body_complete and not self._chunks

    async def receive_body(self) -> tuple[bytes, bool] | None:
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks.popleft()
                self._buffered -= len(data)
                if self._buffered <= BODY_BUFFER_LIMIT // 2:
                    self.driver.resume_body()
                return data, not (self.body_complete and not chunks)
            if self.body_complete:
                return b"", False
            if self.is_disconnected:
                return None
            if self.continue_owed:
                self.continue_owed = False
                if self.phase < STREAMING:
                    self.driver.emit(self, _CONTINUE)
            waiter = self._body_waiter = self.driver.loop.create_future()
            await waiter

    async def wait_disconnect(self) -> None:
        if self.is_disconnected or self.phase >= COMPLETE:
            return
        waiter = self._disconnect_waiter
        if waiter is None:
            waiter = self._disconnect_waiter = self.driver.loop.create_future()
        await waiter

    # HttpStream: response side.
    def send_informational(self, status: int, headers: Headers) -> None:
        if self.http_version == "1.0":  # RFC 9110 15.2: no 1xx to HTTP/1.0 clients
            return
        self.driver.emit(self, self.driver.serializer.serialize_informational(status, headers))

    def start_response(self, status: int, headers: Headers, trailers: bool = False) -> None:
        self.phase = HEAD_HELD
        self.status = status
        self._status = status
        self._headers = headers
        self._trailers = trailers

    def send_body(self, data: bytes, more_body: bool) -> bool:
        if self.is_disconnected:
            raise ClientDisconnected("the client closed the connection")
        driver = self.driver
        out: bytes | list[bytes]
        if self.phase == HEAD_HELD:
            out = self._head_with(data, more_body)
        else:
            framing = self._framing
            if framing == FRAMING_CHUNKED and len(data) > LARGE_BODY:
                out = _chunk_pieces(data)
                if not more_body and not self._trailers:
                    out.append(_LAST_CHUNK)
            elif framing == FRAMING_CHUNKED:
                chunk: bytes = driver.serializer.frame_chunk(data)
                out = chunk + _LAST_CHUNK if not more_body and not self._trailers else chunk
            elif framing == FRAMING_LENGTH:
                self._remaining -= len(data)
                if self._remaining < 0:
                    self._fail_too_long()
                out = data
            elif framing == FRAMING_NONE:
                out = b""
            else:
                out = data
        if more_body or self._trailers:
            if out:
                driver.emit(self, out)
            return driver.write_paused or self._held is not None
        if self._framing == FRAMING_LENGTH and self._remaining:
            # Shorter than its Content-Length: the client must see a truncated message.
            logger.warning("response to %s %s ended %d bytes short of its Content-Length",
                           self.method, self.path.decode("ascii", "replace"), self._remaining)
            self._keep_alive = False
        self._finish_with(out)
        return False

    def _head_with(self, data: bytes, more_body: bool) -> bytes | list[bytes]:
        """HEAD_HELD -> STREAMING: the response head with the first body part, one
        buffer for a small part; for a large one the head alone, the part beside it
        (no copy of the body)."""
        headers = self._headers
        large = len(data) > LARGE_BODY and not self._flags & FLAG_HEAD
        end = not more_body and not self._trailers
        if large and end and not _has_content_length(headers):
            headers = [*headers, (b"content-length", b"%d" % len(data))]
        head, framing, content_length, keep_alive = self.driver.serializer.serialize_response(
            self._status, headers, b"" if large else data, more_body or large,
            self.request_flags())
        self.phase = STREAMING
        self._framing = framing
        self._keep_alive = keep_alive
        if framing == FRAMING_LENGTH:
            self._remaining = content_length - len(data)
            if self._remaining < 0:
                self._fail_too_long()
        if not large:
            return head + _LAST_CHUNK if framing == FRAMING_CHUNKED and end else head
        pieces = [head]
        if framing == FRAMING_CHUNKED:
            pieces += _chunk_pieces(data)
            if end:
                pieces.append(_LAST_CHUNK)
        elif framing != FRAMING_NONE:
            pieces.append(data)
        return pieces

    def _fail_too_long(self) -> None:
        self.abort()
        raise RuntimeError("response body longer than its Content-Length")

    def send_trailers(self, trailers: Headers) -> None:
        if self._framing == FRAMING_CHUNKED:
            self._finish_with(self.driver.serializer.last_chunk(trailers))
        else:  # HTTP/1.0 or a body-less response: trailers cannot be sent
            self._finish_with(b"")

    def _finish_with(self, out: bytes | list[bytes]) -> None:
        """-> COMPLETE: the last of the response."""
        driver = self.driver
        close = not self._keep_alive or driver.closing
        self.phase = COMPLETE
        driver.emit(self, out, close, True)
        waiter = self._disconnect_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        driver.response_complete(self)

    async def drain(self) -> None:
        driver = self.driver
        while driver.queue and driver.queue[0] is not self and not self.is_disconnected:
            turn = self._turn = driver.loop.create_future()
            await turn
        if self.is_disconnected:
            raise ClientDisconnected("the client closed the connection")
        await driver.drain()

    def abort(self) -> None:
        """-> ABORTED: the connection is cut, what was sent stays truncated."""
        if self.phase < COMPLETE:
            self.phase = ABORTED
            self.driver.abort()

    def respond_error(self, status: int) -> None:
        self._keep_alive = False
        self.status = status
        self._finish_with(self.driver.serializer.serialize_error(status))

    def request_flags(self) -> int:
        flags = self._flags
        # A client still waiting for 100 Continue may or may not send its body
        # now (RFC 9110 10.1.1): the connection cannot be reused safely.
        if self._keep_alive and not self.driver.closing and not self.continue_owed:
            flags |= FLAG_KEEP_ALIVE
        if self._trailers:
            flags |= FLAG_TRAILERS
        return flags


class Http1Driver:
    """HTTP/1.1 for one connection; see the module docstring."""

    __slots__ = (
        "state", "loop", "config", "parser", "serializer", "client", "on_message",
        "writer", "queue", "receiving", "reading", "closing", "write_paused",
        "_drain_waiters", "_reading_paused_for", "_deadline", "_timer", "_timer_at",
        "_pending_error", "_discard_budget", "_upgrading",
        "_out", "_out_size", "_waiting", "_unsafe", "_dispatching", "_feeding",
        "_timeout_keep_alive", "_window_end", "_window_bytes", "_window_min", "_paused_at",
        "_send_timer",
    )

    def __init__(self, state: ServerState, impl: ModuleType | None = None) -> None:
        self.state = state
        self.loop = state.loop
        self.config = state.config
        # What every driver of this server derives from the settings, derived once
        # (reading a dataclass's fields costs a new connection more than its parser).
        settings = state.http1_settings if impl is None else None
        if settings is None:
            settings = _settings(state.config, impl or http1)
            if impl is None:
                state.http1_settings = settings
        parser_class, parser_options, serializer, keep_alive, window_min = settings
        self.parser = parser_class(**parser_options)
        self.serializer = serializer
        # Unanswered requests, in order; a list, not a deque: it holds at most
        # PIPELINE_LIMIT + 1 streams, and a list is what compiled code indexes fastest.
        self.queue: list[Http1Stream] = []
        self.receiving: Http1Stream | None = None  # whose body the parser is reading
        self.reading = HEAD  # the read side's state (module docstring)
        self.closing = False  # the connection closes once the owed responses are out
        self.write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._reading_paused_for = 0  # bit mask of reasons reading is paused
        self._deadline = INFINITY  # of the current read state
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = INFINITY
        self._pending_error: Any = None
        self._discard_budget = DISCARD_LIMIT
        self._upgrading: Http1Stream | None = None
        self._out: list[bytes] | None = None  # responses gathered for one write
        self._out_size = 0
        self._waiting = 0  # queued streams not dispatched yet
        self._unsafe = 0  # queued streams that may not run ahead of others
        self._dispatching = False
        self._feeding = False  # inside data_received: output waits for its end
        self._timeout_keep_alive = keep_alive
        # The request-body rate window (--limit-request-body-rate): its end in loop
        # time (0: not started), the bytes received in it, the least it needs.
        self._window_end = 0.0
        self._window_bytes = 0
        self._window_min = window_min
        self._paused_at = 0.0  # when reading paused: paused time is not the client's
        self._send_timer: asyncio.TimerHandle | None = None  # --timeout-response-send

    # HttpDriver.
    def setup(self, client: Client, on_message: OnMessage, writer: Writer) -> None:
        self.client = client
        self.on_message = on_message
        self.writer = writer
        # The first head's deadline runs from the accept (set by the connection).
        deadline = client.expiration_time
        if not deadline:  # a driver set up without a connection (tests, benchmarks)
            deadline = self.loop.time() + self.config.timeout_request_header
        # Chosen when the first bytes came, which follow at once (Connection.
        # switch_driver): the timer is armed at the end of that read if it left
        # something to wait for; none for a request answered and closed in it.
        self._deadline = deadline

    @property
    def pending_request_count(self) -> int:
        return 1 if self.receiving is not None else 0

    # Input: the read side.
    def data_received(self, data: bytes) -> None:
        if self.reading == CLOSED or (self.closing and not self.queue):
            return
        self._feeding = True
        self._process(self.parser.feed(data))
        self._feeding = False
        if self._out is not None:  # answers given during this read: one write
            self._flush()
        if self.receiving is None and self.queue and self.parser.is_idle:
            self._deadline = INFINITY  # the app is working: its time, not ours
        else:
            self._after_input()

    def _process(self, events: list[Any]) -> None:
        for event in events:
            kind = type(event)
            if kind is bytes:
                self._window_bytes += len(event)
                self.receiving.feed_body(event)  # type: ignore[union-attr]
            elif kind is Request:
                self._request_received(event)
            elif kind is EndOfMessage:
                self._end_of_message()
                if self.reading == CLOSED:  # what follows is never processed (RFC 9112 9.6)
                    return
            else:
                self._parse_error(event)
                return

    def _request_received(self, request: Request) -> None:
        """HEAD -> BODY."""
        stream = Http1Stream.__new__(Http1Stream)  # compiled: no argument parsing
        stream._open(self, request)
        client = self.client
        client.pending_request_count += 1
        client.pending_response_count += 1
        self.receiving = stream
        self.reading = BODY
        if request.framing != FRAMING_NONE:
            self._window_end = 0.0  # starts once the input is processed
            self._window_bytes = 0
        queue = self.queue
        queue.append(stream)
        if not stream.runs_ahead:
            self._unsafe += 1
        if request.upgrade is not None and self._accepts_upgrade(stream):
            self._upgrading = stream  # switched once its (empty) body has ended
            return
        if request.upgrade is not None and self.config.ws != "none" and request.method == b"GET" \
                and request.framing == FRAMING_NONE and websocket.is_websocket_upgrade(
                    request.upgrade):
            self._upgrading = stream  # a WebSocket handshake: the app decides (switch_protocol)
        if len(queue) == 1 or (not self._unsafe and not self._waiting):
            stream.start()
            if stream is self._upgrading:
                websocket.dispatch(self.on_message, stream)
            else:
                self.on_message(stream)
        else:
            self._waiting += 1
            if len(queue) > PIPELINE_LIMIT:
                self._pause_reading(_PAUSED_PIPELINE)

    def _end_of_message(self) -> None:
        """BODY or DISCARD -> IDLE, or CLOSED after a request that ends the connection."""
        stream = self.receiving
        self.receiving = None
        self.client.pending_request_count -= 1
        if stream is None:
            return
        stream.end_body()
        if stream.phase >= COMPLETE:  # finished discarding a body the app did not read
            self._discard_budget = DISCARD_LIMIT
        if stream is self._upgrading and stream.request.upgrade == b"h2c":
            self._switch_to_h2c(stream)
            return
        if not stream.request.keep_alive:
            # Connection: close, or HTTP/1.0 without keep-alive: nothing received
            # after this request is processed (RFC 9112 9.6).
            self._close_input()
            return
        self.reading = IDLE
        self._deadline = INFINITY  # the next deadline is set once the read is processed
        if stream is self._upgrading:  # WebSocket: what follows waits for the app
            self._pause_reading(_PAUSED_UPGRADE)
        elif stream.request.upgrade is not None:
            # Declined: the parser stopped after this message; carry on.
            self.loop.call_soon(self._resume_parsing)

    def _resume_parsing(self) -> None:
        if not self.client.status and self.reading != CLOSED:
            self._process(self.parser.resume())
            self._after_input()

    def _after_input(self) -> None:
        """Arm the deadline of the read state that the processed input left."""
        reading = self.reading
        if reading == BODY or reading == DISCARD:
            if not self._reading_paused_for:
                now = self.loop.time()
                if now >= self._window_end and not self._body_window_passed(now):
                    return
                self._set_deadline_at(now + self.config.timeout_request_body)
        elif reading == CLOSED or self._upgrading is not None:
            self._deadline = INFINITY  # (a WebSocket handshake: the app's time, not ours)
        elif not self.parser.is_idle:
            if reading != HEAD:  # dribbling bytes does not extend it
                self.reading = HEAD
                self._set_deadline(self.config.timeout_request_header)
            elif self._timer is None and self._deadline != INFINITY:  # the first head
                self._set_deadline_at(self._deadline)
        elif self.queue:
            self._deadline = INFINITY  # the app is working: its time, not ours
        elif reading != IDLE or self._deadline == INFINITY:
            # Idle, and answered within this read (an eagerly started app).
            self.reading = IDLE
            self._set_deadline(self._timeout_keep_alive)
        # else: idle already; a stray empty line does not extend the deadline.

    def _body_window_passed(self, now: float) -> bool:
        """A --timeout-request-body window of waiting on the body ended (or none was
        started): check the rate, start the next one. False: 408 was answered.

        The first window is the grace period. A window starts only once no 100
        Continue is owed: until then the client waits on us, not we on it."""
        if self._window_end and self._window_bytes < self._window_min:
            logger.info("408 request body from %s slower than %g bytes/s",
                        self.client.remote_address, self.config.limit_request_body_rate)
            self._body_failed()
            return False
        receiving = self.receiving
        if receiving is not None and receiving.continue_owed:
            self._window_end = 0.0
        else:
            self._window_end = now + self.config.timeout_request_body
        self._window_bytes = 0
        return True

    def _close_input(self) -> None:
        """-> CLOSED: nothing received from now on is processed."""
        self.reading = CLOSED
        self._deadline = INFINITY

    def _parse_error(self, error: Any) -> None:
        peer = self.client.remote_address
        logger.info("%d %s from %s: %s", error.status_code, _reason(error.status_code),
                    peer[0] if peer else "unix socket", error.reason)
        self._close_input()
        broken = self.receiving
        if broken is not None:
            # Its body is cut short: its app sees a disconnect, or never runs.
            self.receiving = None
            if broken is not self.queue[0]:
                self._forget(broken)
                broken.drop()
            elif broken.phase >= STREAMING:  # too late for a status: truncate instead
                broken.lose_connection()
                self.abort()
                return
            else:  # its app is running: the error is its answer
                self._forget(broken)
                broken.drop()
        if self.queue:  # responses owed to earlier requests go out first
            self._pending_error = error
        else:
            self._answer_and_close(error.status_code)

    def _forget(self, stream: Http1Stream) -> None:
        """Take out of the queue a request that was read but will never be answered."""
        self.queue.remove(stream)
        self.client.pending_response_count -= 1
        if not stream.runs_ahead:
            self._unsafe -= 1
        if stream.phase == QUEUED:
            self._waiting -= 1

    # Output, in request order.
    def emit(self, stream: Http1Stream | None, data: bytes | list[bytes], close: bool = False,
             final: bool = False) -> None:
        """The one output path: a stream's output (or, with stream None, the
        connection's own: an error status) goes to the writer if it is its turn,
        else the stream holds it until then.

        `data` is bytes, or a list of pieces for large bodies (written as they are,
        after what was gathered); `final` when it completes the response. Only a
        final part may go straight to the transport: the parts of a streamed
        response are gathered and written once per loop iteration (or past
        GATHER_LIMIT), so an app sending many small chunks without waiting costs
        one write, not one per chunk, and none waits longer than the iteration in
        progress."""
        queue = self.queue
        if stream is not None and (not queue or stream is not queue[0]):
            stream.hold(data, close)
            return
        if close:
            self.closing = True
        if type(data) is list:
            if self._out is not None:
                self._flush()
            if not self.client.status:
                self.writer.writelines(data, close)
            return
        out = self._out
        if out is not None:
            out.append(data)  # type: ignore[arg-type]
            self._out_size += len(data)
            # Past the limit the bytes go to the transport now, so that its
            # high-water mark (and so send()'s backpressure) sees them.
            if close or self._out_size > GATHER_LIMIT:
                self._flush(close)
        elif close or (final and len(queue) == 1 and not self._feeding) \
                or len(data) > GATHER_LIMIT:
            self.writer.write(data, close)  # type: ignore[arg-type]
        else:  # more responses are on their way: gather them for one write
            self._out = [data]  # type: ignore[list-item]
            self._out_size = len(data)
            if not self._feeding:  # else data_received flushes when done
                self.loop.call_soon(self._flush)

    def _flush(self, close: bool = False) -> None:
        out = self._out
        self._out = None
        if out is not None and not self.client.status:
            self.writer.write(b"".join(out), close)

    def response_complete(self, stream: Http1Stream) -> None:
        self.client.pending_response_count -= 1
        if stream is self._upgrading:  # a WebSocket handshake answered in HTTP: carry on
            self._upgrading = None
            if self._reading_paused_for & _PAUSED_UPGRADE:
                self._resume_reading(_PAUSED_UPGRADE)
            self.loop.call_soon(self._resume_parsing)
        queue = self.queue
        if not queue or stream is not queue[0]:
            return  # answered ahead of its turn: written when the turn comes
        if self.closing:
            return
        if stream is self.receiving and not stream.body_complete:
            # The app answered without reading the whole body: BODY -> DISCARD if
            # what remains is small, else close (RFC 9112 9.6).
            request = stream.request
            buffered = stream.drop_unread_body()
            if stream.continue_owed or (
                    request.framing == FRAMING_LENGTH
                    and request.content_length - buffered > DISCARD_LIMIT):
                self._close_now()
                return
            self.reading = DISCARD
            self._discard_budget = DISCARD_LIMIT - buffered
            self.resume_body()
        self._advance()

    def _advance(self) -> None:
        """The head's response is written: move on to the next stream."""
        queue = self.queue
        while True:
            done = queue.pop(0)
            if not done.runs_ahead:
                self._unsafe -= 1
            if not queue:
                break
            head = queue[0]
            held = head.take_held()
            if held is not None:
                self.emit(head, held[0], held[1], head.phase >= COMPLETE)
                if self.closing:
                    return
            if head.phase < COMPLETE:
                head.take_turn()
                break
        if self._reading_paused_for & _PAUSED_PIPELINE and len(queue) <= PIPELINE_LIMIT // 2:
            self._resume_reading(_PAUSED_PIPELINE)
        if self._waiting:
            self._dispatch_waiting()
        elif queue:
            return
        elif self._pending_error is not None:
            self._answer_and_close(self._pending_error.status_code)
        elif self.closing:
            self._close_now()
        elif self.reading == IDLE:
            if self.parser.is_idle:
                self._set_deadline(self._timeout_keep_alive)
        elif self.reading == DISCARD:
            self._set_deadline(self.config.timeout_request_body)
        # else: answered before its end of message was processed (an eager app):
        # the read in progress sets the deadline.

    def _dispatch_waiting(self) -> None:
        """Run the head if it waits, and every safe stream behind it if all are safe."""
        if self._dispatching:
            return  # an outer call is walking the queue
        self._dispatching = True
        try:
            while self._waiting and not self.closing:
                queue = self.queue
                if queue[0].phase != QUEUED and self._unsafe:
                    return
                for stream in queue:
                    if stream.phase == QUEUED:
                        break
                self._waiting -= 1
                stream.start()
                if stream is self._upgrading:
                    websocket.dispatch(self.on_message, stream)
                else:
                    self.on_message(stream)
        finally:
            self._dispatching = False

    def discarded(self, size: int) -> None:
        """Body bytes of a finished request arrived and were discarded."""
        self._discard_budget -= size
        if self._discard_budget < 0:
            self._close_now()

    # Reading backpressure.
    def pause_body(self) -> None:
        self._pause_reading(_PAUSED_BODY)

    def resume_body(self) -> None:
        if self._reading_paused_for & _PAUSED_BODY:
            self._resume_reading(_PAUSED_BODY)

    def _pause_reading(self, reason: int) -> None:
        if not self._reading_paused_for:
            self.writer.pause_reading()
            self._deadline = INFINITY  # our choice to wait, not the client's fault
            self._paused_at = self.loop.time()
        self._reading_paused_for |= reason

    def _resume_reading(self, reason: int) -> None:
        self._reading_paused_for &= ~reason
        if not self._reading_paused_for:
            self.writer.resume_reading()
            now = self.loop.time()
            if self._window_end:  # the paused time was ours: the window moves with it
                self._window_end += now - self._paused_at
            if self.receiving is not None:
                self._set_deadline_at(now + self.config.timeout_request_body)

    # Writing backpressure.
    def pause_writing(self) -> None:
        self.write_paused = True
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.config.timeout_response_send,
                                                    self._send_timed_out)

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        self._wake_drainers()

    def _send_timed_out(self) -> None:
        """The client did not read enough of a response for --timeout-response-send:
        what it has is truncated; its app sees a disconnect."""
        self._send_timer = None
        if self.write_paused and not self.client.status:
            logger.info("client %s did not read its response for %gs; aborting",
                        self.client.remote_address, self.config.timeout_response_send)
            # Reset, not abort: a FIN would leave the kernel feeding the client the
            # send buffer it is not reading (Writer.reset). Nothing gathered in _out
            # is flushed: it would be dropped with the rest.
            self.closing = True
            self._close_input()
            self.writer.reset()

    async def drain(self) -> None:
        if not self.write_paused:
            return
        if self.client.status:
            raise ClientDisconnected("the client closed the connection")
        waiter = self.loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter
        if self.client.status:
            raise ClientDisconnected("the client closed the connection")

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # Deadlines: one timer per connection, for the deadline of the read state.
    def _set_deadline(self, timeout: float) -> None:
        self._set_deadline_at(self.loop.time() + timeout)

    def _set_deadline_at(self, deadline: float) -> None:
        self._deadline = deadline
        # The timer only ever fires early (then re-arms), never late: replace it
        # only when the deadline moved before it.
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline == INFINITY or self.client.status:
            return
        if self.loop.time() < deadline:
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)
            return
        self._timed_out()

    def _timed_out(self) -> None:
        reading = self.reading
        peer = self.client.remote_address
        if reading == IDLE:
            logger.debug("closing idle keep-alive connection from %s", peer)
            self._close_now()
        elif reading == HEAD:
            if self.parser.is_idle and not self.parser.bytes_consumed:
                logger.debug("no request from %s in time; closing", peer)
                self._close_now()
            else:
                logger.info("408 request head from %s not complete in time", peer)
                self._answer_and_close(408)
        elif reading == BODY or reading == DISCARD:
            logger.info("408 request body from %s stalled", peer)
            self._body_failed()

    def _body_failed(self) -> None:
        """The request body is late or too slow: 408 and close (or cut a started response)."""
        self._close_input()
        stream = self.receiving
        if stream is not None:
            stream.lose_connection()
            self.receiving = None
        if self.queue and self.queue[0].phase >= STREAMING:
            self._close_now()
        else:
            self._answer_and_close(408)

    def _answer_and_close(self, status: int) -> None:
        """An error status closes the connection, after the responses gathered before it."""
        self._close_input()
        self.emit(None, self.serializer.serialize_error(status), True, True)

    # Ending.
    def stop(self) -> None:
        """Graceful shutdown: answer the requests already running, then close."""
        self.closing = True
        for stream in list(self.queue):
            if stream.phase == QUEUED:  # read but never started: dropped
                self._forget(stream)
                stream.drop()
        if not self.queue:
            self._close_now()

    def abort(self) -> None:
        """Cut the connection: what was already sent stays truncated."""
        self.closing = True
        self._close_input()
        if self._out is not None:  # sent, as far as the app knows: out it goes
            self._flush()
        self.writer.abort()

    def _close_now(self) -> None:
        """Close once what is owed and gathered is written."""
        self.closing = True
        self._close_input()
        if self._out is not None:
            self._flush(close=True)
        else:
            self.writer.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closing = True
        self._close_input()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        for stream in self.queue:
            stream.lose_connection()
        if self.receiving is not None:
            self.receiving.lose_connection()
        # The streams point back at the driver: without them in the queue, a closed
        # connection's objects are freed by reference counting, not by the cyclic
        # collector. A stream still running sees the connection lost and never
        # reaches the queue again (its writes are dropped, its turn never comes).
        self.queue.clear()
        self.receiving = None
        self._waiting = 0
        if self._drain_waiters:
            self._wake_drainers()

    # Protocol switch: HTTP/2 over cleartext by Upgrade (RFC 7540 3.2; RFC 9113 3.1
    # deprecates it but clients such as curl --http2 still use it).
    def _accepts_upgrade(self, stream: Http1Stream) -> bool:
        request = stream.request
        return (request.upgrade == b"h2c" and self.config.http != "1"
                and not self.client.is_encrypted and len(self.queue) == 1
                and request.framing == FRAMING_NONE
                and sum(1 for name, _ in request.headers if name == b"http2-settings") == 1)

    def switch_protocol(self, stream: Http1Stream, response: bytes, driver: Any) -> None:
        """Answer `stream` (the queue's head) with `response` (a 101) and hand the
        connection to `driver` with the bytes read after the request (WebSocket)."""
        rest = self.parser.take_unparsed()
        self.queue.clear()
        self.client.pending_response_count -= 1
        self._upgrading = None
        self.closing = True
        self._close_input()
        self._reading_paused_for = 0  # the new driver reads at its own pace
        self._flush()
        self.writer.write(response)
        self.writer.switch_driver(driver, rest)

    def _switch_to_h2c(self, stream: Http1Stream) -> None:
        from fasthttpd.http2 import new_http2_driver

        settings = next(value for name, value in stream.request.headers
                        if name == b"http2-settings")
        rest = self.parser.take_unparsed()
        self.queue.clear()
        self.client.pending_response_count -= 1
        self.closing = True
        self._close_input()
        self.writer.write(_SWITCHING_TO_H2C)
        h2_driver = new_http2_driver(self.state)
        self.writer.switch_driver(h2_driver, b"")
        h2_driver.accept_h2c_upgrade(settings, stream)
        if rest:
            h2_driver.data_received(rest)


# Compiled, the driver is a cdef class (driver.pxd), which cannot derive from a
# Python class: it joins the contract as a registered implementation.
HttpDriver.register(Http1Driver)


def _settings(config: Any, impl: ModuleType) -> tuple[Any, dict[str, int], ModuleType,
                                                    float, float]:
    """(parser class, parser options, serializer, keep-alive timeout, least body
    bytes per --timeout-request-body window), as Http1Driver unpacks them."""
    options = {
        "max_request_line_size": config.limit_request_line,
        "max_header_count": config.limit_request_fields,
        "max_header_size": config.limit_request_field_size,
        "max_body_size": config.limit_request_body,
    }
    return (impl.parser.RequestParser, options, impl.serializer, config.timeout_keep_alive,
            config.limit_request_body_rate * config.timeout_request_body)


def _chunk_pieces(data: bytes) -> list[bytes]:
    return [b"%x\r\n" % len(data), data, b"\r\n"]


def _has_content_length(headers: Headers) -> bool:
    return any(bytes(name).lower() == b"content-length" for name, _ in headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_PAUSED_BODY = 1
_PAUSED_PIPELINE = 2
_PAUSED_UPGRADE = 4
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_SWITCHING_TO_H2C = (b"HTTP/1.1 101 Switching Protocols\r\n"
                     b"connection: Upgrade\r\nupgrade: h2c\r\n\r\n")
