"""HTTP/2 request head validation and response head building (RFC 9113 8.1-8.3).

Theory of operation. h2 hands over a request's decoded header list unchecked (its
own validation is switched off because it turns every malformed request into a
connection error, where RFC 9113 8.1.1 asks for a stream error). `parse_request`
checks the list as a whole and either returns a `RequestHead` or a short reason
that the driver logs before resetting the stream with PROTOCOL_ERROR.

Everything here runs once per request or response over the whole list: the checks
are set operations and regular expressions over the names and values joined into
one byte string, so there is no Python-level call per header field.
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from typing import Any, NamedTuple

from fasthttpd.errors import InvalidHeader  # the one the HTTP/1.1 serializers raise too

# RFC 9113 8.2.2: connection-specific fields make a request malformed; in a
# response they are dropped, since they mean nothing on an HTTP/2 stream.
CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"))

# RFC 9113 8.2.1: a name holds no 0x00-0x20, no uppercase, no 0x7f-0xff; ":" may
# only start a pseudo-header, which must come before every regular field (8.3),
# so a ":" anywhere in the joined regular names is an error as well.
_BAD_NAME = re.compile(rb"[\x00-\x20A-Z\x7f-\xff:]")
# RFC 9113 8.2.1: a value holds no NUL, CR or LF and neither starts nor ends with
# SP or HTAB. Checked on the values joined with LF, so LF marks the boundaries (a
# value with an LF of its own shows up as one boundary too many).
_BAD_REQUEST_VALUE = re.compile(rb"[\x00\r]|(?:^|\n)[ \t]|[ \t](?:\n|$)")
# Response values: no control character but HTAB (as the HTTP/1.1 serializer).
_BAD_RESPONSE_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 9110 9.1: a method is a token.
_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


class RequestHead(NamedTuple):
    method: str
    path: bytes
    query: bytes
    scheme: str
    headers: list[tuple[bytes, bytes]]
    content_length: int  # -1 when absent


def parse_request(raw: list[tuple[bytes, bytes]]) -> RequestHead | str:
    """The request head, or why the header list is malformed (RFC 9113 8.1.1)."""
    method = scheme = path = authority = None
    index = 0
    for name, value in raw:  # pseudo-headers come first (RFC 9113 8.3)
        if name[:1] != b":":
            break
        if name == b":method" and method is None:
            method = value
        elif name == b":path" and path is None:
            path = value
        elif name == b":scheme" and scheme is None:
            scheme = value
        elif name == b":authority" and authority is None:
            authority = value
        else:
            return f"unknown or repeated pseudo-header {name!r}"
        index += 1
    headers = raw[index:]
    names = [field[0] for field in headers]
    values = [field[1] for field in raw]
    if _BAD_NAME.search(b"".join(names)) is not None or b"" in names:
        return "invalid or misplaced field name"
    joined = b"\n".join(values)
    if _BAD_REQUEST_VALUE.search(joined) is not None or joined.count(b"\n") != len(values) - 1:
        return "invalid field value"
    if not CONNECTION_SPECIFIC.isdisjoint(names):
        return "connection-specific field"
    if b"te" in names and any(n == b"te" and v != b"trailers" for n, v in headers):
        return "te other than trailers"
    if method is None or _METHOD.match(method) is None:
        return "missing or invalid :method"
    if method == b"CONNECT":  # RFC 9113 8.5: no :scheme, no :path; tunnels are not served
        if scheme is not None or path is not None or authority is None:
            return "malformed CONNECT"
    elif scheme is None or not path:
        return "missing :scheme or :path"
    elif path[:1] != b"/" and not (path == b"*" and method == b"OPTIONS"):
        return "invalid :path"
    if authority is not None:
        if b"host" in names:
            # RFC 9113 8.3.1: Host and :authority must name the same thing.
            if headers[names.index(b"host")][1] != authority:
                return "host differs from :authority"
        else:
            headers.append((b"host", authority))  # apps build URLs from Host
            names.append(b"host")
    if names.count(b"cookie") > 1:
        headers = _join_cookies(headers)
    content_length = -1
    if b"content-length" in names:
        text = headers[names.index(b"content-length")][1]
        content_length = int(text) if text.isdigit() else -2  # h2 rejects bad ones
    target = path or b""
    query = b""
    mark = target.find(b"?")
    if mark >= 0:
        target, query = target[:mark], target[mark + 1:]
    return RequestHead(method.decode("ascii"), target, query,
                       scheme.decode("ascii", "replace") if scheme else "http",
                       headers, content_length)


def _join_cookies(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    # RFC 9113 8.2.3: several cookie fields are joined with "; " before they
    # reach a generic application.
    cookies = [v for n, v in headers if n == b"cookie"]
    others = [(n, v) for n, v in headers if n != b"cookie"]
    others.append((b"cookie", b"; ".join(cookies)))
    return others


def trailers_are_valid(trailers: list[tuple[bytes, bytes]]) -> bool:
    """Request trailers: no pseudo-header (RFC 9113 8.1), names and values as above."""
    names = [field[0] for field in trailers]
    if _BAD_NAME.search(b"".join(names)) is not None or b"" in names:
        return False
    values = [field[1] for field in trailers]
    joined = b"\n".join(values)
    return (_BAD_REQUEST_VALUE.search(joined) is None
            and joined.count(b"\n") == len(values) - 1)


_STATUS = {code: str(code).encode() for code in range(100, 600)}
_date_second = 0
_date_value = b""


def http_date() -> bytes:
    """The Date header value, computed at most once a second."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_value = formatdate(now, usegmt=True).encode("ascii")
    return _date_value


def response_head(status: int, headers: Any, server: bytes | None,
                  date: bool) -> list[tuple[bytes, bytes]]:
    """`:status` and the app's fields, lower-cased, checked, ready for h2.

    Raises InvalidHeader for a status or field that cannot be written.
    """
    code = _STATUS.get(status) if type(status) is int else None
    if code is None:
        raise InvalidHeader(f"invalid status {status!r}")
    fields = [(bytes(n).lower(), bytes(v)) for n, v in headers]
    head = [(b":status", code)]
    if server is not None:
        head.append((b"server", server))
    if date:
        head.append((b"date", http_date()))
    if not fields:
        return head
    names = [field[0] for field in fields]
    if _BAD_NAME.search(b"".join(names)) is not None or b"" in names:
        raise InvalidHeader(f"invalid header name in {names!r}")
    if _BAD_RESPONSE_VALUE.search(b"\t".join([field[1] for field in fields])) is not None:
        raise InvalidHeader("header value with a control character")
    if not CONNECTION_SPECIFIC.isdisjoint(names):
        fields = [field for field in fields if field[0] not in CONNECTION_SPECIFIC]
    head += fields
    return head


def trailer_fields(headers: Any) -> list[tuple[bytes, bytes]]:
    """Response trailers, checked like header fields."""
    fields = [(bytes(n).lower(), bytes(v)) for n, v in headers]
    names = [field[0] for field in fields]
    if _BAD_NAME.search(b"".join(names)) is not None or b"" in names:
        raise InvalidHeader(f"invalid trailer name in {names!r}")
    if _BAD_RESPONSE_VALUE.search(b"\t".join([field[1] for field in fields])) is not None:
        raise InvalidHeader("trailer value with a control character")
    return [field for field in fields if field[0] not in CONNECTION_SPECIFIC]
