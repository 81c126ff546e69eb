"""ASGI wrappers the command line may put around the application.

Each is applied once, at load time, only when its option asks for it: an app served
without --interface asgi2 or --header is called directly, so these cost nothing then.

- `ASGI2App`: an ASGI 2 application (`app(scope)` returns a coroutine function
  `instance(receive, send)`) seen as ASGI 3, the way uvicorn's --interface asgi2 does.
- `DefaultHeaders`: --header NAME:VALUE, added to every HTTP response's headers
  before the app's own (uvicorn's order). It adds one small coroutine per request.
- `MessageTrace`: --log-level trace, every ASGI message of a request or WebSocket
  logged at TRACE. Put around the app by `AsgiHandler` (not around the lifespan).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fasthttpd.log import ERROR_LOGGER, TRACE, format_peer

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGI2App:
    """Calls an ASGI 2 application through the ASGI 3 interface."""

    def __init__(self, app: Callable[[Scope], Any]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        instance = self.app(scope)
        await instance(receive, send)


class DefaultHeaders:
    """Adds fixed headers to every `http.response.start`."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*headers, *message.get("headers", ())]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class MessageTrace:
    """Logs each ASGI message an HTTP request or WebSocket receives and sends.

    One TRACE line per message on the error log: the client as the scope gives it,
    the direction and a summary (`describe_message`). `send` stays what the server
    gave: called at once, its awaitable returned, so the app waits as it would
    unwrapped. Other scopes (lifespan) pass through untouched.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.logger = logging.getLogger(ERROR_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = format_peer(scope.get("client"))
        log = self.logger.log

        async def traced_receive() -> Message:
            message = await receive()
            log(TRACE, "%s - ASGI receive %s", peer, describe_message(message))
            return message

        def traced_send(message: Message) -> Awaitable[None]:
            log(TRACE, "%s - ASGI send %s", peer, describe_message(message))
            return send(message)

        await self.app(scope, traced_receive, traced_send)


def describe_message(message: Any) -> str:
    """`http.response.start (status 200)`, `http.request (12 bytes)`: the type and
    the facts worth a trace line; no header or payload is written out."""
    if not isinstance(message, dict):
        return f"<not a dict: {type(message).__name__}>"
    facts: list[str] = []
    if "status" in message:
        facts.append(f"status {message['status']}")
    for key in ("body", "bytes"):
        if message.get(key) is not None:
            facts.append(f"{len(message[key])} bytes")
    if message.get("text") is not None:
        facts.append(f"{len(message['text'])} characters")
    if message.get("more_body"):
        facts.append("more_body")
    if "code" in message:
        facts.append(f"code {message['code']}")
    kind = message.get("type")
    return f"{kind} ({', '.join(facts)})" if facts else str(kind)
