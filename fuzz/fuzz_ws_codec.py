"""Fuzz the compiled WebSocket frame codec with atheris (libFuzzer).

Properties checked on every input:
- feeding never raises and never crashes: whatever the bytes, the parser only
  returns events (Message, Ping, Pong, Close, ProtocolError), a Close or a
  ProtocolError only as the last event, and nothing after it;
- the events are the same whether the payload is fed whole or split at the points
  the input chooses;
- the pure-Python fallback gives the same events (error codes included).

Input layout: byte 0 chooses the options (bit 0: permessage-deflate negotiated,
bit 1: a small maximum message size), byte 1 the number of cut points (mod 8), then
two bytes per cut point (big-endian, modulo the payload length); the rest is the
payload, client frames. Build the extension first (`python setup.py build_ext
--inplace`), then run from the repository root (fuzz/corpus/ is ignored by git;
any libFuzzer flag works, as for fuzz_parser.py in fuzz/README.md):

    mkdir -p fuzz/corpus/ws && python fuzz/fuzz_ws_codec.py fuzz/corpus/ws -max_total_time=600
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from fasthttpd.websocket import _codec, fallback_codec
    from fasthttpd.websocket.deflate import PerMessageDeflate


def split_input(data: bytes) -> tuple[int, list[int], bytes]:
    if len(data) < 2:
        return 0, [], data
    cut_count = data[1] % 8
    payload = data[2 + 2 * cut_count:]
    cuts = []
    if payload:
        for index in range(cut_count):
            offset = 2 + 2 * index
            if offset + 2 <= len(data):
                cuts.append(int.from_bytes(data[offset:offset + 2], "big") % len(payload))
    return data[0], sorted(set(cuts)), payload


@atheris.instrument_func
def outcome(module, options: int, pieces: list[bytes]) -> list[tuple]:
    parser = module.FrameParser(64 if options & 2 else 1 << 20,
                                PerMessageDeflate() if options & 1 else None)
    events: list = []
    for piece in pieces:
        events += parser.feed(piece)
    out: list[tuple] = []
    for index, event in enumerate(events):
        if isinstance(event, (module.Close, module.ProtocolError)):
            if index != len(events) - 1:
                raise AssertionError(f"events after the end: {events}")
            if isinstance(event, module.ProtocolError) and event.code not in (1002, 1007, 1009):
                raise AssertionError(f"unexpected close code {event.code}")
            out.append((type(event).__name__, event.code))
        elif isinstance(event, module.Message):
            if not isinstance(event.data, str if event.is_text else bytes):
                raise AssertionError(f"wrong data type {event!r}")
            out.append(("Message", event.is_text, event.data))
        elif isinstance(event, (module.Ping, module.Pong)):
            if len(event.data) > 125:
                raise AssertionError("control payload over 125 bytes")
            out.append((type(event).__name__, event.data))
        else:
            raise AssertionError(f"unexpected event {event!r}")
    return out


def test_one_input(data: bytes) -> None:
    options, cuts, payload = split_input(data)
    whole = outcome(_codec, options, [payload])
    pieces = [payload[start:end] for start, end in zip([0, *cuts], [*cuts, len(payload)],
                                                       strict=True)]
    if outcome(_codec, options, pieces) != whole:
        raise AssertionError("split feeding differs from feeding whole")
    if outcome(fallback_codec, options, pieces) != whole:
        raise AssertionError("the fallback codec differs from the compiled one")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
