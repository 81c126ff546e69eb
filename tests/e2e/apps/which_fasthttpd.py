"""Worker-pool test app: answers with the fasthttpd this process runs, as JSON."""

import json
import os

import fasthttpd
from fasthttpd.http1 import IMPLEMENTATION


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"file": os.path.abspath(fasthttpd.__file__),
                       "implementation": IMPLEMENTATION, "pid": os.getpid()}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
