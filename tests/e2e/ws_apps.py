"""WebSocket apps for the end-to-end tests, chosen by path."""

from __future__ import annotations

import asyncio
import json

from fasthttpd.driver import ClientDisconnected

# What the last /record-* session observed, read back over HTTP at /last.
last: dict[str, object] = {}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "http":
        body = json.dumps(last).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    else:
        # ASGI's path includes the root_path; routes are below it.
        handler = ROUTES.get(scope["path"][len(scope["root_path"]):], echo)
        await handler(scope, receive, send)


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if "state" in scope:
                scope["state"]["greeting"] = "hello"
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


async def echo(scope, receive, send):
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            last.update(code=message["code"], reason=message.get("reason", ""))
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def scope_json(scope, receive, send):
    await receive()
    offered = scope["subprotocols"]
    await send({"type": "websocket.accept", "subprotocol": offered[0] if offered else None,
                "headers": [(b"x-extra", b"yes")]})
    shown = {key: value for key, value in scope.items() if key not in ("headers", "asgi")}
    shown["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
    shown["asgi"] = scope["asgi"]
    await send({"type": "websocket.send", "text": json.dumps(shown, default=str)})
    await send({"type": "websocket.close", "code": 1000})


async def deny(scope, receive, send):
    await receive()
    await send({"type": "websocket.close"})


async def http_deny(scope, receive, send):
    await receive()
    await send({"type": "websocket.http.response.start", "status": 401,
                "headers": [(b"content-type", b"text/plain"), (b"x-denied", b"1")]})
    await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
    await send({"type": "websocket.http.response.body", "body": b"entry"})


async def error_before(scope, receive, send):
    await receive()
    raise RuntimeError("boom before accept")


async def error_after(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await receive()
    raise RuntimeError("boom after accept")


async def close_with_code(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
    try:
        await send({"type": "websocket.send", "text": "too late"})
    except OSError as exc:
        last["send_after_close"] = type(exc).__name__
    message = await receive()
    last["after_close"] = message


async def record_disconnect(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            last["disconnect"] = message
            try:
                await send({"type": "websocket.send", "text": "after disconnect"})
            except ClientDisconnected as exc:
                last["send_after_disconnect"] = isinstance(exc, OSError)
            return


async def never_receive(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await asyncio.sleep(3600)


async def flood(scope, receive, send):
    """Sends 64 KiB messages as fast as the client takes them; counts them."""
    await receive()
    await send({"type": "websocket.accept"})
    last["flood_sent"] = 0
    chunk = b"x" * 65536
    while True:
        await send({"type": "websocket.send", "bytes": chunk})
        last["flood_sent"] += 1


async def returns(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "bye"})


async def slow_accept(scope, receive, send):
    await receive()
    await asyncio.sleep(0.5)
    await echo_accepted(receive, send)


async def echo_accepted(receive, send):
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def no_accept(scope, receive, send):
    await receive()


ROUTES = {
    "/scope": scope_json,
    "/deny": deny,
    "/http-deny": http_deny,
    "/error-before": error_before,
    "/error-after": error_after,
    "/close": close_with_code,
    "/record": record_disconnect,
    "/never-receive": never_receive,
    "/flood": flood,
    "/returns": returns,
    "/no-accept": no_accept,
    "/slow-accept": slow_accept,
}
