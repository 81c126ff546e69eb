"""Microbenchmark: what one short-lived HTTP/1.1 connection costs inside fasthttpd.

A connection per request, as under `wrk -H "Connection: close"` (the bench's
connection-close scenario): the connection object is made the way the server makes
it, told of an in-memory transport, given one request with `Connection: close`,
answered, closed and told it is gone, all on one event loop, one connection per
loop iteration. No sockets, so no syscalls: what this measures is fasthttpd's own
per-connection work (the connection, its client, the protocol choice, the driver
and parser, the deadlines, the request, the close), the number to watch when
making connections cheaper. The baseline is the same loop with a bare protocol
that answers fixed bytes and closes.

For instruction counts that do not move with the machine's load, run it under
callgrind with two connection counts and divide the difference:

    valgrind --tool=callgrind python -m bench.micro_connection --count 2000
    valgrind --tool=callgrind python -m bench.micro_connection --count 12000

    python -m bench.micro_connection          # µs per connection, stack and bare loop
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

try:
    import fasthttpd  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import hello  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: close\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n"
            b"connection: close\r\n\r\nHello, world!")


class ClosingTransport(asyncio.Transport):
    """Takes what is written; close() tells the protocol it is gone on the next
    loop iteration, as uvloop does once the buffer is flushed, and drops it."""

    __slots__ = ("protocol", "loop", "last", "closing")

    def __init__(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.protocol = protocol
        self.loop = loop
        self.last = b""
        self.closing = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.last = data

    def writelines(self, pieces: Any) -> None:  # type: ignore[override]
        self.last = b"".join(pieces)

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.loop.call_soon(self._lost)

    def _lost(self) -> None:
        # As uvloop's and asyncio's transports do: the protocol is told, then let go.
        protocol, self.protocol = self.protocol, None
        protocol.connection_lost(None)

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return ("127.0.0.1", 50000)
        if name == "sockname":
            return ("127.0.0.1", 8000)
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class BareProtocol(asyncio.Protocol):
    """The floor: answer fixed bytes and close."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(RESPONSE)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        pass


async def per_connection_us(count: int, bare: bool) -> float:
    from fasthttpd.asgi import AsgiHandler
    from fasthttpd.config import Config
    from fasthttpd.connection import Connection
    from fasthttpd.factory import DefaultHttpDriverFactory
    from fasthttpd.state import ServerState

    loop = asyncio.get_running_loop()
    state = ServerState(Config(app="bench.apps:hello", access_log=False), loop)
    factory = DefaultHttpDriverFactory(state)
    handler = AsgiHandler(state, hello)

    try:  # what the server knows of its listening socket, given to each connection
        from fasthttpd.connection import listener_facts
    except ImportError:  # a fasthttpd from before listener facts
        facts: tuple[Any, ...] = ()
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            facts = (listener_facts(sock, False),)

    def make() -> Any:
        return BareProtocol() if bare else Connection(state, factory, handler, *facts)

    sleep = asyncio.sleep
    last = None
    started = time.perf_counter()
    for _ in range(count):
        protocol = make()
        transport = ClosingTransport(protocol, loop)
        protocol.connection_made(transport)
        transport.protocol.data_received(REQUEST)
        await sleep(0)  # the app's Task (Python < 3.12), then connection_lost
        await sleep(0)
        last = transport
    elapsed = time.perf_counter() - started
    if last is None or not last.last.endswith(b"Hello, world!") or not last.closing:
        raise RuntimeError(f"unexpected response: {last.last if last else None!r}")
    if not bare and state.connections:
        raise RuntimeError("connections were not all closed")
    return elapsed / count * 1e6


def run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=0,
                        help="run this many connections once (for callgrind) and exit")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    if arguments.count:
        run_loop(per_connection_us(arguments.count, False))
        return
    run_loop(per_connection_us(2000, False))  # warm-up
    stack = [run_loop(per_connection_us(20000, False)) for _ in range(arguments.rounds)]
    bare = [run_loop(per_connection_us(20000, True)) for _ in range(arguments.rounds)]
    print(f"stack {statistics.median(stack):6.2f} µs/connection, bare loop "
          f"{statistics.median(bare):5.2f}, glue "
          f"{statistics.median(stack) - statistics.median(bare):6.2f}")


if __name__ == "__main__":
    main()
