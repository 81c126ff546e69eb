"""Microbenchmark: HPACK for one h2load-style exchange, compiled vs the hpack library.

Four operations, each measured for fasthttpd's compiled codec
(`fasthttpd.http2._hpack`) and for the `hpack` library that h2 uses:
- decode the request header block h2load sends once the tables are warm (every
  field indexed: what each request of a benchmark costs);
- decode the first request block of a connection (fresh decoder: literals,
  Huffman strings, table insertions);
- encode the hello response on a warm encoder (the steady state of a
  connection: :status, content-type, content-length, server and date repeat);
- encode the same response on a fresh encoder (the first response).

Two measures:
- time (default): per-operation CPU time, rounds short and interleaved (ours,
  hpack, ours, hpack, ...), best and median round reported with the ratio;
- instructions (--instructions): each operation run N and 2N times under
  callgrind, the difference divided by N (start-up cancels out); the counts do
  not depend on the load of the machine. They include the Python loop and the
  Python-level call (a few hundred instructions), which the compiled HTTP/2 core
  does not pay: it calls decode()/encode() through cimport.

Run: python bench/micro_hpack.py [--quick] [--instructions]; `python -m bench` runs the
timed comparison through run().
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hpack

from fasthttpd.http2 import _hpack

# What h2load (nghttp2) sends for `h2load http://127.0.0.1:8000/`.
REQUEST = [
    (b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"),
    (b":authority", b"127.0.0.1:8000"), (b"user-agent", b"h2load nghttp2/1.52.0"),
]
# fasthttpd's hello response (the Date value changes once a second).
RESPONSE = [
    (b":status", b"200"), (b"content-type", b"text/plain"), (b"content-length", b"13"),
    (b"server", b"fasthttpd"), (b"date", b"Sat, 05 Dec 2026 13:37:23 GMT"),
]


def request_blocks() -> tuple[bytes, bytes]:
    """The first block of a connection and the steady-state one (nghttp2 indexes
    every field it sends, as hpack's encoder does)."""
    encoder = hpack.Encoder()
    return encoder.encode(REQUEST), encoder.encode(REQUEST)


FIRST_BLOCK, WARM_BLOCK = request_blocks()


def ours_decode_warm(count: int) -> Callable[[], None]:
    decoder = _hpack.Decoder()
    decoder.decode(FIRST_BLOCK)
    decode, block = decoder.decode, WARM_BLOCK

    def run() -> None:
        for _ in range(count):
            decode(block)
    return run


def hpack_decode_warm(count: int) -> Callable[[], None]:
    decoder = hpack.Decoder()
    decoder.decode(FIRST_BLOCK, raw=True)
    decode, block = decoder.decode, WARM_BLOCK

    def run() -> None:
        for _ in range(count):
            decode(block, raw=True)
    return run


def ours_decode_first(count: int) -> Callable[[], None]:
    block, decoder_type = FIRST_BLOCK, _hpack.Decoder

    def run() -> None:
        for _ in range(count):
            decoder_type().decode(block)
    return run


def hpack_decode_first(count: int) -> Callable[[], None]:
    block, decoder_type = FIRST_BLOCK, hpack.Decoder

    def run() -> None:
        for _ in range(count):
            decoder_type().decode(block, raw=True)
    return run


def ours_encode_warm(count: int) -> Callable[[], None]:
    encoder = _hpack.Encoder()
    encoder.encode(RESPONSE)
    encode, headers = encoder.encode, RESPONSE

    def run() -> None:
        for _ in range(count):
            encode(headers)
    return run


def hpack_encode_warm(count: int) -> Callable[[], None]:
    encoder = hpack.Encoder()
    encoder.encode(RESPONSE)
    encode, headers = encoder.encode, RESPONSE

    def run() -> None:
        for _ in range(count):
            encode(headers)
    return run


def ours_encode_first(count: int) -> Callable[[], None]:
    headers, encoder_type = RESPONSE, _hpack.Encoder

    def run() -> None:
        for _ in range(count):
            encoder_type().encode(headers)
    return run


def hpack_encode_first(count: int) -> Callable[[], None]:
    headers, encoder_type = RESPONSE, hpack.Encoder

    def run() -> None:
        for _ in range(count):
            encoder_type().encode(headers)
    return run


OPERATIONS: dict[str, tuple[Callable[[int], Callable[[], None]], ...]] = {
    "decode request (warm table)": (ours_decode_warm, hpack_decode_warm),
    "decode request (first of a connection)": (ours_decode_first, hpack_decode_first),
    "encode response (warm table)": (ours_encode_warm, hpack_encode_warm),
    "encode response (first of a connection)": (ours_encode_first, hpack_encode_first),
}
VARIANTS = ("fasthttpd", "hpack")


def check_same_results() -> None:
    """Both sides must do the same work: same lists decoded, blocks both decode."""
    assert _hpack.Decoder().decode(FIRST_BLOCK) == REQUEST
    decoder = _hpack.Decoder()
    decoder.decode(FIRST_BLOCK)
    assert decoder.decode(WARM_BLOCK) == REQUEST and len(WARM_BLOCK) == len(REQUEST)
    encoder = _hpack.Encoder()
    oracle = hpack.Decoder()
    for _ in range(2):
        assert oracle.decode(encoder.encode(RESPONSE), raw=True) == RESPONSE
    assert len(encoder.encode(RESPONSE)) == len(RESPONSE)  # one byte a field


def time_per_operation(quick: bool) -> dict:
    count = 5_000 if quick else 20_000
    rounds = 5 if quick else 15
    results: dict = {"rounds": rounds}
    for operation, makers in OPERATIONS.items():
        seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for maker in makers:
            maker(count // 10)()  # warm up
        for _ in range(rounds):
            for name, maker in zip(VARIANTS, makers, strict=True):
                run = maker(count)
                start = time.process_time()
                run()
                seconds[name].append((time.process_time() - start) / count)
        figures = {name: {"ns": min(values) * 1e9,
                          "median_ns": statistics.median(values) * 1e9}
                   for name, values in seconds.items()}
        figures["ratio"] = figures["hpack"]["ns"] / figures["fasthttpd"]["ns"]
        results[operation] = figures
    return results


def _callgrind_instructions(operation: str, variant: str, count: int) -> int:
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--one", operation, variant, str(count)],
            check=True, capture_output=True, timeout=600)
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    raise RuntimeError("no instruction total in callgrind's output")


def instructions_per_operation(quick: bool) -> dict:
    # Enough operations that the difference is not lost in the noise of start-up
    # (allocator and GC timing); hpack's are 30-100 times larger, so fewer do.
    counts = {"fasthttpd": 5_000 if quick else 20_000, "hpack": 500 if quick else 2_000}
    results: dict = {"counts": counts}
    for operation in OPERATIONS:
        figures: dict = {}
        for variant in VARIANTS:
            count = counts[variant]
            single = _callgrind_instructions(operation, variant, count)
            double = _callgrind_instructions(operation, variant, 2 * count)
            figures[variant] = {"instructions": (double - single) / count}
        figures["ratio"] = (figures["hpack"]["instructions"]
                            / figures["fasthttpd"]["instructions"])
        results[operation] = figures
    return results


def run(quick: bool = False) -> dict:
    """For `python -m bench`: the timed comparison (callgrind is too slow for it)."""
    check_same_results()
    results = time_per_operation(quick)
    return {"request_block_bytes": {"first": len(FIRST_BLOCK), "warm": len(WARM_BLOCK)},
            **{operation: {"fasthttpd_ns": round(figures["fasthttpd"]["ns"], 1),
                           "hpack_ns": round(figures["hpack"]["ns"], 1),
                           "ratio": round(figures["ratio"], 2)}
               for operation, figures in results.items() if operation in OPERATIONS}}


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    arguments.add_argument("--instructions", action="store_true",
                           help="count instructions under callgrind instead of timing")
    arguments.add_argument("--one", nargs=3, metavar=("OPERATION", "VARIANT", "COUNT"),
                           help=argparse.SUPPRESS)  # one run, for callgrind
    options = arguments.parse_args()
    if options.one:
        operation, variant, count = options.one
        OPERATIONS[operation][VARIANTS.index(variant)](int(count))()
        return
    check_same_results()
    print(f"request block: {len(FIRST_BLOCK)} bytes first, {len(WARM_BLOCK)} warm; "
          f"response: {len(_hpack.Encoder().encode(RESPONSE))} bytes first")
    if options.instructions:
        results = instructions_per_operation(options.quick)
        for operation in OPERATIONS:
            figures = results[operation]
            print(f"{operation:42} fasthttpd {figures['fasthttpd']['instructions']:>9,.0f} "
                  f"hpack {figures['hpack']['instructions']:>9,.0f} instructions "
                  f"ratio {figures['ratio']:.1f}x")
        return
    results = time_per_operation(options.quick)
    print(f"best of {results['rounds']} interleaved rounds (CPU time)")
    for operation in OPERATIONS:
        figures = results[operation]
        print(f"{operation:42} fasthttpd {figures['fasthttpd']['ns']:>8.0f} ns "
              f"hpack {figures['hpack']['ns']:>8.0f} ns  ratio {figures['ratio']:.1f}x "
              f"(medians {figures['fasthttpd']['median_ns']:.0f} / "
              f"{figures['hpack']['median_ns']:.0f} ns)")


if __name__ == "__main__":
    main()
