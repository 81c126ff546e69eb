# cython: language_level=3
"""HTTP/1.1 request parser, compiled: the API of _parser.pyi (read that first).

Theory of operation
-------------------
The parser is a state machine over byte regions. `feed(data)` parses straight from
`data` when nothing is buffered; whatever is left at the end (an incomplete line)
is copied into a small internal buffer. On the next feed the buffered line is
completed first (bytes up to the next LF are appended to it and parsed there) and
parsing then continues directly from the new `data`, so body bytes are never
copied into the buffer and the buffer holds at most one line (its size is bounded
by the line limits), except after an upgrade, when everything later is kept for
`resume()` / `take_unparsed()`.

Heads are parsed line by line as lines complete: the request line creates the
`Request`, each field line appends one (name, value) tuple and updates the few
facts the framing depends on (Content-Length, Transfer-Encoding, Host, Connection,
Expect, Upgrade) as C fields; the empty line closes the head, runs the checks that
need the whole head and emits the `Request`. Body bytes are emitted as they arrive
(slices of the received bytes, or the received object itself when it is all body).

Every scan is a C loop over a 256-entry class table, bounded by the end of the
data and by the line limit, so the outcome for any prefix of the input is the
same whether it arrives whole or split: a line either completes, fails at a byte
that is already there, or waits for more. A line is too long (414, 431, or 400
for a chunk-size line) as soon as the byte after `limit` content bytes is there
and is not the CR that ends the line.

Common header names, methods, versions, the empty bytes object and the
end-of-message without trailers are preallocated, so that a typical request
allocates only its target, its values and its tuples.

Errors are events, not exceptions: `_fail` appends an `HttpParseError` and the
parser is dead from then on.

One return convention: a method that reads a line or a part of one returns the
index after what it read, or NO_LINE (-1) when the line is not complete yet or
has failed (`_fail` recorded why, and the state is S_DEAD). A method that checks
what was read returns True to go on and False after a failure. Two helpers judge
the byte that ends a run of allowed bytes, as the fallback parser's `_line_end`
does: `_run_end` (too long, or the byte for the caller) and `_line_end` (the CRLF
that ends a line, or why not); `_crlf` checks the LF after a CR.
"""

from cpython.bytes cimport (
    PyBytes_AS_STRING,
    PyBytes_CheckExact,
    PyBytes_FromStringAndSize,
    PyBytes_GET_SIZE,
)
from cpython.list cimport PyList_New
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.stdlib cimport free, realloc
from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp, memcpy, memmove, memset

cimport cython


from fasthttpd.http1.framing cimport C_FRAMING_CHUNKED, C_FRAMING_LENGTH, C_FRAMING_NONE

# Part of this module's API (_parser.pyi).
from fasthttpd.http1.framing import FRAMING_CHUNKED  # no-cython-lint
from fasthttpd.http1.framing import FRAMING_LENGTH  # no-cython-lint
from fasthttpd.http1.framing import FRAMING_NONE  # no-cython-lint

DEFAULT_MAX_REQUEST_LINE_SIZE = 8190
DEFAULT_MAX_HEADER_COUNT = 100
DEFAULT_MAX_HEADER_SIZE = 8190
DEFAULT_MAX_CHUNK_EXTENSION_SIZE = 1024

# What a method that reads a line answers when it has no position to give: the
# line is incomplete, or it failed (the state is S_DEAD then).
cdef enum:
    NO_LINE = -1

# Parser states.
cdef enum:
    S_HEAD = 0  # reading a request head (or the empty lines before it)
    S_BODY_LENGTH = 1  # Content-Length body, body_remaining bytes to go
    S_CHUNK_SIZE = 2  # expecting a chunk-size line
    S_CHUNK_DATA = 3  # inside a chunk, body_remaining bytes to go
    S_CHUNK_CRLF = 4  # the CRLF after a chunk's data
    S_TRAILERS = 5  # trailer section after the last chunk
    S_STOPPED = 6  # after an upgrade request: waiting for resume()/take_unparsed()
    S_DEAD = 7  # after an error

# What a header field means to the framing; 0 for all the others.
cdef enum:
    K_OTHER = 0
    K_HOST = 1
    K_CONTENT_LENGTH = 2
    K_TRANSFER_ENCODING = 3
    K_CONNECTION = 4
    K_EXPECT = 5
    K_UPGRADE = 6

cdef enum:
    CR = 13
    LF = 10
    SP = 32
    HTAB = 9
    DQUOTE = 34
    SEMICOLON = 59
    EQUALS = 61
    BACKSLASH = 92
    # Longest header name looked up in the table of common names.
    MAX_KNOWN_NAME = 48

# 2**63 - 1: the largest Content-Length or chunk size accepted.
cdef long long MAX_SIZE = 0x7FFFFFFFFFFFFFFF


from fasthttpd.http1.errors import HttpParseError  # noqa: E402  (re-exported)
# The event classes are cimported (the .pxd), which binds no module attribute:
# export them by hand, as part of this module's API (_parser.pyi).
globals().update(Request=Request, EndOfMessage=EndOfMessage)


# ---------------------------------------------------------------------------
# Character classes (RFC 9110 5.6.2, 5.5; RFC 9112 3.2; RFC 3986 3.2.2).

cdef unsigned char TCHAR[256]  # token characters
cdef unsigned char VCHAR[256]  # 0x21-0x7E
cdef unsigned char FIELD_VCHAR[256]  # field-value: VCHAR, obs-text, SP, HTAB
cdef unsigned char LOWER[256]
cdef signed char HEXVAL[256]  # value of a hex digit, -1 otherwise
cdef unsigned char REG_NAME[256]  # unreserved / sub-delims (pct-encoded apart)
cdef unsigned char QDTEXT[256]  # quoted-string text (RFC 9110 5.6.4)
cdef unsigned char QPAIR[256]  # what may follow a backslash in a quoted-string


cdef void _init_tables():
    cdef int c
    cdef bytes tchar_extra = b"!#$%&'*+-.^_`|~"
    cdef bytes sub_delims = b"!$&'()*+,;="
    cdef bytes unreserved_extra = b"-._~"
    for c in range(256):
        TCHAR[c] = 0
        VCHAR[c] = 0x21 <= c <= 0x7E
        FIELD_VCHAR[c] = c == SP or c == HTAB or (0x21 <= c <= 0x7E) or c >= 0x80
        LOWER[c] = c + 32 if 0x41 <= c <= 0x5A else c
        HEXVAL[c] = -1
        REG_NAME[c] = 0
        QDTEXT[c] = c == HTAB or c == SP or c == 0x21 or (0x23 <= c <= 0x5B) \
            or (0x5D <= c <= 0x7E) or c >= 0x80
        QPAIR[c] = c == HTAB or c == SP or (0x21 <= c <= 0x7E) or c >= 0x80
    for c in range(ord("0"), ord("9") + 1):
        TCHAR[c] = 1
        REG_NAME[c] = 1
        HEXVAL[c] = c - ord("0")
    for c in range(ord("a"), ord("z") + 1):
        TCHAR[c] = 1
        TCHAR[c - 32] = 1
        REG_NAME[c] = 1
        REG_NAME[c - 32] = 1
    for c in range(6):
        HEXVAL[ord("a") + c] = 10 + c
        HEXVAL[ord("A") + c] = 10 + c
    for c in tchar_extra:
        TCHAR[c] = 1
    for c in sub_delims + unreserved_extra:
        REG_NAME[c] = 1


_init_tables()


# ---------------------------------------------------------------------------
# Preallocated objects.

cdef bytes EMPTY = b""
cdef bytes SLASH = b"/"
cdef bytes ASTERISK = b"*"
cdef str VERSION_10 = "1.0"
cdef str VERSION_11 = "1.1"
cdef bytes METHOD_CONNECT = b"CONNECT"
cdef bytes METHOD_OPTIONS = b"OPTIONS"
cdef tuple METHODS = (
    b"GET", b"PUT", b"POST", b"HEAD", b"PATCH", b"TRACE", b"DELETE", METHOD_OPTIONS,
    METHOD_CONNECT,
)

# (lower-cased name, kind); looked up by length, then memcmp.
cdef list _KNOWN_NAMES = [
    (b"host", K_HOST),
    (b"content-length", K_CONTENT_LENGTH),
    (b"transfer-encoding", K_TRANSFER_ENCODING),
    (b"connection", K_CONNECTION),
    (b"expect", K_EXPECT),
    (b"upgrade", K_UPGRADE),
]
for _name in (
    b"user-agent", b"accept", b"accept-encoding", b"accept-language", b"accept-charset",
    b"content-type", b"content-encoding", b"cookie", b"referer", b"origin",
    b"cache-control", b"pragma", b"upgrade-insecure-requests", b"sec-fetch-site",
    b"sec-fetch-mode", b"sec-fetch-user", b"sec-fetch-dest", b"sec-ch-ua",
    b"sec-ch-ua-mobile", b"sec-ch-ua-platform", b"sec-gpc", b"authorization",
    b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port",
    b"x-real-ip", b"x-request-id", b"x-requested-with", b"forwarded", b"via",
    b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since",
    b"if-range", b"range", b"te", b"trailer", b"dnt", b"priority", b"keep-alive",
    b"date", b"max-forwards", b"proxy-authorization", b"sec-websocket-key",
    b"sec-websocket-version", b"sec-websocket-extensions", b"sec-websocket-protocol",
    b"access-control-request-method", b"access-control-request-headers",
    b"content-md5", b"content-range", b"http2-settings", b"purpose", b"x-csrf-token",
):
    _KNOWN_NAMES.append((_name, K_OTHER))
_KNOWN_NAMES.sort(key=lambda entry: len(entry[0]))

cdef tuple KNOWN_NAMES = tuple(_KNOWN_NAMES)  # keeps the bytes objects alive
cdef Py_ssize_t KNOWN_COUNT = len(KNOWN_NAMES)
cdef enum:
    NAME_WORDS = MAX_KNOWN_NAME // 8  # a name as zero-padded 64-bit words
    NAME_SLOTS = 256  # hash table size (a power of two)
    MAX_KNOWN = 128
cdef PyObject* KNOWN_OBJ[MAX_KNOWN]
cdef uint64_t KNOWN_WORDS[MAX_KNOWN][NAME_WORDS]
cdef Py_ssize_t KNOWN_LENGTH[MAX_KNOWN]
cdef int KNOWN_KIND[MAX_KNOWN]
cdef int KNOWN_NEXT[MAX_KNOWN]  # next entry with the same hash, -1 at the end
cdef int NAME_SLOT[NAME_SLOTS]  # first entry for a hash, -1 when none


cdef inline unsigned int _name_hash(unsigned char first, unsigned char last,
                                    Py_ssize_t length) noexcept:
    return <unsigned int>(length * 7 + first * 3 + last) & (NAME_SLOTS - 1)


cdef void _init_known_names():
    cdef Py_ssize_t i, length
    cdef unsigned int h
    cdef bytes name
    assert KNOWN_COUNT <= MAX_KNOWN
    for i in range(NAME_SLOTS):
        NAME_SLOT[i] = -1
    for i in range(KNOWN_COUNT):
        name = KNOWN_NAMES[i][0]
        length = len(name)
        assert length <= MAX_KNOWN_NAME
        KNOWN_OBJ[i] = <PyObject*>name
        memset(KNOWN_WORDS[i], 0, sizeof(KNOWN_WORDS[i]))
        memcpy(KNOWN_WORDS[i], PyBytes_AS_STRING(name), length)
        KNOWN_LENGTH[i] = length
        KNOWN_KIND[i] = KNOWN_NAMES[i][1]
        h = _name_hash(name[0], name[length - 1], length)
        KNOWN_NEXT[i] = NAME_SLOT[h]
        NAME_SLOT[h] = i


_init_known_names()


cdef list NO_TRAILERS = []
cdef EndOfMessage END_OF_MESSAGE = EndOfMessage.__new__(EndOfMessage)
END_OF_MESSAGE.trailers = NO_TRAILERS


# ---------------------------------------------------------------------------
# Small helpers on byte ranges (no Python objects unless they return one).

cdef inline bytes _bytes(const unsigned char* p, Py_ssize_t length):
    if length == 0:
        return EMPTY
    return PyBytes_FromStringAndSize(<const char*>p, length)


cdef inline bytes _method(const unsigned char* p, Py_ssize_t length):
    """The interned object for the common methods, a new one otherwise."""
    cdef bytes m
    if 3 <= length <= 7:
        for m in METHODS:
            if PyBytes_GET_SIZE(m) == length and memcmp(PyBytes_AS_STRING(m), p, length) == 0:
                return m
    return PyBytes_FromStringAndSize(<const char*>p, length)


cdef uint64_t TAIL_MASK[9]  # TAIL_MASK[k]: a word whose first k bytes are 0xFF


cdef void _init_tail_masks():
    cdef const char* ones = b"\xff\xff\xff\xff\xff\xff\xff\xff"
    cdef int k
    for k in range(9):
        TAIL_MASK[k] = 0
        memcpy(&TAIL_MASK[k], ones, k)


_init_tail_masks()


cdef inline uint64_t _load_word(const unsigned char* p, Py_ssize_t readable) noexcept:
    """8 bytes from p, or the `readable` ones followed by zeros when fewer are there."""
    cdef uint64_t word = 0
    if readable >= 8:
        memcpy(&word, p, 8)
    else:
        memcpy(&word, p, readable)
    return word


cdef inline object _known_field_name(const unsigned char* p, Py_ssize_t length,
                                     Py_ssize_t readable, int* kind):
    """The interned lower-cased name when p[0:length] is a common name, else None.

    The comparison is a word at a time, with every byte OR-ed with 0x20: that
    lower-cases letters, and the common names hold only [a-z0-9-], whose other
    preimages are control bytes, which are ruled out first. So a match also
    proves that the name is a valid token. `readable`: how many bytes from p may
    be read (the rest of the line follows the name, so whole words can usually
    be loaded).
    """
    cdef uint64_t words[NAME_WORDS]
    cdef uint64_t raw, tail, controls = 0
    cdef Py_ssize_t k, count
    cdef int idx
    if length == 0 or length > MAX_KNOWN_NAME:
        return None
    count = (length + 7) >> 3
    for k in range(count):
        raw = _load_word(p + 8 * k, readable - 8 * k)
        if k == count - 1:
            # Bytes past the name: 0xFF for the control check, zero in the key.
            tail = TAIL_MASK[length - 8 * k]
            raw = (raw & tail) | ~tail
            words[k] = (raw | 0x2020202020202020ULL) & tail
        else:
            words[k] = raw | 0x2020202020202020ULL
        controls |= (raw - 0x2020202020202020ULL) & ~raw
    if controls & 0x8080808080808080ULL:
        return None
    idx = NAME_SLOT[_name_hash(p[0] | 0x20, p[length - 1] | 0x20, length)]
    while idx >= 0:
        if KNOWN_LENGTH[idx] == length:
            for k in range(count):
                if words[k] != KNOWN_WORDS[idx][k]:
                    break
            else:
                kind[0] = KNOWN_KIND[idx]
                return <object>KNOWN_OBJ[idx]
        idx = KNOWN_NEXT[idx]
    return None


cdef inline bytes _lower_bytes(const unsigned char* p, Py_ssize_t length):
    cdef bytes name = PyBytes_FromStringAndSize(NULL, length)
    cdef char* q = PyBytes_AS_STRING(name)
    cdef Py_ssize_t k
    for k in range(length):
        q[k] = LOWER[p[k]]
    return name


cdef extern from "Python.h":
    # PyList_SET_ITEM with a reference we own and hand over (Cython's own
    # declaration takes an `object` and would add a reference of its own).
    void _list_set_owned "PyList_SET_ITEM"(object, Py_ssize_t, PyObject*)


cdef extern from *:
    """
    /* Index of the lowest-addressed byte flagged (high bit set) in a mask made
       by the has-less-than word trick; exact for the first flagged byte on
       little-endian machines. Elsewhere 0, so the caller scans byte by byte. */
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    static inline Py_ssize_t fasthttpd_first_flagged_byte(uint64_t mask) {
        return (Py_ssize_t)(__builtin_ctzll(mask) >> 3);
    }
    #else
    static inline Py_ssize_t fasthttpd_first_flagged_byte(uint64_t mask) {
        (void)mask;
        return 0;
    }
    #endif
    """
    Py_ssize_t fasthttpd_first_flagged_byte(uint64_t mask) noexcept nogil


cdef inline Py_ssize_t _scan_field_value(const unsigned char* p, Py_ssize_t i,
                                         Py_ssize_t stop, Py_ssize_t n) noexcept:
    """The index of the first byte from i that is not field-value text, or stop.

    Eight bytes at a time (words may be read up to n, past stop) until a word has
    a control character (below 0x20, or 0x7F), which is where a typical value
    ends (its CR); the rest, and HTAB, byte by byte.
    """
    cdef uint64_t word, controls, deletes, flagged
    while i < stop and i + 8 <= n:
        memcpy(&word, p + i, 8)
        controls = (word - 0x2020202020202020ULL) & ~word
        deletes = word ^ 0x7F7F7F7F7F7F7F7FULL
        deletes = (deletes - 0x0101010101010101ULL) & ~deletes
        flagged = (controls | deletes) & 0x8080808080808080ULL
        if flagged:
            i += fasthttpd_first_flagged_byte(flagged)
            break
        i += 8
    if i > stop:
        i = stop
    while i < stop and FIELD_VCHAR[p[i]]:
        i += 1
    return i


cdef inline bint _equals_lower(const unsigned char* p, Py_ssize_t length, const char* lower,
                               Py_ssize_t lower_length) noexcept:
    """Case-insensitive comparison with a lower-case ASCII literal."""
    cdef Py_ssize_t k
    if length != lower_length:
        return False
    for k in range(length):
        if LOWER[p[k]] != <unsigned char>lower[k]:
            return False
    return True


cdef inline bint _all_tchar(const unsigned char* p, Py_ssize_t length) noexcept:
    """True when p[0:length] is a non-empty run of token characters."""
    cdef unsigned char every = length > 0
    cdef Py_ssize_t k
    for k in range(length):
        every &= TCHAR[p[k]]
    return every


cdef inline Py_ssize_t _skip_ows(const unsigned char* p, Py_ssize_t i, Py_ssize_t end) noexcept:
    while i < end and (p[i] == SP or p[i] == HTAB):
        i += 1
    return i


cdef inline Py_ssize_t _strip_ows_end(const unsigned char* p, Py_ssize_t start,
                                      Py_ssize_t end) noexcept:
    while end > start and (p[end - 1] == SP or p[end - 1] == HTAB):
        end -= 1
    return end


cdef bint _valid_ip_literal(const unsigned char* p, Py_ssize_t n) noexcept:
    """Inside the brackets: IPv6address characters, or IPvFuture (RFC 3986 3.2.2)."""
    cdef Py_ssize_t i = 1
    cdef unsigned char c
    if n == 0:
        return False
    if p[0] == c'v' or p[0] == c'V':
        # IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        while i < n and HEXVAL[p[i]] >= 0:
            i += 1
        if i == 1 or i >= n - 1 or p[i] != c'.':
            return False
        for i in range(i + 1, n):
            if not (REG_NAME[p[i]] or p[i] == c':'):
                return False
        return True
    for i in range(n):
        c = p[i]
        if not (HEXVAL[c] >= 0 or c == c':' or c == c'.'):
            return False
    return True


cdef bint _valid_host(const unsigned char* p, Py_ssize_t n, bint need_host,
                      bint need_port) noexcept:
    """uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2, 3.2.3).

    need_host: the host may not be empty (absolute-form, RFC 9110 4.2.1; CONNECT).
    need_port: the port is mandatory and non-empty (authority-form, RFC 9112 3.2.3).
    """
    cdef Py_ssize_t i = 0, port_start
    cdef const unsigned char* close
    cdef unsigned char c
    if n == 0:
        return not need_host and not need_port
    if p[0] == c'[':
        close = <const unsigned char*>memchr(p, c']', n)
        if close == NULL or not _valid_ip_literal(p + 1, close - p - 1):
            return False
        i = close - p + 1
    else:
        while i < n:
            c = p[i]
            if REG_NAME[c]:
                i += 1
            elif c == c'%' and i + 2 < n and HEXVAL[p[i + 1]] >= 0 and HEXVAL[p[i + 2]] >= 0:
                i += 3
            else:
                break
        if i == 0 and need_host:
            return False
    if i == n:
        return not need_port
    if p[i] != c':':
        return False
    i += 1
    port_start = i
    while i < n and c'0' <= p[i] <= c'9':
        i += 1
    return i == n and (i > port_start or not need_port)


# ---------------------------------------------------------------------------
# Judging the byte that ends a run of allowed bytes (as the fallback parser's
# _line_end does). Module functions, not methods, so that the C compiler inlines
# them; they record a failure on the parser they are given. `line` says which
# line is judged, for the error's status and reason (an int, not the reason
# itself, so that the common path loads nothing).

cdef enum:
    REQUEST_LINE = 0
    FIELD_LINE = 1  # in the head or the trailers
    HEAD_END = 2  # the empty line after the head (and before the request line)
    TRAILERS_END = 3
    CHUNK_SIZE_LINE = 4
    CHUNK_DATA_END = 5  # the CRLF after a chunk's data


cdef bint _too_long(RequestParser parser, int line) except -1:
    if line == REQUEST_LINE:
        return parser._fail(414, "request line too long")
    if line == FIELD_LINE:
        return parser._fail(431, "header field too large")
    return parser._fail(400, "chunk-size line too long")


cdef bint _bare_cr(RequestParser parser, int line) except -1:
    if line == TRAILERS_END:
        return parser._fail(400, "bare CR in trailer section")
    if line == CHUNK_SIZE_LINE:
        return parser._fail(400, "bare CR in chunk-size line")
    if line == CHUNK_DATA_END:
        return parser._fail(400, "chunk data not followed by CRLF")
    return parser._fail(400, "bare CR in request head")


cdef inline int _run_end(RequestParser parser, const unsigned char* p, Py_ssize_t i,
                         Py_ssize_t n, Py_ssize_t hard, int line) except? -1:
    """The byte at i, which ended a run of allowed bytes, for the caller to judge.

    NO_LINE when it has not arrived, or when the line is too long: `hard` is the
    index after the last content byte allowed, where only the line's CR may stand.
    """
    if i == n:
        return NO_LINE
    if i >= hard and p[i] != CR:
        _too_long(parser, line)
        return NO_LINE
    return p[i]


cdef inline Py_ssize_t _crlf(RequestParser parser, const unsigned char* p, Py_ssize_t i,
                             Py_ssize_t n, int line) except? -1:
    """p[i] is a CR: the index after the LF that must follow it, or NO_LINE."""
    if i + 1 == n:
        return NO_LINE
    if p[i + 1] != LF:
        _bare_cr(parser, line)
        return NO_LINE
    return i + 2


cdef inline Py_ssize_t _line_end(RequestParser parser, const unsigned char* p, Py_ssize_t i,
                                 Py_ssize_t n, Py_ssize_t hard, int line) except? -1:
    """The byte at i ended the last part of a request or field line: the index after
    the line's CRLF, or NO_LINE (not there yet; too long; a bare CR or LF; a byte
    the line's last part may not hold)."""
    cdef unsigned char c
    if i == n:
        return NO_LINE
    c = p[i]
    if c == CR:
        return _crlf(parser, p, i, n, line)
    if i >= hard:
        _too_long(parser, line)
    elif c == LF:
        parser._fail(400, "bare LF in request head")
    elif line == REQUEST_LINE:
        parser._fail(400, "invalid HTTP version")
    else:
        parser._fail(400, "control character in field value")
    return NO_LINE


cdef inline Py_ssize_t _chunk_size_digits(RequestParser parser, const unsigned char* p,
                                          Py_ssize_t pos, Py_ssize_t stop, Py_ssize_t n,
                                          long long* size) except? -1:
    """chunk-size = 1*HEXDIG: its value in size[0]; the index after it, or NO_LINE."""
    cdef Py_ssize_t i = pos, digits = 0
    cdef long long value = 0
    cdef int digit
    while i < stop:
        digit = HEXVAL[p[i]]
        if digit < 0:
            break
        if value > 0 or digit > 0:
            # At most 16 significant digits, and no more than MAX_SIZE.
            digits += 1
            if digits > 16 or value > (MAX_SIZE - digit) >> 4:
                parser._fail(400, "chunk size too large")
                return NO_LINE
        value = value * 16 + digit
        i += 1
    if i == n:
        return NO_LINE
    if i == pos:
        parser._fail(400, "invalid chunk size")
        return NO_LINE
    size[0] = value
    return i


cdef inline Py_ssize_t _chunk_extensions(RequestParser parser, const unsigned char* p,
                                         Py_ssize_t i, Py_ssize_t stop, Py_ssize_t n,
                                         Py_ssize_t hard) except? -1:
    """chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) from i.

    Returns the index of the CR that ends the line, or NO_LINE.
    """
    cdef Py_ssize_t ows_start, name_start, name_end
    cdef int c
    while True:
        ows_start = i
        i = _skip_ows(p, i, stop)
        c = _run_end(parser, p, i, n, hard, CHUNK_SIZE_LINE)
        if c == NO_LINE:
            return NO_LINE
        if c == CR:
            if i > ows_start:
                parser._fail(400, "whitespace before the end of a chunk-size line")
                return NO_LINE
            return i
        if c != SEMICOLON:
            if c == LF:
                parser._fail(400, "bare LF in chunk-size line")
            else:
                parser._fail(400, "invalid chunk size or extension")
            return NO_LINE
        i = _skip_ows(p, i + 1, stop)
        name_start = i
        while i < stop and TCHAR[p[i]]:
            i += 1
        c = _run_end(parser, p, i, n, hard, CHUNK_SIZE_LINE)
        if c == NO_LINE:
            return NO_LINE
        if i == name_start:
            parser._fail(400, "invalid chunk extension name")
            return NO_LINE
        name_end = i
        i = _skip_ows(p, i, stop)
        c = _run_end(parser, p, i, n, hard, CHUNK_SIZE_LINE)
        if c == NO_LINE:
            return NO_LINE
        if c == EQUALS:
            i = _chunk_extension_value(parser, p, _skip_ows(p, i + 1, stop), stop, n, hard)
            if i == NO_LINE:
                return NO_LINE
        else:
            i = name_end  # the BWS belongs to the next ";" or fails before the CR

cdef inline Py_ssize_t _chunk_extension_value(RequestParser parser, const unsigned char* p,
                                              Py_ssize_t i, Py_ssize_t stop, Py_ssize_t n,
                                              Py_ssize_t hard) except? -1:
    """ext-val = token / quoted-string (RFC 9110 5.6.4) from i.

    Returns the index after it, or NO_LINE.
    """
    cdef int c = _run_end(parser, p, i, n, hard, CHUNK_SIZE_LINE)
    if c == NO_LINE:
        return NO_LINE
    if c == DQUOTE:
        i += 1
        while True:
            while i < stop and QDTEXT[p[i]]:
                i += 1
            c = _run_end(parser, p, i, n, hard, CHUNK_SIZE_LINE)
            if c == NO_LINE:
                return NO_LINE
            if c == DQUOTE:
                return i + 1
            if c != BACKSLASH:
                parser._fail(400, "invalid quoted chunk extension value")
                return NO_LINE
            c = _run_end(parser, p, i + 1, n, hard, CHUNK_SIZE_LINE)
            if c == NO_LINE:
                return NO_LINE
            if not QPAIR[c]:
                parser._fail(400, "invalid quoted chunk extension value")
                return NO_LINE
            i += 2
    if not TCHAR[c]:
        parser._fail(400, "invalid chunk extension value")
        return NO_LINE
    while i < stop and TCHAR[p[i]]:
        i += 1
    return i


# ---------------------------------------------------------------------------

@cython.final
cdef class RequestParser:
    def __cinit__(self):
        self.buf = NULL
        self.buf_len = 0
        self.buf_capacity = 0
        self.fields = NULL
        self.field_len = 0
        self.field_capacity = 0

    def __init__(
        self,
        *,
        Py_ssize_t max_request_line_size=DEFAULT_MAX_REQUEST_LINE_SIZE,
        Py_ssize_t max_header_count=DEFAULT_MAX_HEADER_COUNT,
        Py_ssize_t max_header_size=DEFAULT_MAX_HEADER_SIZE,
        long long max_body_size=0,
        Py_ssize_t max_chunk_extension_size=DEFAULT_MAX_CHUNK_EXTENSION_SIZE,
    ):
        if (max_request_line_size < 1 or max_header_count < 0 or max_header_size < 1
                or max_body_size < 0 or max_chunk_extension_size < 1):
            raise ValueError("parser limits must be positive (max_body_size: 0 for none)")
        self.max_request_line_size = max_request_line_size
        self.max_header_count = max_header_count
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.max_chunk_extension_size = max_chunk_extension_size
        self.longest_line = max(max_request_line_size, max_header_size,
                                max_chunk_extension_size)
        self.state = S_HEAD
        self.consumed = 0
        self.section_bytes = 0
        self.leading_bytes = 0
        self._reset_message()

    def __dealloc__(self):
        free(self.buf)
        self._drop_fields()
        free(self.fields)

    # -- public API ---------------------------------------------------------

    def feed(self, data) -> list:
        """Parse as much as possible of what was buffered plus `data`."""
        cdef list events = []
        cdef const unsigned char* p
        cdef const unsigned char* lf
        cdef Py_ssize_t n, used, take
        if self.state == S_DEAD:
            return events
        if not PyBytes_CheckExact(data):
            data = bytes(data)
        n = PyBytes_GET_SIZE(data)
        if n == 0:
            return events
        p = <const unsigned char*>PyBytes_AS_STRING(data)
        if self.state == S_STOPPED:
            self._buf_append(p, n)
            return events
        self.events = events
        try:
            if self.buf_len == 0:
                used = self._run(p, n, data)
                if self.state != S_DEAD and used < n:
                    self._buf_append(p + used, n - used)
                return events
            # Complete the buffered line with the bytes up to the next LF; when
            # there is none within the longest line, the parser fails on the
            # buffer, since no line may be that long.
            take = min(n, self.longest_line + 2)
            lf = <const unsigned char*>memchr(p, LF, take)
            if lf != NULL:
                take = lf - p + 1
            self._buf_append(p, take)
            used = self._run(self.buf, self.buf_len, None)
            if self.state == S_DEAD:
                return events
            self._buf_drop(used)
            if take == n:
                return events
            if self.buf_len == 0:
                used = self._run(p + take, n - take, data)
                if self.state != S_DEAD and used < n - take:
                    self._buf_append(p + take + used, n - take - used)
            else:
                # Stopped after an upgrade with bytes still in the buffer: keep the rest.
                self._buf_append(p + take, n - take)
            return events
        finally:
            self.events = None
            if self.state == S_DEAD:
                self.buf_len = 0

    def resume(self) -> list:
        """Continue after a declined upgrade: parse the bytes kept since."""
        cdef list events = []
        cdef Py_ssize_t used
        if self.state != S_STOPPED:
            return events
        self.state = S_HEAD
        if self.buf_len == 0:
            return events
        self.events = events
        try:
            used = self._run(self.buf, self.buf_len, None)
            if self.state == S_DEAD:
                self.buf_len = 0
            else:
                self._buf_drop(used)
            return events
        finally:
            self.events = None

    def take_unparsed(self) -> bytes:
        """Return and forget the bytes not parsed yet (after an upgrade)."""
        cdef bytes unparsed = _bytes(self.buf, self.buf_len)
        self.buf_len = 0
        return unparsed

    @property
    def bytes_consumed(self) -> int:
        """Total bytes turned into events so far."""
        return self.consumed

    @property
    def buffered(self) -> int:
        """Bytes held: an incomplete head, chunk-size line, or bytes kept after an upgrade."""
        return self.buf_len + self.section_bytes

    @property
    def is_idle(self) -> bool:
        """True between messages with nothing buffered: no request is half-read."""
        return self.state == S_HEAD and self.buf_len == 0 and self.section_bytes == 0

    # -- the state machine --------------------------------------------------

    cdef Py_ssize_t _run(self, const unsigned char* p, Py_ssize_t n, object owner) except -1:
        """Parse p[0:n]; return how many bytes were used (the rest is incomplete).

        `owner`: the bytes object p points into, or None (the internal buffer).
        """
        cdef Py_ssize_t pos = 0, start, take, allowed
        cdef int state
        cdef object chunk
        while pos < n:
            state = self.state
            if state == S_HEAD:
                start = pos
                pos = self._parse_head(p, pos, n)
                if pos == start:
                    break
            elif state == S_BODY_LENGTH or state == S_CHUNK_DATA:
                take = n - pos
                if take > self.body_remaining:
                    take = <Py_ssize_t>self.body_remaining
                if state == S_CHUNK_DATA and self.max_body_size > 0 \
                        and self.body_total + take > self.max_body_size:
                    # Emit up to the limit, then refuse the rest.
                    allowed = <Py_ssize_t>(self.max_body_size - self.body_total)
                    if allowed > 0:
                        self.events.append(_bytes(p + pos, allowed))
                        self.consumed += allowed
                    self._fail(413, "chunked body larger than the limit")
                    break
                if owner is not None and take == PyBytes_GET_SIZE(owner):
                    chunk = owner  # all of the received object is body: no copy
                else:
                    chunk = PyBytes_FromStringAndSize(<const char*>p + pos, take)
                self.events.append(chunk)
                pos += take
                self.consumed += take
                self.body_remaining -= take
                self.body_total += take
                if self.body_remaining == 0:
                    if state == S_BODY_LENGTH:
                        self._finish_message()
                    else:
                        self.state = S_CHUNK_CRLF
            elif state == S_CHUNK_SIZE:
                take = self._parse_chunk_size(p, pos, n)
                if take == NO_LINE:
                    break
                pos = take
            elif state == S_CHUNK_CRLF:
                # RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
                if p[pos] != CR:
                    self._fail(400, "chunk data not followed by CRLF")
                    break
                take = _crlf(self, p, pos, n, CHUNK_DATA_END)
                if take == NO_LINE:
                    break
                pos = take
                self.consumed += 2
                self.state = S_CHUNK_SIZE
            elif state == S_TRAILERS:
                pos = self._parse_trailers(p, pos, n)
                if self.state == S_TRAILERS:
                    break
            else:  # S_STOPPED, S_DEAD
                break
        return pos

    # -- the head ----------------------------------------------------------

    cdef Py_ssize_t _parse_head(self, const unsigned char* p, Py_ssize_t pos,
                                Py_ssize_t n) except -2:
        """Parse complete head lines from pos; return the position after the last one."""
        cdef Py_ssize_t end
        while pos < n:
            if self.request is None:
                if p[pos] == CR:
                    # RFC 9112 2.2: empty lines before the request line are ignored,
                    # but they count toward the request-line limit so that they
                    # cannot go on forever.
                    end = _crlf(self, p, pos, n, HEAD_END)
                    if end == NO_LINE:
                        return pos
                    self.consumed += 2
                    self.leading_bytes += 2
                    if self.leading_bytes > self.max_request_line_size:
                        self._fail(414, "request line too long")
                        return end
                    pos = end
                    continue
                end = self._parse_request_line(p, pos, n)
            elif p[pos] == CR:
                end = _crlf(self, p, pos, n, HEAD_END)
                if end == NO_LINE:
                    return pos
                self.section_bytes += 2
                self._finish_head()
                return end
            else:
                end = self._parse_field_line(p, pos, n)
            if end == NO_LINE:
                return pos
            self.section_bytes += end - pos
            pos = end
        return pos

    cdef Py_ssize_t _parse_request_line(self, const unsigned char* p, Py_ssize_t pos,
                                        Py_ssize_t n) except? -1:
        """method SP request-target SP HTTP-version CRLF (RFC 9112 3).

        Returns the position after the CRLF, or NO_LINE.
        """
        cdef Py_ssize_t limit = self.max_request_line_size - self.leading_bytes
        cdef Py_ssize_t hard = pos + limit  # first byte past the allowed content
        cdef Py_ssize_t stop = n if n < hard else hard
        cdef Py_ssize_t i = pos, target_start, version_start, end
        cdef int c
        cdef const unsigned char* v

        while i < stop and TCHAR[p[i]]:
            i += 1
        c = _run_end(self, p, i, n, hard, REQUEST_LINE)
        if c == NO_LINE:
            return NO_LINE
        if c != SP or i == pos:
            if c == LF:
                self._fail(400, "bare LF in request head")
            elif c == CR:
                self._fail(400, "request line without a target and version")
            else:
                self._fail(400, "invalid method")
            return NO_LINE
        i += 1
        target_start = i
        while i < stop and VCHAR[p[i]]:
            i += 1
        c = _run_end(self, p, i, n, hard, REQUEST_LINE)
        if c == NO_LINE:
            return NO_LINE
        if c != SP:
            if c == CR or c == LF:
                self._fail(400, "no HTTP version in request line (HTTP/0.9)")
            else:
                self._fail(400, "invalid character in request-target")
            return NO_LINE
        if i == target_start:
            self._fail(400, "empty request-target")
            return NO_LINE
        i += 1
        version_start = i
        while i < stop and VCHAR[p[i]]:
            i += 1
        end = _line_end(self, p, i, n, hard, REQUEST_LINE)
        if end == NO_LINE:
            return NO_LINE

        # HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3), case-sensitive.
        v = p + version_start
        if (i - version_start != 8 or memcmp(v, b"HTTP/", 5) != 0
                or not (c'0' <= v[5] <= c'9') or v[6] != c'.' or not (c'0' <= v[7] <= c'9')):
            self._fail(400, "invalid HTTP version")
            return NO_LINE
        if v[5] != c'1':
            self._fail(505, "HTTP version not supported")
            return NO_LINE
        self.is_http11 = v[7] != c'0'
        if not self._start_request(p + pos, target_start - 1 - pos, p + target_start,
                                   version_start - 1 - target_start):
            return NO_LINE
        self.leading_bytes = 0
        return end

    cdef bint _start_request(self, const unsigned char* method, Py_ssize_t method_len,
                             const unsigned char* target, Py_ssize_t target_len) except -1:
        """Check the request-target's form (RFC 9112 3.2) and create the Request."""
        cdef Request request = Request.__new__(Request)
        cdef bytes method_obj = _method(method, method_len)
        cdef bytes target_obj
        cdef const unsigned char* question
        cdef const unsigned char* authority
        cdef const unsigned char* rest
        cdef const unsigned char* end = target + target_len
        cdef Py_ssize_t scheme_len

        self.is_connect = method_obj is METHOD_CONNECT
        if self.is_connect:
            # authority-form = uri-host ":" port, only with CONNECT (RFC 9112 3.2.3).
            if not _valid_host(target, target_len, True, True):
                self._fail(400, "CONNECT needs an authority-form target")
                return False
            target_obj = _bytes(target, target_len)
            request.path = target_obj
            request.query = EMPTY
        elif target[0] == c'/':
            # origin-form = absolute-path [ "?" query ]
            target_obj = SLASH if target_len == 1 else _bytes(target, target_len)
            question = <const unsigned char*>memchr(target, c'?', target_len)
            if question == NULL:
                request.path = target_obj
                request.query = EMPTY
            else:
                request.path = _bytes(target, question - target)
                request.query = _bytes(question + 1, end - question - 1)
        elif target[0] == c'*':
            # asterisk-form, only with OPTIONS (RFC 9112 3.2.4).
            if target_len != 1 or method_obj is not METHOD_OPTIONS:
                self._fail(400, "asterisk-form target is only for OPTIONS")
                return False
            target_obj = ASTERISK
            request.path = ASTERISK
            request.query = EMPTY
        else:
            # absolute-form: "http" or "https" URI (RFC 9112 3.2.2, RFC 9110 4.2).
            if target_len >= 7 and _equals_lower(target, 7, b"http://", 7):
                scheme_len = 7
            elif target_len >= 8 and _equals_lower(target, 8, b"https://", 8):
                scheme_len = 8
            else:
                self._fail(400, "invalid request-target")
                return False
            authority = target + scheme_len
            rest = authority
            while rest < end and rest[0] != c'/' and rest[0] != c'?':
                rest += 1
            if not _valid_host(authority, rest - authority, True, False):
                self._fail(400, "invalid authority in absolute-form target")
                return False
            target_obj = _bytes(target, target_len)
            question = <const unsigned char*>memchr(rest, c'?', end - rest)
            if question == NULL:
                request.path = _bytes(rest, end - rest) if rest < end else SLASH
                request.query = EMPTY
            else:
                request.path = _bytes(rest, question - rest) if rest < question else SLASH
                request.query = _bytes(question + 1, end - question - 1)

        request.method = method_obj
        request.target = target_obj
        request.http_version = VERSION_11 if self.is_http11 else VERSION_10
        request.framing = C_FRAMING_NONE
        request.content_length = -1
        request.upgrade = None
        request.host = EMPTY
        self.request = request
        return True

    cdef Py_ssize_t _parse_field_line(self, const unsigned char* p, Py_ssize_t pos,
                                      Py_ssize_t n) except? -1:
        """field-name ":" OWS field-value OWS CRLF (RFC 9112 5, RFC 9110 5.5).

        The line does not start with CR (the caller handles the empty line).
        Returns the position after the CRLF, or NO_LINE.
        """
        cdef Py_ssize_t hard = pos + self.max_header_size
        cdef Py_ssize_t stop = n if n < hard else hard
        cdef Py_ssize_t i = pos, name_end, value_start, value_end
        cdef const unsigned char* colon
        cdef int c, kind
        cdef object name
        cdef bytes value

        if self.field_count >= self.max_header_count:
            self._fail(431, "too many header fields")
            return NO_LINE
        c = p[pos]
        if c == SP or c == HTAB:
            # RFC 9112 5.2: obs-fold is rejected (and 2.2: whitespace before the
            # first field line).
            self._fail(400, "obs-fold or whitespace at the start of a field line")
            return NO_LINE
        # Find the colon; a common name checks itself in the lookup, another one
        # is checked without a branch per byte. The byte-by-byte scan decides
        # every other case (and which error it is).
        kind = K_OTHER
        name = None
        colon = <const unsigned char*>memchr(p + pos, c':', stop - pos)
        if colon != NULL:
            name = _known_field_name(p + pos, colon - (p + pos), n - pos, &kind)
        if name is not None or (colon != NULL and _all_tchar(p + pos, colon - (p + pos))):
            i = colon - p
        else:
            while i < stop and TCHAR[p[i]]:
                i += 1
        c = _run_end(self, p, i, n, hard, FIELD_LINE)
        if c == NO_LINE:
            return NO_LINE
        if c != c':':
            if c == SP or c == HTAB:
                # RFC 9112 5.1: MUST reject whitespace between name and colon.
                self._fail(400, "whitespace between field name and colon")
            elif c == LF:
                self._fail(400, "bare LF in request head")
            elif c == CR:
                self._fail(400, "field line without a colon")
            else:
                self._fail(400, "invalid character in field name")
            return NO_LINE
        if i == pos:
            self._fail(400, "empty field name")
            return NO_LINE
        name_end = i
        i = _skip_ows(p, i + 1, stop)
        value_start = i
        i = _scan_field_value(p, i, stop, n)
        if _line_end(self, p, i, n, hard, FIELD_LINE) == NO_LINE:
            return NO_LINE

        self.field_count += 1
        value_end = _strip_ows_end(p, value_start, i)
        if name is None:
            name = _lower_bytes(p + pos, name_end - pos)
        value = _bytes(p + value_start, value_end - value_start)
        self._push_field((name, value))
        if kind != K_OTHER and self.state == S_HEAD:
            if not self._apply_header(kind, p + value_start, value_end - value_start, value):
                return NO_LINE
        return i + 2  # after the CRLF

    cdef bint _apply_header(self, int kind, const unsigned char* v, Py_ssize_t vlen,
                            bytes value) except -1:
        """Record what a framing-related header says; False after a failure."""
        cdef Py_ssize_t i, start, end
        cdef long long length = 0
        cdef int digit
        if kind == K_HOST:
            # RFC 9112 3.2: exactly one Host, with a valid value.
            self.host_count += 1
            if self.host_count > 1:
                self._fail(400, "Host repeated")
                return False
            if not _valid_host(v, vlen, False, False):
                self._fail(400, "invalid Host")
                return False
            self.request.host = value
        elif kind == K_CONTENT_LENGTH:
            # RFC 9112 6.3: Content-Length = 1*DIGIT; a repeated or listed one is an
            # error here, even with equal values (the strict choice).
            self.content_length_count += 1
            if self.content_length_count > 1:
                self._fail(400, "Content-Length repeated")
                return False
            if vlen == 0:
                self._fail(400, "invalid Content-Length")
                return False
            for i in range(vlen):
                digit = v[i] - 48
                if digit < 0 or digit > 9:
                    self._fail(400, "invalid Content-Length")
                    return False
                if length > (MAX_SIZE - digit) // 10:
                    self._fail(400, "Content-Length too large")
                    return False
                length = length * 10 + digit
            self.content_length = length
        elif kind == K_TRANSFER_ENCODING:
            # transfer-coding list (RFC 9112 6.1, 7); codings combine across lines.
            self.te_seen = True
            i = 0
            while True:
                start = _skip_ows(v, i, vlen)
                end = start
                while end < vlen and TCHAR[v[end]]:
                    end += 1
                if end == start:
                    self._fail(400, "invalid Transfer-Encoding")
                    return False
                if _equals_lower(v + start, end - start, b"chunked", 7):
                    self.te_chunked_count += 1
                    self.te_last_is_chunked = True
                else:
                    self.te_other_count += 1
                    self.te_last_is_chunked = False
                i = _skip_ows(v, end, vlen)
                if i == vlen:
                    break
                if v[i] != c',':
                    self._fail(400, "invalid Transfer-Encoding")
                    return False
                i += 1
        elif kind == K_CONNECTION:
            i = 0
            while i < vlen:
                start = _skip_ows(v, i, vlen)
                end = start
                while end < vlen and v[end] != c',':
                    end += 1
                i = end + 1
                end = _strip_ows_end(v, start, end)
                if _equals_lower(v + start, end - start, b"close", 5):
                    self.conn_close = True
                elif _equals_lower(v + start, end - start, b"keep-alive", 10):
                    self.conn_keep_alive = True
                elif _equals_lower(v + start, end - start, b"upgrade", 7):
                    self.conn_upgrade = True
        elif kind == K_EXPECT:
            if _equals_lower(v, vlen, b"100-continue", 12):
                self.expect_continue = True
        elif kind == K_UPGRADE:
            value = value.lower()
            if self.upgrade_value is None:
                self.upgrade_value = value
            else:
                self.upgrade_value = self.upgrade_value + b", " + value
        return True

    cdef bint _finish_head(self) except -1:
        """The empty line ended the head: checks over the whole head, then framing.

        False after a failure.
        """
        cdef Request request = self.request
        if self.is_http11 and self.host_count == 0:
            self._fail(400, "missing Host")
            return False
        if self.te_seen:
            # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is a framing fault; with
            # Content-Length it is a smuggling attempt (6.3); only a final chunked is
            # a length we can find; we decode no other coding (501).
            if not self.is_http11:
                self._fail(400, "Transfer-Encoding in an HTTP/1.0 request")
                return False
            if self.content_length_count:
                self._fail(400, "both Content-Length and Transfer-Encoding")
                return False
            if not self.te_last_is_chunked:
                self._fail(400, "final transfer coding is not chunked")
                return False
            if self.te_chunked_count > 1:
                self._fail(400, "chunked applied more than once")
                return False
            if self.te_other_count:
                self._fail(501, "transfer coding not implemented")
                return False
            request.framing = C_FRAMING_CHUNKED
        elif self.content_length_count:
            if self.max_body_size > 0 and self.content_length > self.max_body_size:
                self._fail(413, "Content-Length larger than the limit")
                return False
            request.framing = C_FRAMING_LENGTH
            request.content_length = self.content_length
        if self.is_http11:
            request.keep_alive = not self.conn_close
            request.expect_continue = self.expect_continue
            if self.conn_upgrade and self.upgrade_value is not None:
                request.upgrade = self.upgrade_value
        else:
            request.keep_alive = self.conn_keep_alive and not self.conn_close
        request.headers = self._take_fields()
        self.events.append(request)
        self.consumed += self.section_bytes
        self.section_bytes = 0
        if request.framing == C_FRAMING_CHUNKED:
            self.state = S_CHUNK_SIZE
        elif request.framing == C_FRAMING_LENGTH and self.content_length > 0:
            self.state = S_BODY_LENGTH
            self.body_remaining = self.content_length
        else:
            self._finish_message()
        return True

    # -- chunked framing ---------------------------------------------------

    cdef Py_ssize_t _parse_chunk_size(self, const unsigned char* p, Py_ssize_t pos,
                                      Py_ssize_t n) except? -1:
        """chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1, 7.1.1).

        Returns the position after the CRLF, or NO_LINE. The extensions are checked
        and ignored; the line's limit is max_chunk_extension_size.
        """
        cdef Py_ssize_t hard = pos + self.max_chunk_extension_size
        cdef Py_ssize_t stop = n if n < hard else hard
        cdef long long size = 0
        cdef Py_ssize_t i = _chunk_size_digits(self, p, pos, stop, n, &size)
        if i == NO_LINE:
            return NO_LINE
        if p[i] != CR:  # extensions are rare: skip their loop when there are none
            i = _chunk_extensions(self, p, i, stop, n, hard)  # the index of the CR
            if i == NO_LINE:
                return NO_LINE
        i = _crlf(self, p, i, n, CHUNK_SIZE_LINE)
        if i == NO_LINE:
            return NO_LINE
        self.consumed += i - pos
        if size == 0:
            self.state = S_TRAILERS
        else:
            self.state = S_CHUNK_DATA
            self.body_remaining = size
        return i

    cdef Py_ssize_t _parse_trailers(self, const unsigned char* p, Py_ssize_t pos,
                                    Py_ssize_t n) except -2:
        """trailer-section CRLF (RFC 9112 7.1.2): field lines as in the head.

        Returns the position after the last complete line.
        """
        cdef Py_ssize_t end
        while pos < n:
            if p[pos] == CR:
                end = _crlf(self, p, pos, n, TRAILERS_END)
                if end == NO_LINE:
                    return pos
                self.section_bytes += 2
                self._finish_message()
                return end
            end = self._parse_field_line(p, pos, n)
            if end == NO_LINE:
                return pos
            self.section_bytes += end - pos
            pos = end
        return pos

    cdef int _finish_message(self) except -1:
        cdef EndOfMessage end_of_message
        if self.field_len == 0:
            self.events.append(END_OF_MESSAGE)
        else:
            end_of_message = EndOfMessage.__new__(EndOfMessage)
            end_of_message.trailers = self._take_fields()
            self.events.append(end_of_message)
        self.consumed += self.section_bytes
        self.section_bytes = 0
        # RFC 9110 7.8: after an accepted upgrade the bytes that follow belong to
        # the new protocol, so stop until the connection decides.
        self.state = S_STOPPED if self.request.upgrade is not None else S_HEAD
        self._reset_message()
        return 0

    cdef void _reset_message(self) noexcept:
        self.request = None
        self.is_http11 = False
        self.is_connect = False
        self.field_count = 0
        self.host_count = 0
        self.content_length_count = 0
        self.content_length = -1
        self.te_seen = False
        self.te_last_is_chunked = False
        self.te_chunked_count = 0
        self.te_other_count = 0
        self.conn_close = False
        self.conn_keep_alive = False
        self.conn_upgrade = False
        self.expect_continue = False
        self.upgrade_value = None
        self.body_remaining = 0
        self.body_total = 0

    cdef bint _fail(self, int status, str reason) except -1:
        """The request cannot be served: emit the error; the parser is dead."""
        self.state = S_DEAD
        self.section_bytes = 0
        self._drop_fields()
        self.events.append(HttpParseError(status, reason))
        return False

    # -- the field lines of the head or trailers being read ------------------
    # Kept in a C array and turned into a list of the exact size at the end of
    # the section: cheaper than growing a list one append at a time.

    cdef int _push_field(self, tuple field) except -1:
        cdef Py_ssize_t capacity
        cdef PyObject** grown
        if self.field_len == self.field_capacity:
            capacity = max(16, 2 * self.field_capacity)
            grown = <PyObject**>realloc(self.fields, capacity * sizeof(PyObject*))
            if grown == NULL:
                raise MemoryError()
            self.fields = grown
            self.field_capacity = capacity
        Py_INCREF(field)
        self.fields[self.field_len] = <PyObject*>field
        self.field_len += 1
        return 0

    cdef list _take_fields(self):
        cdef list fields = PyList_New(self.field_len)
        cdef Py_ssize_t k
        for k in range(self.field_len):
            _list_set_owned(fields, k, self.fields[k])
        self.field_len = 0
        return fields

    cdef void _drop_fields(self) noexcept:
        cdef Py_ssize_t k
        for k in range(self.field_len):
            Py_DECREF(<object>self.fields[k])
        self.field_len = 0

    # -- the buffer ---------------------------------------------------------

    cdef int _buf_append(self, const unsigned char* p, Py_ssize_t n) except -1:
        cdef Py_ssize_t needed = self.buf_len + n
        cdef Py_ssize_t capacity
        cdef unsigned char* grown
        if needed > self.buf_capacity:
            capacity = max(needed, 2 * self.buf_capacity, 256)
            grown = <unsigned char*>realloc(self.buf, capacity)
            if grown == NULL:
                raise MemoryError()
            self.buf = grown
            self.buf_capacity = capacity
        memcpy(self.buf + self.buf_len, p, n)
        self.buf_len = needed
        return 0

    cdef void _buf_drop(self, Py_ssize_t n) noexcept:
        if n >= self.buf_len:
            self.buf_len = 0
        elif n > 0:
            memmove(self.buf, self.buf + n, self.buf_len - n)
            self.buf_len -= n
