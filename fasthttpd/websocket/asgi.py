"""The ASGI `websocket` cycle (ASGI spec 2.4), the same over HTTP/1.1 and HTTP/2.

Theory of operation. An HTTP driver that sees a WebSocket handshake (HTTP/1.1
Upgrade, HTTP/2 extended CONNECT) calls `dispatch` with the request's HttpStream
instead of the HTTP cycle. A request whose handshake fields are wrong is answered
400 or 426 here and never reaches the app. Otherwise a `WebSocketCycle` runs the
app in a Task with the `websocket` scope, built by the HTTP side's AsgiHandler
(connection scope, proxy headers, root_path) and then adjusted.

Phases of a cycle:

    CONNECTING --receive()--> HANDSHAKE --accept--> ACCEPTED (a WebSocketSession runs)
         |                       |---close-------> DENIED (403)
         |                       |---http.response.start--> RESPONDING --last body--> DENIED
         `-----------------------'---app returns/raises--> DENIED (500)

Before the accept, the HttpStream answers (deny, 403, 500) as any HTTP response;
the accept hands the connection (HTTP/1.1: `Http1Driver.switch_protocol`) or the
stream (HTTP/2: `WebSocketStream.accept`) to the session.

An app that returns while the session is open closes it with 1000; one that raises
closes it with 1011 (as uvicorn does). `send()` after a close or a disconnect
raises ClientDisconnected, an OSError.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable
from typing import Any

from fasthttpd.asgi import AsgiHandler
from fasthttpd.driver import ClientDisconnected, HttpStream
from fasthttpd.websocket.handshake import Handshake, Rejection, check_request, response_headers
from fasthttpd.websocket.session import (
    CLOSED,
    EMPTY,
    OPEN,
    SessionSettings,
    WebSocketSession,
)

logger = logging.getLogger("fasthttpd.error")

TASK_NAME = "fasthttpd-websocket"
EXTENSIONS: dict[str, Any] = {"websocket.http.response": {}}

# WebSocketCycle.phase
CONNECTING = 0  # websocket.connect not received by the app yet
HANDSHAKE = 1  # the app is deciding
RESPONDING = 2  # the app denies with its own response (websocket.http.response)
ACCEPTED = 3
DENIED = 4  # answered in HTTP: 403, 500 or the app's response

_SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\n"
# Field names are tokens; values hold no control characters but HTAB (RFC 9110 5.5).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def dispatch(on_message: Any, stream: HttpStream, http2: bool = False) -> None:
    """Serve a WebSocket handshake request (see the module docstring)."""
    handler = on_message if isinstance(on_message, AsgiHandler) else None
    if handler is None:  # a custom request callback: it gets the request as is
        on_message(stream)
        return
    result = check_request(stream.headers, http2)
    if type(result) is Rejection:
        peer = stream.client.remote_address
        logger.info("%d WebSocket handshake from %s: %s", result.status,
                    peer[0] if peer else "unix socket", result.reason)
        respond(stream, result.status, result.headers, result.reason.encode())
        return
    state = handler.state
    state.total_requests += 1
    if handler.limit_concurrency and state.active_requests >= handler.limit_concurrency:
        logger.warning("503: %d requests in progress (--limit-concurrency)",
                       state.active_requests)
        stream.respond_error(503)
        return
    state.active_requests += 1
    cycle = WebSocketCycle(handler, stream, result, http2)  # type: ignore[arg-type]
    # Started on the next loop iteration, even under an eager task factory: the driver
    # finishes the read that carried the handshake (its parser stops behind it) before
    # the app can accept.
    handler.loop.call_soon(_start, handler, cycle)


def _start(handler: AsgiHandler, cycle: WebSocketCycle) -> None:
    task = handler.loop.create_task(cycle.run(), name=TASK_NAME)
    if not task.done():
        handler.tasks.add(task)
        task.add_done_callback(handler.tasks.discard)


def respond(stream: HttpStream, status: int, headers: list[tuple[bytes, bytes]],
            body: bytes) -> None:
    """A plain HTTP answer to a handshake request."""
    stream.start_response(status, [(b"content-type", b"text/plain; charset=utf-8"),
                                   *headers])
    stream.send_body(body, False)


class WebSocketCycle:
    """One WebSocket's run of the app; `receive` and `send` are handed to it."""

    __slots__ = ("handler", "stream", "handshake", "http2", "scope", "phase", "session",
                 "status", "start")

    def __init__(self, handler: AsgiHandler, stream: HttpStream, handshake: Handshake,
                 http2: bool) -> None:
        self.handler = handler
        self.stream = stream
        self.handshake = handshake
        self.http2 = http2
        self.scope = build_scope(handler, stream, handshake)
        self.phase = CONNECTING
        self.session: WebSocketSession | None = None
        self.status = 0
        self.start = time.monotonic()

    async def run(self) -> None:
        try:
            await self.handler.app(self.scope, self.receive, self.send)
        except BaseException as exc:  # the app's failure must not reach the loop
            self._app_failed(exc)
            self._end()
            if not isinstance(exc, Exception | asyncio.CancelledError):
                raise
        else:
            self._app_returned()
            self._end()

    # ASGI receive.
    async def receive(self) -> dict[str, Any]:
        session = self.session
        if session is not None:
            message = session.take()
            while message is EMPTY:
                await session.wait()
                message = session.take()
            if message is None:
                return {"type": "websocket.disconnect", "code": session.close_code,
                        "reason": session.close_reason}
            if message.is_text:
                return {"type": "websocket.receive", "text": message.data}
            return {"type": "websocket.receive", "bytes": message.data}
        if self.phase == CONNECTING:
            self.phase = HANDSHAKE
            return {"type": "websocket.connect"}
        if self.phase != DENIED:  # nothing to receive before the accept
            await self.stream.wait_disconnect()
        return {"type": "websocket.disconnect", "code": 1006, "reason": ""}

    # ASGI send.
    def send(self, message: dict[str, Any]) -> Awaitable[None]:
        """Not a coroutine function, like the HTTP cycle's: it works when called and
        returns something to await (a finished future unless the app must wait)."""
        kind = message["type"]
        session = self.session
        if kind == "websocket.send":
            if session is None:
                if self.phase == DENIED:
                    raise ClientDisconnected("the WebSocket handshake was refused")
                raise RuntimeError("websocket.send before websocket.accept")
            text = message.get("text")
            if text is not None:
                must_drain = session.send_message(str(text))
            else:
                data = message.get("bytes")
                if data is None:
                    raise RuntimeError("websocket.send needs 'text' or 'bytes'")
                must_drain = session.send_message(bytes(data))
            if must_drain:
                return session.drain()
        elif kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.close":
            if session is not None:
                session.close(int(message.get("code") or 1000), message.get("reason") or "")
            elif self.phase <= HANDSHAKE:
                # ASGI: a close before the accept is an HTTP 403.
                self._deny_with(403)
            else:
                raise ClientDisconnected("the WebSocket handshake was refused")
        elif kind == "websocket.http.response.start":
            if self.phase > HANDSHAKE:
                raise RuntimeError(f"ASGI message {kind!r} not allowed now")
            self._check_stream()
            self.status = int(message["status"])
            self.stream.start_response(self.status, list(message.get("headers", ())))
            self.phase = RESPONDING
        elif kind == "websocket.http.response.body":
            if self.phase != RESPONDING:
                raise RuntimeError(f"ASGI message {kind!r} not allowed now")
            self._check_stream()
            more_body = bool(message.get("more_body", False))
            body = message.get("body", b"")
            must_drain = self.stream.send_body(bytes(body), more_body)
            if not more_body:
                self.phase = DENIED
            elif must_drain:
                return self.stream.drain()
        else:
            raise RuntimeError(f"unexpected ASGI message type {kind!r}")
        return self.handler.sent

    def _check_stream(self) -> None:
        if self.stream.is_disconnected:
            raise ClientDisconnected("the client has disconnected")

    def _accept(self, message: dict[str, Any]) -> None:
        if self.phase > HANDSHAKE:
            raise RuntimeError("websocket.accept not allowed now")
        self._check_stream()
        handler = self.handler
        config = handler.state.config
        handshake = self.handshake
        subprotocol = message.get("subprotocol")
        extra = [(bytes(name).lower(), bytes(value)) for name, value in message.get("headers", ())]
        for name, value in extra:
            if _TOKEN.match(name) is None or _BAD_VALUE.search(value) is not None:
                raise RuntimeError(f"invalid header in websocket.accept: {name!r}")
        extension = deflate = None
        if config.ws_per_message_deflate and handshake.extensions:
            from fasthttpd.websocket.deflate import negotiate

            negotiated = negotiate(handshake.extensions)
            if negotiated is not None:
                extension, deflate = negotiated
        headers = response_headers(handshake, subprotocol, extension, extra)
        stream = self.stream
        session = WebSocketSession(None, handler.loop, SessionSettings(config), deflate,
                                   stream.client.remote_address, handler.state.observer)
        self.session = session
        self.phase = ACCEPTED
        if self.http2:
            self.status = 200
            stream.accept(headers, session)  # type: ignore[attr-defined]
        else:
            self.status = 101
            head = _SWITCHING + b"".join(name + b": " + value + b"\r\n"
                                         for name, value in headers) + b"\r\n"
            stream.driver.switch_protocol(stream, head, session)  # type: ignore[attr-defined]
        if handler.state.observer is not None:
            handler.state.observer.websocket_opened()
        if handler.state.shutting_down:  # accepted while the server stops: going away
            session.stop()

    def _deny_with(self, status: int) -> None:
        self.status = status
        self.phase = DENIED
        if not self.stream.is_disconnected:
            respond(self.stream, status, [], b"")

    def _app_returned(self) -> None:
        session = self.session
        if session is not None:
            if session.state == OPEN:
                session.close(1000, "")
            return
        if self.phase <= HANDSHAKE:
            logger.error("ASGI app returned without accepting or closing the WebSocket: %s",
                         self.scope["path"])
            self._deny_with(500)
        elif self.phase == RESPONDING:
            logger.error("ASGI app returned without completing its WebSocket denial "
                         "response: %s", self.scope["path"])
            self.stream.abort()

    def _app_failed(self, exc: BaseException) -> None:
        session = self.session
        path = self.scope["path"]
        if isinstance(exc, asyncio.CancelledError):
            logger.warning("WebSocket cancelled at shutdown: %s", path)
        elif not (isinstance(exc, ClientDisconnected) and self._is_gone()):
            logger.error("Exception in ASGI application (WebSocket %s)", path, exc_info=exc)
            observer = self.handler.state.observer
            if observer is not None:
                observer.app_error(exc, "GET", path)
        if session is not None:
            session.fail(1011, "")  # RFC 6455 7.4.1: an unexpected condition
        elif self.phase <= HANDSHAKE:
            self._deny_with(500)
        elif self.phase == RESPONDING:
            self.stream.abort()

    def _is_gone(self) -> bool:
        session = self.session
        if session is not None:
            return session.close_code is not None or session.state != OPEN
        return self.stream.is_disconnected or self.phase == DENIED

    def _end(self) -> None:
        handler = self.handler
        state = handler.state
        state.active_requests -= 1
        session = self.session
        if session is not None and state.observer is not None:
            state.observer.websocket_closed()
        access_log = handler.access_log
        if access_log is not None:
            stream = self.stream
            client = self.scope["client"]
            headers = dict(stream.headers)
            received = sent = 0
            if session is not None:
                received, sent = session.bytes_received, session.bytes_sent
            access_log.log(
                f"{client[0]}:{client[1]}" if client else "-", stream.method, self.scope["path"],
                stream.query.decode("latin-1"), stream.http_version, self.status, sent,
                time.monotonic() - self.start,
                headers.get(b"user-agent", b"").decode("latin-1"),
                headers.get(b"referer", b"").decode("latin-1"), received=received)


def build_scope(handler: AsgiHandler, stream: HttpStream, handshake: Handshake) -> dict[str, Any]:
    """The HTTP scope of the request, turned into a `websocket` one (ASGI spec 2.4)."""
    scope = handler.build_scope(stream)
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
    del scope["method"]
    scope["subprotocols"] = handshake.subprotocols
    tls_info = stream.client.tls_info
    scope["extensions"] = EXTENSIONS if tls_info is None else {**EXTENSIONS, "tls": tls_info}
    return scope


__all__ = ["CLOSED", "WebSocketCycle", "dispatch"]
