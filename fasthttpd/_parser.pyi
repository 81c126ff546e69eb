"""HTTP/1.1 request parser: sans-IO, incremental, strict (RFC 9112, RFC 9110).

Bytes go in through `RequestParser.feed`, split anywhere; events come out as a list.
Each request yields, in order: one `Request` (its head is complete), zero or more
`bytes` body chunks (already de-chunked, never empty), then one `EndOfMessage`.
Pipelined requests in one buffer all come out, in order.

A framing error is not raised: the parser appends an `HttpParseError` as the last
event of the list and is dead from then on (every later `feed` returns `[]`); the
connection must answer `error.status_code` and close. It never resynchronises.

After the `EndOfMessage` of a request whose `upgrade` is not None, the parser stops:
later bytes stay unparsed until `resume()` (the upgrade was declined) or
`take_unparsed()` (the connection switches protocol and takes those bytes along).

Both implementations (`fasthttpd._parser`, compiled, and
`fasthttpd.http1.fallback_parser`, pure Python) follow this stub exactly and give
every input the same events, error statuses and reasons.
"""

from typing import Final

# The error event (one class for both parsers: fasthttpd/http1/errors.py).
from fasthttpd.http1.errors import HttpParseError as HttpParseError

# Request.framing: how the body is delimited (values in fasthttpd/http1/framing.py).
from fasthttpd.http1.framing import FRAMING_CHUNKED as FRAMING_CHUNKED
from fasthttpd.http1.framing import FRAMING_LENGTH as FRAMING_LENGTH
from fasthttpd.http1.framing import FRAMING_NONE as FRAMING_NONE

DEFAULT_MAX_REQUEST_LINE_SIZE: Final[int]  # 8190, like nginx and gunicorn
DEFAULT_MAX_HEADER_COUNT: Final[int]  # 100
DEFAULT_MAX_HEADER_SIZE: Final[int]  # 8190 bytes per field line
DEFAULT_MAX_CHUNK_EXTENSION_SIZE: Final[int]  # 1024 bytes per chunk-size line

class Request:
    """A request head. Header names are lower-cased; values have OWS stripped."""

    method: bytes  # b"GET"; any token is accepted
    target: bytes  # the request-target exactly as received
    path: bytes  # origin-form: up to '?'; absolute-form: the path component (b"/" if empty);
    # authority-form (CONNECT only): the authority; asterisk-form (OPTIONS only): b"*"
    query: bytes  # after the first '?', without it; b"" when absent
    http_version: str  # "1.0" or "1.1"; "1.x" with x > 1 is served as "1.1"
    headers: list[tuple[bytes, bytes]]  # (lower-cased name, value), arrival order
    keep_alive: bool  # RFC 9112 9.3: 1.1 unless "close"; 1.0 only with "keep-alive"
    framing: int  # FRAMING_NONE, FRAMING_LENGTH or FRAMING_CHUNKED
    content_length: int  # the Content-Length value; -1 unless framing is FRAMING_LENGTH
    expect_continue: bool  # "Expect: 100-continue" on an HTTP/1.1 request
    upgrade: bytes | None  # lower-cased Upgrade value when Connection lists "upgrade"
    host: bytes  # the Host value (b"" when absent, allowed for HTTP/1.0 only)

class EndOfMessage:
    """The request's body is complete. `trailers` as for headers; do not mutate."""

    trailers: list[tuple[bytes, bytes]]

Event = Request | bytes | EndOfMessage | HttpParseError

class RequestParser:
    def __init__(
        self,
        *,
        max_request_line_size: int = ...,  # 414 beyond
        max_header_count: int = ...,  # 431 beyond (trailer fields count too)
        max_header_size: int = ...,  # 431 beyond, per field line
        max_body_size: int = 0,  # 413 beyond (Content-Length or chunked total); 0: no limit
        max_chunk_extension_size: int = ...,  # 400 beyond
    ) -> None: ...
    def feed(self, data: bytes) -> list[Event]:
        """Parse as much as possible of what was buffered plus `data`."""
    def resume(self) -> list[Event]:
        """Continue after a declined upgrade: parse the bytes kept since."""
    def take_unparsed(self) -> bytes:
        """Return and forget the bytes not parsed yet (after an upgrade)."""
    @property
    def bytes_consumed(self) -> int:
        """Total bytes turned into events so far."""
    @property
    def buffered(self) -> int:
        """Bytes held: an incomplete head, chunk-size line, or bytes kept after an upgrade."""
    @property
    def is_idle(self) -> bool:
        """True between messages with nothing buffered: no request is half-read."""
