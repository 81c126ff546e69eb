"""Client: what the server knows about one connection, whatever its protocol."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

# Client.status is a closed-by bit mask (not an HTTP status): 0 while the connection
# is open, then one of these bits, set once by mark_closed() when the transport goes.
CLOSED_BY_CLIENT = 1  # the client closed or reset the connection
CLOSED_BY_SERVER = 2  # the server closed or aborted it

_next_id = itertools.count(1).__next__


class Client:
    """One per connection. Drivers update the counters; the connection owns it.

    `status` (a name the design fixes) says who closed the connection, as a bit mask:
    0 while it is open, else CLOSED_BY_CLIENT or CLOSED_BY_SERVER; `is_closed` is
    `status != 0`.
    """

    __slots__ = (
        "id", "remote_address", "local_address", "is_unix", "is_encrypted", "tls_info",
        "pending_request_count", "pending_response_count", "is_exported", "status",
        "expiration_time", "_close", "_close_callbacks", "scheme", "scope_base",
    )

    def __init__(
        self,
        remote_address: tuple[str, int] | None,
        local_address: tuple[str, int] | None,
        *,
        is_unix: bool = False,
        tls_info: dict[str, Any] | None = None,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._open(remote_address, local_address, is_unix, tls_info, close)

    def _open(self, remote_address: tuple[str, int] | None,
              local_address: tuple[str, int] | None, is_unix: bool,
              tls_info: dict[str, Any] | None, close: Callable[[], None] | None) -> None:
        # Apart from __init__ so that a compiled connection makes a Client without
        # keyword parsing (Client.__new__ then _open, a C call).
        self.id: int = _next_id()
        self.remote_address = remote_address
        self.local_address = local_address
        self.is_unix = is_unix
        self.is_encrypted = tls_info is not None
        self.tls_info = tls_info
        self.scheme = "https" if tls_info is not None else "http"
        self.pending_request_count = 0  # request bodies still being read
        self.pending_response_count = 0  # responses not completely written
        self.is_exported = False
        self.status = 0  # closed-by bits: CLOSED_BY_CLIENT, CLOSED_BY_SERVER
        self.expiration_time = 0.0
        self._close = close
        self._close_callbacks: list[Callable[[Client], None]] | None = None
        # The application adapter's per-connection part of every request's scope.
        self.scope_base: dict[str, Any] | None = None

    @property
    def is_waiting_on_response(self) -> bool:
        """More responses are owed than request bodies are being read."""
        return self.pending_response_count > self.pending_request_count

    @property
    def is_closed(self) -> bool:
        return self.status != 0

    def update_expiration_time(self, timeout: float) -> None:
        """Push the idle deadline `timeout` seconds from now (the monotonic clock,
        which is the event loop's clock: the connection sets the first one, the
        request-head deadline counted from the accept, with loop.time())."""
        self.expiration_time = time.monotonic() + timeout

    def on_close(self, callback: Callable[[Client], None]) -> None:
        """Call `callback(client)` once the connection is closed, by either side."""
        if self.status:
            callback(self)
            return
        if self._close_callbacks is None:
            self._close_callbacks = []
        self._close_callbacks.append(callback)

    def close(self) -> None:
        """Close the connection from the server side."""
        if self._close is not None and not self.status:
            self._close()

    def mark_closed(self, by_client: bool) -> None:
        """Called by the connection when the transport is gone; runs on_close callbacks."""
        if self.status:
            return
        self.status = CLOSED_BY_CLIENT if by_client else CLOSED_BY_SERVER
        # Let the connection go (close() is a no-op from now on): the Client and its
        # connection then form no reference cycle, and are freed by reference
        # counting instead of waiting for the cyclic garbage collector.
        self._close = None
        callbacks, self._close_callbacks = self._close_callbacks, None
        for callback in callbacks or ():
            callback(self)

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.remote_address}>"
