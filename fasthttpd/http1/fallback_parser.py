"""HTTP/1.1 request parser in pure Python: the fallback for `fasthttpd._parser`.

Used when the compiled extension is not built or `FASTHTTPD_NO_EXTENSIONS=1`. It
follows `fasthttpd/_parser.pyi` exactly and gives every input the same events and
the same error status as the compiled parser, whether the input arrives whole or
split (tests/unit/test_parser_differential.py checks both).

Theory of operation
-------------------
Received bytes are appended to one `bytearray`; bytes turned into events are
deleted from its front (cheap for a bytearray), so index 0 is always the first
byte not consumed yet. A state machine (`_HEAD`, `_BODY`, `_CHUNK_SIZE`,
`_CHUNK_DATA`, `_CHUNK_CRLF`, `_TRAILERS`, then `_STOPPED` after an upgrade or
`_DEAD` after an error) consumes it. The lines of a head (and of a trailer
section) stay in the buffer until the empty line ends the section; `_line_start`
is where the current line begins.

Every line is scanned left to right as runs of one character class (a
precompiled regular expression matched from a position), and judged at the byte
that ends each run. That byte decides, as soon as it has arrived: the expected
separator moves on to the next part of the line, anything else is the error for
that position. A line is too long (414 for the request line, whose limit also
counts the empty lines before it; 431 for a field line; 400 for a chunk-size line)
when the byte after `limit` content bytes is there and is not the CR that ends
the line. So the outcome for any prefix of the input is the same whole or split,
and an error is reported at the first byte that makes it certain, exactly where
the compiled parser's byte loop reports it.

Request and field lines keep their scan position (`_phase`, `_scan`), so bytes
fed one at a time are not scanned again. A chunk-size line (at most
`max_chunk_extension_size` bytes) is rescanned from its start when it grows.

The common case takes a shortcut: when a whole head is in the buffer and one
regular expression finds no bad byte in it, and it is within the limits, its
lines are split at once (`_parse_whole_head`); that head meets no error the line
scanner would have reported, so the outcome is the same. Anything else goes
through the line scanner.

The rules a single header line can break (Content-Length syntax and repetition,
Host repetition and syntax, Transfer-Encoding list syntax) are checked when that
line completes; the empty line then runs the whole-head rules in this order:
Host missing (400), Transfer-Encoding rules that answer 400, codings we do not
decode (501), Content-Length above `max_body_size` (413).

Why not llhttp (httptools): it rejects methods it does not know (we accept any
token), rejects whitespace around ';' in chunk extensions (RFC 9112 7.1.1 allows
BWS), accepts "gzip, chunked" silently and treats CONNECT as an upgrade. Bending
its callbacks to these rules would take more code than the small grammar here,
so httptools serves as the independent oracle of the differential tests instead.
"""

from __future__ import annotations

import re

# One error type for both implementations (re-exported: part of this module's API).
from fasthttpd.http1.errors import HttpParseError
from fasthttpd.http1.events import EndOfMessage, Request

# Part of this module's API (_parser.pyi).
from fasthttpd.http1.framing import FRAMING_CHUNKED, FRAMING_LENGTH, FRAMING_NONE  # noqa: F401

DEFAULT_MAX_REQUEST_LINE_SIZE = 8190
DEFAULT_MAX_HEADER_COUNT = 100
DEFAULT_MAX_HEADER_SIZE = 8190
DEFAULT_MAX_CHUNK_EXTENSION_SIZE = 1024

_MAX_SIZE = 2**63 - 1  # the largest Content-Length or chunk size accepted
_HTAB, _LF, _CR, _SP = 9, 10, 13, 32
_DQUOTE, _COLON, _SEMICOLON, _EQUALS, _BACKSLASH = 0x22, 0x3A, 0x3B, 0x3D, 0x5C
_OWS = b" \t"

# Character classes (RFC 9110 5.6.2 tchar, 5.5 field-value, 5.6.4 quoted-string).
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TCHAR_RUN = re.compile(rb"[%s]*" % _TCHAR)
_VCHAR_RUN = re.compile(rb"[\x21-\x7e]*")
_FIELD_VALUE_RUN = re.compile(rb"[\x21-\x7e\x80-\xff \t]*")
_OWS_RUN = re.compile(rb"[ \t]*")
_HEX_RUN = re.compile(rb"[0-9A-Fa-f]*")
_QDTEXT_RUN = re.compile(rb"[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]*")
_QUOTED_PAIR_CHAR = re.compile(rb"[\t \x21-\x7e\x80-\xff]")
_TOKEN = re.compile(rb"[%s]+" % _TCHAR)
_DIGITS = re.compile(rb"[0-9]+")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")

# RFC 3986 3.2.2 as RFC 9112 3.2 uses it: uri-host = IP-literal / reg-name. The
# IP-literal holds IPv6address characters or an IPvFuture.
_IP_LITERAL = (rb"\[(?:[0-9A-Fa-f:.]+"
               rb"|[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]")
_REG_NAME_CHAR = rb"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})"
_HOST_VALUE = re.compile(rb"(?:%s|%s*)(?::[0-9]*)?" % (_IP_LITERAL, _REG_NAME_CHAR))
# RFC 9110 4.2.1: an http(s) URI with an empty host is invalid.
_ABSOLUTE_AUTHORITY = re.compile(rb"(?:%s|%s+)(?::[0-9]*)?" % (_IP_LITERAL, _REG_NAME_CHAR))
# RFC 9112 3.2.3, RFC 9110 9.3.6: CONNECT's authority-form names a host and a port.
_CONNECT_AUTHORITY = re.compile(rb"(?:%s|%s+):[0-9]+" % (_IP_LITERAL, _REG_NAME_CHAR))
# RFC 9112 3.2.2: absolute-form; only http and https (the scheme is case-insensitive).
_ABSOLUTE_FORM = re.compile(rb"[Hh][Tt][Tt][Pp][Ss]?://([^/?]*)([^?]*)(?:\?(.*))?", re.DOTALL)

# A whole head with no bad byte (the limits are checked apart): the fast path.
_WHOLE_HEAD = re.compile(
    rb"([%s]+) ([\x21-\x7e]+) ([\x21-\x7e]+)\r\n((?:[%s]+:[\x21-\x7e\x80-\xff \t]*\r\n)*)\r\n"
    % (_TCHAR, _TCHAR))

# Header fields whose single line is checked when it completes.
_FRAMING_FIELDS = frozenset((b"content-length", b"host", b"transfer-encoding"))

# Parser states.
_HEAD = 0  # a request head, or the empty lines before it
_BODY = 1  # Content-Length body, _body_remaining bytes to go
_CHUNK_SIZE = 2  # expecting a chunk-size line
_CHUNK_DATA = 3  # inside a chunk, _body_remaining bytes to go
_CHUNK_CRLF = 4  # the CRLF after a chunk's data
_TRAILERS = 5  # trailer section after the last chunk
_STOPPED = 6  # after an upgrade request, until resume() or take_unparsed()
_DEAD = 7  # after an error

# Where the scan of an unfinished line stopped (0: no line started).
_LINE_START = 0
_METHOD = 1
_TARGET = 2
_VERSION_PART = 3
_FIELD_NAME = 4
_FIELD_VALUE = 5


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
        if (max_request_line_size < 1 or max_header_count < 0 or max_header_size < 1
                or max_body_size < 0 or max_chunk_extension_size < 1):
            raise ValueError("parser limits must be positive (max_body_size: 0 for none)")
        self._max_request_line_size = max_request_line_size
        self._max_header_count = max_header_count
        self._max_header_size = max_header_size
        self._max_body_size = max_body_size
        self._max_chunk_extension_size = max_chunk_extension_size

        self._state = _HEAD
        self._buf = bytearray()
        self._consumed = 0
        self._leading = 0  # bytes of empty lines before the request line
        self._line_start = 0  # where the current line starts in _buf
        self._phase = _LINE_START  # how far the current line's scan got ...
        self._scan = 0  # ... and where it resumes
        self._part_start = 0  # request-target start
        self._part_end = 0  # request-target or field-name end
        self._reset_message()

    def _reset_message(self) -> None:
        self._request: Request | None = None  # set once the request line is parsed
        self._trailers: list[tuple[bytes, bytes]] = []
        self._field_count = 0  # header and trailer fields together
        self._content_length = -1  # -1: no Content-Length field
        self._host_count = 0
        self._te_seen = False
        self._te_last_is_chunked = False
        self._te_chunked_count = 0
        self._te_other_count = 0
        self._body_remaining = 0
        self._body_total = 0

    # -- public API ---------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Parse as much as possible of what was buffered plus `data`."""
        if self._state == _DEAD or not data:
            return []
        self._buf += data
        if self._state == _STOPPED:
            return []
        return self._run()

    def resume(self) -> list[Event]:
        """Continue after a declined upgrade: parse the bytes kept since."""
        if self._state != _STOPPED:
            return []
        self._state = _HEAD
        return self._run()

    def take_unparsed(self) -> bytes:
        """Return and forget the bytes not parsed yet (after an upgrade)."""
        data = bytes(self._buf)
        self._buf.clear()
        self._line_start = self._scan = 0
        self._phase = _LINE_START
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
        return self._state == _HEAD and not self._buf

    # -- the state machine --------------------------------------------------------

    def _run(self) -> list[Event]:
        events: list[Event] = []
        while self._buf and self._step(events):
            pass
        return events

    def _step(self, events: list[Event]) -> bool:
        """Advance; False when more bytes are needed (or stopped, or dead)."""
        state = self._state
        if state == _HEAD:
            return self._parse_head(events)
        if state == _BODY or state == _CHUNK_DATA:
            return self._parse_body_bytes(events)
        if state == _CHUNK_SIZE:
            return self._parse_chunk_size(events)
        if state == _CHUNK_CRLF:
            return self._parse_chunk_crlf(events)
        if state == _TRAILERS:
            return self._parse_trailers(events)
        return False

    def _fail(self, events: list[Event], status: int, reason: str) -> bool:
        events.append(HttpParseError(status, reason))
        self._state = _DEAD
        self._buf.clear()
        return False

    def _consume(self, size: int) -> None:
        """Bytes at the front of the buffer became events (or framing around them)."""
        del self._buf[:size]
        self._consumed += size
        self._line_start = self._scan = 0
        self._phase = _LINE_START

    def _line_end(self, events: list[Event], i: int, limit_reached: bool,
                  too_long: tuple[int, str], invalid: str) -> int:
        """Judge the byte at i that ended the last part of a line (its CR, normally).

        Returns 1 when CRLF ends the line there, 0 when the LF has not arrived, -1
        after a failure.
        """
        buf = self._buf
        c = buf[i]
        if c == _CR:
            if i + 1 == len(buf):
                return 0
            if buf[i + 1] != _LF:
                self._fail(events, 400, "bare CR in request head")
                return -1
            return 1
        if limit_reached:
            self._fail(events, *too_long)
        elif c == _LF:
            self._fail(events, 400, "bare LF in request head")
        else:
            self._fail(events, 400, invalid)
        return -1

    # -- head ---------------------------------------------------------------------

    def _parse_head(self, events: list[Event]) -> bool:
        buf = self._buf
        while self._line_start < len(buf):
            pos = self._line_start
            at_line_start = self._phase == _LINE_START
            if self._request is None:
                if at_line_start and buf[pos] == _CR:
                    if not self._skip_empty_line(events):
                        return False
                    continue
                if at_line_start:
                    done = self._parse_whole_head(events)
                    if done is not None:
                        return done
                if not self._scan_request_line(events):
                    return False
            elif at_line_start and buf[pos] == _CR:
                if pos + 1 == len(buf):
                    return False
                if buf[pos + 1] != _LF:
                    return self._fail(events, 400, "bare CR in request head")
                self._line_start = pos + 2
                return self._finish_head(events)
            elif not self._scan_field_line(events, self._request.headers, True):
                return False
        return False

    def _parse_whole_head(self, events: list[Event]) -> bool | None:
        """The common case in one go: a whole head, every byte valid, within the limits.

        Such a head gets exactly what the line scanner would give it, only faster.
        None when this does not apply: the line scanner then finds the error, or waits.
        """
        match = _WHOLE_HEAD.match(self._buf)
        if match is None:
            return None
        method, target, version, field_block = match.groups()
        lines = field_block.split(b"\r\n")
        lines.pop()  # after the last CRLF
        if (match.end(3) > self._max_request_line_size - self._leading
                or len(lines) > self._max_header_count
                or (lines and max(map(len, lines)) > self._max_header_size)):
            return None
        if not self._start_request(events, method, target, version):
            return False
        assert self._request is not None
        headers = self._request.headers
        headers += [(name.lower(), value.strip(_OWS))
                    for name, _, value in [line.partition(b":") for line in lines]]
        self._field_count = len(lines)
        for name, value in headers:
            if name in _FRAMING_FIELDS and not self._check_framing_field(events, name, value):
                return False
        self._line_start = match.end()
        return self._finish_head(events)

    def _skip_empty_line(self, events: list[Event]) -> bool:
        # RFC 9112 2.2: empty lines before the request line are ignored; they count
        # toward the request-line limit so that they cannot go on forever.
        buf = self._buf
        if len(buf) == 1:
            return False
        if buf[1] != _LF:
            return self._fail(events, 400, "bare CR in request head")
        self._consume(2)
        self._leading += 2
        if self._leading > self._max_request_line_size:
            return self._fail(events, 414, "request line too long")
        return True

    def _scan_request_line(self, events: list[Event]) -> bool:
        """method SP request-target SP HTTP-version CRLF (RFC 9112 3); True when done."""
        buf = self._buf
        n = len(buf)
        start = self._line_start  # 0: nothing of this message is consumed yet
        hard = start + self._max_request_line_size - self._leading
        stop = min(n, hard)
        too_long = (414, "request line too long")
        if self._phase == _LINE_START:
            self._phase = _METHOD
            self._scan = start
        if self._phase == _METHOD:
            i = _skip(_TCHAR_RUN, buf, self._scan, stop)
            if i == n:
                self._scan = i
                return False
            c = buf[i]
            if i >= hard and c != _CR:
                return self._fail(events, *too_long)
            if c != _SP or i == start:
                return self._fail(events, 400, _method_end_error(c))
            self._phase = _TARGET
            self._part_start = self._scan = i + 1
        if self._phase == _TARGET:
            i = _skip(_VCHAR_RUN, buf, self._scan, stop)
            if i == n:
                self._scan = i
                return False
            c = buf[i]
            if i >= hard and c != _CR:
                return self._fail(events, *too_long)
            if c != _SP:
                if c == _CR or c == _LF:
                    return self._fail(events, 400, "no HTTP version in request line (HTTP/0.9)")
                return self._fail(events, 400, "invalid character in request-target")
            if i == self._part_start:
                return self._fail(events, 400, "empty request-target")
            self._phase = _VERSION_PART
            self._part_end = i
            self._scan = i + 1
        i = _skip(_VCHAR_RUN, buf, self._scan, stop)
        if i == n:
            self._scan = i
            return False
        ended = self._line_end(events, i, i >= hard, too_long, "invalid HTTP version")
        if ended <= 0:
            self._scan = i
            return False
        self._line_start = i + 2
        self._phase = _LINE_START
        return self._start_request(events, bytes(buf[start:self._part_start - 1]),
                                   bytes(buf[self._part_start:self._part_end]),
                                   bytes(buf[self._part_end + 1:i]))

    def _start_request(self, events: list[Event], method: bytes, target: bytes,
                       version: bytes) -> bool:
        """A request line without a bad byte: its version and target form, then Request."""
        if _VERSION.fullmatch(version) is None:
            return self._fail(events, 400, "invalid HTTP version")
        if version[5] != 0x31:  # "1"
            return self._fail(events, 505, "HTTP version not supported")
        # RFC 9112 2.3: a higher 1.x minor version is served as 1.1.
        http_version = "1.0" if version[7] == 0x30 else "1.1"
        split = _split_target(method, target)
        if isinstance(split, str):
            return self._fail(events, 400, split)
        self._request = Request(method, target, split[0], split[1], http_version)
        self._leading = 0
        return True

    def _scan_field_line(self, events: list[Event], fields: list[tuple[bytes, bytes]],
                         in_head: bool) -> bool:
        """field-name ":" OWS field-value OWS CRLF (RFC 9112 5); True when done."""
        buf = self._buf
        n = len(buf)
        start = self._line_start
        hard = start + self._max_header_size
        stop = min(n, hard)
        too_long = (431, "header field too large")
        if self._phase == _LINE_START:
            if self._field_count >= self._max_header_count:
                return self._fail(events, 431, "too many header fields")
            if buf[start] == _SP or buf[start] == _HTAB:
                # RFC 9112 5.2: obs-fold is rejected (2.2: so is whitespace before the
                # first field line).
                return self._fail(events, 400,
                                  "obs-fold or whitespace at the start of a field line")
            self._phase = _FIELD_NAME
            self._scan = start
        if self._phase == _FIELD_NAME:
            i = _skip(_TCHAR_RUN, buf, self._scan, stop)
            if i == n:
                self._scan = i
                return False
            c = buf[i]
            if i >= hard and c != _CR:
                return self._fail(events, *too_long)
            if c != _COLON:
                return self._fail(events, 400, _field_name_error(c))
            if i == start:
                return self._fail(events, 400, "empty field name")
            self._phase = _FIELD_VALUE
            self._part_end = i
            self._scan = i + 1
        i = _skip(_FIELD_VALUE_RUN, buf, self._scan, stop)
        if i == n:
            self._scan = i
            return False
        ended = self._line_end(events, i, i >= hard, too_long, "control character in field value")
        if ended <= 0:
            self._scan = i
            return False
        self._line_start = i + 2
        self._phase = _LINE_START
        return self._add_field(events, fields, in_head, bytes(buf[start:self._part_end]),
                               bytes(buf[self._part_end + 1:i]))

    def _add_field(self, events: list[Event], fields: list[tuple[bytes, bytes]],
                   in_head: bool, name: bytes, value: bytes) -> bool:
        """A field line without a bad byte: store it, then the rules of framing fields."""
        self._field_count += 1
        name = name.lower()
        value = value.strip(_OWS)
        fields.append((name, value))
        if in_head and name in _FRAMING_FIELDS:
            return self._check_framing_field(events, name, value)
        return True

    def _check_framing_field(self, events: list[Event], name: bytes, value: bytes) -> bool:
        """The rules one Host, Content-Length or Transfer-Encoding line can break."""
        if name == b"host":
            # RFC 9112 3.2: exactly one Host, with a valid value.
            self._host_count += 1
            if self._host_count > 1:
                return self._fail(events, 400, "Host repeated")
            if _HOST_VALUE.fullmatch(value) is None:
                return self._fail(events, 400, "invalid Host")
        elif name == b"content-length":
            # RFC 9112 6.3: Content-Length = 1*DIGIT; a repeated or listed one is an
            # error, even with equal values (the strict choice).
            if self._content_length >= 0:
                return self._fail(events, 400, "Content-Length repeated")
            if _DIGITS.fullmatch(value) is None:
                return self._fail(events, 400, "invalid Content-Length")
            significant = value.lstrip(b"0")
            # Checked by length first: int() refuses very long digit strings.
            if len(significant) > 19 or int(significant or b"0") > _MAX_SIZE:
                return self._fail(events, 400, "Content-Length too large")
            self._content_length = int(significant or b"0")
        else:
            # transfer-coding list (RFC 9112 6.1, 7); the codings of several lines
            # combine, so only the list syntax is judged here.
            self._te_seen = True
            for element in value.split(b","):
                coding = element.strip(_OWS)
                if _TOKEN.fullmatch(coding) is None:
                    return self._fail(events, 400, "invalid Transfer-Encoding")
                self._te_last_is_chunked = coding.lower() == b"chunked"
                if self._te_last_is_chunked:
                    self._te_chunked_count += 1
                else:
                    self._te_other_count += 1
        return True

    def _finish_head(self, events: list[Event]) -> bool:
        """The empty line ended the head: whole-head rules, framing, then the event."""
        request = self._request
        assert request is not None
        is_http11 = request.http_version == "1.1"
        if is_http11 and self._host_count == 0:
            return self._fail(events, 400, "missing Host")
        if self._te_seen:
            # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is a framing fault; with
            # Content-Length it is a smuggling attempt (6.3); only a final chunked
            # gives a length we can find; we decode no other coding (501).
            if not is_http11:
                return self._fail(events, 400, "Transfer-Encoding in an HTTP/1.0 request")
            if self._content_length >= 0:
                return self._fail(events, 400, "both Content-Length and Transfer-Encoding")
            if not self._te_last_is_chunked:
                return self._fail(events, 400, "final transfer coding is not chunked")
            if self._te_chunked_count > 1:
                return self._fail(events, 400, "chunked applied more than once")
            if self._te_other_count:
                return self._fail(events, 501, "transfer coding not implemented")
            request.framing = FRAMING_CHUNKED
        elif self._content_length >= 0:
            if 0 < self._max_body_size < self._content_length:
                return self._fail(events, 413, "Content-Length larger than the limit")
            request.framing = FRAMING_LENGTH
            request.content_length = self._content_length
        _apply_connection_fields(request, is_http11)
        events.append(request)
        self._consume(self._line_start)
        if request.framing == FRAMING_CHUNKED:
            self._state = _CHUNK_SIZE
        elif request.framing == FRAMING_LENGTH and request.content_length > 0:
            self._state = _BODY
            self._body_remaining = request.content_length
        else:
            self._finish_message(events)
        return True

    # -- body ---------------------------------------------------------------------

    def _parse_body_bytes(self, events: list[Event]) -> bool:
        """Emit what has arrived of a Content-Length body or of the current chunk."""
        size = min(self._body_remaining, len(self._buf))
        if self._state == _CHUNK_DATA and 0 < self._max_body_size < self._body_total + size:
            # Emit up to the limit, then refuse the rest.
            allowed = self._max_body_size - self._body_total
            if allowed > 0:
                events.append(bytes(self._buf[:allowed]))
                self._consumed += allowed
            return self._fail(events, 413, "chunked body larger than the limit")
        events.append(bytes(self._buf[:size]))
        self._consume(size)
        self._body_remaining -= size
        self._body_total += size
        if self._body_remaining == 0:
            if self._state == _BODY:
                self._finish_message(events)
            else:
                self._state = _CHUNK_CRLF
        return True

    def _parse_chunk_crlf(self, events: list[Event]) -> bool:
        # RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
        buf = self._buf
        if buf[0] != _CR or (len(buf) > 1 and buf[1] != _LF):
            return self._fail(events, 400, "chunk data not followed by CRLF")
        if len(buf) == 1:
            return False
        self._consume(2)
        self._state = _CHUNK_SIZE
        return True

    def _parse_chunk_size(self, events: list[Event]) -> bool:
        """chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1, 7.1.1), rescanned as it grows."""
        size = _scan_chunk_size_line(self._buf, self._max_chunk_extension_size)
        if isinstance(size, str):
            return self._fail(events, 400, size)
        if size is None:
            return False
        line_size, chunk_size = size
        self._consume(line_size)
        if chunk_size == 0:
            self._state = _TRAILERS
        else:
            self._state = _CHUNK_DATA
            self._body_remaining = chunk_size
        return True

    def _parse_trailers(self, events: list[Event]) -> bool:
        """trailer-section CRLF (RFC 9112 7.1.2): field lines as in the head."""
        buf = self._buf
        while self._line_start < len(buf):
            pos = self._line_start
            if self._phase == _LINE_START and buf[pos] == _CR:
                if pos + 1 == len(buf):
                    return False
                if buf[pos + 1] != _LF:
                    return self._fail(events, 400, "bare CR in trailer section")
                self._consume(pos + 2)
                self._finish_message(events)
                return True
            if not self._scan_field_line(events, self._trailers, False):
                return False
        return False

    def _finish_message(self, events: list[Event]) -> None:
        events.append(EndOfMessage(self._trailers))
        request = self._request
        # RFC 9110 7.8: after an accepted upgrade the bytes that follow belong to the
        # new protocol, so stop until the connection decides.
        self._state = _STOPPED if request is not None and request.upgrade is not None else _HEAD
        self._reset_message()


# -- helpers without parser state -------------------------------------------------


def _skip(run: re.Pattern[bytes], buf: bytearray, start: int, stop: int) -> int:
    """The index of the first byte from start that is not in run's class (at most stop)."""
    match = run.match(buf, start, stop)
    return start if match is None else match.end()


def _split_target(method: bytes, target: bytes) -> tuple[bytes, bytes] | str:
    """(path, query) for the request-target's form (RFC 9112 3.2), or why it is invalid."""
    if method == b"CONNECT":
        # authority-form = uri-host ":" port, only with CONNECT (RFC 9112 3.2.3).
        if _CONNECT_AUTHORITY.fullmatch(target) is None:
            return "CONNECT needs an authority-form target"
        return target, b""
    first = target[0]
    if first == 0x2F:  # "/": origin-form = absolute-path [ "?" query ]
        path, _, query = target.partition(b"?")
        return path, query
    if first == 0x2A:  # "*"
        # asterisk-form, only with OPTIONS (RFC 9112 3.2.4).
        if target != b"*" or method != b"OPTIONS":
            return "asterisk-form target is only for OPTIONS"
        return b"*", b""
    match = _ABSOLUTE_FORM.fullmatch(target)
    if match is None:
        return "invalid request-target"
    if _ABSOLUTE_AUTHORITY.fullmatch(match.group(1)) is None:
        return "invalid authority in absolute-form target"
    return match.group(2) or b"/", match.group(3) or b""


def _apply_connection_fields(request: Request, is_http11: bool) -> None:
    """Set keep_alive, expect_continue, upgrade and host from the header list."""
    connection: set[bytes] = set()
    upgrade: bytes | None = None
    for name, value in request.headers:
        if name == b"connection":
            connection.update(token.strip(_OWS).lower() for token in value.split(b","))
        elif name == b"upgrade":
            upgrade = value.lower() if upgrade is None else upgrade + b", " + value.lower()
        elif name == b"expect":
            if value.lower() == b"100-continue":
                request.expect_continue = is_http11
        elif name == b"host":
            request.host = value
    # RFC 9112 9.3: persistence is the default in 1.1 and opt-in in 1.0.
    if is_http11:
        request.keep_alive = b"close" not in connection
        # RFC 9110 7.8: Upgrade counts only when Connection lists it; never in 1.0.
        if b"upgrade" in connection:
            request.upgrade = upgrade
    else:
        request.keep_alive = b"keep-alive" in connection and b"close" not in connection


def _scan_chunk_size_line(buf: bytearray, limit: int) -> tuple[int, int] | str | None:
    """Scan the chunk-size line at the start of buf.

    Returns (line size with CRLF, chunk size), None when more bytes are needed, or
    the reason the line is invalid. chunk-ext = *( BWS ";" BWS ext-name
    [ BWS "=" BWS ( token / quoted-string ) ] ); the extensions are ignored.
    """
    n = len(buf)
    hard = limit
    stop = min(n, hard)
    too_long = "chunk-size line too long"
    i = _skip(_HEX_RUN, buf, 0, stop)
    # More than 16 significant digits overflow too: 16**16 > 2**63 - 1.
    if i and int(buf[:i], 16) > _MAX_SIZE:
        return "chunk size too large"
    if i == n:
        return None
    if i == 0:
        return too_long if i >= hard else "invalid chunk size"
    chunk_size = int(buf[:i], 16)
    while True:
        ows_start = i
        i = _skip(_OWS_RUN, buf, i, stop)
        if i == n:
            return None
        c = buf[i]
        if c == _CR:
            if i > ows_start:
                return "whitespace before the end of a chunk-size line"
            break
        if i >= hard:
            return too_long
        if c != _SEMICOLON:
            return "bare LF in chunk-size line" if c == _LF else "invalid chunk size or extension"
        i = _skip(_OWS_RUN, buf, i + 1, stop)
        name_start = i
        i = _skip(_TCHAR_RUN, buf, i, stop)
        if i == n:
            return None
        if i == name_start:
            return too_long if _past_limit(buf, i, hard) else "invalid chunk extension name"
        name_end = i
        i = _skip(_OWS_RUN, buf, i, stop)
        if i == n:
            return None
        if i >= hard and buf[i] != _CR:
            return too_long
        if buf[i] != _EQUALS:
            i = name_end  # the BWS belongs to the next ";" (or fails before CR)
            continue
        i = _skip(_OWS_RUN, buf, i + 1, stop)
        if i == n:
            return None
        if _past_limit(buf, i, hard):
            return too_long
        if buf[i] == _DQUOTE:
            after_quote = _scan_quoted_string(buf, i + 1, stop, hard)
            if not isinstance(after_quote, int):
                return after_quote  # incomplete (None) or why it is invalid
            i = after_quote
        else:
            value_start = i
            i = _skip(_TCHAR_RUN, buf, i, stop)
            if i == value_start:
                if i == n:
                    return None
                return too_long if _past_limit(buf, i, hard) else "invalid chunk extension value"
    # buf[i] is the CR.
    if i + 1 == n:
        return None
    if buf[i + 1] != _LF:
        return "bare CR in chunk-size line"
    return i + 2, chunk_size


def _scan_quoted_string(buf: bytearray, i: int, stop: int, hard: int) -> int | str | None:
    """The index after the closing DQUOTE of a quoted-string whose text starts at i."""
    n = len(buf)
    while True:
        i = _skip(_QDTEXT_RUN, buf, i, stop)
        if i == n:
            return None
        if _past_limit(buf, i, hard):
            return "chunk-size line too long"
        c = buf[i]
        if c == _DQUOTE:
            return i + 1
        if c != _BACKSLASH:
            return "invalid quoted chunk extension value"
        i += 1
        if i == n:
            return None
        if _past_limit(buf, i, hard):
            return "chunk-size line too long"
        if _QUOTED_PAIR_CHAR.match(buf, i, i + 1) is None:
            return "invalid quoted chunk extension value"
        i += 1


def _method_end_error(c: int) -> str:
    if c == _LF:
        return "bare LF in request head"
    if c == _CR:
        return "request line without a target and version"
    return "invalid method"


def _past_limit(buf: bytearray, i: int, hard: int) -> bool:
    """Whether the byte at i makes the line too long: past the limit and not its CR."""
    return i >= hard and buf[i] != _CR


def _field_name_error(c: int) -> str:
    if c == _SP or c == _HTAB:
        # RFC 9112 5.1: a server MUST reject whitespace between name and colon.
        return "whitespace between field name and colon"
    if c == _LF:
        return "bare LF in request head"
    if c == _CR:
        return "field line without a colon"
    return "invalid character in field name"
