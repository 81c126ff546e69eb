"""The events both HTTP/1.1 parsers emit besides body bytes and errors.

One definition for the compiled parser (fasthttpd/_parser.pyx, which fills the
fields from C) and the pure-Python one; compiled, these are cdef classes
(events.pxd), so the driver reads a request's fields without Python lookups.
Their fields are writable, since the pure-Python parser fills them as it reads
the head; the driver only reads them.
"""

from __future__ import annotations

from fasthttpd.http1.framing import FRAMING_NONE


class Request:
    """A request head. Header names are lower-cased; values have OWS stripped."""

    __slots__ = ("method", "target", "path", "query", "http_version", "headers", "keep_alive",
                 "framing", "content_length", "expect_continue", "upgrade", "host")

    def __init__(self, method: bytes, target: bytes, path: bytes, query: bytes,
                 http_version: str) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.http_version = http_version
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self.framing = FRAMING_NONE
        self.content_length = -1
        self.expect_continue = False
        self.upgrade: bytes | None = None
        self.host = b""

    def __repr__(self) -> str:
        return (f"<Request {self.method!r} {self.target!r} HTTP/{self.http_version} "
                f"headers={self.headers!r}>")


class EndOfMessage:
    """The request's body is complete. `trailers` as for headers; do not mutate."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.trailers = trailers

    def __repr__(self) -> str:
        return f"<EndOfMessage trailers={self.trailers!r}>"
