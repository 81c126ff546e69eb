"""The ASGI applications every server in the benchmark serves.

Theory of operation: two plain ASGI 3 callables with no framework, so that the
numbers measure the server and not the app. `hello` answers every request with the
13-byte body `Hello, world!`, the classic hello-world workload of the reference
figures in DESIGN.md. `mixed` routes on the path to the other workloads: a 1 KiB
JSON document, a 64 KiB body, a 1 MiB body, an echo of the request body, and a
response streamed in 100 chunks. Bodies are built once at import, so serialization cost is the same
(zero) for every server; the response message dicts are fresh per request, as a
real app produces them.

Both apps answer the lifespan protocol, so servers that run it (all of them, by
default) start without a warning path. The constants here are also what the
harness validates responses against (bench/probe.py, bench/scenarios.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HELLO_BODY = b"Hello, world!"
TEXT_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


def _json_document(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (padding goes into one string field)."""
    skeleton = {"id": 1, "name": "fasthttpd", "tags": ["bench", "json"], "padding": ""}
    overhead = len(json.dumps(skeleton, separators=(",", ":")).encode())
    skeleton["padding"] = "x" * (size - overhead)
    encoded = json.dumps(skeleton, separators=(",", ":")).encode()
    assert len(encoded) == size
    return encoded


JSON_BODY = _json_document(1024)
LARGE_BODY = bytes(range(256)) * 256  # 64 KiB, not all one byte value
DOWNLOAD_BODY = bytes(range(256)) * 4096  # 1 MiB
STREAM_CHUNK = b"0123456789abcdef" * 4  # 64 bytes
STREAM_CHUNKS = 100
STREAM_BODY = STREAM_CHUNK * STREAM_CHUNKS


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": TEXT_HEADERS})
        await send({"type": "http.response.body", "body": HELLO_BODY})
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)


async def _send_whole(send: Send, body: bytes, content_type: bytes, status: int = 200) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _echo(receive: Receive, send: Send) -> None:
    parts = []
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return
        parts.append(message.get("body", b""))
        more_body = message.get("more_body", False)
    await _send_whole(send, b"".join(parts), b"application/octet-stream")


async def _stream(send: Send) -> None:
    # No content-length: HTTP/1.1 servers must use chunked framing, HTTP/2 DATA frames.
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    for _ in range(STREAM_CHUNKS):
        await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def mixed(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/json":
        await _send_whole(send, JSON_BODY, b"application/json")
    elif path == "/64k":
        await _send_whole(send, LARGE_BODY, b"application/octet-stream")
    elif path == "/1m":
        await _send_whole(send, DOWNLOAD_BODY, b"application/octet-stream")
    elif path == "/echo":
        await _echo(receive, send)
    elif path == "/stream":
        await _stream(send)
    elif path == "/":
        await _send_whole(send, HELLO_BODY, b"text/plain")
    else:
        await _send_whole(send, b"not found", b"text/plain", status=404)
