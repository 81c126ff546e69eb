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

Run: python bench/micro_ws_codec.py [--quick]
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
    for _ in range(rounds):
        for name, run in variants.items():
            elapsed = run(count)
            best[name] = max(best[name], count / elapsed if elapsed else 0.0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    count, rounds = (5_000, 3) if args.quick else (20_000, 5)
    try:
        import wsproto  # noqa: F401
        have_wsproto = True
    except ImportError:
        have_wsproto = False
    for label, (opcode, payload) in WORKLOADS.items():
        frame = client_frame(opcode, payload)
        check(frame, payload)
        variants = {
            "compiled decode": decoder(compiled_codec, frame),
            "fallback decode": decoder(fallback_codec, frame),
            "compiled encode": encoder(compiled_codec, opcode, payload),
            "fallback encode": encoder(fallback_codec, opcode, payload),
        }
        if have_wsproto:
            variants["wsproto decode"] = wsproto_decoder(frame)
        rates = best_rates(variants, count, rounds)
        print(f"{label} ({len(frame)}-byte masked client frame):")
        for name, rate in rates.items():
            print(f"  {name:16} {rate / 1e3:10.0f}k frames/s")
        decode = rates["compiled decode"]
        print(f"  decode: compiled/fallback {decode / rates['fallback decode']:.1f}x"
              + (f", compiled/wsproto {decode / rates['wsproto decode']:.1f}x"
                 if have_wsproto else ""))
        print(f"  encode: compiled/fallback "
              f"{rates['compiled encode'] / rates['fallback encode']:.1f}x")


if __name__ == "__main__":
    main()
