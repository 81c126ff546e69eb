"""The compiled sans-IO HTTP/2 core (fasthttpd/http2/_core.pyx) on its own.

Frames are written by hand (bytes) or by h2 as the client, fed to a
ServerConnection whose hooks record what it reports, and what it answers is read
back with hyperframe, an independent frame parser. Every input is fed three
ways (whole, byte by byte, split in three) and must give the same hooks and the
same output (the split-independence the parser tests ask of HTTP/1.1).
"""

from __future__ import annotations

from typing import Any

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from hpack import Encoder
from hyperframe.frame import (
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fasthttpd.http2 import _core

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PROTOCOL_ERROR = 1
FLOW_CONTROL_ERROR = 3
STREAM_CLOSED = 5
FRAME_SIZE_ERROR = 6
REFUSED_STREAM = 7
COMPRESSION_ERROR = 9


class Recorder(_core.ServerConnection):
    """The core with hooks that record what it reports."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.events: list[tuple[Any, ...]] = []

    def on_request(self, s: Any, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        self.events.append(("request", s.stream_id, self.req_method, self.req_path,
                            self.req_protocol, list(headers), end_stream))

    def on_data(self, s: Any, data: bytes, flow_length: int, end_stream: bool) -> None:
        self.events.append(("data", s.stream_id, data, flow_length, end_stream))

    def on_stream_reset(self, s: Any, code: int, by_client: bool) -> None:
        self.events.append(("reset", s.stream_id, code, by_client))

    def on_window_update(self, s: Any) -> None:
        self.events.append(("window", None if s is None else s.stream_id))

    def on_goaway(self, code: int) -> None:
        self.events.append(("goaway", code))


def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") \
        + payload


SETTINGS = frame(4, 0, 0)


def request_block(path: bytes = b"/", method: bytes = b"GET",
                  extra: list[tuple[bytes, bytes]] | None = None,
                  encoder: Encoder | None = None) -> bytes:
    fields = [(b":method", method), (b":scheme", b"http"), (b":path", path),
              (b":authority", b"example.test")]
    return (encoder or Encoder()).encode(fields + (extra or []))


def headers(sid: int, block: bytes, end_stream: bool = True, flags: int = 0x4) -> bytes:
    return frame(1, flags | (1 if end_stream else 0), sid, block)


def split_frames(data: bytes) -> list[Any]:
    frames = []
    while len(data) >= 9:
        parsed, length = Frame.parse_frame_header(memoryview(data[:9]))
        parsed.parse_body(memoryview(data[9:9 + length]))
        frames.append(parsed)
        data = data[9 + length:]
    return frames


def feed(data: bytes, chunks: list[bytes] | None = None,
         **settings: Any) -> tuple[list[tuple[Any, ...]], bytes, Recorder]:
    core = Recorder(settings.get("max_streams", 100), settings.get("window", 65535),
                    settings.get("connection_window", 65535), settings.get("header_list", 65536))
    core.start()
    for chunk in chunks if chunks is not None else [data]:
        core.receive(chunk)
    return core.events, core.data_to_send(), core


def feed_three_ways(data: bytes, **settings: Any) -> tuple[list[tuple[Any, ...]], list[Any],
                                                           Recorder]:
    """The hooks and the answer frames; they must not depend on how data was split."""
    whole = feed(data, **settings)
    bytewise = feed(data, [data[i:i + 1] for i in range(len(data))], **settings)
    third = len(data) // 3
    split = feed(data, [data[:third], data[third:2 * third], data[2 * third:]], **settings)
    assert bytewise[:2] == whole[:2], "byte-by-byte feeding differs from feeding whole"
    assert split[:2] == whole[:2], "split feeding differs from feeding whole"
    return whole[0], split_frames(whole[1]), whole[2]


def connection_error_of(frames: list[Any]) -> int | None:
    goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
    return goaways[-1].error_code if goaways else None


def stream_errors_of(frames: list[Any]) -> dict[int, int]:
    return {f.stream_id: f.error_code for f in frames if isinstance(f, RstStreamFrame)}


def test_preface_settings_and_request() -> None:
    data = PREFACE + SETTINGS + headers(1, request_block(b"/a?b=1", extra=[(b"x-y", b"z")]))
    events, frames, _ = feed_three_ways(data)
    settings = frames[0]
    assert isinstance(settings, SettingsFrame) and not settings.flags
    # RFC 8441 3: extended CONNECT is advertised; push is off.
    assert settings.settings[8] == 1 and settings.settings[2] == 0
    assert settings.settings[3] == 100
    assert any(isinstance(f, SettingsFrame) and "ACK" in f.flags for f in frames)
    assert events == [("request", 1, "GET", b"/a?b=1", None,
                       [(b"x-y", b"z"), (b"host", b"example.test")], True)]


def test_exchange_with_h2_as_the_client() -> None:
    client = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.receive(client.data_to_send())
    client.receive_data(core.data_to_send())
    client.send_headers(1, [(b":method", b"POST"), (b":path", b"/up"), (b":scheme", b"https"),
                            (b":authority", b"a"), (b"content-length", b"5")])
    client.send_data(1, b"hello", end_stream=True)
    assert core.receive(client.data_to_send()) == 0
    assert core.events == [("request", 1, "POST", b"/up", None,
                            [(b"content-length", b"5"), (b"host", b"a")], False),
                           ("data", 1, b"hello", 5, True)]
    stream = core.stream_states[1]
    core.send_headers(stream, [(b":status", b"200"), (b"content-type", b"text/plain")], False)
    core.send_data(stream, b"Hello, world!", True)
    events = client.receive_data(core.data_to_send())
    names = [type(e).__name__ for e in events]
    assert names == ["ResponseReceived", "DataReceived", "StreamEnded"]
    assert events[1].data == b"Hello, world!"  # type: ignore[attr-defined]
    assert 1 not in core.stream_states  # closed both ways


def test_padding_continuation_trailers_and_ignored_frames() -> None:
    block = request_block(b"/p", b"POST")
    padded_headers = frame(1, 0x8 | 0x20, 1, bytes([3]) + b"\x00\x00\x00\x00\x10"
                           + block[:5] + b"\x00" * 3)  # PADDED, PRIORITY, no END_HEADERS
    continuation = frame(9, 0x4, 1, block[5:])
    padded_data = frame(0, 0x8, 1, bytes([4]) + b"body" + b"\x00" * 4)
    trailers = frame(1, 0x4 | 0x1, 1, Encoder().encode([(b"x-sum", b"1")]))
    data = (PREFACE + SETTINGS + padded_headers + continuation + frame(0xEE, 0, 0, b"?")
            + frame(2, 0, 3, b"\x00\x00\x00\x01\x10")  # PRIORITY for an idle stream
            + padded_data + frame(6, 0, 0, b"12345678") + trailers)
    events, frames, core = feed_three_ways(data)
    assert events == [("request", 1, "POST", b"/p", None, [(b"host", b"example.test")], False),
                      ("data", 1, b"body", 9, False), ("data", 1, b"", 0, True)]
    pings = [f for f in frames if isinstance(f, PingFrame)]
    assert pings[0].opaque_data == b"12345678" and "ACK" in pings[0].flags
    assert connection_error_of(frames) is None
    assert core.control_frames >= 3  # the unknown frame, PRIORITY, PING


@pytest.mark.parametrize("payload, code", [
    (frame(5, 4, 1, b"\x00\x00\x00\x02"), PROTOCOL_ERROR),  # PUSH_PROMISE from a client
    (frame(0, 1, 0, b"x"), PROTOCOL_ERROR),  # DATA on stream 0
    (headers(2, request_block()), PROTOCOL_ERROR),  # even stream id
    (frame(0, 1, 1, b"x"), PROTOCOL_ERROR),  # DATA on an idle stream
    (frame(3, 0, 1, b"\x00\x00\x00\x08"), PROTOCOL_ERROR),  # RST_STREAM on an idle stream
    (frame(8, 0, 1, b"\x00\x00\x00\x01"), PROTOCOL_ERROR),  # WINDOW_UPDATE, idle stream
    (frame(9, 4, 1, b""), PROTOCOL_ERROR),  # CONTINUATION without HEADERS
    (frame(0, 0, 1, b"x" * 16385), FRAME_SIZE_ERROR),  # over SETTINGS_MAX_FRAME_SIZE
    (frame(6, 0, 0, b"1234567"), FRAME_SIZE_ERROR),  # PING of 7 bytes
    (frame(6, 0, 1, b"12345678"), PROTOCOL_ERROR),  # PING on a stream
    (frame(4, 1, 0, b"\x00\x01\x00\x00\x00\x00"), FRAME_SIZE_ERROR),  # SETTINGS ACK + payload
    (frame(4, 0, 0, b"\x00\x01\x00"), FRAME_SIZE_ERROR),  # SETTINGS not a multiple of 6
    (frame(4, 0, 1, b""), PROTOCOL_ERROR),  # SETTINGS on a stream
    (frame(4, 0, 0, b"\x00\x02\x00\x00\x00\x02"), PROTOCOL_ERROR),  # ENABLE_PUSH 2
    (frame(4, 0, 0, b"\x00\x04\x80\x00\x00\x00"), FLOW_CONTROL_ERROR),  # window 2^31
    (frame(4, 0, 0, b"\x00\x05\x00\x00\x3f\xff"), PROTOCOL_ERROR),  # MAX_FRAME_SIZE 16383
    (frame(8, 0, 0, b"\x00\x00\x00\x00"), PROTOCOL_ERROR),  # WINDOW_UPDATE of 0, connection
    (frame(8, 0, 0, b"\x7f\xff\xff\xff"), FLOW_CONTROL_ERROR),  # connection window overflow
    (frame(7, 0, 1, b"\x00" * 8), PROTOCOL_ERROR),  # GOAWAY on a stream
    (headers(1, b"\x80"), COMPRESSION_ERROR),  # HPACK index 0
    (headers(1, request_block(), flags=0) + frame(6, 0, 0, b"12345678"),
     PROTOCOL_ERROR),  # a header block interrupted
    (headers(3, request_block()) + headers(1, request_block()),
     PROTOCOL_ERROR),  # stream ids must increase
    # HEADERS again on a half-closed (remote) stream: STREAM_CLOSED, here as a
    # stream error (RFC 9113 5.1 allows either).
    (headers(1, request_block()) + headers(1, request_block()), STREAM_CLOSED),
    (frame(1, 0x8 | 0x4 | 0x1, 1, b"\xf0" + request_block()), PROTOCOL_ERROR),  # pad too long
])
def test_connection_errors(payload: bytes, code: int) -> None:
    events, frames, core = feed_three_ways(PREFACE + SETTINGS + payload)
    error = connection_error_of(frames)
    if error is None:  # the cases the RFC allows as a stream error
        assert stream_errors_of(frames), f"no error at all for {payload!r}"
        assert list(stream_errors_of(frames).values())[-1] == code
    else:
        assert error == code, core.error_reason
        assert core.closed
        assert core.receive(frame(6, 0, 0, b"12345678")) == 1  # nothing more is read


def test_preface_must_be_followed_by_settings() -> None:
    _, frames, _ = feed_three_ways(PREFACE + frame(6, 0, 0, b"12345678"))
    assert connection_error_of(frames) == PROTOCOL_ERROR


def test_invalid_preface() -> None:
    _, frames, core = feed_three_ways(b"PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n" + SETTINGS)
    assert connection_error_of(frames) == PROTOCOL_ERROR and core.closed


@pytest.mark.parametrize("extra, method, reason", [
    ([(b"Upper", b"x")], b"GET", "uppercase name"),
    ([(b"connection", b"close")], b"GET", "connection-specific"),
    ([(b"keep-alive", b"1")], b"GET", "connection-specific"),
    ([(b"transfer-encoding", b"chunked")], b"GET", "transfer-encoding"),
    ([(b"te", b"gzip")], b"GET", "te other than trailers"),
    ([(b"x", b"a\nb")], b"GET", "LF in a value"),
    ([(b"x", b"a\x00b")], b"GET", "NUL in a value"),
    ([(b"x", b"trailing ")], b"GET", "trailing whitespace"),
    ([(b"x:y", b"1")], b"GET", "colon in a name"),
    ([(b"", b"1")], b"GET", "empty name"),
    ([(b":protocol", b"websocket")], b"GET", ":protocol without CONNECT"),
    ([(b":method", b"GET")], b"GET", "repeated pseudo-header"),
    ([(b":status", b"200")], b"GET", "response pseudo-header"),
    ([(b"x", b"1"), (b":foo", b"1")], b"GET", "pseudo-header after a regular field"),
    ([(b"host", b"other")], b"GET", "host differs from :authority"),
    ([(b"content-length", b"1"), (b"content-length", b"1")], b"GET", "repeated length"),
    ([(b"content-length", b"x")], b"GET", "invalid content-length"),
    ([(b"content-length", b"3")], b"GET", "content-length without DATA"),
    ([], b"G E T", "method not a token"),
])
def test_malformed_requests_are_stream_errors(extra: list[tuple[bytes, bytes]], method: bytes,
                                              reason: str) -> None:
    """RFC 9113 8.1.1, 8.2, 8.3: RST_STREAM PROTOCOL_ERROR; the connection goes on."""
    data = PREFACE + SETTINGS + headers(1, request_block(method=method, extra=extra))
    data += headers(3, request_block(b"/next"))
    events, frames, _ = feed_three_ways(data)
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR}, reason
    assert connection_error_of(frames) is None
    assert [e[:4] for e in events] == [("request", 3, "GET", b"/next")]


def test_missing_pseudo_headers() -> None:
    encoder = Encoder()
    no_path = encoder.encode([(b":method", b"GET"), (b":scheme", b"http")])
    connect_with_path = encoder.encode([(b":method", b"CONNECT"), (b":authority", b"a:1"),
                                        (b":path", b"/")])
    data = PREFACE + SETTINGS + headers(1, no_path) + headers(3, connect_with_path)
    _, frames, _ = feed_three_ways(data)
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR, 3: PROTOCOL_ERROR}


def test_extended_connect() -> None:
    """RFC 8441 4: :protocol with CONNECT, :scheme, :path and :authority is a request."""
    block = Encoder().encode([(b":method", b"CONNECT"), (b":protocol", b"websocket"),
                              (b":scheme", b"https"), (b":path", b"/chat"),
                              (b":authority", b"a"), (b"sec-websocket-version", b"13")])
    events, frames, _ = feed_three_ways(PREFACE + SETTINGS + headers(1, block, end_stream=False))
    assert events == [("request", 1, "CONNECT", b"/chat", b"websocket",
                       [(b"sec-websocket-version", b"13"), (b"host", b"a")], False)]
    assert not stream_errors_of(frames)


def test_extended_connect_when_not_enabled() -> None:
    """Without SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 3), :protocol is malformed."""
    core = Recorder(100, 65535, 65535, 65536)
    core.enable_connect_protocol = False
    core.start()
    block = Encoder().encode([(b":method", b"CONNECT"), (b":protocol", b"websocket"),
                              (b":scheme", b"https"), (b":path", b"/chat"),
                              (b":authority", b"a")])
    core.receive(PREFACE + SETTINGS + headers(1, block, end_stream=False))
    frames = split_frames(core.data_to_send())
    assert 8 not in frames[0].settings
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR} and not core.events


def test_content_length_must_match_data() -> None:
    block = request_block(method=b"POST", extra=[(b"content-length", b"3")])
    too_much = headers(1, block, end_stream=False) + frame(0, 0, 1, b"abcd")
    too_little = headers(3, block, end_stream=False) + frame(0, 1, 3, b"ab")
    right = headers(5, block, end_stream=False) + frame(0, 1, 5, b"abc")
    events, frames, _ = feed_three_ways(PREFACE + SETTINGS + too_much + too_little + right)
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR, 3: PROTOCOL_ERROR}
    assert [e for e in events if e[0] == "data"] == [("data", 5, b"abc", 3, True)]
    assert [e[1:3] for e in events if e[0] == "reset"] == [(1, PROTOCOL_ERROR),
                                                          (3, PROTOCOL_ERROR)]


def test_trailers_must_end_the_stream_and_carry_no_pseudo_header() -> None:
    block = request_block(method=b"POST")
    encoder = Encoder()
    data = (PREFACE + SETTINGS + headers(1, block, end_stream=False)
            + frame(1, 0x4, 1, encoder.encode([(b"x", b"1")]))  # no END_STREAM
            + headers(3, block, end_stream=False)
            + frame(1, 0x5, 3, encoder.encode([(b":path", b"/")])))
    _, frames, _ = feed_three_ways(data)
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR, 3: PROTOCOL_ERROR}


def test_frames_on_closed_streams() -> None:
    block = request_block()
    # Stream 1: ended by the client (half-closed remote): DATA is STREAM_CLOSED.
    data = PREFACE + SETTINGS + headers(1, block) + frame(0, 0, 1, b"x")
    _, frames, _ = feed_three_ways(data)
    assert stream_errors_of(frames) == {1: STREAM_CLOSED}
    # After the client's RST_STREAM, HEADERS on it is a STREAM_CLOSED connection error.
    data = (PREFACE + SETTINGS + headers(1, block, end_stream=False)
            + frame(3, 0, 1, b"\x00\x00\x00\x08") + headers(1, block))
    events, frames, _ = feed_three_ways(data)
    assert ("reset", 1, 8, True) in events
    assert connection_error_of(frames) == STREAM_CLOSED


def test_frames_after_our_reset_are_ignored() -> None:
    """RFC 9113 5.4.2: DATA the client had in flight after our RST_STREAM is dropped
    (its bytes still count against, and go back to, the connection window)."""
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.receive(PREFACE + SETTINGS + headers(1, request_block(method=b"POST"),
                                              end_stream=False))
    core.reset_stream(core.stream_states[1], 8)
    core.data_to_send()
    assert core.receive(frame(0, 0, 1, b"late") + frame(0, 1, 1, b"")) == 0
    frames = split_frames(core.data_to_send())
    assert not stream_errors_of(frames) and connection_error_of(frames) is None
    assert [f.window_increment for f in frames if isinstance(f, WindowUpdateFrame)] == [4]


def test_stream_flow_control_errors() -> None:
    block = request_block(method=b"POST")
    data = (PREFACE + SETTINGS + headers(1, block, end_stream=False)
            + frame(8, 0, 1, b"\x00\x00\x00\x00")  # increment 0 on a stream
            + headers(3, block, end_stream=False)
            + frame(8, 0, 3, b"\x7f\xff\xff\xff"))  # stream window overflow
    _, frames, _ = feed_three_ways(data)
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR, 3: FLOW_CONTROL_ERROR}


def test_priority_on_itself_is_a_stream_error() -> None:
    data = PREFACE + SETTINGS + frame(2, 0, 1, b"\x00\x00\x00\x01\x10")
    _, frames, _ = feed_three_ways(data)
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR}
    block = request_block()
    data = PREFACE + SETTINGS + frame(1, 0x25, 3, b"\x00\x00\x00\x03\x10" + block)
    events, frames, _ = feed_three_ways(data)
    assert stream_errors_of(frames) == {3: PROTOCOL_ERROR} and not events


def test_receive_window_is_enforced() -> None:
    block = request_block(method=b"POST")
    chunk = frame(0, 0, 1, b"x" * 16384)
    data = PREFACE + SETTINGS + headers(1, block, end_stream=False) + chunk * 4
    _, frames, _ = feed_three_ways(data)  # 65536 > the 65535 default window
    assert connection_error_of(frames) == FLOW_CONTROL_ERROR


def test_initial_window_change_applies_to_open_streams() -> None:
    """RFC 9113 6.9.2: SETTINGS_INITIAL_WINDOW_SIZE moves every open stream's window."""
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.receive(PREFACE + SETTINGS + headers(1, request_block()))
    stream = core.stream_states[1]
    core.send_headers(stream, [(b":status", b"200")], False)
    core.send_data(stream, b"x" * 1000, False)
    assert core.send_window_of(stream) == 65535 - 1000
    core.receive(frame(4, 0, 0, b"\x00\x04\x00\x00\x01\x00"))  # initial window 256
    assert stream.send_window == 256 - 1000  # negative now: nothing may be sent
    assert core.send_window_of(stream) < 0
    core.receive(frame(4, 0, 0, b"\x00\x04\x00\x01\x00\x00"))  # 65536
    assert stream.send_window == 65536 - 1000
    assert ("window", None) in core.events
    with pytest.raises(ValueError):
        core.send_data(stream, b"x" * 70000, True)
    core.receive(frame(8, 0, 1, b"\x00\x00\x10\x00"))
    assert stream.send_window == 65536 - 1000 + 4096 and ("window", 1) in core.events


def test_max_concurrent_streams_refuses_beyond() -> None:
    block = request_block()
    data = PREFACE + SETTINGS + b"".join(headers(2 * i + 1, block) for i in range(3))
    events, frames, core = feed_three_ways(data, max_streams=2)
    assert [e[1] for e in events] == [1, 3]
    assert stream_errors_of(frames) == {5: REFUSED_STREAM}
    assert core.resets == 1


def test_goaway_refuses_later_streams() -> None:
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.receive(PREFACE + SETTINGS + headers(1, request_block()))
    core.goaway(0, 1)
    core.receive(headers(3, request_block()))
    frames = split_frames(core.data_to_send())
    goaway = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert goaway[0].last_stream_id == 1 and goaway[0].error_code == 0
    assert stream_errors_of(frames) == {3: REFUSED_STREAM}
    assert [e[1] for e in core.events] == [1]


def test_client_goaway_is_reported() -> None:
    events, _, _ = feed_three_ways(PREFACE + SETTINGS + frame(7, 0, 0, b"\x00" * 8))
    assert events == [("goaway", 0)]


def test_acknowledge_sends_window_updates_per_half_window() -> None:
    core = Recorder(100, 65535, 1 << 20, 65536)
    core.start()
    core.receive(PREFACE + SETTINGS + frame(4, 1, 0)
                 + headers(1, request_block(method=b"POST"), end_stream=False))
    initial = split_frames(core.data_to_send())
    assert [f.window_increment for f in initial if isinstance(f, WindowUpdateFrame)] == [
        (1 << 20) - 65535]
    stream = core.stream_states[1]
    core.receive(frame(0, 0, 1, b"x" * 16384) * 2)
    core.acknowledge(stream, 16384)
    assert core.data_to_send() == b""  # less than half of either window
    core.acknowledge(stream, 16384)
    updates = {f.stream_id: f.window_increment for f in split_frames(core.data_to_send())}
    assert updates == {1: 32768}  # half the stream window; the connection's is 1 MiB


def test_header_list_limit_and_continuation_flood() -> None:
    big = request_block(extra=[(b"x-big", b"v" * 2000)])
    _, frames, _ = feed_three_ways(PREFACE + SETTINGS + headers(1, big), header_list=1000)
    assert connection_error_of(frames) == 11  # ENHANCE_YOUR_CALM
    flood = headers(1, request_block()[:3], flags=0) + frame(9, 0, 1, b"\x00") * 70
    _, frames, _ = feed_three_ways(PREFACE + SETTINGS + flood)
    assert connection_error_of(frames) == PROTOCOL_ERROR


def test_response_header_block_split_by_frame_size() -> None:
    client = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.receive(client.data_to_send())
    client.receive_data(core.data_to_send())
    client.send_headers(1, [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"),
                            (b":authority", b"a")], end_stream=True)
    core.receive(client.data_to_send())
    stream = core.stream_states[1]
    big = [(b":status", b"200")] + [(b"x-%d" % i, b"v" * 1000) for i in range(40)]
    core.send_headers(stream, big, True)
    data = core.data_to_send()
    assert any(f.type == 9 for f in split_frames(data))  # CONTINUATION frames
    events = client.receive_data(data)
    assert len(events[0].headers) == 41  # type: ignore[attr-defined]


def test_upgrade_settings() -> None:
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.apply_upgrade_settings(b"\x00\x04\x00\x00\x80\x00")  # initial window 32768
    stream = core.open_upgrade_stream()
    assert stream.send_window == 32768 and stream.stream_id == 1
    frames = split_frames(core.data_to_send())
    assert not any(isinstance(f, SettingsFrame) and "ACK" in f.flags for f in frames)
    with pytest.raises(ValueError):
        Recorder(100, 65535, 65535, 65536).apply_upgrade_settings(b"\x00\x04\x00")
    # The client preface still follows, then requests on new streams.
    core.receive(PREFACE + SETTINGS + headers(3, request_block(b"/next")))
    assert [e[:4] for e in core.events] == [("request", 3, "GET", b"/next")]


def test_hpack_state_follows_refused_and_malformed_blocks() -> None:
    """A refused or malformed request's block is still decoded: the next block may
    refer to what it added to the dynamic table (RFC 9113 4.3)."""
    encoder = Encoder()
    first = request_block(extra=[(b"x-indexed", b"value"), (b"te", b"gzip")], encoder=encoder)
    second = request_block(extra=[(b"x-indexed", b"value")], encoder=encoder)
    events, frames, _ = feed_three_ways(PREFACE + SETTINGS + headers(1, first)
                                        + headers(3, second))
    assert stream_errors_of(frames) == {1: PROTOCOL_ERROR}
    assert events[0][5] == [(b"x-indexed", b"value"), (b"host", b"example.test")]


def test_hpack_block_split_over_frames_and_reads() -> None:
    block = request_block(b"/" + b"p" * 300)
    data = PREFACE + SETTINGS + headers(1, block[:10], flags=0) + frame(9, 0, 1, block[10:20]) \
        + frame(9, 4, 1, block[20:])
    events, _, _ = feed_three_ways(data)
    assert events[0][3] == b"/" + b"p" * 300


def test_a_slow_drip_frame_is_parsed_once_complete() -> None:
    """A frame trickling in a byte at a time is appended, not re-joined per byte."""
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.receive(PREFACE + SETTINGS + headers(1, request_block(method=b"POST"),
                                              end_stream=False))
    data = frame(0, 1, 1, b"z" * 16384)
    for index in range(len(data) - 1):
        assert core.receive(data[index:index + 1]) == 0
    assert core.events[-1][0] == "request"  # nothing yet
    core.receive(data[-1:])
    assert core.events[-1] == ("data", 1, b"z" * 16384, 16384, True)


def test_pending_output_is_one_buffer() -> None:
    core = Recorder(100, 65535, 65535, 65536)
    core.start()
    core.receive(PREFACE + SETTINGS + b"".join(headers(2 * i + 1, request_block())
                                               for i in range(4)))
    core.data_to_send()
    for sid in (1, 3, 5, 7):
        stream = core.stream_states[sid]
        core.send_headers(stream, [(b":status", b"200")], False)
        core.send_data(stream, b"hi", True)
    data = core.data_to_send()
    assert len([f for f in split_frames(data) if isinstance(f, HeadersFrame)]) == 4
    assert core.data_to_send() == b""


# Generated frame sequences: whatever the client sends, the core neither crashes nor
# depends on how the bytes were split, and what it buffers stays bounded.
_BLOCKS = [request_block(), request_block(b"/x", b"POST"), b"\x80", b"\x3f\xe1\x1f",
           request_block(extra=[(b"content-length", b"2")]), Encoder().encode([(b"x", b"1")])]


@st.composite
def frames_strategy(draw: Any) -> bytes:
    ftype = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0b]))
    flags = draw(st.sampled_from([0, 1, 4, 5, 8, 0x20, 0x25, 0x2d, 0xff]))
    sid = draw(st.sampled_from([0, 1, 2, 3, 5, 7, 0x7fffffff]))
    if ftype == 1 and draw(st.booleans()):
        payload = draw(st.sampled_from(_BLOCKS))
        if flags & 0x8:
            payload = b"\x02" + payload + b"\x00\x00"
        if flags & 0x20:
            payload = b"\x00\x00\x00\x00\x10" + payload
    else:
        payload = draw(st.binary(max_size=24))
    return frame(ftype, flags, sid, payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames_strategy(), max_size=12), st.integers(min_value=1, max_value=40))
def test_generated_frame_sequences(frames: list[bytes], cut: int) -> None:
    data = PREFACE + SETTINGS + b"".join(frames)
    whole = feed(data)
    pieces = [data[i:i + cut] for i in range(0, len(data), cut)]
    split = feed(data, pieces)
    assert split[:2] == whole[:2]
    core = whole[2]
    assert len(core.recently_closed) <= 128
    if core.closed:  # a connection error: GOAWAY sent, nothing more read
        assert connection_error_of(split_frames(whole[1])) is not None
