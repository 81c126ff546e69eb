"""ASGI apps the end-to-end tests serve, one route per behaviour under test."""

import asyncio
import json
import os

STATE = {"disconnects": 0}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    path = scope["path"]
    handler = ROUTES.get(path)
    if handler is None:
        await respond(send, 404, b"not found")
        return
    await handler(scope, receive, send)


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["started"] = "yes"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            marker = os.environ.get("FASTHTTPD_TEST_SHUTDOWN_MARKER")
            if marker:
                with open(marker, "w") as f:
                    f.write("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")] + list(headers)})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def hello(scope, receive, send):
    await respond(send, 200, b"Hello, world!")


async def echo(scope, receive, send):
    body = await read_body(receive)
    await respond(send, 200, body or b"")


async def echo_later(scope, receive, send):
    """Leaves the body unread for ?seconds, then echoes it."""
    await asyncio.sleep(float(scope["query_string"] or b"1"))
    body = await read_body(receive)
    await respond(send, 200, body or b"")


async def echo_stream(scope, receive, send):
    """Streams the request body back as it arrives (chunked response)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        await send({"type": "http.response.body", "body": message.get("body", b""),
                    "more_body": True})
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.body", "body": b""})


async def scope_json(scope, receive, send):
    shown = {key: scope[key] for key in ("http_version", "method", "scheme", "path",
                                         "root_path", "type")}
    shown["raw_path"] = scope["raw_path"].decode("latin-1")
    shown["query_string"] = scope["query_string"].decode("latin-1")
    shown["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
    shown["client"] = list(scope["client"]) if scope["client"] else None
    shown["server"] = list(scope["server"]) if scope["server"] else None
    shown["asgi"] = scope["asgi"]
    shown["extensions"] = sorted(scope["extensions"])
    shown["state"] = dict(scope.get("state", {}))
    await respond(send, 200, json.dumps(shown).encode(), [(b"x-kind", b"scope")])


async def stream(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for i in range(10):
        await send({"type": "http.response.body", "body": b"chunk%d\n" % i, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def big(scope, receive, send):
    size = int(scope["query_string"] or b"1048576")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(size).encode())]})
    piece = b"x" * 65536
    sent = 0
    while sent < size:
        part = piece[: size - sent]
        sent += len(part)
        await send({"type": "http.response.body", "body": part, "more_body": sent < size})


async def error_before(scope, receive, send):
    raise ValueError("boom before start")


async def error_after(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("boom after start")


async def no_response(scope, receive, send):
    return


async def short_body(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"100")]})
    await send({"type": "http.response.body", "body": b"only ten.."})


async def trailers(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "trailers": True,
                "headers": [(b"trailer", b"x-checksum")]})
    await send({"type": "http.response.body", "body": b"data", "more_body": True})
    await send({"type": "http.response.body", "body": b"more"})
    await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})


async def early_hints(scope, receive, send):
    await send({"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]})
    await respond(send, 200, b"hinted")


async def sleep(scope, receive, send):
    seconds = float(scope["query_string"] or b"1")
    await asyncio.sleep(seconds)
    await respond(send, 200, b"slept")


async def wait_disconnect(scope, receive, send):
    """Waits for the client to go away, then records it."""
    body = await read_body(receive)
    if body is not None:
        message = await receive()
        if message["type"] == "http.disconnect":
            STATE["disconnects"] += 1


async def disconnects(scope, receive, send):
    await respond(send, 200, str(STATE["disconnects"]).encode())


async def send_after_disconnect(scope, receive, send):
    """Responds only after the client left; reports what send() raised."""
    message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()
    try:
        await respond(send, 200, b"too late")
    except OSError as exc:
        STATE["send_error"] = type(exc).__name__
    STATE["disconnects"] += 1


async def send_error(scope, receive, send):
    await respond(send, 200, STATE.get("send_error", "none").encode())


async def ignore_body(scope, receive, send):
    await respond(send, 200, b"ignored")


async def bad_header(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"x-bad", b"line\r\ninjected: yes")]})
    await send({"type": "http.response.body", "body": b"never"})


async def pid(scope, receive, send):
    await respond(send, 200, str(os.getpid()).encode())


ROUTES = {
    "/": hello, "/hello": hello, "/echo": echo, "/echo-later": echo_later,
    "/echo-stream": echo_stream,
    "/scope": scope_json, "/stream": stream, "/big": big, "/error-before": error_before,
    "/error-after": error_after, "/no-response": no_response, "/short-body": short_body,
    "/trailers": trailers, "/early-hints": early_hints, "/sleep": sleep,
    "/wait-disconnect": wait_disconnect, "/disconnects": disconnects,
    "/send-after-disconnect": send_after_disconnect, "/send-error": send_error,
    "/ignore-body": ignore_body, "/bad-header": bad_header, "/pid": pid,
}
