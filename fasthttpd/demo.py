"""The demo application served by `fasthttpd` with no APP argument.

A plain ASGI 3 application with no dependencies, small enough to read as an example:

- `/`        an HTML page saying the server works, with the protocol the browser used
- `/hello`   "Hello, world!" as text
- `/json`    a small JSON document
- `/echo`    POST: the request body sent back (read in parts, as it arrives)
- `/stream`  a response written in several chunks
- anything else: 404

It also answers the lifespan protocol (startup and shutdown complete).
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

STREAM_CHUNKS = 5

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>fasthttpd works</title></head>
<body>
<h1>fasthttpd works</h1>
<p>This page came over <strong>{protocol}</strong> ({scheme}) from the built-in demo
application, <code>fasthttpd.demo:app</code>. Serve your own with
<code>fasthttpd module:app</code>.</p>
<ul>
<li><a href="/hello">/hello</a>: plain text</li>
<li><a href="/json">/json</a>: a JSON document</li>
<li><a href="/stream">/stream</a>: a response sent in {chunks} chunks</li>
<li>/echo: <code>curl --data hello {base}echo</code> sends the body back</li>
</ul>
</body>
</html>
"""


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await handle_http(scope, receive, send)
    elif scope["type"] == "lifespan":
        await handle_lifespan(receive, send)
    else:
        raise RuntimeError(f"the demo app does not handle {scope['type']!r} connections")


async def handle_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def handle_http(scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"]
    if path == "/":
        await respond(send, 200, "text/html; charset=utf-8", home_page(scope).encode())
    elif path == "/hello":
        await respond(send, 200, "text/plain; charset=utf-8", b"Hello, world!")
    elif path == "/json":
        document = {"server": "fasthttpd", "http_version": scope["http_version"],
                    "path": path, "ok": True}
        await respond(send, 200, "application/json", json.dumps(document).encode())
    elif path == "/echo":
        await echo(scope, receive, send)
    elif path == "/stream":
        await stream(send)
    else:
        await respond(send, 404, "text/plain; charset=utf-8", b"Not Found")


def home_page(scope: Scope) -> str:
    protocol = "HTTP/2" if scope["http_version"] == "2" else f"HTTP/{scope['http_version']}"
    # HTTP/2 requests carry :authority, which servers may not copy into a Host header.
    host = header(scope, b"host") or server_address(scope)
    base = f"{scope['scheme']}://{host}{scope.get('root_path', '')}/"
    return PAGE.format(protocol=protocol, scheme=html.escape(scope["scheme"]),
                       chunks=STREAM_CHUNKS, base=html.escape(base))


def server_address(scope: Scope) -> str:
    server = scope.get("server")
    if not server or server[1] is None:
        return "localhost"
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 405,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"allow", b"POST"), (b"content-length", b"28")]})
        await send({"type": "http.response.body", "body": b"POST a body to /echo, please"})
        return
    content_type = (header(scope, b"content-type") or "application/octet-stream").encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", content_type)]})
    # Body parts are sent back as they arrive, so a large upload is never held whole.
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more_body = message.get("more_body", False)
        await send({"type": "http.response.body", "body": message.get("body", b""),
                    "more_body": more_body})


async def stream(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    for number in range(1, STREAM_CHUNKS + 1):
        await send({"type": "http.response.body", "body": f"chunk {number}\n".encode(),
                    "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
