"""Typed stub of the compiled HTTP/2 driver (fasthttpd/http2/_driver.pyx)."""

from typing import Any

from fasthttpd.client import Client
from fasthttpd.driver import HttpStream, OnMessage
from fasthttpd.http2._core import ServerConnection, StreamState
from fasthttpd.state import ServerState

class CoreHttp2Stream(HttpStream):
    driver: CoreHttp2Driver
    state: StreamState
    stream_id: int
    status: int
    bytes_sent: int
    complete: bool
    body_ended: bool
    unacknowledged: int
    outbound: bytes | memoryview
    drain_waiter: Any
    body_waiter: Any

class CoreHttp2Driver(ServerConnection):
    """An HttpDriver (registered): HTTP/2 on one connection, on the compiled core."""

    client: Client
    streams: dict[int, CoreHttp2Stream]
    writing_paused: bool
    def __init__(self, state: ServerState) -> None: ...
    def setup(self, client: Client, on_message: OnMessage, writer: Any) -> None: ...
    @property
    def pending_request_count(self) -> int: ...
    def data_received(self, data: bytes) -> None: ...
    def connection_lost(self, exc: BaseException | None) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...
    def stop(self) -> None: ...
    def accept_h2c_upgrade(self, settings_header_value: bytes, request_head: Any) -> None: ...
    def open_extended_connect(self, stream: CoreHttp2Stream, protocol: bytes) -> None: ...
