"""The master's admin listener: /health, /ready and /metrics over plain HTTP/1.1.

/health answers 200 while the master runs, with how many workers are ready; /ready
answers 200 once at least one worker accepts connections and the server is not
stopping (RoadRunner's meaning), 503 otherwise; /metrics is Prometheus text.

Theory of operation: a few requests a minute from a load balancer or Prometheus do
not need the worker's compiled stack, so this is a small asyncio-streams server in
the master's event loop. Each connection gets one response and is closed
(`Connection: close`), which keeps the reader trivial: read the head (bounded in
size and time), look at the request line, answer. It listens on loopback by
default (--admin-host) because the metrics describe the service's traffic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("fasthttpd.error")

# A request head longer than this, or slower than this, is dropped: health checks
# and scrapers send a few hundred bytes at once.
MAX_HEAD = 8192
HEAD_TIMEOUT = 5.0

PROMETHEUS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
TEXT_TYPE = b"text/plain; charset=utf-8"

REASONS = {200: b"OK", 404: b"Not Found", 405: b"Method Not Allowed",
           503: b"Service Unavailable"}


@dataclass
class AdminEndpoints:
    """What the pages show; callables so each request sees the current state."""

    is_ready: Callable[[], bool]
    ready_detail: Callable[[], str]
    metrics_text: Callable[[], str]


def respond(endpoints: AdminEndpoints, method: str, path: str) -> tuple[int, bytes, bytes]:
    """(status, content type, body) for one request."""
    path = path.split("?", 1)[0]
    if path not in ("/health", "/ready", "/metrics"):
        return 404, TEXT_TYPE, b"not found\n"
    if method not in ("GET", "HEAD"):
        return 405, TEXT_TYPE, b"use GET\n"
    if path == "/health":
        # Alive while the master answers; the body says how many workers are up.
        return 200, TEXT_TYPE, b"ok: " + endpoints.ready_detail().encode() + b"\n"
    if path == "/ready":
        ready = endpoints.is_ready()
        return (200 if ready else 503), TEXT_TYPE, endpoints.ready_detail().encode() + b"\n"
    return 200, PROMETHEUS_TYPE, endpoints.metrics_text().encode()


async def start_admin(endpoints: AdminEndpoints, host: str, port: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve_one(endpoints, reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError):
            pass  # the client went away or sent garbage: nothing to answer
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=MAX_HEAD)


async def serve_one(endpoints: AdminEndpoints, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n")
        await writer.drain()
        return
    method, path = parts[0], parts[1]
    status, content_type, body = respond(endpoints, method, path)
    head_out = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                b"Cache-Control: no-store\r\nConnection: close\r\n\r\n"
                % (status, REASONS[status], content_type, len(body)))
    writer.write(head_out if method == "HEAD" else head_out + body)
    await writer.drain()
