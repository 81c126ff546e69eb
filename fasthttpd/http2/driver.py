"""H2LibraryDriver: HTTP/2 (RFC 9113) on one connection, on the h2 library.

Theory of operation. Each received chunk goes to `h2.receive_data` once; the
events it returns are handled in one pass (a dispatch on the event's type), and
everything h2 queued in answer leaves in a single `write` at the end of the
batch. New requests are handed to `on_message` only after the whole batch, so a
stream the client opens and resets in the same breath never starts the app.
Responses written later, from the apps' tasks, ask for one flush on the next
loop iteration, which then carries all the frames queued meanwhile.

Flow control. Inbound, a stream's DATA is acknowledged when the app reads it
(Http2Stream.receive_body), so the window we advertise bounds what is buffered
per stream, and the connection window bounds the sum. Outbound, a body part is
sent as far as the windows allow; the rest waits in the stream until a
WINDOW_UPDATE, and the app waits in `drain()`. Output stops, and apps wait,
while the transport's buffer is above its high-water mark.

Abuse limits (see the h2_* settings): streams are counted as ours until their
response is complete, so SETTINGS_MAX_CONCURRENT_STREAMS holds even when h2
already considers a stream closed; new streams beyond it are refused. Resets (by
the client, or by us because the client erred: malformed requests, refusals,
deadlines) and frames that do no work (PING, SETTINGS, PRIORITY, empty DATA,
needless WINDOW_UPDATE, unknown frames) are counted per one-second window, and
past the limit the connection ends with GOAWAY ENHANCE_YOUR_CALM. The decoded
header list is capped (SETTINGS_MAX_HEADER_LIST_SIZE, the HPACK bomb guard), and
h2 caps a header block at 64 CONTINUATION frames. Acknowledgements queued while
the client does not read are counted, and the connection is dropped past a cap.

Deadlines: one timer per connection ticks while it is open; it closes an idle
connection (no stream for timeout_keep_alive), resets streams whose response has
waited for window longer than h2_send_timeout or whose body has not moved for
timeout_request_body, and drops a connection whose client has not read for
h2_send_timeout.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    PingAckReceived,
    PingReceived,
    PriorityUpdated,
    RemoteSettingsChanged,
    RequestReceived,
    SettingsAcknowledged,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    UnknownFrameReceived,
    WindowUpdated,
)
from h2.exceptions import InvalidBodyLengthError, ProtocolError
from h2.settings import SettingCodes, Settings
from hpack import HPACKError
from hyperframe.frame import GoAwayFrame

from fasthttpd.driver import HttpDriver
from fasthttpd.http2.headers import CONNECTION_SPECIFIC, parse_request, trailers_are_valid
from fasthttpd.http2.stream import Http2Stream
from fasthttpd.websocket import http2 as websocket

if TYPE_CHECKING:
    from fasthttpd.client import Client
    from fasthttpd.connection import Writer
    from fasthttpd.driver import OnMessage
    from fasthttpd.state import ServerState

logger = logging.getLogger("fasthttpd.error")

# Queued output is written out once it grows past this while a body is being
# framed, so that a large window cannot make one send pile up in memory.
FLUSH_THRESHOLD = 256 * 1024
# Events that do no request work: counted against h2_max_control_frames_per_second.
_CONTROL_EVENTS = (PingReceived, PingAckReceived, RemoteSettingsChanged,
                   SettingsAcknowledged, UnknownFrameReceived)
# Events h2 answers with a frame of its own (ACKs): counted while the client does not read.
_ACKED_EVENTS = (PingReceived, RemoteSettingsChanged)
# The upgrade request's fields that described the HTTP/1.1 connection itself.
_UPGRADE_FIELDS = CONNECTION_SPECIFIC | {b"http2-settings", b"te"}


class StreamMalformed:
    """A synthetic event: the client sent a malformed message on this stream.

    The stream has already been reset with PROTOCOL_ERROR (RFC 9113 8.1.1).
    """

    __slots__ = ("stream_id", "reason")

    def __init__(self, stream_id: int, reason: str) -> None:
        self.stream_id = stream_id
        self.reason = reason


class HeaderCompressionError(ProtocolError):
    """A header block that cannot be decoded: COMPRESSION_ERROR (RFC 9113 4.3),
    where h2 would end the connection with PROTOCOL_ERROR."""

    error_code = ErrorCodes.COMPRESSION_ERROR


class ServerConnection(H2Connection):
    """h2's connection with the corrections RFC 9113 asks of a server.

    - A header block that cannot be decoded ends the connection with
      COMPRESSION_ERROR (RFC 9113 4.3), not h2's PROTOCOL_ERROR.

    - A malformed request (content-length against the DATA received, trailers
      without END_STREAM, a bad content-length) is a stream error, not the
      connection error h2 raises (RFC 9113 8.1.1).
    - SETTINGS_MAX_CONCURRENT_STREAMS is enforced by the driver, which refuses
      the stream (REFUSED_STREAM, RFC 9113 5.1.2) instead of h2's connection error,
      and counts streams until their response is complete.
    """

    @property
    def open_inbound_streams(self) -> int:
        self._open_streams(1)  # h2's housekeeping: forget closed streams
        return 0

    def _receive_headers_frame(self, frame: Any) -> Any:
        try:
            return super()._receive_headers_frame(frame)
        except ProtocolError as exc:
            if type(exc) is ProtocolError and isinstance(exc.__cause__, HPACKError):
                raise HeaderCompressionError(str(exc)) from exc.__cause__
            # Only errors about the message itself: HPACK failures carry a cause,
            # and stream-state or stream-ID errors leave no open stream behind.
            stream = self.streams.get(frame.stream_id)
            if type(exc) is not ProtocolError or exc.__cause__ is not None \
                    or stream is None or stream.closed:
                raise
            return self._malformed(frame.stream_id, str(exc))

    def _receive_data_frame(self, frame: Any) -> Any:
        try:
            return super()._receive_data_frame(frame)
        except InvalidBodyLengthError as exc:
            result = self._malformed(frame.stream_id, str(exc))
            # The bytes counted against the connection window; give them back.
            self.acknowledge_received_data(frame.flow_controlled_length, frame.stream_id)
            return result

    def _malformed(self, stream_id: int, reason: str) -> tuple[list[Any], list[Any]]:
        self.reset_stream(stream_id, ErrorCodes.PROTOCOL_ERROR)
        return [], [StreamMalformed(stream_id, reason)]


class H2LibraryDriver(HttpDriver):
    """HTTP/2 for one connection; see the module docstring."""

    __slots__ = (
        "state", "loop", "config", "h2", "client", "on_message", "write", "writer",
        "streams", "blocked", "draining", "pending_trailers", "to_dispatch",
        "writing_paused", "paused_since", "started", "closed", "stopping",
        "last_stream_id", "in_receive", "flush_scheduled", "unflushed", "receiving",
        "idle_since", "timer", "tick", "window_end", "resets", "control_frames",
        "queued_acks", "server_header", "date_header", "max_streams",
        "max_resets", "max_control_frames", "max_queued_acks", "websockets",
        "last_tick", "body_window_min",
    )

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.config = config = state.config
        self.h2 = ServerConnection(H2Configuration(
            client_side=False, header_encoding=None,
            # Inbound checks are ours (fasthttpd.http2.headers): stream errors, not
            # connection errors, and one pass instead of a chain of generators.
            validate_inbound_headers=False, normalize_inbound_headers=False,
            validate_outbound_headers=False, normalize_outbound_headers=False,
            split_outbound_cookies=False,
        ))
        self.h2.local_settings = _local_settings(self.h2, config)
        self.h2.decoder.max_header_list_size = config.h2_max_header_list_size
        self.streams: dict[int, Http2Stream] = {}  # response not complete yet
        self.blocked: dict[int, Http2Stream] = {}  # body bytes waiting for window
        self.draining: set[Http2Stream] = set()  # apps waiting in drain()
        self.pending_trailers: dict[int, list[tuple[bytes, bytes]]] = {}
        self.to_dispatch: list[Http2Stream] = []
        self.writing_paused = False
        self.paused_since = 0.0
        self.started = False
        self.closed = False
        self.stopping = False
        self.last_stream_id = 0  # streams above it are refused once stopping
        self.in_receive = False
        self.flush_scheduled = False
        self.unflushed = 0
        self.receiving = 0  # streams whose request body is still arriving
        self.idle_since = self.loop.time()
        self.timer: Any = None
        # Once a second by default; finer only when a deadline is shorter than 4 s.
        self.tick = min(1.0, max(0.05, min(config.timeout_keep_alive, config.h2_send_timeout,
                                           config.timeout_request_body) / 4))
        self.window_end = 0.0
        self.resets = 0
        self.control_frames = 0
        self.queued_acks = 0
        self.server_header = b"fasthttpd" if config.server_header else None
        self.date_header = config.date_header
        self.max_streams = config.h2_max_concurrent_streams
        self.max_resets = config.h2_max_resets_per_second
        self.max_control_frames = config.h2_max_control_frames_per_second
        self.max_queued_acks = config.h2_max_queued_control_frames
        # RFC 8441 WebSocket streams (fasthttpd.websocket.http2), told of a shutdown;
        # None with --ws none.
        self.websockets: set[Any] | None = set() if config.ws != "none" else None
        # Bytes a request body must bring per --timeout-request-body window.
        self.body_window_min = config.limit_request_body_rate * config.timeout_request_body
        self.last_tick = 0.0

    # HttpDriver.
    def setup(self, client: Client, on_message: OnMessage, writer: Writer) -> None:
        self.client = client
        self.on_message = on_message
        self.writer = writer
        self.write = writer.write
        self.last_tick = self.loop.time()
        self.timer = self.loop.call_later(self.tick, self._on_tick)

    @property
    def pending_request_count(self) -> int:
        return self.receiving

    def data_received(self, data: bytes) -> None:
        if self.closed or not data:
            return
        if not self.started:
            self._start()
        now = self.loop.time()
        if now >= self.window_end:
            self.window_end = now + 1.0
            self.resets = self.control_frames = 0
        # Until the final flush below, whatever the events make us send waits for it.
        self.in_receive = True
        try:
            self._receive(data)
        finally:
            self.in_receive = False

    def _receive(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except ProtocolError as exc:
            # A connection error: h2 queued GOAWAY with the code RFC 9113 asks for.
            logger.debug("HTTP/2 connection error from %s: %s", self.client.remote_address, exc)
            self._terminate(None)
            return
        event: Any  # dispatched on its exact type, which a type checker does not narrow
        for event in events:
            kind = type(event)
            if kind is DataReceived:
                self._on_data(event)
            elif kind is RequestReceived:
                self._on_request(event)
            elif kind is StreamEnded:
                self._on_stream_ended(event.stream_id)
            elif kind is WindowUpdated:
                self._on_window_updated(event.stream_id)
            elif kind is StreamReset:
                self.resets += 1
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    self._forget(stream, lost=True)
            elif kind is StreamMalformed:
                self._on_malformed(event)
            elif kind is TrailersReceived:
                self._on_trailers(event)
            elif kind in _CONTROL_EVENTS:
                self.control_frames += 1
                if self.writing_paused and kind in _ACKED_EVENTS:
                    self.queued_acks += 1
                if kind is RemoteSettingsChanged:
                    self._send_all_blocked()  # the initial window may have grown
            elif kind is PriorityUpdated:
                # A PRIORITY flag on a request's HEADERS is part of that request.
                if event.stream_id not in self.streams:
                    self.control_frames += 1
            elif kind is ConnectionTerminated:
                self._on_goaway(event)
                return
        if self.resets > self.max_resets or self.control_frames > self.max_control_frames:
            self._calm_down()
            return
        if self.queued_acks > self.max_queued_acks:
            logger.info("HTTP/2 client %s does not read its acknowledgements; closing",
                        self.client.remote_address)
            self._abort()
            return
        if self.to_dispatch:
            self._dispatch()
        self._flush()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for stream in list(self.streams.values()):
            self._forget(stream, lost=True)
        self.to_dispatch.clear()

    def pause_writing(self) -> None:
        if not self.writing_paused:
            self.writing_paused = True
            self.paused_since = self.loop.time()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.queued_acks = 0
        self._send_all_blocked()
        for stream in list(self.draining):
            if not stream.outbound:
                stream.wake_drain()
        self.schedule_flush()

    def stop(self) -> None:
        """GOAWAY with the last stream id, finish the streams in flight, then close."""
        if self.stopping or self.closed:
            return
        self.stopping = True
        for stream in list(self.websockets or ()):
            stream.stop()  # Close 1001; their streams end with the closing handshake
        if not self.started:
            self._close()
            return
        self.last_stream_id = self.h2.highest_inbound_stream_id
        # Written by hand: h2's close_connection() would refuse to send the
        # responses still in flight (RFC 9113 6.8 lets them finish).
        goaway = GoAwayFrame(0)
        goaway.last_stream_id = self.last_stream_id
        goaway.error_code = ErrorCodes.NO_ERROR
        self.write(self.h2.data_to_send() + goaway.serialize())
        self.unflushed = 0
        if not self.streams:
            self._close()

    # The h2c upgrade (RFC 7540 3.2, kept by RFC 9113 3.1 for existing deployments).
    def accept_h2c_upgrade(self, settings_header_value: bytes, request_head: Any) -> None:
        """Take over after Http1Driver answered 101: stream 1 is the upgrade request."""
        value = bytes(settings_header_value).strip()
        try:
            self.h2.initiate_upgrade_connection(value + b"=" * (-len(value) % 4))
        except Exception as exc:  # bad base64, a bad SETTINGS payload (h2 or hyperframe)
            logger.info("bad HTTP2-Settings from %s: %s", self.client.remote_address, exc)
            self._close()
            return
        self.started = True
        headers = [(name, v) for name, v in request_head.headers if name not in _UPGRADE_FIELDS]
        stream = Http2Stream(self, 1, request_head.method, request_head.path,
                             request_head.query, self.client.scheme, headers, True)
        self._open(stream)
        self._dispatch()
        self._flush()

    # Incoming events.
    def _start(self) -> None:
        self.started = True
        h2 = self.h2
        h2.initiate_connection()
        extra = self.config.h2_connection_window_size - h2.inbound_flow_control_window
        if extra > 0:
            h2.increment_flow_control_window(extra)

    def _on_request(self, event: Any) -> None:
        stream_id = event.stream_id
        h2 = self.h2
        h2_stream = h2.streams.get(stream_id)
        if h2_stream is None or h2_stream.closed:
            return  # reset by the client in the same read: nothing to answer or refuse
        if self.stopping and stream_id > self.last_stream_id:
            h2.reset_stream(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        if len(self.streams) >= self.max_streams:
            # RFC 9113 5.1.2; counted, since the client is ignoring our setting.
            self.resets += 1
            h2.reset_stream(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        ended = event.stream_ended is not None
        if self.websockets is not None and websocket.has_protocol(event.headers):
            websocket.open_stream(self, stream_id, event.headers, ended)  # RFC 8441
            return
        head = parse_request(event.headers)
        if isinstance(head, str):
            self._reject(stream_id, head)
            return
        if ended and head.content_length > 0:
            # RFC 9113 8.1.1: content-length against the DATA received (none).
            self._reject(stream_id, "content-length without DATA")
            return
        stream = Http2Stream(self, stream_id, head.method, head.path, head.query,
                             head.scheme, head.headers, ended)
        self._open(stream)
        if head.method == "CONNECT":  # tunnels are not served
            stream.respond_error(501)
            return
        if len(head.headers) > self.config.limit_request_fields:
            stream.respond_error(431)
            return
        if not ended and self.body_window_min > 0:
            # The first --timeout-request-body window is the grace period.
            stream.rate_window_end = self.loop.time() + self.config.timeout_request_body

    def _open(self, stream: Http2Stream) -> None:
        self.streams[stream.stream_id] = stream
        client = self.client
        client.pending_response_count += 1
        if not stream.body_ended:
            client.pending_request_count += 1
            self.receiving += 1
        self.to_dispatch.append(stream)

    def _dispatch(self) -> None:
        streams, self.to_dispatch = self.to_dispatch, []
        on_message = self.on_message
        for stream in streams:
            if not stream.is_disconnected and not stream.complete:
                on_message(stream)

    def _reject(self, stream_id: int, reason: str) -> None:
        logger.debug("malformed HTTP/2 request on stream %d from %s: %s", stream_id,
                     self.client.remote_address, reason)
        self.resets += 1  # server-provoked resets count (CVE-2025-8671)
        self.h2.reset_stream(stream_id, ErrorCodes.PROTOCOL_ERROR)

    def _on_malformed(self, event: StreamMalformed) -> None:
        logger.debug("malformed HTTP/2 message on stream %d from %s: %s", event.stream_id,
                     self.client.remote_address, event.reason)
        self.resets += 1
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.complete = True  # h2 already sent RST_STREAM
            self._forget(stream, lost=True)

    def _on_data(self, event: Any) -> None:
        size = event.flow_controlled_length
        data = event.data
        if not data and event.stream_ended is None:
            self.control_frames += 1  # an empty DATA frame does no work
        stream = self.streams.get(event.stream_id)
        if stream is None or stream.is_disconnected:
            if size:  # nobody will read it: give the window back at once
                self.h2.acknowledge_received_data(size, event.stream_id)
            return
        if data or size:
            stream.feed(data, size)

    def _on_stream_ended(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None and not stream.body_ended:
            stream.end_body()
            self.receiving -= 1
            self.client.pending_request_count -= 1

    def _on_trailers(self, event: Any) -> None:
        if trailers_are_valid(event.headers):
            return  # ASGI has no request trailers; StreamEnded follows
        stream = self.streams.get(event.stream_id)
        self._reject(event.stream_id, "invalid trailers")
        if stream is not None:
            stream.complete = True
            self._forget(stream, lost=True)

    def _on_window_updated(self, stream_id: int) -> None:
        if not self.blocked:
            self.control_frames += 1  # nothing was waiting for it
            return
        if stream_id == 0:
            self._send_all_blocked()
        else:
            stream = self.blocked.get(stream_id)
            if stream is not None:
                self.send_outbound(stream)

    def _on_goaway(self, event: Any) -> None:
        # h2 sends nothing more after a GOAWAY, so streams in flight cannot finish.
        logger.debug("HTTP/2 client %s sent GOAWAY (%s)", self.client.remote_address,
                     event.error_code)
        self._terminate(None)

    # Outgoing data.
    def send_outbound(self, stream: Http2Stream) -> bool:
        """Send the stream's waiting body bytes as far as the windows allow.

        Returns True while bytes remain or the transport is full: the app must
        wait in drain().
        """
        h2 = self.h2
        stream_id = stream.stream_id
        data = stream.outbound
        while True:
            size = len(data)
            if not size:
                if stream.end_after:
                    h2.send_data(stream_id, b"", end_stream=True)
                break
            window = h2.local_flow_control_window(stream_id)
            if window <= 0 or self.writing_paused:
                break
            chunk = min(size, window, h2.max_outbound_frame_size)
            if chunk == size:
                h2.send_data(stream_id, data, end_stream=stream.end_after)
                data = b""
                self.unflushed += size
                break
            if type(data) is not memoryview:
                data = memoryview(data)
            h2.send_data(stream_id, data[:chunk])
            data = data[chunk:]
            self.unflushed += chunk
            if self.unflushed >= FLUSH_THRESHOLD:
                self._flush()  # may pause writing: the loop then stops
        stream.outbound = data
        if data:
            self.blocked[stream_id] = stream
            self.schedule_flush()
            return True
        self.blocked.pop(stream_id, None)
        if stream.end_after:
            self.stream_complete(stream)
        else:
            trailers = self.pending_trailers.pop(stream_id, None)
            if trailers is not None:
                h2.send_headers(stream_id, trailers, end_stream=True)
                self.stream_complete(stream)
        if stream.drain_waiter is not None and not self.writing_paused:
            stream.wake_drain()
        self.schedule_flush()
        return self.writing_paused

    def _send_all_blocked(self) -> None:
        for stream in list(self.blocked.values()):
            if self.writing_paused:
                return
            self.send_outbound(stream)

    # For Http2Stream: only the driver talks to h2 and changes its own fields.
    def send_headers(self, stream: Http2Stream, headers: Any, end_stream: bool = False) -> None:
        self.h2.send_headers(stream.stream_id, headers, end_stream=end_stream)

    def trailers_after_outbound(self, stream: Http2Stream, fields: Any) -> None:
        """Send `fields` as trailers once the stream's held body bytes have gone."""
        self.pending_trailers[stream.stream_id] = fields

    def drain_started(self, stream: Http2Stream) -> None:
        self.draining.add(stream)

    def drain_ended(self, stream: Http2Stream) -> None:
        self.draining.discard(stream)

    def body_consumed(self, stream: Http2Stream, size: int) -> None:
        """The app has read `size` flow-controlled bytes: reopen the windows."""
        if size and not self.closed:
            self.h2.acknowledge_received_data(size, stream.stream_id)
            self.schedule_flush()

    def schedule_flush(self) -> None:
        if not self.flush_scheduled and not self.in_receive and not self.closed:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        self.unflushed = 0
        if self.closed:
            return
        data = self.h2.data_to_send()
        if data:
            self.write(data)

    # Stream endings.
    def stream_complete(self, stream: Http2Stream) -> None:
        """END_STREAM went out: the response is complete."""
        stream.complete = True
        if not stream.body_ended and not stream.is_disconnected:
            # RFC 9113 8.1: a complete response may stop the rest of the request
            # with RST_STREAM NO_ERROR (the server's choice, not counted).
            self.h2.reset_stream(stream.stream_id, ErrorCodes.NO_ERROR)
        self._forget(stream, lost=False)

    def reset_stream(self, stream: Http2Stream, error_code: int) -> None:
        """Abort one response: RST_STREAM, and the app's waits end."""
        if not self.closed:
            self.h2.reset_stream(stream.stream_id, error_code)
            self.schedule_flush()
        stream.complete = True
        self._forget(stream, lost=True)

    def _forget(self, stream: Http2Stream, lost: bool) -> None:
        stream_id = stream.stream_id
        if self.streams.pop(stream_id, None) is None:
            if lost:
                stream.lose()
            return
        self.blocked.pop(stream_id, None)
        self.pending_trailers.pop(stream_id, None)
        client = self.client
        client.pending_response_count -= 1
        if not stream.body_ended:
            stream.body_ended = True
            self.receiving -= 1
            client.pending_request_count -= 1
        if stream.unacknowledged and not self.closed:
            # Buffered body nobody will read: the connection window gets it back.
            self.h2.acknowledge_received_data(stream.unacknowledged, stream_id)
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
    def _calm_down(self) -> None:
        logger.warning("HTTP/2 client %s exceeded the reset or control-frame rate; "
                       "GOAWAY ENHANCE_YOUR_CALM", self.client.remote_address)
        self._terminate(ErrorCodes.ENHANCE_YOUR_CALM)

    def _terminate(self, error_code: int | None) -> None:
        """GOAWAY (already queued by h2 when error_code is None), then close."""
        if self.closed:
            return
        if error_code is not None:
            self.h2.close_connection(error_code=error_code)
        data = self.h2.data_to_send()
        self.closed = True
        for stream in list(self.streams.values()):
            self._forget(stream, lost=True)
        self.to_dispatch.clear()
        self.write(data, close=True)

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    def _abort(self) -> None:
        """Cut a client that does not read: a TCP reset, so that the kernel drops
        what it still holds for it too (Writer.reset)."""
        self.closed = True
        for stream in list(self.streams.values()):
            self._forget(stream, lost=True)
        self.writer.reset()

    # The one timer.
    def _on_tick(self) -> None:
        self.timer = None
        if self.closed:
            return
        now = self.loop.time()
        config = self.config
        if not self.streams:
            if now - self.idle_since >= config.timeout_keep_alive:
                logger.debug("closing idle HTTP/2 connection from %s", self.client.remote_address)
                self._terminate(ErrorCodes.NO_ERROR)
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
                    self.reset_stream(stream, ErrorCodes.CANCEL)
                elif stream.body_waiter is not None and stream.body_wait_since <= body_limit:
                    logger.info("HTTP/2 stream %d: request body stalled; reset", stream.stream_id)
                    self.resets += 1
                    self.reset_stream(stream, ErrorCodes.CANCEL)
                elif stream.rate_window_end and not stream.body_ended:
                    self._check_body_rate(stream, now)
        self.last_tick = now
        self.timer = self.loop.call_later(self.tick, self._on_tick)

    def _check_body_rate(self, stream: Http2Stream, now: float) -> None:
        """--limit-request-body-rate, as Http1Driver applies it: at the end of each
        --timeout-request-body window (the first is the grace period) the body must
        have brought rate * window bytes. Time in which the client cannot send (the
        stream's or the connection's window is used up because the app does not
        read) is ours, not the client's: the window moves with it."""
        if self.h2.remote_flow_control_window(stream.stream_id) <= 0:
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
            self.reset_stream(stream, ErrorCodes.CANCEL)


def _local_settings(h2: H2Connection, config: Any) -> Settings:
    # A fresh Settings object: its initial values are what initiate_connection()
    # advertises (updating h2's would only queue them until the client's ACK).
    return Settings(client=False, initial_values={
        SettingCodes.MAX_CONCURRENT_STREAMS: config.h2_max_concurrent_streams,
        SettingCodes.INITIAL_WINDOW_SIZE: config.h2_initial_window_size,
        SettingCodes.MAX_HEADER_LIST_SIZE: config.h2_max_header_list_size,
        # RFC 8441 3: extended CONNECT, for WebSockets.
        SettingCodes.ENABLE_CONNECT_PROTOCOL: 0 if config.ws == "none" else 1,
    })
