"""Helpers for the WebSocket codec tests: client frames built by hand, and feeding.

`client_frame` builds a masked client frame independently of the codec under test
(with knobs for every way a frame can be wrong). `feed_three_ways` feeds bytes
whole, byte by byte, and followed by a further frame, checks that the three agree,
and returns the events as plain tuples.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

IMPLEMENTATIONS = {
    "compiled": "fasthttpd.websocket._codec",
    "python": "fasthttpd.websocket.fallback_codec",
}

MASK = b"\x37\xfa\x21\x3d"
MAX_SIZE = 1 << 20


def load(name: str) -> ModuleType:
    # An ImportError is a failure, not a skip: both implementations must exist
    # (build the compiled one with `python setup.py build_ext --inplace`).
    return importlib.import_module(IMPLEMENTATIONS[name])


def masked(payload: bytes, mask: bytes = MASK) -> bytes:
    return bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                 mask: bytes | None = MASK, length: int | None = None,
                 length_size: int | None = None) -> bytes:
    """A client frame. `rsv` is the 3 RSV bits (4 = RSV1); `mask=None` sends it
    unmasked; `length` overrides the declared length; `length_size` (0, 2 or 8)
    forces an extended-length encoding, minimal or not."""
    declared = len(payload) if length is None else length
    if length_size is None:
        length_size = 0 if declared < 126 else 2 if declared < 0x10000 else 8
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0 if mask is None else 0x80
    if length_size == 0:
        head = bytes((first, mask_bit | declared))
    elif length_size == 2:
        head = bytes((first, mask_bit | 126)) + declared.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + declared.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + masked(payload, mask)


def text(data: str | bytes, **options: Any) -> bytes:
    return client_frame(1, data.encode() if isinstance(data, str) else data, **options)


def binary(data: bytes, **options: Any) -> bytes:
    return client_frame(2, data, **options)


def close_frame(code: int | None = None, reason: bytes = b"") -> bytes:
    body = b"" if code is None else code.to_bytes(2, "big") + reason
    return client_frame(8, body)


NEXT_FRAME = text("next")


def normalize(module: ModuleType, events: Iterable[Any]) -> list[tuple]:
    out: list[tuple] = []
    for event in events:
        if isinstance(event, module.Message):
            assert isinstance(event.data, str if event.is_text else bytes)
            out.append(("text" if event.is_text else "binary", event.data))
        elif isinstance(event, module.Ping):
            assert type(event.data) is bytes
            out.append(("ping", event.data))
        elif isinstance(event, module.Pong):
            assert type(event.data) is bytes
            out.append(("pong", event.data))
        elif isinstance(event, module.Close):
            assert isinstance(event.reason, str)
            out.append(("close", event.code, event.reason))
        elif isinstance(event, module.ProtocolError):
            assert isinstance(event.reason, str) and event.reason
            out.append(("error", event.code))
        else:
            raise AssertionError(f"unexpected event {event!r}")
    terminal = [index for index, event in enumerate(out) if event[0] in ("error", "close")]
    assert terminal in ([], [len(out) - 1]), f"events after the end: {out}"
    return out


DeflateFactory = Callable[[], Any] | None


def make_parser(module: ModuleType, max_size: int, deflate: DeflateFactory) -> Any:
    return module.FrameParser(max_size, deflate() if deflate else None)


def feed_chunks(module: ModuleType, chunks: Iterable[bytes], max_size: int = MAX_SIZE,
                deflate: DeflateFactory = None) -> list[tuple]:
    parser = make_parser(module, max_size, deflate)
    events: list[Any] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return normalize(module, events)


def feed_three_ways(module: ModuleType, data: bytes, max_size: int = MAX_SIZE,
                    deflate: DeflateFactory = None) -> list[tuple]:
    """The events of `data` (which ends at a message boundary, or in an error or close),
    checked to be the same fed whole, byte by byte, and followed by another frame."""
    whole = feed_chunks(module, [data], max_size, deflate)
    bytewise = feed_chunks(module, [data[i:i + 1] for i in range(len(data))], max_size, deflate)
    assert bytewise == whole, "byte-by-byte feeding differs from feeding whole"
    parser = make_parser(module, max_size, deflate)
    trailing = normalize(module, parser.feed(data + NEXT_FRAME))
    if whole and whole[-1][0] in ("error", "close"):
        assert trailing == whole, "bytes after the end changed the outcome"
        assert parser.feed(NEXT_FRAME) == [], "the parser must stop after an error or close"
    else:
        assert trailing == whole + [("text", "next")], "the following frame did not come out"
    return whole


def error_code(module: ModuleType, data: bytes, **options: Any) -> int:
    events = feed_three_ways(module, data, **options)
    assert events and events[-1][0] == "error", f"expected an error, got {events}"
    return events[-1][1]
