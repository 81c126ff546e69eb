"""HTTP/1.1 request parser in pure Python: the fallback for `fasthttpd._parser`.

Used when the compiled extension is not built or `FASTHTTPD_NO_EXTENSIONS=1`; it
follows `fasthttpd/_parser.pyi` exactly and answers every framing error with the
same status as the compiled parser.

Theory of operation
-------------------
Received bytes are appended to one `bytearray`; bytes turned into events are
deleted from its front, so the buffer always starts at the first unconsumed byte
(deleting a bytearray's prefix is cheap in CPython). A small state machine
(`_HEAD`, `_BODY`, `_CHUNK_SIZE`, `_CHUNK_DATA`, `_CHUNK_DATA_END`, `_TRAILERS`,
then `_PAUSED` after an upgrade or `_DEAD` after an error) consumes it.

The head and the trailers are read one line at a time. `_take_line` looks for the
next LF from where the previous search stopped (`_search_from`), so bytes fed one
at a time are never scanned twice. A line's checks run in a fixed order, which
is the same whether the line arrives whole or split:

1. length (414 for the request line, counting the empty lines before it; 431 for
   a field line; 400 for a chunk-size line), checked as soon as that many bytes are
   buffered, without waiting for the line end;
2. bare LF (RFC 9112 2.2), then the field count (431);
3. the line's grammar, matched with precompiled regular expressions
   (bare CR, NUL and other CTLs fail the character classes);
4. per-line semantics: Content-Length syntax and repetition, Host repetition and
   syntax (RFC 9112 3.2, 6.3).

When the empty line ends the head, the message-level rules run, in this order:
Host missing (400), Transfer-Encoding rules that answer 400, then the codings we
do not decode (501), then Content-Length above `max_body_size` (413).

Why not httptools: llhttp rejects methods it does not know (we accept any token),
rejects whitespace around ';' in chunk extensions (RFC 9112 7.1.1 allows BWS),
accepts "gzip, chunked" without a way to tell us, and treats CONNECT as an
upgrade. Feeding it rewritten bytes to hide those differences would be harder to
follow than parsing the (small) grammar here, so the fallback parses everything
itself; httptools remains the independent oracle of the differential tests.
"""

from __future__ import annotations

import re

FRAMING_NONE = 0
FRAMING_LENGTH = 1
FRAMING_CHUNKED = 2

DEFAULT_MAX_REQUEST_LINE_SIZE = 8190
DEFAULT_MAX_HEADER_COUNT = 100
DEFAULT_MAX_HEADER_SIZE = 8190
DEFAULT_MAX_CHUNK_EXTENSION_SIZE = 1024

_MAX_INT63 = 2**63 - 1
_CR = 13
_SP_HTAB = b" \t"

# RFC 9110 5.6.2: tchar.
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[%s]+" % _TCHAR)
# RFC 9112 3.2: the request-target is VCHARs only.
_TARGET = re.compile(rb"[\x21-\x7e]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
# RFC 9112 5: field-name ":" (no whitespace before the colon, 5.1).
_FIELD_NAME_COLON = re.compile(rb"([%s]+):" % _TCHAR)
# RFC 9110 5.5: VCHAR, obs-text, SP and HTAB; any other CTL (NUL, CR, LF, DEL) fails.
_FIELD_VALUE = re.compile(rb"[\x21-\x7e\x80-\xff \t]*")
_DIGITS = re.compile(rb"[0-9]+")

# RFC 3986 3.2.2 as RFC 9112 3.2 uses it for Host: reg-name or IP-literal, then port.
_REG_NAME_CHAR = rb"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})"
_IP_LITERAL = rb"\[[0-9A-Za-z:.]+\]"
_HOST_VALUE = re.compile(rb"(?:%s|%s*)(?::[0-9]*)?" % (_IP_LITERAL, _REG_NAME_CHAR))
# RFC 9110 4.2.1: an http(s) URI with an empty host is invalid.
_AUTHORITY = re.compile(rb"(?:%s|%s+)(?::[0-9]*)?" % (_IP_LITERAL, _REG_NAME_CHAR))
# RFC 9110 9.3.6: CONNECT names host and port; the port is never elided.
_CONNECT_AUTHORITY = re.compile(rb"(?:%s|%s+):[0-9]+" % (_IP_LITERAL, _REG_NAME_CHAR))
# RFC 9112 3.2.2: absolute-form; only http and https (scheme case-insensitive).
_ABSOLUTE_FORM = re.compile(rb"[Hh][Tt][Tt][Pp][Ss]?://([^/?]*)([^?]*)(?:\?(.*))?", re.DOTALL)

# RFC 9112 7.1: chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS
# ( token / quoted-string ) ] ).
_QUOTED_STRING = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_EXT = rb"[ \t]*;[ \t]*[%s]+(?:[ \t]*=[ \t]*(?:[%s]+|%s))?" % (_TCHAR, _TCHAR,
                                                                      _QUOTED_STRING)
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]+)(?:%s)*" % _CHUNK_EXT)
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]+")

# Parser states.
_HEAD = 0
_BODY = 1  # Content-Length body
_CHUNK_SIZE = 2
_CHUNK_DATA = 3
_CHUNK_DATA_END = 4  # the CRLF after chunk data
_TRAILERS = 5
_PAUSED = 6  # after the EndOfMessage of an upgrade request
_DEAD = 7  # after an HttpParseError


class HttpParseError(Exception):
    """A request that cannot be served; the connection answers the status and closes."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(status_code, reason)
        self.status_code = status_code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status_code} {self.reason}"


class Request:
    """A request head. Header names are lower-cased; values have OWS stripped."""

    __slots__ = ("method", "target", "path", "query", "http_version", "headers", "keep_alive",
                 "framing", "content_length", "expect_continue", "upgrade", "host")

    def __init__(self, method: bytes, target: bytes, path: bytes, query: bytes,
                 http_version: str, headers: list[tuple[bytes, bytes]], keep_alive: bool,
                 framing: int, content_length: int, expect_continue: bool,
                 upgrade: bytes | None, host: bytes) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.framing = framing
        self.content_length = content_length
        self.expect_continue = expect_continue
        self.upgrade = upgrade
        self.host = host

    def __repr__(self) -> str:
        return (f"<Request {self.method!r} {self.target!r} HTTP/{self.http_version} "
                f"framing={self.framing} headers={self.headers!r}>")


class EndOfMessage:
    """The request's body is complete. `trailers` as for headers; do not mutate."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.trailers = trailers

    def __repr__(self) -> str:
        return f"<EndOfMessage trailers={self.trailers!r}>"


Event = Request | bytes | EndOfMessage | HttpParseError


class RequestParser:
    """Incremental, strict HTTP/1.1 request parser (see the module docstring)."""

    def __init__(
        self,
        *,
        max_request_line_size: int = DEFAULT_MAX_REQUEST_LINE_SIZE,
        max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_body_size: int = 0,
        max_chunk_extension_size: int = DEFAULT_MAX_CHUNK_EXTENSION_SIZE,
    ) -> None:
        self._max_request_line_size = max_request_line_size
        self._max_header_count = max_header_count
        self._max_header_size = max_header_size
        self._max_body_size = max_body_size
        self._max_chunk_extension_size = max_chunk_extension_size

        self._state = _HEAD
        self._buf = bytearray()
        self._consumed = 0
        self._line_start = 0  # where the current line starts in _buf
        self._search_from = 0  # where the search for its LF resumes
        self._body_remaining = 0  # of the Content-Length body or of the current chunk
        self._reset_message()

    def _reset_message(self) -> None:
        """Forget the message just finished; the next bytes start a request line."""
        self._request: Request | None = None  # set once the request line is parsed
        self._headers: list[tuple[bytes, bytes]] = []
        self._trailers: list[tuple[bytes, bytes]] = []
        self._field_count = 0  # header and trailer fields together
        self._content_length = -1  # -1: no Content-Length field
        self._host_count = 0
        self._body_total = 0  # chunked: sum of the chunk sizes so far

    # -- public API ---------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Parse as much as possible of what was buffered plus `data`."""
        if self._state == _DEAD:
            return []
        self._buf += data
        return self._parse()

    def resume(self) -> list[Event]:
        """Continue after a declined upgrade: parse the bytes kept since."""
        if self._state == _PAUSED:
            self._state = _HEAD
        return self._parse()

    def take_unparsed(self) -> bytes:
        """Return and forget the bytes not parsed yet (after an upgrade)."""
        data = bytes(self._buf)
        self._buf.clear()
        self._line_start = self._search_from = 0
        return data

    @property
    def bytes_consumed(self) -> int:
        """Total bytes turned into events so far."""
        return self._consumed

    @property
    def buffered(self) -> int:
        """Bytes held: an incomplete head, chunk-size line, or bytes kept after an upgrade."""
        return len(self._buf)

    @property
    def is_idle(self) -> bool:
        """True between messages with nothing buffered: no request is half-read."""
        return (self._state == _HEAD or self._state == _PAUSED) and not self._buf

    # -- the state machine --------------------------------------------------------

    def _parse(self) -> list[Event]:
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def _step(self, events: list[Event]) -> bool:
        """Advance one state; False when more bytes are needed (or paused, or dead)."""
        state = self._state
        if state == _HEAD:
            return self._parse_head(events)
        if state == _BODY or state == _CHUNK_DATA:
            return self._parse_body_bytes(events)
        if state == _CHUNK_SIZE:
            return self._parse_chunk_size(events)
        if state == _CHUNK_DATA_END:
            return self._parse_chunk_data_end(events)
        if state == _TRAILERS:
            return self._parse_trailers(events)
        return False

    def _fail(self, events: list[Event], status: int, reason: str) -> bool:
        events.append(HttpParseError(status, reason))
        self._state = _DEAD
        self._buf.clear()
        return False

    def _consume(self, size: int) -> None:
        del self._buf[:size]
        self._consumed += size
        self._line_start = self._search_from = 0

    def _take_line(self, events: list[Event], measure_from: int, limit: int, status: int,
                   too_long: str) -> bytes | None:
        """The next complete line without its CRLF, or None (incomplete, or failed).

        The line's length is counted from `measure_from` up to its CR; a CR at the very
        end of the buffer may be the start of CRLF, so it is not counted yet.
        """
        buf = self._buf
        line_start = self._line_start
        lf = buf.find(b"\n", self._search_from)
        if lf == -1:
            end = len(buf)
            self._search_from = end
            if end > line_start and buf[end - 1] == _CR:
                end -= 1
            if end - measure_from > limit:
                self._fail(events, status, too_long)
            return None
        has_cr = lf > line_start and buf[lf - 1] == _CR
        end = lf - 1 if has_cr else lf
        if end - measure_from > limit:
            self._fail(events, status, too_long)
            return None
        if not has_cr:
            self._fail(events, 400, "bare LF (line ending without CR)")
            return None
        self._line_start = self._search_from = lf + 1
        return bytes(buf[line_start:end])

    # -- head ---------------------------------------------------------------------

    def _parse_head(self, events: list[Event]) -> bool:
        while True:
            if self._request is None:
                # The empty lines before the request line count toward its limit.
                line = self._take_line(events, 0, self._max_request_line_size, 414,
                                       "request line too long")
                if line is None:
                    return False
                if line and not self._parse_request_line(events, line):
                    return False
                # RFC 9112 2.2: empty lines before the request line are ignored.
            else:
                line = self._take_line(events, self._line_start, self._max_header_size, 431,
                                       "header field line too long")
                if line is None:
                    return False
                if not line:
                    return self._finish_head(events)
                if not self._add_field(events, line, self._headers):
                    return False
                if not self._check_header(events):
                    return False

    def _parse_request_line(self, events: list[Event], line: bytes) -> bool:
        parts = line.split(b" ")
        if len(parts) != 3:
            return self._fail(events, 400, _request_line_error(line, len(parts)))
        method, target, version = parts
        if _TOKEN.fullmatch(method) is None:
            return self._fail(events, 400, _with_cr(method, "invalid method"))
        if _TARGET.fullmatch(target) is None:
            return self._fail(events, 400, _with_cr(target, "invalid character in request-target"))
        match = _VERSION.fullmatch(version)
        if match is None:
            return self._fail(events, 400, _with_cr(version, "invalid HTTP version"))
        if match.group(1) != b"1":
            return self._fail(events, 505, "HTTP version not supported")
        split = _split_target(method, target)
        if split is None:
            return self._fail(events, 400, _target_form_error(method, target))
        path, query = split
        # RFC 9112 2.3: a higher 1.x minor version is served as 1.1.
        http_version = "1.0" if match.group(2) == b"0" else "1.1"
        self._request = Request(method, target, path, query, http_version, self._headers,
                                False, FRAMING_NONE, -1, False, None, b"")
        return True

    def _add_field(self, events: list[Event], line: bytes,
                   fields: list[tuple[bytes, bytes]]) -> bool:
        """Validate one header or trailer field line and append (name, value)."""
        if self._field_count >= self._max_header_count:
            return self._fail(events, 431, "too many header fields")
        self._field_count += 1
        match = _FIELD_NAME_COLON.match(line)
        if match is None:
            return self._fail(events, 400, _field_name_error(line))
        value = line[match.end():]
        if _FIELD_VALUE.fullmatch(value) is None:
            return self._fail(events, 400, _with_cr(value, "control character in field value"))
        fields.append((match.group(1).lower(), value.strip(_SP_HTAB)))
        return True

    def _check_header(self, events: list[Event]) -> bool:
        """The rules a header line can break on its own: Content-Length and Host."""
        name, value = self._headers[-1]
        if name == b"content-length":
            # RFC 9112 6.3: a repeated or listed Content-Length is an error (even equal).
            if self._content_length >= 0:
                return self._fail(events, 400, "Content-Length repeated")
            if _DIGITS.fullmatch(value) is None:
                return self._fail(events, 400, "invalid Content-Length")
            digits = value.lstrip(b"0")
            if len(digits) > 19 or int(value) > _MAX_INT63:
                return self._fail(events, 400, "Content-Length too large")
            self._content_length = int(value)
        elif name == b"host":
            # RFC 9112 3.2: more than one Host line, or an invalid one, is a 400.
            self._host_count += 1
            if self._host_count > 1:
                return self._fail(events, 400, "Host repeated")
            if _HOST_VALUE.fullmatch(value) is None:
                return self._fail(events, 400, "invalid Host")
        return True

    def _finish_head(self, events: list[Event]) -> bool:
        """The empty line ended the head: apply the message-level rules, emit Request."""
        request = self._request
        assert request is not None
        is_http11 = request.http_version == "1.1"
        headers = self._headers
        te_values = [value for name, value in headers if name == b"transfer-encoding"]
        if is_http11 and self._host_count == 0:
            return self._fail(events, 400, "Host missing")
        if te_values:
            if not self._check_transfer_encoding(events, is_http11, te_values):
                return False
            request.framing = FRAMING_CHUNKED
        elif self._content_length >= 0:
            if 0 < self._max_body_size < self._content_length:
                return self._fail(events, 413, "Content-Length above the body size limit")
            request.framing = FRAMING_LENGTH
            request.content_length = self._content_length
        _apply_connection_fields(request, headers, is_http11)
        size = self._line_start
        self._consume(size)
        events.append(request)
        if request.framing == FRAMING_CHUNKED:
            self._state = _CHUNK_SIZE
        elif request.framing == FRAMING_LENGTH and request.content_length > 0:
            self._state = _BODY
            self._body_remaining = request.content_length
        else:
            self._end_message(events)
        return True

    def _check_transfer_encoding(self, events: list[Event], is_http11: bool,
                                 values: list[bytes]) -> bool:
        # RFC 9112 6.1: Transfer-Encoding is an HTTP/1.1 feature; with Content-Length the
        # request may be a smuggling attempt, which a server may reject (we do).
        if not is_http11:
            return self._fail(events, 400, "Transfer-Encoding in an HTTP/1.0 request")
        if self._content_length >= 0:
            return self._fail(events, 400, "Transfer-Encoding with Content-Length")
        codings = []
        for value in values:
            for element in value.split(b","):
                coding = element.strip(_SP_HTAB)
                if not coding:
                    return self._fail(events, 400, "empty element in Transfer-Encoding")
                if _TOKEN.fullmatch(coding) is None:
                    return self._fail(events, 400, "invalid Transfer-Encoding")
                codings.append(coding.lower())
        # RFC 9112 6.3: a request whose final coding is not chunked has no reliable length.
        if codings[-1] != b"chunked":
            return self._fail(events, 400, "Transfer-Encoding does not end with chunked")
        if codings.count(b"chunked") > 1:
            return self._fail(events, 400, "chunked applied more than once")
        # RFC 9112 6.1: we decode no other coding.
        if len(codings) > 1:
            return self._fail(events, 501, "transfer coding not implemented")
        return True

    # -- body ---------------------------------------------------------------------

    def _parse_body_bytes(self, events: list[Event]) -> bool:
        """Emit what has arrived of a Content-Length body or of the current chunk."""
        size = min(self._body_remaining, len(self._buf))
        if size == 0:
            return False
        events.append(bytes(self._buf[:size]))
        self._consume(size)
        self._body_remaining -= size
        if self._body_remaining == 0:
            if self._state == _BODY:
                self._end_message(events)
            else:
                self._state = _CHUNK_DATA_END
        return True

    def _parse_chunk_size(self, events: list[Event]) -> bool:
        line = self._take_line(events, 0, self._max_chunk_extension_size, 400,
                               "chunk-size line too long")
        if line is None:
            return False
        match = _CHUNK_SIZE_LINE.fullmatch(line)
        if match is None:
            return self._fail(events, 400, _chunk_line_error(line))
        size_digits = match.group(1)
        if len(size_digits.lstrip(b"0")) > 16 or int(size_digits, 16) > _MAX_INT63:
            return self._fail(events, 400, "chunk size too large")
        size = int(size_digits, 16)
        self._consume(self._line_start)
        if size == 0:
            self._state = _TRAILERS
            return True
        self._body_total += size
        if 0 < self._max_body_size < self._body_total:
            return self._fail(events, 413, "chunked body above the body size limit")
        self._body_remaining = size
        self._state = _CHUNK_DATA
        return True

    def _parse_chunk_data_end(self, events: list[Event]) -> bool:
        buf = self._buf
        if not buf or (len(buf) == 1 and buf[0] == _CR):
            return False
        if buf[0] != _CR or buf[1] != 10:
            return self._fail(events, 400, "chunk data not followed by CRLF")
        self._consume(2)
        self._state = _CHUNK_SIZE
        return True

    def _parse_trailers(self, events: list[Event]) -> bool:
        while True:
            line = self._take_line(events, self._line_start, self._max_header_size, 431,
                                   "trailer field line too long")
            if line is None:
                return False
            if not line:
                self._consume(self._line_start)
                self._end_message(events)
                return True
            if not self._add_field(events, line, self._trailers):
                return False

    def _end_message(self, events: list[Event]) -> None:
        events.append(EndOfMessage(self._trailers))
        request = self._request
        self._state = _PAUSED if request is not None and request.upgrade is not None else _HEAD
        self._reset_message()


# -- helpers without parser state -------------------------------------------------


def _split_target(method: bytes, target: bytes) -> tuple[bytes, bytes] | None:
    """(path, query) for the request-target's form (RFC 9112 3.2), None if invalid."""
    if method == b"CONNECT":
        # RFC 9112 3.2.3: authority-form, and only for CONNECT.
        if _CONNECT_AUTHORITY.fullmatch(target) is None:
            return None
        return target, b""
    if target[0] == 0x2F:  # "/": origin-form
        path, _, query = target.partition(b"?")
        return path, query
    if target == b"*":
        # RFC 9112 3.2.4: asterisk-form, only for a server-wide OPTIONS.
        return (b"*", b"") if method == b"OPTIONS" else None
    match = _ABSOLUTE_FORM.fullmatch(target)
    if match is None or _AUTHORITY.fullmatch(match.group(1)) is None:
        return None
    return match.group(2) or b"/", match.group(3) or b""


def _apply_connection_fields(request: Request, headers: list[tuple[bytes, bytes]],
                             is_http11: bool) -> None:
    """Set keep_alive, expect_continue, upgrade and host from the header list."""
    connection: set[bytes] = set()
    upgrade_values = []
    for name, value in headers:
        if name == b"connection":
            connection.update(token.strip(_SP_HTAB).lower() for token in value.split(b","))
        elif name == b"upgrade":
            upgrade_values.append(value)
        elif name == b"expect":
            if is_http11 and value.lower() == b"100-continue":
                request.expect_continue = True
        elif name == b"host":
            request.host = value
    # RFC 9112 9.3: persistence is the default in 1.1, opt-in in 1.0.
    if is_http11:
        request.keep_alive = b"close" not in connection
    else:
        request.keep_alive = b"keep-alive" in connection and b"close" not in connection
    # RFC 9110 7.8: Upgrade counts only when Connection lists it; never in HTTP/1.0.
    if is_http11 and upgrade_values and b"upgrade" in connection:
        request.upgrade = b", ".join(upgrade_values).lower()


# Reasons for errors, worked out only once a line failed to match.


def _with_cr(part: bytes, reason: str) -> str:
    if b"\r" in part:
        return "bare CR in request head"
    if b"\x00" in part:
        return "NUL in request head"
    return reason


def _request_line_error(line: bytes, part_count: int) -> str:
    if b"\r" in line:
        return "bare CR in request line"
    if part_count == 2:
        return "request line without HTTP version (HTTP/0.9)"
    return "request line is not method SP request-target SP HTTP-version"


def _target_form_error(method: bytes, target: bytes) -> str:
    if method == b"CONNECT":
        return "CONNECT needs an authority-form request-target (host:port)"
    if target == b"*":
        return "asterisk-form request-target outside OPTIONS"
    if _ABSOLUTE_FORM.fullmatch(target) is not None:
        return "invalid authority in absolute-form request-target"
    return "invalid request-target form"


def _field_name_error(line: bytes) -> str:
    if line[0] in _SP_HTAB:
        return "obs-fold (line folding) in header section"
    if b"\r" in line:
        return "bare CR in header section"
    colon = line.find(b":")
    if colon == -1:
        return "header field line without colon"
    if colon == 0:
        return "empty header field name"
    if line[colon - 1] in _SP_HTAB:
        return "whitespace between header field name and colon"
    return "invalid character in header field name"


def _chunk_line_error(line: bytes) -> str:
    if b"\r" in line:
        return "bare CR in chunk-size line"
    size = _HEX_DIGITS.match(line)
    if size is None:
        return "invalid chunk size"
    return "invalid chunk extension"
