"""Worker-pool test app: answers with the worker's PID; a few paths misbehave on purpose.

/          200, body: the PID
/missing   404
/error     raises (500 written by the server, reported to the master)
/sleep     sleeps ?s= seconds without blocking the loop, then answers the PID
/block     blocks the event loop for ?s= seconds (stops the worker's heartbeats)
/grow      keeps ?mb= more megabytes allocated for the life of the worker
"""

import asyncio
import os
import time

HELD: list[bytearray] = []


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    query = dict(part.split("=", 1) for part in scope["query_string"].decode().split("&")
                 if "=" in part)
    if path == "/error":
        raise RuntimeError("the workers_pid app fails on purpose")
    if path == "/sleep":
        await asyncio.sleep(float(query.get("s", "1")))
    elif path == "/grow":
        block = bytearray(int(query.get("mb", "100")) * 1024 * 1024)
        block[::4096] = b"x" * len(range(0, len(block), 4096))  # make every page resident
        HELD.append(block)
    elif path == "/block":
        time.sleep(float(query.get("s", "30")))
    status = 404 if path == "/missing" else 200
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
