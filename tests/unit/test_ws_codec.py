"""WebSocket frame codec (RFC 6455): both implementations, every input fed three ways.

The error table covers the Autobahn testsuite's case groups (framing, reserved bits,
opcodes, fragmentation, UTF-8, close handling, limits) with frames built by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import ModuleType

import pytest

from tests.unit.ws_frames import (
    IMPLEMENTATIONS,
    MAX_SIZE,
    binary,
    client_frame,
    close_frame,
    error_code,
    feed_chunks,
    feed_three_ways,
    load,
    text,
)


@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def codec(request: pytest.FixtureRequest) -> ModuleType:
    return load(request.param)


# -- messages ---------------------------------------------------------------------------

def test_text_message(codec: ModuleType) -> None:
    assert feed_three_ways(codec, text("héllo wörld €")) == [("text", "héllo wörld €")]


def test_binary_message(codec: ModuleType) -> None:
    assert feed_three_ways(codec, binary(bytes(range(256)))) == [("binary", bytes(range(256)))]


def test_empty_messages(codec: ModuleType) -> None:
    assert feed_three_ways(codec, text("") + binary(b"")) == [("text", ""), ("binary", b"")]


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 70001])
def test_payload_lengths(codec: ModuleType, size: int) -> None:
    payload = bytes(index % 251 for index in range(size))
    # Byte by byte is slow for the largest sizes; whole and with a following frame suffice.
    if size > 1000:
        assert feed_chunks(codec, [binary(payload)]) == [("binary", payload)]
        frame = binary(payload)
        assert feed_chunks(codec, [frame[:size // 3], frame[size // 3:]]) == [("binary", payload)]
    else:
        assert feed_three_ways(codec, binary(payload)) == [("binary", payload)]


def test_mask_phase_across_feeds(codec: ModuleType) -> None:
    payload = bytes(range(40))
    frame = binary(payload, mask=b"\x01\x02\x03\x04")
    for cut in range(len(frame)):
        assert feed_chunks(codec, [frame[:cut], frame[cut:]]) == [("binary", payload)]
    # Uneven pieces so that every phase of the mask starts a piece.
    pieces = [frame[:7], frame[7:10], frame[10:15], frame[15:16], frame[16:29], frame[29:]]
    assert feed_chunks(codec, pieces) == [("binary", payload)]


def test_several_frames_in_one_feed(codec: ModuleType) -> None:
    data = text("a") + binary(b"b") + client_frame(9, b"p") + client_frame(10, b"q") + text("c")
    assert feed_three_ways(codec, data) == [
        ("text", "a"), ("binary", b"b"), ("ping", b"p"), ("pong", b"q"), ("text", "c")]


# -- fragmentation (Autobahn 5) ---------------------------------------------------------

def test_fragmented_text(codec: ModuleType) -> None:
    data = text("Hel", fin=False) + client_frame(0, b"lo ", fin=False) + client_frame(0, b"you")
    assert feed_three_ways(codec, data) == [("text", "Hello you")]


def test_fragmented_binary_with_empty_fragments(codec: ModuleType) -> None:
    data = (binary(b"", fin=False) + client_frame(0, b"ab", fin=False)
            + client_frame(0, b"", fin=False) + client_frame(0, b""))
    assert feed_three_ways(codec, data) == [("binary", b"ab")]


def test_control_frames_between_fragments(codec: ModuleType) -> None:
    data = (text("fra", fin=False) + client_frame(9, b"ping!") + client_frame(0, b"gm", fin=False)
            + client_frame(10, b"") + client_frame(0, b"ent"))
    assert feed_three_ways(codec, data) == [
        ("ping", b"ping!"), ("pong", b""), ("text", "fragment")]


def test_utf8_character_split_across_fragments(codec: ModuleType) -> None:
    encoded = "κόσμε 𝄞".encode()
    for cut in range(1, len(encoded)):
        data = text(encoded[:cut], fin=False) + client_frame(0, encoded[cut:])
        assert feed_three_ways(codec, data) == [("text", "κόσμε 𝄞")]


def test_one_fragment_per_byte(codec: ModuleType) -> None:
    encoded = "€𝄞x".encode()
    data = text(encoded[:1], fin=False)
    data += b"".join(client_frame(0, encoded[i:i + 1], fin=False) for i in range(1, len(encoded)))
    data += client_frame(0, b"")
    assert feed_three_ways(codec, data) == [("text", "€𝄞x")]


def test_a_close_between_fragments_ends_the_stream(codec: ModuleType) -> None:
    data = text("abc", fin=False) + close_frame(1000)
    assert feed_three_ways(codec, data) == [("close", 1000, "")]


# -- pings (Autobahn 2) -----------------------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"hello", bytes(range(125)), b"\xff\xfe\x00"])
def test_ping_and_pong_payloads(codec: ModuleType, payload: bytes) -> None:
    data = client_frame(9, payload) + client_frame(10, payload)
    assert feed_three_ways(codec, data) == [("ping", payload), ("pong", payload)]


def test_many_pings(codec: ModuleType) -> None:
    data = b"".join(client_frame(9, str(index).encode()) for index in range(50))
    assert feed_three_ways(codec, data) == [("ping", str(i).encode()) for i in range(50)]


# -- UTF-8 (Autobahn 6) -----------------------------------------------------------------

VALID_UTF8 = [
    "", "a", "κόσμε", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufffd", "\uffff",
    "\U00010000", "\U0010ffff", "Hello-µ@ßöäüàá-UTF-8!!", "\x00\x7f",
]


@pytest.mark.parametrize("value", VALID_UTF8, ids=range(len(VALID_UTF8)))
def test_valid_utf8(codec: ModuleType, value: str) -> None:
    assert feed_three_ways(codec, text(value)) == [("text", value)]


INVALID_UTF8 = {
    "lone continuation": b"\x80",
    "continuation run": b"\x80\xbf\x80",
    "start byte C0": b"\xc0\xaf",
    "start byte C1": b"\xc1\xbf",
    "overlong 3 bytes": b"\xe0\x80\xaf",
    "overlong 3 bytes, max": b"\xe0\x9f\xbf",
    "overlong 4 bytes": b"\xf0\x80\x80\xaf",
    "overlong 4 bytes, max": b"\xf0\x8f\xbf\xbf",
    "surrogate D800": b"\xed\xa0\x80",
    "surrogate DFFF": b"\xed\xbf\xbf",
    "surrogate pair": b"\xed\xa0\x80\xed\xb0\x80",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
    "F5 start": b"\xf5\x80\x80\x80",
    "F8 start (5 bytes)": b"\xf8\x88\x80\x80\x80",
    "FC start (6 bytes)": b"\xfc\x84\x80\x80\x80\x80",
    "FE": b"\xfe",
    "FF": b"\xff",
    "truncated 2-byte": b"\xce",
    "truncated 3-byte": b"\xe2\x82",
    "truncated 4-byte": b"\xf0\x9d\x84",
    "truncated then ASCII": b"\xe2\x82a",
    "valid then surrogate": "κόσμε".encode() + b"\xed\xa0\x80edited",
    "valid then invalid late": b"a" * 20 + b"\xff" + b"b" * 20,
    "ascii words then bad": b"abcdefgh" * 3 + b"\xc0\x80",
}


@pytest.mark.parametrize("payload", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_invalid_utf8_is_1007(codec: ModuleType, payload: bytes) -> None:
    assert error_code(codec, text(payload)) == 1007


@pytest.mark.parametrize("payload", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_invalid_utf8_across_fragments_is_1007(codec: ModuleType, payload: bytes) -> None:
    for cut in range(len(payload) + 1):
        data = (text(payload[:cut], fin=False) + client_frame(9, b"x")
                + client_frame(0, payload[cut:]))
        events = feed_three_ways(codec, data)
        assert events[-1] == ("error", 1007), (cut, events)


def test_truncated_character_at_the_end_of_fragments(codec: ModuleType) -> None:
    data = text("a€".encode()[:-1], fin=False) + client_frame(0, b"")
    assert error_code(codec, data) == 1007


@pytest.mark.parametrize("prefix", [b"\xed\xa0", b"\xf4\x90", b"\xe0\x80", b"\xf0\x8f",
                                    b"\xc0", b"\xff", b"ab\x80"])
def test_invalid_utf8_fails_before_the_frame_is_complete(codec: ModuleType,
                                                         prefix: bytes) -> None:
    # The bytes cannot start valid UTF-8: fail at once, not when the message ends.
    frame = text(prefix + b"a" * 100)
    header_size = 6
    assert feed_chunks(codec, [frame[:header_size + len(prefix)]]) == [("error", 1007)]


def test_invalid_utf8_fails_before_the_message_is_complete(codec: ModuleType) -> None:
    data = text(b"ok\xed\xa0", fin=False)
    assert feed_chunks(codec, [data]) == [("error", 1007)]


def test_valid_prefix_waits(codec: ModuleType) -> None:
    data = text(b"ok\xf4\x8f\xbf", fin=False)  # the start of U+10FFFF
    assert feed_chunks(codec, [data]) == []


# -- close handling (Autobahn 7) ---------------------------------------------------------

def test_close_without_body(codec: ModuleType) -> None:
    assert feed_three_ways(codec, close_frame()) == [("close", None, "")]


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                  1012, 1013, 1014, 3000, 3999, 4000, 4999])
def test_valid_close_codes(codec: ModuleType, code: int) -> None:
    assert feed_three_ways(codec, close_frame(code)) == [("close", code, "")]


def test_close_reason(codec: ModuleType) -> None:
    reason = "bye ∑ " + "x" * 100
    assert feed_three_ways(codec, close_frame(1000, reason.encode()[:123])) == [
        ("close", 1000, reason.encode()[:123].decode())]


def test_nothing_after_close_is_parsed(codec: ModuleType) -> None:
    # RFC 6455 5.5.1: a Close is the last frame; even garbage after it is not read.
    events = feed_chunks(codec, [close_frame(1001, b"away") + b"\xff\xff garbage"])
    assert events == [("close", 1001, "away")]


# -- the table of protocol errors -------------------------------------------------------

ERRORS: dict[str, tuple[bytes, int]] = {
    # Reserved bits (Autobahn 3)
    "RSV1 on text": (text("x", rsv=4), 1002),
    "RSV2 on text": (text("x", rsv=2), 1002),
    "RSV3 on binary": (binary(b"x", rsv=1), 1002),
    "all RSV on binary": (binary(b"x", rsv=7), 1002),
    "RSV1 on ping": (client_frame(9, b"", rsv=4), 1002),
    "RSV on close": (client_frame(8, b"\x03\xe8", rsv=2), 1002),
    "RSV on continuation": (text("a", fin=False) + client_frame(0, b"b", rsv=4), 1002),
    "RSV after a valid message": (text("fine") + text("x", rsv=1), 1002),
    # Opcodes (Autobahn 4)
    **{f"opcode {op}": (client_frame(op, b"x"), 1002) for op in (3, 4, 5, 6, 7)},
    **{f"opcode {op}": (client_frame(op, b""), 1002) for op in (11, 12, 13, 14, 15)},
    "opcode 5 after a message": (text("ok") + client_frame(5, b""), 1002),
    # Framing (Autobahn 1, 2)
    "unmasked text": (text("x", mask=None), 1002),
    "unmasked ping": (client_frame(9, b"", mask=None), 1002),
    "unmasked close": (client_frame(8, b"", mask=None), 1002),
    "ping of 126 bytes": (client_frame(9, bytes(126)), 1002),
    "pong of 126 bytes": (client_frame(10, bytes(126)), 1002),
    "close of 126 bytes": (client_frame(8, b"\x03\xe8" + bytes(124)), 1002),
    "fragmented ping": (client_frame(9, b"a", fin=False), 1002),
    "fragmented close": (client_frame(8, b"", fin=False), 1002),
    "fragmented pong": (client_frame(10, b"", fin=False), 1002),
    "16-bit length for 5 bytes": (text("hello", length_size=2), 1002),
    "16-bit length for 125 bytes": (binary(bytes(125), length_size=2), 1002),
    "64-bit length for 200 bytes": (binary(bytes(200), length_size=8), 1002),
    "64-bit length for 65535 bytes": (binary(bytes(10), length=65535, length_size=8), 1002),
    "64-bit length with the top bit": (binary(b"", length=1 << 63, length_size=8), 1002),
    "64-bit length all ones": (binary(b"", length=(1 << 64) - 1, length_size=8), 1002),
    # Fragmentation (Autobahn 5)
    "continuation first": (client_frame(0, b"x"), 1002),
    "final continuation first": (client_frame(0, b""), 1002),
    "continuation after a complete message": (text("a") + client_frame(0, b"b"), 1002),
    "text inside fragmented text": (text("a", fin=False) + text("b"), 1002),
    "binary inside fragmented text": (text("a", fin=False) + binary(b"b"), 1002),
    "text inside fragmented binary":
        (binary(b"a", fin=False) + client_frame(0, b"b", fin=False) + text("c"), 1002),
    # Close handling (Autobahn 7)
    "close with a 1-byte body": (client_frame(8, b"\x03"), 1002),
    **{f"close code {code}": (close_frame(code), 1002)
       for code in (0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535)},
    "close reason not UTF-8": (close_frame(1000, b"\xff"), 1007),
    "close reason with a surrogate": (close_frame(1000, b"ok \xed\xa0\x80"), 1007),
    "close reason truncated character": (close_frame(1000, "€".encode()[:2]), 1007),
    # UTF-8 (Autobahn 6)
    "text not UTF-8": (text(b"\xff"), 1007),
    "fragmented text not UTF-8": (text(b"\xce", fin=False) + client_frame(0, b"A"), 1007),
}


@pytest.mark.parametrize(("data", "code"), ERRORS.values(), ids=ERRORS.keys())
def test_protocol_errors(codec: ModuleType, data: bytes, code: int) -> None:
    assert error_code(codec, data) == code


@pytest.mark.parametrize(("data", "code"), ERRORS.values(), ids=ERRORS.keys())
def test_events_before_an_error_come_out(codec: ModuleType, data: bytes, code: int) -> None:
    events = feed_three_ways(codec, text("before") + client_frame(9, b"p") + data)
    assert events == [("text", "before"), ("ping", b"p"), *feed_chunks(codec, [data])]
    assert events[-1] == ("error", code)


def test_header_errors_need_only_the_header(codec: ModuleType) -> None:
    # Errors decided by the first two bytes come out before anything else is there.
    for data in (client_frame(3, b"x"), text("x", mask=None), client_frame(9, b"", fin=False),
                 text("x", rsv=4), client_frame(0, b"x")):
        assert feed_chunks(codec, [data[:2]]) == [("error", 1002)]


# -- limits (Autobahn 9, 1009) ----------------------------------------------------------

def test_message_at_the_limit(codec: ModuleType) -> None:
    assert feed_three_ways(codec, binary(bytes(100)), max_size=100) == [("binary", bytes(100))]


def test_frame_over_the_limit_is_refused_from_its_header(codec: ModuleType) -> None:
    frame = binary(bytes(101))
    # Only the header is fed: the payload is never waited for.
    assert feed_chunks(codec, [frame[:6]], max_size=100) == [("error", 1009)]
    assert error_code(codec, frame, max_size=100) == 1009


def test_huge_declared_length_is_refused_at_once(codec: ModuleType) -> None:
    frame = binary(b"", length=(1 << 62), length_size=8)
    assert feed_chunks(codec, [frame[:10]]) == [("error", 1009)]


def test_fragments_over_the_limit(codec: ModuleType) -> None:
    data = binary(bytes(60), fin=False) + client_frame(0, bytes(41))
    assert error_code(codec, data, max_size=100) == 1009
    data = text("a" * 50, fin=False) + client_frame(0, b"b" * 50)
    assert feed_three_ways(codec, data, max_size=100) == [("text", "a" * 50 + "b" * 50)]


def test_control_frames_do_not_count_toward_the_limit(codec: ModuleType) -> None:
    data = binary(bytes(10), fin=False) + client_frame(9, bytes(125)) + client_frame(0, bytes(10))
    assert feed_three_ways(codec, data, max_size=20) == [("ping", bytes(125)),
                                                         ("binary", bytes(20))]


def test_the_limit_applies_per_message(codec: ModuleType) -> None:
    data = b"".join(binary(bytes(100)) for _ in range(5))
    assert feed_three_ways(codec, data, max_size=100) == [("binary", bytes(100))] * 5


# -- after an error -----------------------------------------------------------------------

def test_the_parser_is_dead_after_an_error(codec: ModuleType) -> None:
    parser = codec.FrameParser(MAX_SIZE)
    events = parser.feed(client_frame(3, b""))
    assert [type(event) for event in events] == [codec.ProtocolError]
    assert parser.feed(text("hello")) == []
    assert parser.feed(b"") == []


def test_event_attributes(codec: ModuleType) -> None:
    parser = codec.FrameParser(MAX_SIZE)
    message, ping, pong, close = parser.feed(
        text("hi") + client_frame(9, b"a") + client_frame(10, b"b") + close_frame(1000, b"x"))
    assert (message.is_text, message.data) == (True, "hi")
    assert ping.data == b"a" and pong.data == b"b"
    assert (close.code, close.reason) == (1000, "x")
    error = codec.FrameParser(MAX_SIZE).feed(text(b"\xff"))[0]
    assert error.code == 1007 and "UTF-8" in error.reason


def test_opcode_constants(codec: ModuleType) -> None:
    assert (codec.OP_CONTINUATION, codec.OP_TEXT, codec.OP_BINARY, codec.OP_CLOSE,
            codec.OP_PING, codec.OP_PONG) == (0, 1, 2, 8, 9, 10)


# -- encoding server frames ---------------------------------------------------------------

@pytest.mark.parametrize(("size", "header"), [
    (0, b"\x82\x00"), (125, b"\x82\x7d"), (126, b"\x82\x7e\x00\x7e"),
    (65535, b"\x82\x7e\xff\xff"), (65536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
])
def test_encode_frame_lengths(codec: ModuleType, size: int, header: bytes) -> None:
    payload = bytes(index % 256 for index in range(size))
    assert codec.encode_frame(codec.OP_BINARY, payload) == header + payload


def test_encode_frame_opcodes(codec: ModuleType) -> None:
    assert codec.encode_frame(codec.OP_TEXT, b"hi") == b"\x81\x02hi"
    assert codec.encode_frame(codec.OP_PING, b"p") == b"\x89\x01p"
    assert codec.encode_frame(codec.OP_PONG, b"") == b"\x8a\x00"
    assert codec.encode_frame(codec.OP_CLOSE, b"") == b"\x88\x00"


def test_encode_frame_refuses_what_cannot_be_sent(codec: ModuleType) -> None:
    with pytest.raises(ValueError):
        codec.encode_frame(codec.OP_PING, bytes(126))
    with pytest.raises(ValueError):
        codec.encode_frame(3, b"")
    with pytest.raises(ValueError):
        codec.encode_frame(codec.OP_CONTINUATION, b"")


def test_encode_close(codec: ModuleType) -> None:
    assert codec.encode_close(1000) == b"\x88\x02\x03\xe8"
    assert codec.encode_close(4000, "bye") == b"\x88\x05\x0f\xa0bye"


def test_encode_close_truncates_the_reason_at_a_character(codec: ModuleType) -> None:
    reason = "a" + "€" * 60  # 181 bytes in UTF-8
    frame = codec.encode_close(1001, reason)
    assert len(frame) <= 127 and frame[1] <= 125
    assert frame[4:].decode() == "a" + "€" * 40  # 121 bytes: the 41st € would pass 123
    assert frame[2:4] == b"\x03\xe9"


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_encode_close_refuses_codes_that_may_not_be_sent(codec: ModuleType, code: int) -> None:
    with pytest.raises(ValueError):
        codec.encode_close(code)


def test_encoded_close_parses_back(codec: ModuleType) -> None:
    frame = codec.encode_close(1011, "internal ∑ error")
    # A server frame is unmasked; mask it as a client would to parse it back.
    assert feed_three_ways(codec, client_frame(8, frame[2:])) == [
        ("close", 1011, "internal ∑ error")]


def test_negative_limit_is_refused(codec: ModuleType) -> None:
    with pytest.raises(ValueError):
        codec.FrameParser(-1)


def test_zero_limit_allows_only_empty_messages(codec: ModuleType) -> None:
    # (Not three ways: the frame that follows would be over this limit.)
    assert feed_chunks(codec, [text("") + client_frame(9, b"p")], max_size=0) == [
        ("text", ""), ("ping", b"p")]
    assert feed_chunks(codec, [binary(b"x")], max_size=0) == [("error", 1009)]


def test_large_fragmented_message_in_odd_chunks(codec: ModuleType) -> None:
    parts = [bytes((index + offset) % 256 for offset in range(1000)) for index in range(100)]
    data = binary(parts[0], fin=False)
    data += b"".join(client_frame(0, part, fin=False, mask=bytes((index, 1, 2, 3)))
                     for index, part in enumerate(parts[1:-1]))
    data += client_frame(0, parts[-1])
    chunks = [data[start:start + 777] for start in range(0, len(data), 777)]
    assert feed_chunks(codec, chunks) == [("binary", b"".join(parts))]
    text_data = text("é" * 500, fin=False) + client_frame(0, "€".encode() * 300)
    chunks = [text_data[start:start + 333] for start in range(0, len(text_data), 333)]
    assert feed_chunks(codec, chunks) == [("text", "é" * 500 + "€" * 300)]


# -- the chooser ----------------------------------------------------------------------------

CHOSEN = ("import fasthttpd.websocket.codec as c; "
          "print(c.IMPLEMENTATION, c.FrameParser.__module__)")


@pytest.mark.parametrize(("environment", "expected"), [
    ({}, "compiled fasthttpd.websocket._codec"),
    ({"FASTHTTPD_NO_EXTENSIONS": "1"}, "python fasthttpd.websocket.fallback_codec"),
])
def test_codec_chooser(environment: dict[str, str], expected: str) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {key: value for key, value in os.environ.items()
           if key != "FASTHTTPD_NO_EXTENSIONS"}
    result = subprocess.run([sys.executable, "-c", CHOSEN], cwd=root, capture_output=True,
                            text=True, timeout=60, env={**env, **environment})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected.split()


@pytest.mark.compiled
def test_chooser_exports_the_whole_api() -> None:
    from fasthttpd.websocket import codec as chooser
    for name in chooser.__all__:
        if name != "IMPLEMENTATION":
            for implementation in IMPLEMENTATIONS:
                assert hasattr(load(implementation), name), (implementation, name)


@pytest.mark.parametrize(("code", "valid"), [
    (999, False), (1000, True), (1003, True), (1004, False), (1005, False), (1006, False),
    (1007, True), (1014, True), (1015, False), (1016, False), (2999, False), (3000, True),
    (4999, True), (5000, False)])
def test_is_valid_close_code(codec: ModuleType, code: int, valid: bool) -> None:
    assert codec.is_valid_close_code(code) is valid


def can_start_valid_utf8(prefix: bytes) -> bool:
    """Whether some continuation bytes complete `prefix` to valid UTF-8 (Python's decoder
    as the judge; these completions reach every allowed second-byte range)."""
    for completion in (b"", b"\x80", b"\x80\x80", b"\x80\x80\x80", b"\x90\x80\x80",
                       b"\xa0\x80"):
        try:
            (prefix + completion).decode("utf-8")
            return True
        except UnicodeDecodeError:
            pass
    return False


def test_fail_fast_matches_utf8_for_every_two_byte_prefix(codec: ModuleType) -> None:
    # Each prefix is the payload of an unfinished text message: an error must come
    # out exactly when no continuation could make it valid.
    wrong = []
    for first in range(256):
        for second in range(256):
            prefix = bytes((first, second))
            failed = bool(codec.FrameParser(MAX_SIZE).feed(text(prefix, fin=False)))
            if failed == can_start_valid_utf8(prefix):
                wrong.append(prefix)
    assert wrong == []


@pytest.mark.parametrize("first", [0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF3, 0xF4])
def test_fail_fast_matches_utf8_for_three_byte_prefixes(codec: ModuleType, first: int) -> None:
    wrong = []
    for second in range(0x80, 0xC0):
        for third in range(256):
            prefix = bytes((first, second, third))
            failed = bool(codec.FrameParser(MAX_SIZE).feed(text(prefix, fin=False)))
            if failed == can_start_valid_utf8(prefix):
                wrong.append(prefix)
    assert wrong == []


# -- memory ---------------------------------------------------------------------------------

def test_an_idle_parser_is_small(codec: ModuleType) -> None:
    # 10,000 idle WebSockets hold 10,000 parsers.
    tracemalloc.start()
    try:
        parsers = [codec.FrameParser(16 << 20) for _ in range(1000)]
        per_parser = tracemalloc.get_traced_memory()[0] / len(parsers)
    finally:
        tracemalloc.stop()
    assert per_parser < 1024


def test_a_large_message_is_not_kept(codec: ModuleType) -> None:
    parser = codec.FrameParser(16 << 20)
    frame = binary(bytes(1 << 20), fin=False) + client_frame(0, bytes(1 << 20))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # In pieces, so that the message is assembled in the parser's buffer.
        events = [event for start in range(0, len(frame), 100_000)
                  for event in parser.feed(frame[start:start + 100_000])]
        assert len(events) == 1 and len(events[0].data) == 2 << 20
        del events
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 100_000


@pytest.mark.compiled
@pytest.mark.parametrize("fragments", [1, 4])
def test_compiled_codec_copies_a_split_message_once(fragments: int) -> None:
    # A 2 MiB binary message arriving in 100 kB reads: the compiled codec unmasks it
    # into the bytes object it hands out, so it never holds two copies at once.
    size = 2 << 20
    part = size // fragments
    data = b"".join(client_frame(2 if index == 0 else 0, bytes(part), fin=index == fragments - 1)
                    for index in range(fragments))
    parser = load("compiled").FrameParser(16 << 20)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        events = [event for start in range(0, len(data), 100_000)
                  for event in parser.feed(data[start:start + 100_000])]
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(events) == 1 and events[0].data == bytes(size)
    assert peak < size * 1.3


@pytest.mark.parametrize("message", [text("é" * 5000), text("x" * 2000, fin=False)
                                     + client_frame(0, b"y" * 2000), binary(bytes(10_000))])
def test_an_idle_parser_keeps_little_after_a_message(codec: ModuleType, message: bytes) -> None:
    parser = codec.FrameParser(16 << 20)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        events = parser.feed(message[:50]) + parser.feed(message[50:])
        assert len(events) == 1
        del events
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 2048
