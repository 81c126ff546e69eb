"""The pipe from a worker to the master: one JSON object per line.

Theory of operation: each worker gets the write end of its own pipe (inherited fd).
It sends `ready` once listening, a `hb` (heartbeat, carrying the metrics delta)
every --worker-heartbeat-interval from a timer in its event loop, `retiring` when it
reached its request limit, `fatal` when it cannot start, and a last `hb` on exit.
App exceptions are counted in the heartbeats; their tracebacks are in the worker's
log (its stderr, which the master relays), not sent again here.
The master reads the other end without blocking and splits lines with
`LineDecoder`. Nothing flows the other way: the master talks to workers with
signals only.

The worker's writes never block its event loop: the pipe is non-blocking and what
the pipe cannot take yet waits in a bounded buffer until the next write.
"""

from __future__ import annotations

import json
import os
import select
import time
from typing import Any

# A line longer than this is dropped by the reader (a traceback is far shorter).
MAX_LINE = 1 << 20
# Bytes a worker keeps for a master that does not read; beyond it new messages are
# dropped (heartbeats resume once the master reads again).
MAX_PENDING = 1 << 20


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class LineDecoder:
    """Splits the byte stream into messages; tolerates any chunking."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long line

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        messages: list[dict[str, Any]] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if self._discarding:
                self._discarding = False
                continue
            message = _parse(line)
            if message is not None:
                messages.append(message)
        if len(self._buffer) > MAX_LINE:
            self._buffer.clear()
            self._discarding = True
        return messages


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) and isinstance(message.get("t"), str) else None


class PipeWriter:
    """The worker's end: non-blocking writes with a bounded backlog."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.broken = False  # the master's end is closed: the master is gone
        self._pending = bytearray()
        os.set_blocking(fd, False)

    def send(self, message: dict[str, Any]) -> None:
        if self.broken:
            return
        if len(self._pending) < MAX_PENDING:
            self._pending += encode(message)
        self.flush()

    def flush(self) -> None:
        while self._pending and not self.broken:
            try:
                written = os.write(self.fd, self._pending)
            except BlockingIOError:
                return
            except OSError:  # EPIPE: nobody reads any more
                self.broken = True
                self._pending.clear()
                return
            del self._pending[:written]

    def close(self, timeout: float = 1.0) -> None:
        """Flush what is left (waiting at most `timeout`), then close the pipe."""
        deadline = time.monotonic() + timeout
        while self._pending and not self.broken:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            select.select([], [self.fd], [], left)
            self.flush()
        try:
            os.close(self.fd)
        except OSError:
            pass
