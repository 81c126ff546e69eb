# cython: language_level=3
"""HTTP/1.1 response serialization (RFC 9112, RFC 9110), compiled.

Theory of operation: a response head is written into one C buffer (on the stack,
moved to the heap only for heads over 2 KiB) in a single pass over the app's headers:
each header is validated with 256-entry lookup tables and copied, and the three that
decide framing and persistence (content-length, transfer-encoding, connection) are
noted on the way. The framing is then decided with the first-match rules of
fasthttpd/_serializer.pyi, the headers it needs are appended, and the head and the
first body part (framed) are copied once into the bytes object returned.

Status lines are prebuilt for every code from 100 to 999. The Date line lives in a
static buffer re-formatted when `time(NULL)` moves to another second: no timer, no
per-response formatting.

The choices the stub leaves open are made exactly as in the pure-Python fallback
(fasthttpd/http1/fallback_serializer.py, whose docstring lists them); the test suite
checks that both produce the same bytes.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongAndOverflow
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy
from libc.time cimport time, time_t

from fasthttpd.http1.framing cimport (
    C_FLAG_HEAD,
    C_FLAG_HTTP10,
    C_FLAG_KEEP_ALIVE,
    C_FLAG_TRAILERS,
    C_FRAMING_CHUNKED,
    C_FRAMING_CLOSE,
    C_FRAMING_LENGTH,
    C_FRAMING_NONE,
)

# Part of this module's API (_serializer.pyi).
from fasthttpd.http1.framing import FLAG_HEAD  # no-cython-lint
from fasthttpd.http1.framing import FLAG_HTTP10  # no-cython-lint
from fasthttpd.http1.framing import FLAG_KEEP_ALIVE  # no-cython-lint
from fasthttpd.http1.framing import FLAG_TRAILERS  # no-cython-lint
from fasthttpd.http1.framing import FRAMING_CHUNKED  # no-cython-lint
from fasthttpd.http1.framing import FRAMING_CLOSE  # no-cython-lint
from fasthttpd.http1.framing import FRAMING_LENGTH  # no-cython-lint
from fasthttpd.http1.framing import FRAMING_NONE  # no-cython-lint

# Header kinds the serializer looks at; as bits, they form the `skip` masks.
cdef enum:
    KIND_OTHER = 0
    KIND_CONTENT_LENGTH = 1
    KIND_TRANSFER_ENCODING = 2
    KIND_CONNECTION = 3

# What write_headers does with the framing headers.
cdef enum:
    MODE_RESPONSE = 0  # inspect them (and skip as asked)
    MODE_INFORMATIONAL = 1  # drop them unread (RFC 9110 8.6, RFC 9112 6.1)
    MODE_TRAILERS = 2  # reject them (RFC 9110 6.5.1)

# ASCII characters the writers and scanners use.
cdef enum:
    CH_HTAB = 0x09
    CH_LF = 0x0A
    CH_CR = 0x0D
    CH_SP = 0x20
    CH_COMMA = 0x2C
    CH_ZERO = 0x30
    CH_NINE = 0x39
    CH_COLON = 0x3A

cdef enum:
    STACK_BUFFER_SIZE = 2048
    IMF_FIXDATE_SIZE = 29  # "Sun, 06 Nov 1994 08:49:37 GMT"
    DATE_LINE_SIZE = 37  # "date: " IMF-fixdate CRLF
    MAX_CONTENT_LENGTH_DIGITS = 18  # fits in a signed 64-bit integer


from fasthttpd.errors import InvalidHeader  # part of this module's API
from fasthttpd.http1.reasons import REASON_PHRASES

# STATUS_LINES[code - 100]; an unknown code gets an empty reason ("HTTP/1.1 599 \r\n").
cdef list STATUS_LINES = [
    b"HTTP/1.1 %d %s\r\n" % (code, REASON_PHRASES.get(code, b"")) for code in range(100, 1000)
]


# ---------------------------------------------------------------------------------
# Character tables (RFC 9110 5.1, 5.5, 5.6.2)

cdef unsigned char TOKEN_CHAR[256]  # tchar
cdef unsigned char VALUE_CHAR[256]  # field-vchar, SP, HTAB, obs-text; no other CTL
cdef unsigned char LOWER[256]  # ASCII lower-casing


cdef void init_tables():
    cdef int c
    cdef bytes tchar_punctuation = b"!#$%&'*+-.^_`|~"
    for c in range(256):
        TOKEN_CHAR[c] = (
            (CH_ZERO <= c <= CH_NINE) or (ord("a") <= c <= ord("z")) or (ord("A") <= c <= ord("Z"))
        )
        VALUE_CHAR[c] = c == 0x09 or (0x20 <= c <= 0x7E) or c >= 0x80
        LOWER[c] = c + 32 if ord("A") <= c <= ord("Z") else c
    for c in tchar_punctuation:
        TOKEN_CHAR[c] = 1


init_tables()


cdef inline bint equals_lower(const unsigned char* data, const char* lowercase, Py_ssize_t size):
    """Whether `data` (size bytes) equals the lower-case literal, ignoring ASCII case."""
    cdef Py_ssize_t i
    for i in range(size):
        if LOWER[data[i]] != <unsigned char>lowercase[i]:
            return False
    return True


cdef inline int header_kind(const unsigned char* name, Py_ssize_t size):
    if size == 14 and equals_lower(name, b"content-length", 14):
        return KIND_CONTENT_LENGTH
    if size == 17 and equals_lower(name, b"transfer-encoding", 17):
        return KIND_TRANSFER_ENCODING
    if size == 10 and equals_lower(name, b"connection", 10):
        return KIND_CONNECTION
    return KIND_OTHER


cdef inline bint is_token(const unsigned char* data, Py_ssize_t size):
    cdef Py_ssize_t i
    if size == 0:
        return False
    for i in range(size):
        if not TOKEN_CHAR[data[i]]:
            return False
    return True


cdef inline bint is_field_value(const unsigned char* data, Py_ssize_t size):
    cdef Py_ssize_t i
    for i in range(size):
        if not VALUE_CHAR[data[i]]:
            return False
    return True


# ---------------------------------------------------------------------------------
# Output buffer: starts on the caller's stack, moves to the heap when it outgrows it.

cdef struct Buffer:
    char* data
    Py_ssize_t length
    Py_ssize_t capacity
    bint on_heap


cdef inline void buffer_init(Buffer* buf, char* stack, Py_ssize_t size):
    buf.data = stack
    buf.length = 0
    buf.capacity = size
    buf.on_heap = False


cdef inline void buffer_release(Buffer* buf):
    if buf.on_heap:
        free(buf.data)
        buf.on_heap = False


cdef int buffer_grow(Buffer* buf, Py_ssize_t extra) except -1:
    cdef Py_ssize_t capacity = buf.capacity * 2
    cdef char* data
    while capacity < buf.length + extra:
        capacity *= 2
    if buf.on_heap:
        data = <char*>realloc(buf.data, capacity)
    else:
        data = <char*>malloc(capacity)
        if data != NULL:
            memcpy(data, buf.data, buf.length)
    if data == NULL:
        raise MemoryError()
    buf.data = data
    buf.capacity = capacity
    buf.on_heap = True
    return 0


cdef inline int buffer_reserve(Buffer* buf, Py_ssize_t extra) except -1:
    if buf.length + extra > buf.capacity:
        buffer_grow(buf, extra)
    return 0


cdef inline int buffer_append(Buffer* buf, const char* data, Py_ssize_t size) except -1:
    buffer_reserve(buf, size)
    memcpy(buf.data + buf.length, data, size)
    buf.length += size
    return 0


cdef inline int buffer_append_bytes(Buffer* buf, bytes data) except -1:
    return buffer_append(buf, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


cdef inline Py_ssize_t format_decimal(char* out, long long value):
    """Writes value (>= 0) in decimal; returns the digit count (out holds at least 20)."""
    cdef char digits[24]
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t i
    while True:
        digits[count] = <char>(CH_ZERO + value % 10)
        count += 1
        value //= 10
        if value == 0:
            break
    for i in range(count):
        out[i] = digits[count - 1 - i]
    return count


cdef inline Py_ssize_t format_hex(char* out, Py_ssize_t value):
    """Writes value (> 0) in lower-case hex; returns the digit count (out holds 16)."""
    cdef const char* hex_digits = b"0123456789abcdef"
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t shifted = value
    cdef Py_ssize_t i
    while shifted:
        count += 1
        shifted >>= 4
    for i in range(count):
        out[count - 1 - i] = hex_digits[value & 15]
        value >>= 4
    return count


cdef int append_header_line(Buffer* buf, const char* name, Py_ssize_t name_size,
                            long long value) except -1:
    """Appends "name: <decimal value>\r\n"."""
    cdef char digits[24]
    cdef Py_ssize_t count = format_decimal(digits, value)
    buffer_reserve(buf, name_size + count + 2)
    buffer_append(buf, name, name_size)
    buffer_append(buf, digits, count)
    buffer_append(buf, b"\r\n", 2)
    return 0


# ---------------------------------------------------------------------------------
# Date and Server

cdef char DATE_LINE[DATE_LINE_SIZE]
memcpy(DATE_LINE, b"date: ", 6)
memcpy(DATE_LINE + 6 + IMF_FIXDATE_SIZE, b"\r\n", 2)
cdef time_t date_second = -1
cdef bint send_date = True
cdef bytes server_line = b"server: fasthttpd\r\n"


cdef inline void put_2_digits(char* out, int value):
    out[0] = <char>(CH_ZERO + value // 10)
    out[1] = <char>(CH_ZERO + value % 10)


cdef void format_imf_fixdate(char* out, time_t seconds):
    """Writes the 29 bytes of "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7).

    The civil date comes from the day count with the days-from-civil inverse (proleptic
    Gregorian, eras of 400 years), so no locale or gmtime() is involved.
    """
    cdef const char* weekdays = b"ThuFriSatSunMonTueWed"  # 1970-01-01 was a Thursday
    cdef const char* months = b"JanFebMarAprMayJunJulAugSepOctNovDec"
    cdef long long days = seconds // 86400
    cdef long long second_of_day = seconds % 86400
    cdef long long z = days + 719468
    cdef long long era = z // 146097
    cdef long long day_of_era = z - era * 146097
    cdef long long year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    cdef long long day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4
                                               - year_of_era // 100)
    cdef long long month_index = (5 * day_of_year + 2) // 153  # 0 = March
    cdef int day = <int>(day_of_year - (153 * month_index + 2) // 5 + 1)
    cdef int month = <int>(month_index + 3 if month_index < 10 else month_index - 9)
    cdef long long year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    cdef int weekday = <int>(days % 7)
    memcpy(out, weekdays + 3 * weekday, 3)
    out[3] = CH_COMMA
    out[4] = CH_SP
    put_2_digits(out + 5, day)
    out[7] = CH_SP
    memcpy(out + 8, months + 3 * (month - 1), 3)
    out[11] = CH_SP
    put_2_digits(out + 12, <int>(year // 100))
    put_2_digits(out + 14, <int>(year % 100))
    out[16] = CH_SP
    put_2_digits(out + 17, <int>(second_of_day // 3600))
    out[19] = CH_COLON
    put_2_digits(out + 20, <int>(second_of_day // 60 % 60))
    out[22] = CH_COLON
    put_2_digits(out + 23, <int>(second_of_day % 60))
    memcpy(out + 25, b" GMT", 4)


def _imf_fixdate(seconds):
    """The IMF-fixdate of Unix `seconds` (0 up to year 9999), for the tests."""
    cdef char out[IMF_FIXDATE_SIZE]
    if not 0 <= seconds <= 253402300799:
        raise ValueError(f"seconds out of range: {seconds!r}")
    format_imf_fixdate(out, <time_t>seconds)
    return PyBytes_FromStringAndSize(out, IMF_FIXDATE_SIZE)


cdef inline int append_date_and_server(Buffer* buf) except -1:
    global date_second
    cdef time_t now
    if send_date:
        now = time(NULL)
        if now != date_second:
            format_imf_fixdate(DATE_LINE + 6, now)
            date_second = now
        buffer_append(buf, DATE_LINE, DATE_LINE_SIZE)
    buffer_append_bytes(buf, server_line)
    return 0


def configure(*, server_header=b"fasthttpd", date_header=True):
    """Set the Server header (None: none) and whether to send Date, process-wide."""
    global server_line, send_date
    if server_header is None:
        server_line = b""
    else:
        if not isinstance(server_header, bytes) or not is_field_value(
            <const unsigned char*>PyBytes_AS_STRING(server_header),
            PyBytes_GET_SIZE(server_header),
        ):
            raise InvalidHeader(f"invalid server header value {server_header!r}")
        server_line = b"server: " + server_header + b"\r\n"
    send_date = bool(date_header)


# ---------------------------------------------------------------------------------
# Headers

cdef struct HeaderFacts:
    long long content_length  # -1: the app gave none
    bint chunked  # the app gave transfer-encoding: chunked
    bint close  # the app's connection header lists "close"
    bint keep_alive  # the app's connection header lists "keep-alive"


cdef int status_code(object status) except -1:
    cdef int overflow = 0
    cdef long code = 0
    if isinstance(status, int):
        code = PyLong_AsLongAndOverflow(status, &overflow)
    if overflow or not 100 <= code <= 999:
        raise InvalidHeader(f"invalid status code {status!r}: must be an int in 100..999")
    return <int>code


cdef int note_content_length(const unsigned char* value, Py_ssize_t size,
                             HeaderFacts* facts) except -1:
    cdef long long length = 0
    cdef Py_ssize_t i
    if facts.content_length != -1:
        raise InvalidHeader("repeated content-length header")
    if size == 0 or size > MAX_CONTENT_LENGTH_DIGITS:
        raise InvalidHeader(f"invalid content-length header value {value[:size]!r}")
    for i in range(size):
        if not (CH_ZERO <= value[i] <= CH_NINE):
            raise InvalidHeader(f"invalid content-length header value {value[:size]!r}")
        length = length * 10 + (value[i] - CH_ZERO)
    facts.content_length = length
    return 0


cdef void note_connection(const unsigned char* value, Py_ssize_t size, HeaderFacts* facts):
    """RFC 9110 7.6.1: a comma-separated list of case-insensitive options."""
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t end
    cdef Py_ssize_t next_start
    while start <= size:
        end = start
        while end < size and value[end] != CH_COMMA:
            end += 1
        next_start = end + 1
        while start < end and (value[start] == CH_SP or value[start] == CH_HTAB):
            start += 1
        while end > start and (value[end - 1] == CH_SP or value[end - 1] == CH_HTAB):
            end -= 1
        if end - start == 5 and equals_lower(value + start, b"close", 5):
            facts.close = True
        elif end - start == 10 and equals_lower(value + start, b"keep-alive", 10):
            facts.keep_alive = True
        start = next_start


cdef int write_headers(Buffer* buf, object headers, HeaderFacts* facts, int mode,
                       int skip) except -1:
    """Validates and appends "name: value\r\n" for each header not in the `skip` kinds."""
    cdef list items = headers if type(headers) is list else list(headers)
    cdef object item, name, value
    cdef const unsigned char* name_data
    cdef const unsigned char* value_data
    cdef Py_ssize_t name_size, value_size
    cdef int kind
    cdef char* out
    for item in items:
        if isinstance(item, tuple) and len(<tuple>item) == 2:
            name = (<tuple>item)[0]
            value = (<tuple>item)[1]
        elif isinstance(item, list) and len(<list>item) == 2:
            name = (<list>item)[0]
            value = (<list>item)[1]
        else:
            raise InvalidHeader(f"each header must be a (name, value) pair, not {item!r}")
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise InvalidHeader(f"header name and value must be bytes, not {item!r}")
        name_data = <const unsigned char*>PyBytes_AS_STRING(name)
        name_size = PyBytes_GET_SIZE(name)
        value_data = <const unsigned char*>PyBytes_AS_STRING(value)
        value_size = PyBytes_GET_SIZE(value)
        if not is_token(name_data, name_size):
            raise InvalidHeader(f"invalid header name {name!r}")
        if not is_field_value(value_data, value_size):
            raise InvalidHeader(f"invalid character in the value of header {name!r}")

        kind = header_kind(name_data, name_size)
        if kind != KIND_OTHER:
            if mode == MODE_INFORMATIONAL:
                if kind != KIND_CONNECTION:
                    continue
            elif mode == MODE_TRAILERS:
                if kind != KIND_CONNECTION:
                    raise InvalidHeader(f"header {name!r} is not allowed as a trailer")
            elif kind == KIND_CONTENT_LENGTH:
                note_content_length(value_data, value_size, facts)
            elif kind == KIND_TRANSFER_ENCODING:
                if not (value_size == 7 and equals_lower(value_data, b"chunked", 7)):
                    raise InvalidHeader(
                        f"invalid transfer-encoding header value {value!r}: only b'chunked'"
                    )
                facts.chunked = True
            else:
                note_connection(value_data, value_size, facts)
            if skip & (1 << kind):
                continue

        buffer_reserve(buf, name_size + value_size + 4)
        out = buf.data + buf.length
        memcpy(out, name_data, name_size)
        out += name_size
        out[0] = CH_COLON
        out[1] = CH_SP
        out += 2
        memcpy(out, value_data, value_size)
        out += value_size
        out[0] = CH_CR
        out[1] = CH_LF
        buf.length += name_size + value_size + 4
    return 0


# ---------------------------------------------------------------------------------
# The API (fasthttpd/_serializer.pyi)

def serialize_response(object status, object headers, object body, bint more_body, int flags):
    """Return (data, framing, content_length, keep_alive); see fasthttpd/_serializer.pyi."""
    cdef int code = status_code(status)
    if not isinstance(body, bytes):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")
    cdef char stack[STACK_BUFFER_SIZE]
    cdef Buffer buf
    cdef HeaderFacts facts
    cdef bint http10 = flags & C_FLAG_HTTP10
    # RFC 9110 8.6 and RFC 9112 6.1: 1xx and 204 carry neither length nor encoding.
    cdef bint bodiless_status = code < 200 or code == 204
    cdef int skip = 1 << KIND_TRANSFER_ENCODING
    cdef int framing
    cdef long long content_length = -1
    cdef bint keep_alive
    cdef Py_ssize_t body_size = PyBytes_GET_SIZE(body)
    cdef Py_ssize_t total
    cdef char size_hex[16]
    cdef Py_ssize_t hex_size = 0
    cdef bytes data
    cdef char* out

    if bodiless_status:
        skip |= 1 << KIND_CONTENT_LENGTH
    facts.content_length = -1
    facts.chunked = False
    facts.close = False
    facts.keep_alive = False
    buffer_init(&buf, stack, STACK_BUFFER_SIZE)
    try:
        buffer_append_bytes(&buf, <bytes>STATUS_LINES[code - 100])
        append_date_and_server(&buf)
        write_headers(&buf, headers, &facts, MODE_RESPONSE, skip)
        if facts.content_length != -1 and facts.chunked:
            raise InvalidHeader("content-length and transfer-encoding together")

        if bodiless_status or code == 304 or flags & C_FLAG_HEAD:
            framing = C_FRAMING_NONE
            if (flags & C_FLAG_HEAD and not bodiless_status and facts.content_length == -1
                    and not more_body and body_size):
                append_header_line(&buf, b"content-length: ", 16, body_size)
        elif facts.content_length != -1:
            if body_size > facts.content_length:
                raise InvalidHeader(
                    f"body part of {body_size} bytes exceeds content-length "
                    f"{facts.content_length}"
                )
            framing = C_FRAMING_LENGTH
            content_length = facts.content_length
        elif (facts.chunked or flags & C_FLAG_TRAILERS) and not http10:
            framing = C_FRAMING_CHUNKED
            buffer_append(&buf, b"transfer-encoding: chunked\r\n", 28)
        elif not more_body:
            framing = C_FRAMING_LENGTH
            content_length = body_size
            append_header_line(&buf, b"content-length: ", 16, body_size)
        elif not http10:
            framing = C_FRAMING_CHUNKED
            buffer_append(&buf, b"transfer-encoding: chunked\r\n", 28)
        else:
            framing = C_FRAMING_CLOSE

        keep_alive = (flags & C_FLAG_KEEP_ALIVE and not facts.close
                      and framing != C_FRAMING_CLOSE)
        if not keep_alive and not facts.close:
            buffer_append(&buf, b"connection: close\r\n", 19)
        elif keep_alive and http10 and not facts.keep_alive:
            buffer_append(&buf, b"connection: keep-alive\r\n", 24)
        buffer_append(&buf, b"\r\n", 2)

        if framing == C_FRAMING_NONE:
            body_size = 0
        total = buf.length + body_size
        if framing == C_FRAMING_CHUNKED and body_size:
            hex_size = format_hex(size_hex, body_size)
            total += hex_size + 4
        data = PyBytes_FromStringAndSize(NULL, total)
        out = PyBytes_AS_STRING(data)
        memcpy(out, buf.data, buf.length)
        out += buf.length
        if hex_size:
            memcpy(out, size_hex, hex_size)
            out[hex_size] = CH_CR
            out[hex_size + 1] = CH_LF
            out += hex_size + 2
        memcpy(out, PyBytes_AS_STRING(body), body_size)
        if hex_size:
            out[body_size] = CH_CR
            out[body_size + 1] = CH_LF
    finally:
        buffer_release(&buf)
    return data, framing, content_length, keep_alive


def serialize_informational(object status, object headers):
    """A 1xx head such as 100 Continue or 103 Early Hints (no Date, no Server)."""
    cdef int code = status_code(status)
    if not 100 <= code <= 199 or code == 101:
        # 101 changes the protocol; the driver writes it as a final response.
        raise InvalidHeader(f"status {code} is not an informational status other than 101")
    cdef char stack[STACK_BUFFER_SIZE]
    cdef Buffer buf
    cdef HeaderFacts facts
    buffer_init(&buf, stack, STACK_BUFFER_SIZE)
    try:
        buffer_append_bytes(&buf, <bytes>STATUS_LINES[code - 100])
        write_headers(&buf, headers, &facts, MODE_INFORMATIONAL, 0)
        buffer_append(&buf, b"\r\n", 2)
        return PyBytes_FromStringAndSize(buf.data, buf.length)
    finally:
        buffer_release(&buf)


def frame_chunk(object data):
    """One chunk: hex size, CRLF, data, CRLF. Empty data gives b"" (never a last chunk)."""
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    cdef char size_hex[16]
    cdef Py_ssize_t hex_size
    cdef bytes chunk
    cdef char* out
    if size == 0:
        return b""
    hex_size = format_hex(size_hex, size)
    chunk = PyBytes_FromStringAndSize(NULL, hex_size + size + 4)
    out = PyBytes_AS_STRING(chunk)
    memcpy(out, size_hex, hex_size)
    out += hex_size
    out[0] = CH_CR
    out[1] = CH_LF
    memcpy(out + 2, PyBytes_AS_STRING(data), size)
    out += size + 2
    out[0] = CH_CR
    out[1] = CH_LF
    return chunk


def last_chunk(object trailers=None):
    """The zero-size chunk, the trailer fields (validated like headers), the final CRLF."""
    if trailers is None:
        return b"0\r\n\r\n"
    cdef char stack[STACK_BUFFER_SIZE]
    cdef Buffer buf
    cdef HeaderFacts facts
    buffer_init(&buf, stack, STACK_BUFFER_SIZE)
    try:
        buffer_append(&buf, b"0\r\n", 3)
        write_headers(&buf, trailers, &facts, MODE_TRAILERS, 0)
        buffer_append(&buf, b"\r\n", 2)
        return PyBytes_FromStringAndSize(buf.data, buf.length)
    finally:
        buffer_release(&buf)


def serialize_error(object status, object body=b""):
    """A complete plain-text response with "connection: close", for errors the server answers."""
    cdef int code = status_code(status)
    if not 400 <= code <= 599:
        raise InvalidHeader(f"status {code} is not an error status (400..599)")
    if not isinstance(body, bytes):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")
    if not body:
        body = REASON_PHRASES.get(code, b"")
    cdef char stack[STACK_BUFFER_SIZE]
    cdef Buffer buf
    buffer_init(&buf, stack, STACK_BUFFER_SIZE)
    try:
        buffer_append_bytes(&buf, <bytes>STATUS_LINES[code - 100])
        append_date_and_server(&buf)
        buffer_append(&buf, b"content-type: text/plain; charset=utf-8\r\n", 41)
        append_header_line(&buf, b"content-length: ", 16, PyBytes_GET_SIZE(body))
        buffer_append(&buf, b"connection: close\r\n\r\n", 21)
        buffer_append_bytes(&buf, <bytes>body)
        return PyBytes_FromStringAndSize(buf.data, buf.length)
    finally:
        buffer_release(&buf)
