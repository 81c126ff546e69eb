"""ASGI wrappers the command line may put around the application.

Each is applied once, at load time, only when its option asks for it: an app served
without --interface asgi2 or --header is called directly, so these cost nothing then.

- `ASGI2App`: an ASGI 2 application (`app(scope)` returns a coroutine function
  `instance(receive, send)`) seen as ASGI 3, the way uvicorn's --interface asgi2 does.
- `DefaultHeaders`: --header NAME:VALUE, added to every HTTP response's headers
  before the app's own (uvicorn's order). It adds one small coroutine per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
