"""HTTP/1.1 response serialization (RFC 9112, RFC 9110), compiled.

The server defers a response head until the first body part, so that a small
response goes out in one `transport.write`: `serialize_response` returns the head
and that first part already framed. Later parts go through `frame_chunk` when the
framing is chunked (they are written as they are otherwise), and a chunked response
ends with `last_chunk`.

Framing decision (first match wins):
- status 1xx, 204 or 304, or a HEAD request: no body is written; for HEAD the app's
  Content-Length is kept and, when there is none and `more_body` is false, one is
  added from `len(body)` if `body` is not empty; 204 and 1xx never carry one.
- the app gave Content-Length: FRAMING_LENGTH with that length.
- FLAG_TRAILERS (HTTP/1.1): chunked, so that trailers can follow.
- `more_body` is false: FRAMING_LENGTH with `len(body)`, Content-Length added.
- HTTP/1.1: FRAMING_CHUNKED, "transfer-encoding: chunked" added.
- HTTP/1.0: FRAMING_CLOSE; the body ends when the connection closes.

Keep-alive: kept only when FLAG_KEEP_ALIVE is set, the app sent no "connection:
close", and the framing is not FRAMING_CLOSE. "connection: close" is added when not
kept (unless the app sent it); for HTTP/1.0 "connection: keep-alive" is added when
kept. The status line always says HTTP/1.1 (RFC 9110 6.2). A Date header (computed
at most once a second) and the Server header set by `configure` come first.

Header names must be tokens and values must hold no CR, LF, NUL or other control
character but HTAB (RFC 9110 5.1, 5.5); anything else raises `InvalidHeader` and
nothing is written. "transfer-encoding" from the app is accepted only as "chunked"
(it forces chunked framing and is not repeated); "content-length" must be digits.
Both implementations (`fasthttpd._serializer` and
`fasthttpd.http1.fallback_serializer`) follow this stub exactly.
"""

from collections.abc import Iterable

from fasthttpd.errors import InvalidHeader as InvalidHeader

# Request facts the framing depends on, OR-ed together (fasthttpd/http1/framing.py):
# the method was HEAD; the request was HTTP/1.0; the connection may persist after
# this response; the app announced trailers.
from fasthttpd.http1.framing import FLAG_HEAD as FLAG_HEAD
from fasthttpd.http1.framing import FLAG_HTTP10 as FLAG_HTTP10
from fasthttpd.http1.framing import FLAG_KEEP_ALIVE as FLAG_KEEP_ALIVE
from fasthttpd.http1.framing import FLAG_TRAILERS as FLAG_TRAILERS

# Framing of the body that follows the head: none may follow; exactly content_length
# bytes in all, first part included; chunks, then last_chunk(); bytes until the
# connection closes.
from fasthttpd.http1.framing import FRAMING_CHUNKED as FRAMING_CHUNKED
from fasthttpd.http1.framing import FRAMING_CLOSE as FRAMING_CLOSE
from fasthttpd.http1.framing import FRAMING_LENGTH as FRAMING_LENGTH
from fasthttpd.http1.framing import FRAMING_NONE as FRAMING_NONE

Headers = Iterable[tuple[bytes, bytes]] | Iterable[list[bytes]]


def configure(*, server_header: bytes | None = b"fasthttpd", date_header: bool = True) -> None:
    """Set the Server header (None: none) and whether to send Date, process-wide."""

def serialize_response(
    status: int, headers: Headers, body: bytes, more_body: bool, flags: int
) -> tuple[bytes, int, int, bool]:
    """Return (data, framing, content_length, keep_alive).

    `data` is the head plus `body` framed as decided (dropped when no body may be
    written); `content_length` is the declared length (-1 unless FRAMING_LENGTH);
    `keep_alive` says whether the connection persists after this response.
    """

def serialize_informational(status: int, headers: Headers) -> bytes:
    """A 1xx head such as 100 Continue or 103 Early Hints (no Date, no Server)."""

def frame_chunk(data: bytes) -> bytes:
    """One chunk: hex size, CRLF, data, CRLF. Empty data gives b"" (never a last chunk)."""

def last_chunk(trailers: Headers | None = None) -> bytes:
    """The zero-size chunk, the trailer fields (validated like headers), the final CRLF."""

def serialize_error(status: int, body: bytes = b"") -> bytes:
    """A complete plain-text response with "connection: close", for errors the server answers."""
