"""Microbenchmark: serializing a typical response head, compiled vs pure Python.

The response: 200, four headers from the app (content-type, content-length,
cache-control, x-request-id) and a 13-byte body, on a keep-alive HTTP/1.1 connection.
Three ways to produce the same bytes:

- compiled: fasthttpd._serializer.serialize_response;
- straightforward: what an asyncio server written in Python does per response (the
  way uvicorn's httptools protocol does it): status line from a dict, a loop over the
  headers checking each name and value with a regular expression and noting the
  framing headers, a list of pieces joined with b"".join; the Date line comes
  ready-made, as a server refreshing it once a second would have it;
- fallback: fasthttpd.http1.fallback_serializer.serialize_response.

All three are checked to produce identical bytes before timing. Rounds are
interleaved and the median of each is kept; the ratios are what count.

    python bench/micro_serializer.py          # full run (a few seconds)
    python bench/micro_serializer.py --quick  # a short run
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import fasthttpd  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fasthttpd import _serializer as compiled
from fasthttpd.http1 import fallback_serializer as fallback

STATUS = 200
HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"13"),
    (b"cache-control", b"no-cache"),
    (b"x-request-id", b"5f2b6a1e-9c3d-4e8f-a7b1-0d6c2e9f4a13"),
]
BODY = b"Hello, world!"
FLAGS = compiled.FLAG_KEEP_ALIVE

# The pure-Python way -------------------------------------------------------------

STATUS_LINES = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, phrase) for code, phrase in fallback.REASON_PHRASES.items()
}
# Anything but a tchar in a name; a CTL other than HTAB in a value (RFC 9110 5.1, 5.5).
INVALID_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
INVALID_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def serialize_straightforward(status: int, headers: list[tuple[bytes, bytes]], body: bytes,
                              keep_alive: bool, date_line: bytes, server_line: bytes) -> bytes:
    pieces = [STATUS_LINES[status], date_line, server_line]
    content_length = None
    chunked = False
    for name, value in headers:
        if not name or INVALID_NAME.search(name):
            raise ValueError(f"invalid header name {name!r}")
        if INVALID_VALUE.search(value):
            raise ValueError(f"invalid header value for {name!r}")
        lowered = name.lower()
        if lowered == b"content-length":
            content_length = int(value)
        elif lowered == b"transfer-encoding":
            chunked = value.lower() == b"chunked"
        elif lowered == b"connection" and value.lower() == b"close":
            keep_alive = False
        pieces.extend((name, b": ", value, b"\r\n"))
    if content_length is None and not chunked:
        pieces.append(b"content-length: %d\r\n" % len(body))
    if not keep_alive:
        pieces.append(b"connection: close\r\n")
    pieces.append(b"\r\n")
    pieces.append(body)
    return b"".join(pieces)


# Timing ---------------------------------------------------------------------------


def ns_per_call(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        function()
    return (time.perf_counter_ns() - start) / calls


def check_same_bytes(date_line: bytes, server_line: bytes) -> None:
    for _ in range(3):  # retried in case the second changes between the calls
        ours = compiled.serialize_response(STATUS, HEADERS, BODY, False, FLAGS)[0]
        theirs = fallback.serialize_response(STATUS, HEADERS, BODY, False, FLAGS)[0]
        plain = serialize_straightforward(STATUS, HEADERS, BODY, True,
                                          _date_line_of(ours), server_line)
        if ours == theirs == plain:
            return
    raise AssertionError(f"outputs differ:\n{ours!r}\n{theirs!r}\n{plain!r}")


def _date_line_of(response: bytes) -> bytes:
    start = response.index(b"\r\ndate: ") + 2
    return response[start:response.index(b"\r\n", start) + 2]


def run(quick: bool = False) -> dict[str, float]:
    """Measure; return ns per response for each way and the ratios."""
    compiled.configure()
    fallback.configure()
    server_line = b"server: fasthttpd\r\n"
    sample = compiled.serialize_response(STATUS, HEADERS, BODY, False, FLAGS)[0]
    date_line = _date_line_of(sample)
    check_same_bytes(date_line, server_line)

    ways: dict[str, Callable[[], object]] = {
        "compiled": lambda: compiled.serialize_response(STATUS, HEADERS, BODY, False, FLAGS),
        "straightforward": lambda: serialize_straightforward(
            STATUS, HEADERS, BODY, True, date_line, server_line),
        "fallback": lambda: fallback.serialize_response(STATUS, HEADERS, BODY, False, FLAGS),
    }
    calls = 20_000 if quick else 100_000
    rounds = 3 if quick else 7
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for function in ways.values():  # warm-up
        ns_per_call(function, calls // 10)
    for _ in range(rounds):
        for name, function in ways.items():
            samples[name].append(ns_per_call(function, calls))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "compiled_ns": medians["compiled"],
        "straightforward_ns": medians["straightforward"],
        "fallback_ns": medians["fallback"],
        "ratio_vs_straightforward": medians["straightforward"] / medians["compiled"],
        "ratio_vs_fallback": medians["fallback"] / medians["compiled"],
        "response_bytes": float(len(sample)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    result = run(quick=parser.parse_args().quick)
    print(f"response of {int(result['response_bytes'])} bytes (200, 4 headers, 13-byte body)")
    print(f"compiled         {result['compiled_ns']:8.0f} ns/response")
    print(f"straightforward  {result['straightforward_ns']:8.0f} ns/response "
          f"(pure Python, regex per header, b''.join)")
    print(f"fallback         {result['fallback_ns']:8.0f} ns/response")
    print(f"compiled is {result['ratio_vs_straightforward']:.1f}x faster than straightforward "
          f"(target: 3x), {result['ratio_vs_fallback']:.1f}x faster than the fallback")


if __name__ == "__main__":
    main()
