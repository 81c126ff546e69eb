"""Typed stub of the compiled sans-IO HTTP/2 server connection (fasthttpd/http2/_core.pyx).

`ServerConnection.receive(data)` parses the frames of a received chunk in place
and reports through the `on_*` hooks (override them); the `send_*`, `reset_stream`,
`acknowledge` and `goaway` methods queue frames, which `data_to_send()` returns as
one bytes object.
"""

from typing import Any, Final

PREFACE: Final[bytes]
NO_ERROR: Final[int]
PROTOCOL_ERROR: Final[int]
INTERNAL_ERROR: Final[int]
FLOW_CONTROL_ERROR: Final[int]
STREAM_CLOSED: Final[int]
FRAME_SIZE_ERROR: Final[int]
REFUSED_STREAM: Final[int]
CANCEL: Final[int]
COMPRESSION_ERROR: Final[int]
ENHANCE_YOUR_CALM: Final[int]

class StreamState:
    """One stream's protocol state (RFC 9113 5.1); `handle` is the driver's object."""

    stream_id: int
    state: int  # 1 open, 2 half-closed (remote), 3 half-closed (local), 4 closed
    send_window: int
    recv_window: int
    recv_unacked: int
    content_length: int  # -1 when the request has none
    data_received: int
    handle: Any
    def __init__(self, stream_id: int) -> None: ...

class ServerConnection:
    max_concurrent_streams: int
    local_initial_window: int
    local_connection_window: int
    max_header_list_size: int
    peer_initial_window: int
    peer_max_frame_size: int
    local_settings_acked: bool
    started: bool
    closed: bool  # a connection error or the client's GOAWAY: nothing more is read
    highest_stream_id: int
    refuse_above: int
    stream_states: dict[int, StreamState]
    recently_closed: dict[int, int]
    send_window: int
    recv_window: int
    recv_unacked: int
    resets: int  # RST_STREAMs, the client's and ours for its errors (abuse counters)
    control_frames: int  # frames that do no request work
    acks: int  # PING and SETTINGS acknowledgements queued
    # The head of the request last reported by on_request.
    req_method: str
    req_path: bytes | None
    req_scheme: bytes | None
    req_authority: bytes | None
    req_protocol: bytes | None  # RFC 8441 :protocol (extended CONNECT)
    req_content_length: int
    error_reason: str
    error_code: int
    enable_connect_protocol: bool  # RFC 8441: advertised, :protocol accepted
    decoder: Any
    encoder: Any
    def __init__(self, max_concurrent_streams: int = 100, initial_window_size: int = 65535,
                 connection_window_size: int = 65535,
                 max_header_list_size: int = 65536) -> None: ...
    # Hooks.
    def on_request(self, s: StreamState, headers: list[tuple[bytes, bytes]],
                   end_stream: bool) -> None: ...
    def on_data(self, s: StreamState, data: bytes, flow_length: int, end_stream: bool) -> None: ...
    def on_stream_reset(self, s: StreamState, code: int, by_client: bool) -> None: ...
    def on_window_update(self, s: StreamState | None) -> None: ...
    def on_goaway(self, code: int) -> None: ...
    # Input.
    def start(self) -> None: ...
    def receive(self, data: bytes) -> int: ...
    def apply_upgrade_settings(self, payload: bytes) -> None: ...
    def open_upgrade_stream(self) -> StreamState: ...
    # Output.
    def send_headers(self, s: StreamState, fields: list[tuple[bytes, bytes]],
                     end_stream: bool) -> None: ...
    def send_window_of(self, s: StreamState) -> int: ...
    def send_data(self, s: StreamState, data: bytes | memoryview, end_stream: bool) -> None: ...
    def reset_stream(self, s: StreamState, code: int) -> None: ...
    def acknowledge(self, s: StreamState, size: int) -> None: ...
    def goaway(self, code: int, last_stream_id: int) -> None: ...
    def data_to_send(self) -> bytes: ...
    def take_output(self) -> bytes | list[bytes | memoryview]: ...
