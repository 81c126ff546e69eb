"""Microbenchmark: what one WebSocket echo costs inside fasthttpd.

The whole per-message path, in process, with no sockets: a masked 32-byte text frame
goes to the connection (after a real handshake through the HTTP/1.1 driver), through
the frame parser, the session, the ASGI websocket cycle and the app's Task, and the
echoed frame comes out of an in-memory transport; one message per event-loop
iteration, as with one message in flight per connection. A second figure sends 16
frames per read (16 in flight). The same with every module imported from its Python
source (FASTHTTPD_NO_EXTENSIONS=1, in a subprocess) gives the compiled build's
speedup. For instruction counts that do not move with the machine's load:

    valgrind --tool=callgrind python bench/micro_ws.py --quick --compiled-only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# This checkout's fasthttpd, even where another one is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import ws_echo  # noqa: E402
from bench.micro_asgi import CountingTransport  # noqa: E402

HANDSHAKE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")
PAYLOAD = b"a" * 32
MASK = b"\x12\x34\x56\x78"
FRAME = bytes([0x81, 0x80 | len(PAYLOAD)]) + MASK + bytes(
    b ^ MASK[i % 4] for i, b in enumerate(PAYLOAD))
ECHO = bytes([0x81, len(PAYLOAD)]) + PAYLOAD


class EchoTransport(CountingTransport):
    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes += 1
        self.last = data

    def pause_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _per_message_us(messages: int, batch: int) -> float:
    from fasthttpd.asgi import AsgiHandler
    from fasthttpd.config import Config
    from fasthttpd.connection import Connection
    from fasthttpd.factory import DefaultHttpDriverFactory
    from fasthttpd.state import ServerState

    loop = asyncio.get_running_loop()
    config = Config(app="bench.apps:ws_echo", access_log=False, ws_ping_interval=0)
    state = ServerState(config, loop)
    transport = EchoTransport()
    connection = Connection(state, DefaultHttpDriverFactory(state), AsgiHandler(state, ws_echo))
    connection.connection_made(transport)
    connection.data_received(HANDSHAKE)
    for _ in range(5):  # the app starts, accepts: the 101 goes out
        await asyncio.sleep(0)
    if not transport.last.startswith(b"HTTP/1.1 101 "):
        raise RuntimeError(f"unexpected handshake answer: {transport.last!r}")
    data = FRAME * batch
    sleep = asyncio.sleep
    started = time.perf_counter()
    for _ in range(messages // batch):
        connection.data_received(data)
        await sleep(0)  # one loop iteration: the app's Task runs
        await sleep(0)
    elapsed = time.perf_counter() - started
    if transport.last != ECHO * batch:
        raise RuntimeError(f"unexpected echo: {transport.last[:40]!r}")
    connection.connection_lost(None)  # the app sees its disconnect and returns
    for _ in range(3):
        await sleep(0)
    return elapsed / messages * 1e6


def measure(quick: bool) -> dict[str, float]:
    """Median µs per echoed message, one and sixteen per read."""
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    messages = 16_000 if quick else 160_000
    rounds = 3 if quick else 7
    run(_per_message_us(messages // 10, 1))  # warm-up
    single = [run(_per_message_us(messages, 1)) for _ in range(rounds)]
    batched = [run(_per_message_us(messages, 16)) for _ in range(rounds)]
    return {"echo_us": statistics.median(single), "echo_16_us": statistics.median(batched)}


def run(quick: bool = False) -> dict[str, Any]:
    """Compiled and pure-Python cost per message, and the compiled build's speedup."""
    from fasthttpd.websocket import codec

    if codec.IMPLEMENTATION != "compiled":
        raise RuntimeError("build the extensions first: python setup.py build_ext --inplace")
    compiled = measure(quick)
    code = ("import json, sys; from bench.micro_ws import measure; "
            f"sys.stdout.write(json.dumps(measure({quick})))")
    completed = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ, FASTHTTPD_NO_EXTENSIONS="1"),
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
        timeout=600, check=True)
    python = json.loads(completed.stdout)
    return {"compiled": compiled, "python": python,
            "speedup": python["echo_us"] / compiled["echo_us"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--compiled-only", action="store_true",
                        help="skip the pure-Python run (for callgrind)")
    arguments = parser.parse_args()
    if arguments.compiled_only:
        print(json.dumps(measure(arguments.quick)))
        return
    result = run(arguments.quick)
    for mode in ("compiled", "python"):
        figures = result[mode]
        print(f"{mode:9} {figures['echo_us']:6.2f} µs per echo, "
              f"{figures['echo_16_us']:6.2f} µs per echo 16 at a time")
    print(f"compiled is {result['speedup']:.2f}x faster than pure Python")


if __name__ == "__main__":
    main()
