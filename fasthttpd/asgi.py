"""The ASGI 3 request cycle, the same for HTTP/1.1 and HTTP/2.

`AsgiHandler` is the `on_message` callback of every connection: for each
`HttpStream` it builds the `http` scope and runs the application in a Task (apps
and their libraries call `asyncio.current_task()`, so a real Task it must be).
`RequestCycle` translates the app's messages into stream calls and enforces their
order; what the app gets wrong becomes a 500 (nothing sent yet) or an aborted
response (something sent), never a clean-looking one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from asyncio import Task
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal
from urllib.parse import unquote

from fasthttpd.client import Client
from fasthttpd.driver import ClientDisconnected, HttpStream
from fasthttpd.log import AccessLog
from fasthttpd.state import ServerState

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]],
                    Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]

logger = logging.getLogger("fasthttpd.error")

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}
EXTENSIONS: dict[str, dict[str, Any]] = {"http.response.early_hint": {},
                                          "http.response.trailers": {}}
DISCONNECT = {"type": "http.disconnect"}
# Task(eager_start=True) exists from Python 3.12 on.
EAGER_TASKS = sys.version_info >= (3, 12)
# The name of every request's Task (asyncio.Task.get_name()).
TASK_NAME = "fasthttpd-request"
# Decoded paths remembered per server before the memo starts over.
DECODED_PATHS_LIMIT = 1024

# RequestCycle.phase
INITIAL = 0  # nothing sent
STARTED = 1  # http.response.start received, nothing written yet
STREAMING = 2  # body parts are being written
BODY_DONE = 3  # the last body part was sent; trailers may follow
COMPLETE = 4  # the response is complete


class AsgiHandler:
    """Runs the app for each request of the server's connections."""

    def __init__(self, state: ServerState, app: ASGIApp) -> None:
        self.state = state
        if state.trace:  # --log-level trace: every ASGI message logged, by a wrapper
            from fasthttpd.wrappers import MessageTrace

            app = MessageTrace(app)
        self.app = app
        self.loop = state.loop
        config = state.config
        self.root_path = config.root_path
        self.raw_root_path = config.root_path.encode("utf-8")
        self.limit_concurrency = config.limit_concurrency
        self.limit_max_requests = config.limit_max_requests
        self.access_log = AccessLog(config) if config.access_log else None
        self.trusted_proxies = _trusted_proxies(config)
        self.tasks: set[asyncio.Task[None]] = set()
        # Most requests ask for a few paths again and again: decode each once.
        self.decoded_paths: dict[bytes, str] = {}
        self.timed = self.access_log is not None or state.observer is not None
        self.custom_task_factory = self.loop.get_task_factory() is not None
        self.sent = self.loop.create_future()  # what `send` returns when there is no wait
        self.sent.set_result(None)
        self.scope_template: dict[str, Any] = {
            "type": "http",
            "asgi": ASGI_VERSION,
            "http_version": None,
            "server": None,
            "client": None,
            "scheme": None,
            "method": None,
            "root_path": self.root_path,
            "path": None,
            "raw_path": None,
            "query_string": None,
            "headers": None,
            "state": None,
            "extensions": EXTENSIONS,
        }

    def __call__(self, stream: HttpStream) -> None:
        self.dispatch(stream)

    def dispatch(self, stream: HttpStream) -> None:
        state = self.state
        state.total_requests += 1
        if self.limit_max_requests and state.total_requests == self.limit_max_requests:
            if state.on_request_limit is not None:
                state.on_request_limit()
        if self.limit_concurrency and state.active_requests >= self.limit_concurrency:
            logger.warning("503: %d requests in progress (--limit-concurrency)",
                           state.active_requests)
            stream.respond_error(503)
            return
        state.active_requests += 1
        cycle = RequestCycle.__new__(RequestCycle)  # compiled: no argument parsing
        cycle._open(self, stream, self.build_scope(stream))
        task = self.start_task(cycle.run())
        if not EAGER_TASKS or not task.done():
            cycle.task = task
            self.tasks.add(task)

    def start_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run the app in a real Task, started eagerly where Python allows it (3.12+):
        a request the app answers without waiting is then answered within the
        same read, saving a trip through the event loop. The Task is made here
        rather than by `loop.create_task` (a layer of argument handling less),
        unless a task factory was installed before serving began (at import or
        in the lifespan startup), which is then honoured. Every one is
        named TASK_NAME: Python's default, a numbered "Task-N", costs a string
        formatting per request, about 3% of a hello-world request's CPU time."""
        loop = self.loop
        if self.custom_task_factory:
            return loop.create_task(coro, name=TASK_NAME)
        if EAGER_TASKS:
            return Task(coro, loop=loop, name=TASK_NAME, eager_start=True)  # type: ignore[call-arg]
        return Task(coro, loop=loop, name=TASK_NAME)

    def build_scope(self, stream: HttpStream) -> dict[str, Any]:
        client = stream.client
        base = client.scope_base
        if base is None:
            base = client.scope_base = self.connection_scope(client)
        scope = base.copy()
        raw_path = stream.path
        paths = self.decoded_paths
        path = paths.get(raw_path)
        if path is None:
            path = decode_path(raw_path)
            if len(paths) >= DECODED_PATHS_LIMIT:
                paths.clear()
            paths[raw_path] = path
        if self.root_path:
            path = self.root_path + path
            raw_path = self.raw_root_path + raw_path
        scope["http_version"] = stream.http_version
        scope["scheme"] = stream.scheme  # HTTP/2 has it per request (:scheme)
        scope["method"] = stream.method
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = stream.query
        scope["headers"] = stream.headers
        scope["state"] = self.state.lifespan_state.copy()
        remote = client.remote_address
        if remote is not None and self.trusts(remote[0]):
            _apply_proxy_headers(scope)
        return scope

    def connection_scope(self, client: Client) -> dict[str, Any]:
        """What every request's scope on this connection shares; copied per request,
        with the per-request keys (None here) filled in. Made from the server's
        template (a copy and two or three stores costs a new connection less than
        building the dict)."""
        base = self.scope_template.copy()
        base["server"] = client.local_address
        base["client"] = client.remote_address
        if client.tls_info is not None:
            base["extensions"] = {**EXTENSIONS, "tls": client.tls_info}
        return base

    def trusts(self, host: str) -> bool:
        """--proxy-headers: is this peer one whose X-Forwarded-* headers count?"""
        trusted = self.trusted_proxies
        return trusted is not None and (trusted is True or host in trusted)


def decode_path(raw_path: bytes) -> str:
    """ASGI `path`: percent-decoded, UTF-8 (invalid bytes replaced, as uvicorn does)."""
    if b"%" in raw_path:
        return unquote(raw_path.decode("utf-8", "replace"))
    return raw_path.decode("utf-8", "replace")


class RequestCycle:
    """One request's run of the app; `receive` and `send` are handed to it."""

    __slots__ = ("handler", "stream", "scope", "phase", "status", "size", "start",
                 "request_done", "trailers", "held_trailers", "task")

    def __init__(self, handler: AsgiHandler, stream: HttpStream, scope: dict[str, Any]) -> None:
        self._open(handler, stream, scope)

    def _open(self, handler: AsgiHandler, stream: HttpStream, scope: dict[str, Any]) -> None:
        # Apart from __init__ so that, compiled, its arguments are typed (asgi.pxd).
        self.handler = handler
        self.stream = stream
        self.scope = scope
        self.phase = INITIAL
        self.status = 0
        self.size = 0
        self.start = time.monotonic() if handler.timed else 0.0
        self.request_done = False
        self.trailers = False
        self.held_trailers: list[Any] | None = None
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        # Kept to the call and two outcomes: every local and `finally` here costs
        # each request's coroutine setup and teardown.
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

    def _app_returned(self) -> None:
        stream = self.stream
        if stream.is_disconnected:
            pass  # nobody to answer
        elif self.phase <= STARTED:
            logger.error("ASGI app returned without sending a response: %s %s",
                         stream.method, self.scope["path"])
            self._respond_500()
        elif self.phase != COMPLETE:
            logger.error("ASGI app returned without completing its response: %s %s",
                         stream.method, self.scope["path"])
            stream.abort()

    def _end(self) -> None:
        handler = self.handler
        handler.state.active_requests -= 1
        if self.task is not None:
            handler.tasks.discard(self.task)
        if handler.timed:
            self._record()

    def _app_failed(self, exc: BaseException) -> None:
        stream = self.stream
        if isinstance(exc, asyncio.CancelledError):
            logger.warning("request cancelled at shutdown: %s %s", stream.method,
                           self.scope["path"])
        elif stream.is_disconnected:
            # Raised after its client had gone: the usual end of a stream the client
            # left (Starlette turns send()'s ClientDisconnected into its own
            # ClientDisconnect and re-raises it), not an app failure: not logged as an
            # error, not counted by the observer (app-error metrics, the master's log).
            logger.debug("ASGI app raised %r after its client had gone (%s %s)", exc,
                         stream.method, self.scope["path"])
        else:
            logger.error("Exception in ASGI application (%s %s)", stream.method,
                         self.scope["path"], exc_info=exc)
            observer = self.handler.state.observer
            if observer is not None:
                observer.app_error(exc, stream.method, self.scope["path"])
        if self.phase <= STARTED and not stream.is_disconnected:
            self._respond_500()
        elif self.phase != COMPLETE:
            self.phase = COMPLETE
            stream.abort()

    def _respond_500(self) -> None:
        self.phase = COMPLETE
        self.status = 500
        self.stream.respond_error(500)

    def _record(self) -> None:
        stream = self.stream
        duration = time.monotonic() - self.start
        handler = self.handler
        if handler.state.observer is not None:
            handler.state.observer.request_finished(stream.http_version, self.status, duration)
        if handler.access_log is not None:
            client = self.scope["client"]
            headers = dict(stream.headers)
            handler.access_log.log(
                f"{client[0]}:{client[1]}" if client else "-", stream.method,
                self.scope["path"], stream.query.decode("latin-1"), stream.http_version,
                self.status, self.size, duration,
                headers.get(b"user-agent", b"").decode("latin-1"),
                headers.get(b"referer", b"").decode("latin-1"))

    async def receive(self) -> dict[str, Any]:
        if not self.request_done:
            part = await self.stream.receive_body()
            if part is None:
                self.request_done = True
                return DISCONNECT
            body, more_body = part
            if not more_body:
                self.request_done = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        await self.stream.wait_disconnect()
        return DISCONNECT

    def send(self, message: dict[str, Any]) -> Awaitable[None]:
        """ASGI `send`. Not a coroutine function: it does its work when called and
        returns something to await, a finished future unless the app must wait for
        the client to take the bytes, so a response costs no coroutine. Errors are
        raised by the call itself, which an app awaiting `send(...)` cannot tell apart."""
        stream = self.stream
        kind = message["type"]
        if kind == "http.response.body":
            if self.phase != STREAMING and self.phase != STARTED:
                self._out_of_order(kind)
            if stream.is_disconnected:
                raise ClientDisconnected("the client has disconnected")
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = bytes(body)
            more_body = message.get("more_body", False)
            must_drain = stream.send_body(body, more_body)
            self.size += len(body)
            if more_body:
                self.phase = STREAMING
            else:
                self.phase = BODY_DONE if self.trailers else COMPLETE
            if must_drain:
                return stream.drain()
        elif kind == "http.response.start":
            if self.phase != INITIAL:
                self._out_of_order(kind)
            if stream.is_disconnected:
                raise ClientDisconnected("the client has disconnected")
            self.status = message["status"]
            self.trailers = message.get("trailers", False)
            stream.start_response(self.status, message.get("headers", ()), self.trailers)
            self.phase = STARTED
        elif kind == "http.response.trailers":
            if self.phase != BODY_DONE:
                self._out_of_order(kind)
            if stream.is_disconnected:
                raise ClientDisconnected("the client has disconnected")
            headers = list(message.get("headers", ()))
            if self.held_trailers:
                headers = self.held_trailers + headers
            if message.get("more_trailers", False):  # keep them until the last message
                self.held_trailers = headers
            else:
                self.phase = COMPLETE
                stream.send_trailers(headers)
        elif kind == "http.response.early_hint":
            if self.phase != INITIAL:
                self._out_of_order(kind)
            links = message.get("links", ())
            stream.send_informational(103, [(b"link", link) for link in links])
        else:
            raise RuntimeError(f"unexpected ASGI message type {kind!r}")
        return self.handler.sent

    def _out_of_order(self, kind: str) -> None:
        raise RuntimeError(f"ASGI message {kind!r} not allowed now (phase {self.phase})")


def _trusted_proxies(config: Any) -> set[str] | Literal[True] | None:
    if not config.proxy_headers:
        return None
    ips = {ip.strip() for ip in config.forwarded_allow_ips.split(",") if ip.strip()}
    return True if "*" in ips else ips


def _apply_proxy_headers(scope: dict[str, Any]) -> None:
    """Trust X-Forwarded-Proto and X-Forwarded-For from a trusted proxy."""
    for name, value in scope["headers"]:
        if name == b"x-forwarded-proto":
            proto = value.decode("latin-1").strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        elif name == b"x-forwarded-for":
            # The last address was added by the trusted proxy itself.
            host = value.decode("latin-1").split(",")[-1].strip()
            if host:
                scope["client"] = (host, 0)
