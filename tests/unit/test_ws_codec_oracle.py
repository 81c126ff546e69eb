"""The WebSocket codec against an independent implementation, wsproto: client frames
built by wsproto's encoder, the verdict of wsproto's decoder on arbitrary frame
streams, and our server frames read back by wsproto's client."""

from __future__ import annotations

import struct
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.extensions import PerMessageDeflate as OraclePerMessageDeflate
from wsproto.frame_protocol import CloseReason, Frame, FrameProtocol, Opcode, ParseFailed

from fasthttpd.websocket.deflate import negotiate
from tests.unit.ws_frames import IMPLEMENTATIONS, MAX_SIZE, feed_chunks, load
from tests.unit.ws_strategies import splits, streams

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def codec(request: pytest.FixtureRequest) -> ModuleType:
    return load(request.param)


# -- valid streams encoded by wsproto ------------------------------------------------------

control = st.tuples(st.sampled_from(["ping", "pong"]), st.binary(max_size=125))
message = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=300)),
    st.tuples(st.just("binary"), st.binary(max_size=300)),
)


@st.composite
def conversations(draw: st.DrawFn) -> tuple[bytes, list[tuple]]:
    """(client bytes from wsproto, the events they must give), fragments and
    control frames between them included; sometimes a Close at the end."""
    client = FrameProtocol(client=True, extensions=[])
    data = bytearray()
    expected: list[tuple] = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            kind, payload = draw(control)
            data += client.ping(payload) if kind == "ping" else client.pong(payload)
            expected.append((kind, payload))
            continue
        kind, value = draw(message)
        cuts = sorted(draw(st.lists(st.integers(0, len(value)), max_size=3)))
        pieces = [value[start:end] for start, end in zip([0, *cuts], [*cuts, len(value)],
                                                          strict=True)]
        for index, piece in enumerate(pieces):
            data += client.send_data(piece, fin=index == len(pieces) - 1)
            if index < len(pieces) - 1 and draw(st.booleans()):
                kind_between, payload = draw(control)
                data += client.ping(payload)
                expected.append(("ping", payload))
        expected.append((kind, value))
    if draw(st.booleans()):
        code = draw(st.sampled_from([1000, 1001, 1011, 3000, 4999]))
        reason = draw(st.text(max_size=30))
        data += client.close(code, reason)
        expected.append(("close", code, reason.encode()[:123].decode("utf-8", "ignore")))
    return bytes(data), expected


@SETTINGS
@given(conversation=conversations(), data=st.data())
def test_wsproto_client_streams(codec: ModuleType, conversation: tuple[bytes, list[tuple]],
                                data: st.DataObject) -> None:
    stream, expected = conversation
    pieces = data.draw(splits(stream))
    assert feed_chunks(codec, pieces) == expected


# -- the same verdict as wsproto's decoder on arbitrary frames ------------------------------

class IanaServer(FrameProtocol):
    """wsproto's server, told of 1014 (Bad Gateway): the IANA registry has it, and
    wsproto's list stops at 1013; every other close rule stays wsproto's."""

    def _process_close(self, frame: Frame) -> Frame:
        data = frame.payload
        if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == 1014:
            try:
                reason = bytes(data[2:]).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ParseFailed("invalid close reason",
                                  CloseReason.INVALID_FRAME_PAYLOAD_DATA) from exc
            return Frame(frame.opcode, (1014, reason), frame.frame_finished,
                         frame.message_finished)
        return super()._process_close(frame)


def wsproto_events(stream: bytes) -> list[tuple]:
    """What wsproto, as a server, makes of `stream`, in our event form."""
    server = IanaServer(client=False, extensions=[])
    server.receive_bytes(stream)
    events: list[tuple] = []
    pieces: list = []
    try:
        for frame in server.received_frames():
            if frame.opcode is Opcode.CLOSE:
                code, reason = frame.payload
                events.append(("close", None if code == CloseReason.NO_STATUS_RCVD
                               else int(code), reason))
                break
            if frame.opcode in (Opcode.PING, Opcode.PONG):
                events.append((frame.opcode.name.lower(), bytes(frame.payload)))
                continue
            if frame.opcode is not Opcode.CONTINUATION:
                kind = "text" if frame.opcode is Opcode.TEXT else "binary"
            pieces.append(frame.payload)
            if frame.message_finished:
                joined = "".join(pieces) if kind == "text" else b"".join(pieces)
                events.append((kind, joined))
                pieces = []
    except ParseFailed as error:
        events.append(("error", int(error.code)))
    return events


@SETTINGS
@given(stream=streams)
def test_same_verdict_as_wsproto(codec: ModuleType, stream: bytes) -> None:
    ours = feed_chunks(codec, [stream])
    theirs = wsproto_events(stream)
    assert ours == theirs


# -- our frames read by wsproto's client ----------------------------------------------------

def read_back(frame: bytes) -> list:
    client = FrameProtocol(client=True, extensions=[])
    client.receive_bytes(frame)
    return list(client.received_frames())


@SETTINGS
@given(opcode=st.sampled_from([1, 2]), payload=st.binary(max_size=70_000))
def test_data_frames_read_by_wsproto(codec: ModuleType, opcode: int, payload: bytes) -> None:
    if opcode == 1:
        payload = payload.decode("latin-1").encode()
    (frame,) = read_back(codec.encode_frame(opcode, payload))
    assert frame.frame_finished and frame.message_finished
    assert frame.opcode == opcode
    assert frame.payload == (payload.decode() if opcode == 1 else payload)


@SETTINGS
@given(opcode=st.sampled_from([9, 10]), payload=st.binary(max_size=125))
def test_control_frames_read_by_wsproto(codec: ModuleType, opcode: int,
                                        payload: bytes) -> None:
    (frame,) = read_back(codec.encode_frame(opcode, payload))
    assert (frame.opcode, frame.payload) == (opcode, payload)


@SETTINGS
@given(code=st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                             1013, 3000, 4999]),
       reason=st.text(max_size=200))
def test_close_frames_read_by_wsproto(codec: ModuleType, code: int, reason: str) -> None:
    (frame,) = read_back(codec.encode_close(code, reason))
    received_code, received_reason = frame.payload
    assert received_code == code
    assert reason.startswith(received_reason)
    assert len(received_reason.encode()) <= 123
    # Cut no shorter than needed: one more character would not have fitted.
    if received_reason != reason:
        assert len(reason[:len(received_reason) + 1].encode()) > 123


def test_large_client_frame_from_wsproto(codec: ModuleType) -> None:
    payload = bytes(range(256)) * 1000
    client = FrameProtocol(client=True, extensions=[])
    stream = bytes(client.send_data(payload))
    assert feed_chunks(codec, [stream[:1000], stream[1000:]], max_size=MAX_SIZE) == [
        ("binary", payload)]


# -- compressed streams from wsproto --------------------------------------------------------

DEFLATE_OPTIONS = [
    {},
    {"client_no_context_takeover": True},
    {"client_max_window_bits": 9},
    {"server_no_context_takeover": True, "server_max_window_bits": 10},
]


@SETTINGS
@given(options=st.sampled_from(DEFLATE_OPTIONS),
       messages=st.lists(message, min_size=1, max_size=5), data=st.data())
def test_compressed_wsproto_streams(codec: ModuleType, options: dict,
                                    messages: list[tuple[str, str | bytes]],
                                    data: st.DataObject) -> None:
    extension = OraclePerMessageDeflate(**options)
    accepted = negotiate(b"permessage-deflate; " + extension.offer().encode())
    assert accepted is not None
    extension.finalize(accepted[0].decode())
    client = FrameProtocol(client=True, extensions=[extension])
    stream = b"".join(bytes(client.send_data(value)) for _, value in messages)
    pieces = data.draw(splits(stream))
    assert feed_chunks(codec, pieces, deflate=lambda: accepted[1]) == list(messages)
