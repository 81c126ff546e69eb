"""Helper process for the memory scenario: hold many idle keep-alive connections.

Theory of operation: run as `python -m bench.idle_clients PORT COUNT`, in its own
process pinned to the load core so that its sockets and buffers are not counted
in the server's memory. It opens COUNT connections (a bounded number of connects in
flight, so the server's listen backlog never overflows), sends one hello request on
each and checks the answer byte for byte, then prints `opened OK FAILED REASON` and
waits. The parent measures the server's memory, then writes `check`: every
connection sends a second request, which proves the server kept them all open
(`checked OK FAILED REASON`). `quit` (or end of input) closes everything. A deadline
bounds each phase.
"""

from __future__ import annotations

import asyncio
import sys

from bench.apps import HELLO_BODY
from bench.servers import raise_open_file_limit

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CONNECTS_IN_FLIGHT = 128
PHASE_TIMEOUT = 120.0


class Outcome:
    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.first_error = "-"

    def fail(self, reason: str) -> None:
        self.failed += 1
        if self.first_error == "-":
            self.first_error = reason.replace(" ", "_")[:120]

    def line(self, word: str) -> str:
        return f"{word} {self.ok} {self.failed} {self.first_error}"


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str | None:
    """Send one hello request and read the answer; the reason it is wrong, or None."""
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    if not status_line.startswith(b"HTTP/1.1 200"):
        return f"status line {status_line[:40]!r}"
    length = None
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        return "no content-length"
    body = await reader.readexactly(length)
    return None if body == HELLO_BODY else f"body {body[:40]!r}"


async def open_one(port: int, limiter: asyncio.Semaphore, outcome: Outcome,
                   held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    async with limiter:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            outcome.fail(f"connect: {exc}")
            return
        try:
            problem = await exchange(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            outcome.ok += 1
            held.append((reader, writer))
        else:
            outcome.fail(problem)
            writer.close()


async def recheck(pair: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                  limiter: asyncio.Semaphore, outcome: Outcome) -> None:
    async with limiter:
        try:
            problem = await exchange(*pair)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            outcome.ok += 1
        else:
            outcome.fail(problem)


async def read_command() -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(port: int, count: int) -> None:
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    limiter = asyncio.Semaphore(CONNECTS_IN_FLIGHT)
    opened = Outcome()
    tasks = [open_one(port, limiter, opened, held) for _ in range(count)]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), PHASE_TIMEOUT)
    except TimeoutError:
        opened.fail("timeout while opening")
    report(opened.line("opened"))
    command = await read_command()
    if command == "check":
        checked = Outcome()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(recheck(pair, limiter, checked) for pair in held)),
                PHASE_TIMEOUT)
        except TimeoutError:
            checked.fail("timeout while checking")
        report(checked.line("checked"))
        await read_command()
    for _, writer in held:
        writer.close()


if __name__ == "__main__":
    raise_open_file_limit()
    coroutine = main(int(sys.argv[1]), int(sys.argv[2]))
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)
