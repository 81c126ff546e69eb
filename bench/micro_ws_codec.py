"""Microbenchmark: decoding masked WebSocket client frames, compiled vs fallback.

Two workloads from issue 12's echo benchmark: a 32-byte text message and a 1 KiB
binary message, each a masked client frame fed on its own (one read, one frame),
to one `FrameParser`, over and over, as on a busy connection. Variants:
(a) fasthttpd's compiled codec (`fasthttpd.websocket._codec`);
(b) fasthttpd's pure-Python fallback (`fasthttpd.websocket.fallback_codec`);
(c) wsproto's FrameProtocol, the frame layer of uvicorn's `--ws wsproto`, for scale.
Encoding the server's answer (`encode_frame`) is timed for (a) and (b) too.

Rounds are short and interleaved so that drift of the machine's speed hits every
variant alike; the best round of each is reported, as frames per second of process
CPU time. Absolute figures move with the machine: the ratios are what count.

Run: python bench/micro_ws_codec.py [--quick]; `run(quick)` returns the figures as a
dict, like the other bench/micro_*.py modules.
For instruction counts that do not depend on the machine's load, run it under
callgrind (valgrind --tool=callgrind python bench/micro_ws_codec.py --quick).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fasthttpd.websocket import _codec as compiled_codec
from fasthttpd.websocket import fallback_codec

MASK = os.urandom(4)


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (FIN set) of `payload`."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    else:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    masked = bytes(byte ^ MASK[index % 4] for index, byte in enumerate(payload))
    return head + MASK + masked


WORKLOADS = {
    "text 32 B": (1, b"0123456789abcdef0123456789abcdef"),
    "binary 1 KiB": (2, bytes(range(256)) * 4),
}


def decoder(module, frame: bytes) -> Callable[[int], float]:
    def run(count: int) -> float:
        feed = module.FrameParser(1 << 24).feed
        start = time.process_time()
        for _ in range(count):
            feed(frame)
        return time.process_time() - start
    return run


def wsproto_decoder(frame: bytes) -> Callable[[int], float]:
    from wsproto.frame_protocol import FrameProtocol

    def run(count: int) -> float:
        protocol = FrameProtocol(client=False, extensions=[])
        receive, frames = protocol.receive_bytes, protocol.received_frames
        start = time.process_time()
        for _ in range(count):
            receive(frame)
            for _event in frames():
                pass
        return time.process_time() - start
    return run


def encoder(module, opcode: int, payload: bytes) -> Callable[[int], float]:
    def run(count: int) -> float:
        encode = module.encode_frame
        start = time.process_time()
        for _ in range(count):
            encode(opcode, payload)
        return time.process_time() - start
    return run


def check(frame: bytes, payload: bytes) -> None:
    """Every variant decodes the frame to the payload (a benchmark of wrong code is void)."""
    for module in (compiled_codec, fallback_codec):
        (message,) = module.FrameParser(1 << 24).feed(frame)
        data = message.data.encode() if message.is_text else message.data
        assert data == payload, module


def best_rates(variants: dict[str, Callable[[int], float]], count: int,
               rounds: int) -> dict[str, float]:
    best = {name: 0.0 for name in variants}
    for run_variant in variants.values():  # warm-up
        run_variant(count // 10)
    for _ in range(rounds):
        for name, run_variant in variants.items():
            elapsed = run_variant(count)
            best[name] = max(best[name], count / elapsed if elapsed else 0.0)
    return best


def run(quick: bool = False) -> dict[str, float]:
    """Frames per second of each variant and workload, and the ratios (`bench` calls this)."""
    count, rounds = (5_000, 3) if quick else (20_000, 5)
    try:
        import wsproto  # noqa: F401
        have_wsproto = True
    except ImportError:
        have_wsproto = False
    result: dict[str, float] = {}
    for opcode, payload in WORKLOADS.values():
        key = "text32" if opcode == 1 else "binary1k"
        frame = client_frame(opcode, payload)
        check(frame, payload)
        variants = {
            "compiled_decode": decoder(compiled_codec, frame),
            "fallback_decode": decoder(fallback_codec, frame),
            "compiled_encode": encoder(compiled_codec, opcode, payload),
            "fallback_encode": encoder(fallback_codec, opcode, payload),
        }
        if have_wsproto:
            variants["wsproto_decode"] = wsproto_decoder(frame)
        rates = best_rates(variants, count, rounds)
        for name, rate in rates.items():
            result[f"{key}_{name}_per_s"] = rate
        result[f"{key}_decode_ratio_vs_fallback"] = (rates["compiled_decode"]
                                                    / rates["fallback_decode"])
        result[f"{key}_encode_ratio_vs_fallback"] = (rates["compiled_encode"]
                                                    / rates["fallback_encode"])
        if have_wsproto:
            result[f"{key}_decode_ratio_vs_wsproto"] = (rates["compiled_decode"]
                                                       / rates["wsproto_decode"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    result = run(quick=parser.parse_args().quick)
    for label, (opcode, payload) in WORKLOADS.items():
        key = "text32" if opcode == 1 else "binary1k"
        print(f"{label} ({len(client_frame(opcode, payload))}-byte masked client frame):")
        for name in ("compiled_decode", "fallback_decode", "wsproto_decode",
                     "compiled_encode", "fallback_encode"):
            rate = result.get(f"{key}_{name}_per_s")
            if rate is not None:
                print(f"  {name.replace('_', ' '):16} {rate / 1e3:10.0f}k frames/s")
        line = f"  decode: compiled/fallback {result[f'{key}_decode_ratio_vs_fallback']:.1f}x"
        if f"{key}_decode_ratio_vs_wsproto" in result:
            line += f", compiled/wsproto {result[f'{key}_decode_ratio_vs_wsproto']:.1f}x"
        print(line)
        print(f"  encode: compiled/fallback {result[f'{key}_encode_ratio_vs_fallback']:.1f}x")


if __name__ == "__main__":
    main()
