"""permessage-deflate (RFC 7692): negotiation, and compressed messages through both
codecs (the Autobahn testsuite's compression group, 12 and 13, in spirit), with
wsproto's client-side extension as the independent peer."""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable
from types import ModuleType

import pytest
from wsproto.extensions import PerMessageDeflate as OraclePerMessageDeflate
from wsproto.frame_protocol import FrameProtocol, Opcode

from fasthttpd.websocket.deflate import (
    MIN_COMPRESSED_SIZE,
    MessageTooBig,
    PerMessageDeflate,
    negotiate,
)
from tests.unit.ws_frames import (
    IMPLEMENTATIONS,
    binary,
    client_frame,
    error_code,
    feed_chunks,
    feed_three_ways,
    load,
    text,
)


@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def codec(request: pytest.FixtureRequest) -> ModuleType:
    return load(request.param)


# -- negotiation --------------------------------------------------------------------------

def test_no_offer() -> None:
    assert negotiate(b"") is None
    assert negotiate(b"x-webkit-deflate-frame, foo; bar=1") is None


def test_plain_offer() -> None:
    response, state = negotiate(b"permessage-deflate")
    assert response == b"permessage-deflate"
    assert (state.server_no_context_takeover, state.client_no_context_takeover,
            state.server_max_window_bits, state.client_max_window_bits) == (False, False, 15, 15)


@pytest.mark.parametrize(("offer", "response", "fields"), [
    (b"permessage-deflate; server_no_context_takeover",
     b"permessage-deflate; server_no_context_takeover", (True, False, 15, 15)),
    (b"permessage-deflate; client_no_context_takeover",
     b"permessage-deflate; client_no_context_takeover", (False, True, 15, 15)),
    (b"permessage-deflate; server_max_window_bits=10",
     b"permessage-deflate; server_max_window_bits=10", (False, False, 10, 15)),
    (b"permessage-deflate; client_max_window_bits",
     b"permessage-deflate", (False, False, 15, 15)),
    (b"permessage-deflate; client_max_window_bits=9",
     b"permessage-deflate; client_max_window_bits=9", (False, False, 15, 9)),
    (b"permessage-deflate; client_max_window_bits=8",
     b"permessage-deflate; client_max_window_bits=8", (False, False, 15, 8)),
    (b'permessage-deflate; server_max_window_bits="12"',
     b"permessage-deflate; server_max_window_bits=12", (False, False, 12, 15)),
    (b"Permessage-Deflate;Server_No_Context_Takeover ;\tclient_max_window_bits = 11",
     b"permessage-deflate; server_no_context_takeover; client_max_window_bits=11",
     (True, False, 15, 11)),
    (b"permessage-deflate; client_max_window_bits=15; server_max_window_bits=9; "
     b"client_no_context_takeover; server_no_context_takeover",
     b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
     b"server_max_window_bits=9; client_max_window_bits=15", (True, True, 9, 15)),
])
def test_parameters(offer: bytes, response: bytes, fields: tuple) -> None:
    accepted = negotiate(offer)
    assert accepted is not None
    assert accepted[0] == response
    state = accepted[1]
    assert (state.server_no_context_takeover, state.client_no_context_takeover,
            state.server_max_window_bits, state.client_max_window_bits) == fields


UNACCEPTABLE = [
    b"permessage-deflate; server_max_window_bits",  # a value is required
    b"permessage-deflate; server_max_window_bits=7",
    b"permessage-deflate; server_max_window_bits=16",
    b"permessage-deflate; server_max_window_bits=08",  # leading zero
    b"permessage-deflate; server_max_window_bits=8",  # zlib cannot compress with 8
    b"permessage-deflate; server_max_window_bits=abc",
    b"permessage-deflate; client_max_window_bits=7",
    b"permessage-deflate; client_max_window_bits=16",
    b"permessage-deflate; client_max_window_bits=",
    b"permessage-deflate; server_no_context_takeover=1",
    b"permessage-deflate; client_no_context_takeover=true",
    b"permessage-deflate; unknown_parameter",
    b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    b"permessage-deflate; client_max_window_bits; client_max_window_bits=10",
    b"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
]


@pytest.mark.parametrize("offer", UNACCEPTABLE)
def test_unacceptable_offer_is_declined(offer: bytes) -> None:
    assert negotiate(offer) is None


@pytest.mark.parametrize("offer", UNACCEPTABLE)
def test_unacceptable_offer_falls_to_the_next(offer: bytes) -> None:
    accepted = negotiate(offer + b", permessage-deflate; client_no_context_takeover")
    assert accepted is not None
    assert accepted[0] == b"permessage-deflate; client_no_context_takeover"


def test_first_acceptable_offer_wins() -> None:
    accepted = negotiate(b"foo, permessage-deflate; server_max_window_bits=10, "
                         b"permessage-deflate")
    assert accepted is not None and accepted[0] == b"permessage-deflate; server_max_window_bits=10"


def test_offers_from_several_header_lines_joined() -> None:
    accepted = negotiate(b"permessage-deflate; bad,permessage-deflate;server_no_context_takeover")
    assert accepted is not None and accepted[0] == b"permessage-deflate; server_no_context_takeover"


def test_oracle_client_accepts_our_response() -> None:
    client = OraclePerMessageDeflate(client_max_window_bits=10, server_max_window_bits=11)
    accepted = negotiate(b"permessage-deflate; " + client.offer().encode())
    assert accepted is not None
    client.finalize(accepted[0].decode())
    assert client.enabled()
    assert (client.client_max_window_bits, client.server_max_window_bits) == (10, 11)


# -- the state object ---------------------------------------------------------------------

def inflate_raw(data: bytes, window_bits: int = 15) -> bytes:
    return zlib.decompressobj(-window_bits).decompress(data + b"\x00\x00\xff\xff")


def test_deflate_strips_the_tail_and_round_trips() -> None:
    state = PerMessageDeflate()
    compressed = state.deflate(b"hello hello hello hello")
    assert not compressed.endswith(b"\x00\x00\xff\xff")
    assert inflate_raw(compressed) == b"hello hello hello hello"
    assert PerMessageDeflate().inflate(compressed, 1000) == b"hello hello hello hello"


def test_context_takeover_shrinks_repeated_messages() -> None:
    state = PerMessageDeflate()
    message = b"the same rather long message, sent twice over one connection" * 2
    first, second = state.deflate(message), state.deflate(message)
    assert len(second) < len(first) // 2
    receiver = PerMessageDeflate()
    assert receiver.inflate(first, 10_000) == message
    assert receiver.inflate(second, 10_000) == message


def test_server_no_context_takeover_makes_messages_independent() -> None:
    state = PerMessageDeflate(server_no_context_takeover=True)
    message = b"the same rather long message, sent twice over one connection" * 2
    first, second = state.deflate(message), state.deflate(message)
    assert first == second
    # Each one inflates alone, with a fresh inflater.
    assert inflate_raw(second) == message


def test_inflate_limit_is_exact() -> None:
    compressed = PerMessageDeflate().deflate(b"a" * 1000)
    assert PerMessageDeflate().inflate(compressed, 1000) == b"a" * 1000
    with pytest.raises(MessageTooBig):
        PerMessageDeflate().inflate(compressed, 999)


def test_inflate_bomb_costs_at_most_the_limit() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(256))
    bomb += compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]  # 256 MiB of zeros in about 256 KiB
    assert len(bomb) < 300_000
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooBig):
            PerMessageDeflate().inflate(bomb, 1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_compressor_is_created_on_first_use() -> None:
    # An idle connection holds no zlib state (10,000 idle WebSockets stay cheap).
    state = PerMessageDeflate()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        state.deflate(b"x" * 100)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # The deflater's window and hash tables, kept small: they live as long as the
    # connection when the context is taken over.
    assert 20_000 < after - before < 64 << 10


def test_window_bits_are_checked() -> None:
    with pytest.raises(ValueError):
        PerMessageDeflate(server_max_window_bits=8)
    with pytest.raises(ValueError):
        PerMessageDeflate(client_max_window_bits=16)


# -- compressed messages through the codec ------------------------------------------------

class Client:
    """A wsproto client that negotiated permessage-deflate with `negotiate`."""

    def __init__(self, **options: object) -> None:
        extension = OraclePerMessageDeflate(**options)  # type: ignore[arg-type]
        accepted = negotiate(b"permessage-deflate; " + extension.offer().encode())
        assert accepted is not None
        self.response = accepted[0]
        extension.finalize(self.response.decode())
        self.protocol = FrameProtocol(client=True, extensions=[extension])
        self.server_state = accepted[1]

    def server_factory(self) -> Callable[[], PerMessageDeflate]:
        # A fresh server-side state per feeding (three ways), same parameters.
        state = self.server_state
        return lambda: PerMessageDeflate(state.server_no_context_takeover,
                                         state.client_no_context_takeover,
                                         state.server_max_window_bits,
                                         state.client_max_window_bits)


OPTIONS = [
    {},
    {"client_no_context_takeover": True},
    {"server_no_context_takeover": True},
    {"client_max_window_bits": 9, "server_max_window_bits": 9},
]


@pytest.mark.parametrize("options", OPTIONS, ids=range(len(OPTIONS)))
def test_compressed_messages_from_an_independent_client(codec: ModuleType,
                                                        options: dict) -> None:
    client = Client(**options)
    messages: list[str | bytes] = ["hello " * 50, "hello " * 50, b"\x00\x01" * 300, "", "€" * 99]
    data = b"".join(bytes(client.protocol.send_data(message)) for message in messages)
    assert data[0] & 0x40  # RSV1: the first message really is compressed
    events = feed_three_ways(codec, data, deflate=client.server_factory())
    assert events == [("text" if isinstance(m, str) else "binary", m) for m in messages]


def test_compressed_fragmented_message(codec: ModuleType) -> None:
    client = Client()
    first = bytes(client.protocol.send_data("part one, ", fin=False))
    ping = bytes(client.protocol.ping(b"in between"))
    last = bytes(client.protocol.send_data("part two", fin=True))
    assert first[0] & 0x40 and not last[0] & 0x40  # RSV1 on the first frame only
    data = first + ping + last
    events = feed_three_ways(codec, data, deflate=client.server_factory())
    assert events == [("ping", b"in between"), ("text", "part one, part two")]


@pytest.mark.parametrize("options", OPTIONS, ids=range(len(OPTIONS)))
def test_our_compressed_frames_decode_in_an_independent_client(codec: ModuleType,
                                                               options: dict) -> None:
    client = Client(**options)
    server = client.server_state
    messages = [b"abc" * 100, b"abc" * 100, bytes(range(256)) * 4, b"tiny"]
    for message in messages:
        frame = codec.encode_frame(codec.OP_BINARY, message, server)
        assert bool(frame[0] & 0x40) == (len(message) >= MIN_COMPRESSED_SIZE)
        client.protocol.receive_bytes(frame)
        (received,) = list(client.protocol.received_frames())
        assert (received.opcode, bytes(received.payload)) == (Opcode.BINARY, message)
    text_frame = codec.encode_frame(codec.OP_TEXT, "κόσμε ".encode() * 20, server)
    client.protocol.receive_bytes(text_frame)
    (received,) = list(client.protocol.received_frames())
    assert (received.opcode, received.payload) == (Opcode.TEXT, "κόσμε " * 20)


def test_tiny_messages_are_sent_uncompressed(codec: ModuleType) -> None:
    state = PerMessageDeflate()
    assert codec.encode_frame(codec.OP_TEXT, b"hi", state) == b"\x81\x02hi"
    # Control frames are never compressed (RFC 7692 6.1).
    assert codec.encode_frame(codec.OP_PING, b"x" * 100, state)[0] == 0x89


def deflate_message(data: bytes) -> bytes:
    return PerMessageDeflate().deflate(data)


def test_empty_compressed_message(codec: ModuleType) -> None:
    # RFC 7692 7.2.3.6: an empty message may be sent as a single 0x00 byte.
    # A zero-length compressed payload inflates (with the tail appended) to nothing.
    data = text(b"\x00", rsv=4) + binary(deflate_message(b""), rsv=4) + text(b"", rsv=4)
    assert feed_three_ways(codec, data, deflate=PerMessageDeflate) == [
        ("text", ""), ("binary", b""), ("text", "")]


def test_uncompressed_message_on_a_deflate_connection(codec: ModuleType) -> None:
    data = text("plain") + text(deflate_message(b"packed"), rsv=4)
    assert feed_three_ways(codec, data, deflate=PerMessageDeflate) == [("text", "plain"),
                                                                        ("text", "packed")]


def test_final_deflate_block_then_more_messages(codec: ModuleType) -> None:
    # RFC 7692 7.2.3.4: a sender may end a message with a BFINAL block.
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    final = compressor.compress(b"the end of a stream") + compressor.flush(zlib.Z_FINISH)
    data = text(final, rsv=4) + text(deflate_message(b"a new stream"), rsv=4)
    assert feed_three_ways(codec, data, deflate=PerMessageDeflate) == [
        ("text", "the end of a stream"), ("text", "a new stream")]


COMPRESSION_ERRORS: dict[str, tuple[bytes, int]] = {
    "RSV1 on a continuation": (text(deflate_message(b"abc"), rsv=4, fin=False)
                               + client_frame(0, b"", rsv=4), 1002),
    "RSV1 on a ping": (client_frame(9, b"", rsv=4), 1002),
    "RSV1 on a close": (client_frame(8, b"\x03\xe8", rsv=4), 1002),
    "RSV2 on text": (text("x", rsv=2), 1002),
    "RSV1 and RSV3": (text("x", rsv=5), 1002),
    "corrupt deflate data": (text(b"\xff\xff\xff\xff", rsv=4), 1007),
    "compressed text not UTF-8": (text(deflate_message(b"ok \xed\xa0\x80"), rsv=4), 1007),
    "compressed binary over the limit": (binary(deflate_message(bytes(5000)), rsv=4), 1009),
    "compressed payload over the limit": (binary(bytes(1001), rsv=4), 1009),
}


@pytest.mark.parametrize(("data", "code"), COMPRESSION_ERRORS.values(),
                         ids=COMPRESSION_ERRORS.keys())
def test_compression_errors(codec: ModuleType, data: bytes, code: int) -> None:
    assert error_code(codec, data, max_size=1000, deflate=PerMessageDeflate) == code


def test_a_bomb_in_a_frame_is_1009(codec: ModuleType) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(64))
    bomb += compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]  # 64 MiB of zeros
    events = feed_chunks(codec, [binary(bomb, rsv=4)], max_size=1 << 20,
                         deflate=PerMessageDeflate)
    assert events == [("error", 1009)]


def test_rsv1_without_negotiation_is_1002(codec: ModuleType) -> None:
    assert error_code(codec, text(deflate_message(b"abc"), rsv=4)) == 1002
