"""Microbenchmark: what one keep-alive HTTP/1.1 request costs inside fasthttpd.

The whole per-request path of the server, in process, with no sockets: a request's
bytes go to the connection's driver (parser, Http1Stream, the ASGI request cycle,
the app's Task, the serializer) and the response comes out of an in-memory
transport, one request per event-loop iteration as under `wrk -c64`. The baseline
is the same loop with a protocol that answers fixed bytes (the bare-uvloop
protocol of DESIGN.md), so `glue_us` is what fasthttpd adds per request, syscalls
excluded. The same path with every module imported from its Python source
(FASTHTTPD_NO_EXTENSIONS=1, in a subprocess) gives the speedup of the compiled build.

This is the number to watch when changing the hot path: it moves with the code,
while wrk's req/s on a shared machine moves with the neighbours.
For instruction counts that do not move at all, run it under callgrind:

    valgrind --tool=callgrind python bench/micro_asgi.py --quick

    python bench/micro_asgi.py          # full run (a few seconds)
    python bench/micro_asgi.py --quick  # a short run
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

try:
    import fasthttpd  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import hello  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\n"
            b"Hello, world!")


class CountingTransport(asyncio.Transport):
    """Takes what is written and counts the writes; reading never pauses."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.last = b""

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes += 1
        self.last = data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000),
                "peername": ("127.0.0.1", 50000)}.get(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        pass

    def is_closing(self) -> bool:
        return False


async def _per_request_us(requests: int, bare: bool) -> float:
    from fasthttpd.asgi import AsgiHandler
    from fasthttpd.config import Config
    from fasthttpd.connection import Connection
    from fasthttpd.factory import DefaultHttpDriverFactory
    from fasthttpd.state import ServerState

    loop = asyncio.get_running_loop()
    state = ServerState(Config(app="bench.apps:hello", access_log=False), loop)
    transport = CountingTransport()
    connection = Connection(state, DefaultHttpDriverFactory(state), AsgiHandler(state, hello))
    connection.connection_made(transport)
    connection.data_received(REQUEST)  # picks the driver
    await asyncio.sleep(0)
    if not transport.last.endswith(b"Hello, world!"):
        raise RuntimeError(f"unexpected response: {transport.last!r}")
    receive = connection.data_received
    if bare:
        def receive(data: bytes, write: Any = transport.write) -> None:
            write(RESPONSE)
    sleep = asyncio.sleep
    written = transport.writes
    started = time.perf_counter()
    for _ in range(requests):
        receive(REQUEST)
        await sleep(0)  # one loop iteration: the app's Task runs
    elapsed = time.perf_counter() - started
    if transport.writes - written != requests:
        raise RuntimeError("not every request was answered in its iteration")
    return elapsed / requests * 1e6


def measure(quick: bool) -> dict[str, float]:
    """Median µs per request for the stack and the baseline, rounds interleaved."""
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    requests = 20_000 if quick else 100_000
    rounds = 3 if quick else 7
    samples: dict[str, list[float]] = {"stack": [], "bare": []}
    run(_per_request_us(requests // 10, False))  # warm-up
    for _ in range(rounds):
        samples["stack"].append(run(_per_request_us(requests, False)))
        samples["bare"].append(run(_per_request_us(requests, True)))
    stack = statistics.median(samples["stack"])
    bare = statistics.median(samples["bare"])
    return {"stack_us": stack, "bare_us": bare, "glue_us": stack - bare}


def run(quick: bool = False) -> dict[str, Any]:
    """Compiled and pure-Python glue per request, and the compiled build's speedup."""
    from fasthttpd import http1

    if http1.IMPLEMENTATION != "compiled":
        raise RuntimeError("build the extensions first: python setup.py build_ext --inplace")
    compiled = measure(quick)
    code = ("import json, sys; from bench.micro_asgi import measure; "
            f"sys.stdout.write(json.dumps(measure({quick})))")
    completed = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ, FASTHTTPD_NO_EXTENSIONS="1"),
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
        timeout=600, check=True)
    python = json.loads(completed.stdout)
    return {
        "compiled": compiled,
        "python": python,
        "glue_speedup": python["glue_us"] / compiled["glue_us"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    arguments = parser.parse_args()
    result = run(arguments.quick)
    for mode in ("compiled", "python"):
        figures = result[mode]
        print(f"{mode:9} {figures['stack_us']:6.2f} µs/request, bare loop "
              f"{figures['bare_us']:5.2f}, glue {figures['glue_us']:6.2f}")
    print(f"compiled glue is {result['glue_speedup']:.2f}x faster than pure Python")


if __name__ == "__main__":
    main()
