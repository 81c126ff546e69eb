"""Fuzz the compiled HTTP/1.1 request parser with atheris (libFuzzer).

Properties checked on every input:
- feeding never raises and never crashes: whatever the bytes, the parser only
  returns events (Request, body bytes, EndOfMessage, HttpParseError);
- the events are the same whether the payload is fed whole, split at the points
  the input chooses, or (for short inputs) one byte at a time; body chunks are
  compared joined, since how they are cut depends on the feeding;
- event sanity: no empty body chunk, an error only as the last event, and every
  fed byte is either consumed or still buffered while the parser is alive.

Input layout (so that libFuzzer mutates the feeding along with the bytes):
byte 0 chooses the limits (see LIMIT_PROFILES), byte 1 the number of cut points
(mod 8), then two bytes per cut point (big-endian, taken modulo the payload
length); the rest is the payload. The seeds in fuzz/seeds/ are written by
fuzz/make_seeds.py.

Run (see fuzz/README.md):  python fuzz/fuzz_parser.py fuzz/corpus fuzz/seeds
FASTHTTPD_FUZZ_FALLBACK=1 also compares statuses with the pure-Python fallback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from fasthttpd import _parser

COMPARE_FALLBACK = os.environ.get("FASTHTTPD_FUZZ_FALLBACK") == "1"
if COMPARE_FALLBACK:
    with atheris.instrument_imports():
        from fasthttpd.http1 import fallback_parser

# Small limits reach the 413/414/431 paths with short inputs.
LIMIT_PROFILES = [
    {},
    {"max_request_line_size": 32, "max_header_count": 4, "max_header_size": 24,
     "max_body_size": 16, "max_chunk_extension_size": 12},
    {"max_request_line_size": 64, "max_header_count": 8, "max_header_size": 64,
     "max_body_size": 0, "max_chunk_extension_size": 32},
    {"max_request_line_size": 8, "max_header_count": 1, "max_header_size": 8,
     "max_body_size": 1, "max_chunk_extension_size": 3},
]
BYTEWISE_LIMIT = 4096  # longer payloads are not also fed one byte at a time


def split_input(data: bytes) -> tuple[dict[str, int], list[int], bytes]:
    """Limits, cut points and payload from a fuzzer input."""
    if len(data) < 2:
        return {}, [], data
    limits = LIMIT_PROFILES[data[0] % len(LIMIT_PROFILES)]
    cut_count = data[1] % 8
    header_size = 2 + 2 * cut_count
    payload = data[header_size:]
    cuts = []
    if payload:
        for index in range(cut_count):
            offset = 2 + 2 * index
            if offset + 2 <= len(data):
                cuts.append(int.from_bytes(data[offset:offset + 2], "big") % len(payload))
    return limits, sorted(set(cuts)), payload


@atheris.instrument_func
def normalize(module, events: list) -> list[tuple]:
    """Events as comparable tuples, consecutive body chunks joined."""
    out: list[tuple] = []
    body = bytearray()
    for index, event in enumerate(events):
        if type(event) is bytes:
            if not event:
                raise AssertionError("empty body chunk emitted")
            body += event
            continue
        if body:
            out.append(("data", bytes(body)))
            body = bytearray()
        if isinstance(event, module.HttpParseError):
            if index != len(events) - 1:
                raise AssertionError(f"events after an error: {events!r}")
            if not (isinstance(event.reason, str) and event.reason):
                raise AssertionError("error without a reason")
            out.append(("error", event.status_code))
        elif isinstance(event, module.EndOfMessage):
            out.append(("end", tuple(event.trailers)))
        elif isinstance(event, module.Request):
            out.append(("request", event.method, event.target, event.path, event.query,
                        event.http_version, tuple(event.headers), event.keep_alive,
                        event.framing, event.content_length, event.expect_continue,
                        event.upgrade, event.host))
        else:
            raise AssertionError(f"unexpected event {event!r}")
    if body:
        out.append(("data", bytes(body)))
    return out


def parse(module, payload: bytes, cuts: list[int], limits: dict[str, int]) -> list[tuple]:
    """Feed the payload in pieces, then resume after upgrades; check the counters."""
    parser = module.RequestParser(**limits)
    events: list = []
    start = 0
    for cut in [*cuts, len(payload)]:
        events += parser.feed(payload[start:cut])
        start = cut
    dead = bool(events) and isinstance(events[-1], module.HttpParseError)
    if not dead and parser.bytes_consumed + parser.buffered != len(payload):
        raise AssertionError(
            f"consumed {parser.bytes_consumed} + buffered {parser.buffered} != {len(payload)}")
    # Decline every upgrade so that the bytes after it are parsed too.
    while not dead:
        more = parser.resume()
        if not more:
            break
        events += more
        dead = isinstance(more[-1], module.HttpParseError)
    return normalize(module, events)


@atheris.instrument_func
def coverage_hints(events: list[tuple]) -> None:
    """Distinct Python branches per outcome, so that libFuzzer keeps inputs that
    reach new statuses and framings even when the extension is not instrumented."""
    for event in events:
        kind = event[0]
        if kind == "error":
            status = event[1]
            if status == 400:
                pass
            elif status == 413:
                pass
            elif status == 414:
                pass
            elif status == 431:
                pass
            elif status == 501:
                pass
            elif status == 505:
                pass
        elif kind == "request":
            framing = event[8]
            if framing == 1:
                pass
            elif framing == 2:
                pass
            if event[11] is not None:
                pass
            if event[5] == "1.0":
                pass
        elif kind == "end" and event[1]:
            pass


@atheris.instrument_func
def check(data: bytes) -> None:
    limits, cuts, payload = split_input(data)
    whole = parse(_parser, payload, [], limits)
    split = parse(_parser, payload, cuts, limits)
    if split != whole:
        raise AssertionError(f"split at {cuts} differs:\n{whole!r}\n{split!r}")
    if len(payload) <= BYTEWISE_LIMIT:
        bytewise = parse(_parser, payload, list(range(1, len(payload))), limits)
        if bytewise != whole:
            raise AssertionError(f"byte-by-byte differs:\n{whole!r}\n{bytewise!r}")
    if COMPARE_FALLBACK:
        fallback = parse(fallback_parser, payload, [], limits)
        if fallback != whole:
            raise AssertionError(f"fallback differs:\n{whole!r}\n{fallback!r}")
    coverage_hints(whole)


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
