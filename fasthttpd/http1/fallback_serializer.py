"""HTTP/1.1 response serialization in plain Python (the fallback of fasthttpd._serializer).

Theory of operation: `serialize_response` validates the application's headers in one
pass, noting the three that decide framing and persistence (content-length,
transfer-encoding, connection), then picks the framing with the first-match rules of
fasthttpd/_serializer.pyi and assembles status line, Date, Server, the app's headers,
the headers the framing needs, and the first body part, framed, into one bytes object.
The compiled module produces the same bytes; the test suite checks that for both.

Choices the stub leaves open, made the same way in both implementations:
- transfer-encoding from the app is never written as given: when the framing is
  chunked the serializer adds its own; otherwise (no body, HTTP/1.0) it is dropped,
  since RFC 9112 6.1 forbids it for 1xx, 204 and HTTP/1.0 requests.
- content-length is dropped from 1xx and 204 responses (RFC 9110 8.6: MUST NOT).
- content-length together with transfer-encoding, a repeated content-length, and a
  first body part longer than the declared content-length raise InvalidHeader: each
  would write a response whose end the client cannot find (RFC 9112 6.3).
- trailers may not carry content-length or transfer-encoding (RFC 9110 6.5.1).
- serialize_error takes 4xx and 5xx statuses only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

# Part of this module's API (_serializer.pyi).
from fasthttpd.errors import InvalidHeader
from fasthttpd.http1.framing import (
    FLAG_HEAD,
    FLAG_HTTP10,
    FLAG_KEEP_ALIVE,
    FLAG_TRAILERS,
    FRAMING_CHUNKED,
    FRAMING_CLOSE,
    FRAMING_LENGTH,
    FRAMING_NONE,
)
from fasthttpd.http1.reasons import REASON_PHRASES

Headers = Iterable[tuple[bytes, bytes]] | Iterable[list[bytes]]





# RFC 9110 5.6.2: token = 1*tchar.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 5.5: field-vchar and SP/HTAB; obs-text (0x80-0xFF) allowed; no other CTL.
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_DIGITS = re.compile(rb"[0-9]+")
# Content-length values longer than this could overflow the compiled int64.
_MAX_CONTENT_LENGTH_DIGITS = 18

_OTHER, _CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION = range(4)
_KINDS = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"connection": _CONNECTION,
}

_STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, REASON_PHRASES.get(code, b"")) for code in range(100, 1000)
}

_server_line = b"server: fasthttpd\r\n"
_send_date = True
_date_second = -1
_date_line = b""


def configure(*, server_header: bytes | None = b"fasthttpd", date_header: bool = True) -> None:
    """Set the Server header (None: none) and whether to send Date, process-wide."""
    global _server_line, _send_date
    if server_header is None:
        _server_line = b""
    else:
        if not isinstance(server_header, bytes) or not _FIELD_VALUE.fullmatch(server_header):
            raise InvalidHeader(f"invalid server header value {server_header!r}")
        _server_line = b"server: " + server_header + b"\r\n"
    _send_date = bool(date_header)


def _date_and_server() -> bytes:
    """The Date line (recomputed when the second changes) and the Server line."""
    global _date_second, _date_line
    if not _send_date:
        return _server_line
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_line = b"date: " + _imf_fixdate(now) + b"\r\n"
    return _date_line + _server_line


_WEEKDAYS = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")
_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun",
           b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")


def _imf_fixdate(seconds: int) -> bytes:
    """RFC 9110 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT" (English names whatever the locale)."""
    t = time.gmtime(seconds)
    return b"%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _WEEKDAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year,
        t.tm_hour, t.tm_min, t.tm_sec,
    )


def _status_line(status: int) -> bytes:
    if not isinstance(status, int) or not 100 <= status <= 999:
        raise InvalidHeader(f"invalid status code {status!r}: must be an int in 100..999")
    return _STATUS_LINES[status]


def _pairs(headers: Headers) -> list[tuple[bytes, bytes]]:
    """The headers as validated (name, value) pairs."""
    pairs = []
    for item in headers:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise InvalidHeader(f"each header must be a (name, value) pair, not {item!r}")
        name, value = item
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise InvalidHeader(f"header name and value must be bytes, not {item!r}")
        if not _TOKEN.fullmatch(name):
            raise InvalidHeader(f"invalid header name {name!r}")
        if not _FIELD_VALUE.fullmatch(value):
            raise InvalidHeader(f"invalid character in the value of header {name!r}")
        pairs.append((name, value))
    return pairs


def _connection_options(value: bytes) -> list[bytes]:
    """RFC 9110 7.6.1: a comma-separated list of case-insensitive options."""
    return [option.strip(b" \t").lower() for option in value.split(b",")]


def _header_lines(pairs: list[tuple[bytes, bytes]], skip: set[int]) -> list[bytes]:
    return [
        name + b": " + value + b"\r\n"
        for name, value in pairs
        if _KINDS.get(name.lower(), _OTHER) not in skip
    ]


def serialize_response(
    status: int, headers: Headers, body: bytes, more_body: bool, flags: int
) -> tuple[bytes, int, int, bool]:
    """Return (data, framing, content_length, keep_alive); see fasthttpd/_serializer.pyi."""
    status_line = _status_line(status)
    if not isinstance(body, bytes):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")
    pairs = _pairs(headers)

    app_length = -1
    app_chunked = False
    app_close = False
    app_keep_alive = False
    for name, value in pairs:
        kind = _KINDS.get(name.lower(), _OTHER)
        if kind == _CONTENT_LENGTH:
            if app_length != -1:
                raise InvalidHeader("repeated content-length header")
            if not _DIGITS.fullmatch(value) or len(value) > _MAX_CONTENT_LENGTH_DIGITS:
                raise InvalidHeader(f"invalid content-length header value {value!r}")
            app_length = int(value)
        elif kind == _TRANSFER_ENCODING:
            if value.lower() != b"chunked":
                raise InvalidHeader(
                    f"invalid transfer-encoding header value {value!r}: only b'chunked'"
                )
            app_chunked = True
        elif kind == _CONNECTION:
            options = _connection_options(value)
            app_close = app_close or b"close" in options
            app_keep_alive = app_keep_alive or b"keep-alive" in options
    if app_length != -1 and app_chunked:
        raise InvalidHeader("content-length and transfer-encoding together")

    http10 = bool(flags & FLAG_HTTP10)
    # RFC 9110 8.6 and RFC 9112 6.1: 1xx and 204 carry neither length nor encoding.
    bodiless_status = status < 200 or status == 204
    skip = {_TRANSFER_ENCODING}
    if bodiless_status:
        skip.add(_CONTENT_LENGTH)

    added: list[bytes] = []
    content_length = -1
    if bodiless_status or status == 304 or flags & FLAG_HEAD:
        framing = FRAMING_NONE
        if (flags & FLAG_HEAD and not bodiless_status and app_length == -1
                and not more_body and body):
            added.append(b"content-length: %d\r\n" % len(body))
    elif app_length != -1:
        if len(body) > app_length:
            raise InvalidHeader(
                f"body part of {len(body)} bytes exceeds content-length {app_length}"
            )
        framing, content_length = FRAMING_LENGTH, app_length
    elif (app_chunked or flags & FLAG_TRAILERS) and not http10:
        framing = FRAMING_CHUNKED
        added.append(b"transfer-encoding: chunked\r\n")
    elif not more_body:
        framing, content_length = FRAMING_LENGTH, len(body)
        added.append(b"content-length: %d\r\n" % len(body))
    elif not http10:
        framing = FRAMING_CHUNKED
        added.append(b"transfer-encoding: chunked\r\n")
    else:
        framing = FRAMING_CLOSE

    keep_alive = bool(flags & FLAG_KEEP_ALIVE) and not app_close and framing != FRAMING_CLOSE
    if not keep_alive and not app_close:
        added.append(b"connection: close\r\n")
    elif keep_alive and http10 and not app_keep_alive:
        added.append(b"connection: keep-alive\r\n")

    if framing == FRAMING_NONE:
        framed_body = b""
    elif framing == FRAMING_CHUNKED:
        framed_body = frame_chunk(body)
    else:
        framed_body = body
    data = b"".join([
        status_line, _date_and_server(), *_header_lines(pairs, skip), *added, b"\r\n",
        framed_body,
    ])
    return data, framing, content_length, keep_alive


def serialize_informational(status: int, headers: Headers) -> bytes:
    """A 1xx head such as 100 Continue or 103 Early Hints (no Date, no Server)."""
    status_line = _status_line(status)
    if not 100 <= status <= 199 or status == 101:
        # 101 changes the protocol; the driver writes it as a final response.
        raise InvalidHeader(f"status {status} is not an informational status other than 101")
    pairs = _pairs(headers)
    lines = _header_lines(pairs, {_CONTENT_LENGTH, _TRANSFER_ENCODING})
    return b"".join([status_line, *lines, b"\r\n"])


def frame_chunk(data: bytes) -> bytes:
    """One chunk: hex size, CRLF, data, CRLF. Empty data gives b"" (never a last chunk)."""
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    if not data:
        return b""
    return b"%x\r\n%s\r\n" % (len(data), data)


def last_chunk(trailers: Headers | None = None) -> bytes:
    """The zero-size chunk, the trailer fields (validated like headers), the final CRLF."""
    if trailers is None:
        return b"0\r\n\r\n"
    pairs = _pairs(trailers)
    for name, _ in pairs:
        # RFC 9110 6.5.1: framing fields cannot be trailers.
        if _KINDS.get(name.lower(), _OTHER) in (_CONTENT_LENGTH, _TRANSFER_ENCODING):
            raise InvalidHeader(f"header {name!r} is not allowed as a trailer")
    return b"".join([b"0\r\n", *_header_lines(pairs, set()), b"\r\n"])


def serialize_error(status: int, body: bytes = b"") -> bytes:
    """A complete plain-text response with "connection: close", for errors the server answers."""
    status_line = _status_line(status)
    if not 400 <= status <= 599:
        raise InvalidHeader(f"status {status} is not an error status (400..599)")
    if not isinstance(body, bytes):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")
    if not body:
        body = REASON_PHRASES.get(status, b"")
    return b"".join([
        status_line, _date_and_server(),
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ])
