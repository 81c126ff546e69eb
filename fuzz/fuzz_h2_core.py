"""Fuzz the compiled HTTP/2 server core (fasthttpd/http2/_core.pyx) with atheris.

Each input is what a client sends after a valid connection preface and SETTINGS:
any frame sequence. Properties checked on every input:
- receive() never raises (a malformed input is a GOAWAY or an RST_STREAM, never an
  exception) and never crashes;
- the same hooks and the same answer bytes whether the input is fed whole, cut at
  points the input chooses, or one byte at a time;
- the answer is a sequence of well-formed frames (parsed by hyperframe, an
  independent parser), and after a GOAWAY nothing more is read;
- bounded state: the streams held never exceed SETTINGS_MAX_CONCURRENT_STREAMS, the
  closed-stream memory stays at its cap, and the buffered tail of an incomplete
  frame is at most one frame.

Input layout: byte 0 is the number of cut points (mod 8), then two bytes per cut
point (big-endian, modulo the payload length); the rest is the payload.

Run (see fuzz/README.md):  python fuzz/fuzz_h2_core.py fuzz/corpus-h2core fuzz/seeds-h2core
Write the seeds:           python fuzz/fuzz_h2_core.py --write-seeds
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from hyperframe.frame import Frame

from fasthttpd.http2 import _core  # noqa: E402 (compiled: nothing to instrument)

SEEDS = Path(__file__).resolve().parent / "seeds-h2core"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
MAX_STREAMS = 4


class Recorder(_core.ServerConnection):
    def __init__(self) -> None:
        super().__init__(MAX_STREAMS, 65535, 65535, 4096)
        self.events: list[tuple] = []

    def on_request(self, s, headers, end_stream):  # type: ignore[no-untyped-def]
        self.events.append(("request", s.stream_id, self.req_method, self.req_path,
                            tuple(headers), end_stream))

    def on_data(self, s, data, flow_length, end_stream):  # type: ignore[no-untyped-def]
        self.events.append(("data", s.stream_id, data, flow_length, end_stream))
        self.acknowledge(s, flow_length)  # as an app that reads at once

    def on_stream_reset(self, s, code, by_client):  # type: ignore[no-untyped-def]
        self.events.append(("reset", s.stream_id, code, by_client))

    def on_window_update(self, s):  # type: ignore[no-untyped-def]
        self.events.append(("window", None if s is None else s.stream_id))

    def on_goaway(self, code):  # type: ignore[no-untyped-def]
        self.events.append(("goaway", code))


def split_input(data: bytes) -> tuple[bytes, list[int]]:
    if not data:
        return b"", []
    count = data[0] % 8
    payload = data[1 + 2 * count:]
    cuts = set()
    for index in range(count):
        offset = 1 + 2 * index
        if payload and offset + 2 <= len(data):
            cuts.add(int.from_bytes(data[offset:offset + 2], "big") % len(payload))
    return payload, sorted(cuts)


def feed(chunks: list[bytes]) -> tuple[list[tuple], bytes, Recorder]:
    core = Recorder()
    core.start()
    out = [core.data_to_send()]
    for chunk in chunks:
        core.receive(chunk)
        assert len(core.stream_states) <= MAX_STREAMS
        assert len(core.recently_closed) <= 128
        out.append(core.data_to_send())
    return core.events, b"".join(out), core


def check_frames(data: bytes) -> list:
    frames = []
    while data:
        assert len(data) >= 9, "a truncated frame in the answer"
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        assert len(data) >= 9 + length, "a truncated frame in the answer"
        frame.parse_body(memoryview(data[9:9 + length]))
        frames.append(frame)
        data = data[9 + length:]
    return frames


def check(data: bytes) -> None:
    payload, cuts = split_input(data)
    stream = PREFACE + payload
    whole = feed([stream])
    bounds = [0, *[len(PREFACE) + cut for cut in cuts], len(stream)]
    split = feed([stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
    bytewise = feed([stream[i:i + 1] for i in range(len(stream))])
    assert split[:2] == whole[:2], "cutting the input changed the outcome"
    assert bytewise[:2] == whole[:2], "feeding byte by byte changed the outcome"
    frames = check_frames(whole[1])
    core = whole[2]
    goaways = [f for f in frames if f.type == 7]
    if core.closed:
        assert goaways, "dead without a GOAWAY"
        assert core.receive(b"\x00\x00\x00\x06\x00\x00\x00\x00\x00" + b"\x00" * 8) == 1
    # Steer libFuzzer towards new outcomes: branch on them.
    for event in whole[0]:
        if event[0] == "reset":
            if event[2] == 1:
                pass
            elif event[2] == 5:
                pass
    for frame in goaways:
        if frame.error_code == 1:
            pass
        elif frame.error_code == 3:
            pass
        elif frame.error_code == 6:
            pass
        elif frame.error_code == 9:
            pass


def test_one_input(data: bytes) -> None:
    check(data)


def seed_payloads() -> list[bytes]:
    from hpack import Encoder

    encoder = Encoder()

    def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) \
            + sid.to_bytes(4, "big") + payload

    block = encoder.encode([(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"),
                            (b":authority", b"a"), (b"content-length", b"4")])
    get = Encoder().encode([(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/x"),
                            (b":authority", b"a")])
    return [
        b"\x00" + frame(1, 5, 1, get),
        b"\x00" + frame(1, 4, 1, block) + frame(0, 1, 1, b"body"),
        b"\x02\x00\x05\x00\x20" + frame(1, 0, 1, get[:3]) + frame(9, 4, 1, get[3:]),
        b"\x00" + frame(6, 0, 0, b"12345678") + frame(8, 0, 0, b"\x00\x00\x10\x00"),
        b"\x00" + frame(1, 4, 1, block) + frame(3, 0, 1, b"\x00\x00\x00\x08")
        + frame(0, 0, 1, b"late"),
        b"\x00" + frame(4, 0, 0, b"\x00\x04\x00\x00\x00\x10") + frame(1, 0x2d, 3,
                                                                    b"\x01\x00\x00\x00\x01\x10"
                                                                    + get + b"\x00"),
        b"\x00" + b"".join(frame(1, 5, 2 * i + 1, get) for i in range(6)),
        b"\x00" + frame(7, 0, 0, b"\x00" * 8),
    ]


def write_seeds() -> None:
    SEEDS.mkdir(exist_ok=True)
    for payload in seed_payloads():
        check(payload)  # every seed passes the harness
        name = hashlib.sha256(payload).hexdigest()[:16]
        (SEEDS / name).write_bytes(payload)


if __name__ == "__main__":
    if "--write-seeds" in sys.argv:
        write_seeds()
    else:
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()
