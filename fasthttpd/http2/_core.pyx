# cython: language_level=3
"""ServerConnection: the server side of one HTTP/2 connection, sans-IO (RFC 9113).

Theory of operation. `receive(data)` walks the frames of a received chunk in place
(the 9-byte header read from the buffer, no object per frame), keeps the tail of
an incomplete frame for the next chunk, and answers what the protocol itself
answers (SETTINGS and PING acknowledgements, RST_STREAM for stream errors, GOAWAY
for connection errors) by serializing frames into one output buffer. What the
application layer must hear about it reports by calling the hook methods
(`on_request`, `on_data`, `on_stream_reset`, `on_window_update`, `on_goaway`),
which the driver overrides; nothing else leaves the core. The driver sends with
`send_headers`, `send_data`, `reset_stream`, `acknowledge` and `goaway`, and
takes the bytes to write with `take_output()`, once per flush: one bytes object,
or a list for writelines when large DATA payloads were left beside the buffer as
slices of the app's body instead of being copied (`data_to_send()` joins it).

Stream states (RFC 9113 5.1), for streams the client opens (odd ids, increasing):

    idle --HEADERS--> open --END_STREAM received--> half-closed (remote)
    open --END_STREAM sent--> half-closed (local)
    half-closed (either) --the other END_STREAM--> closed
    any --RST_STREAM sent or received--> closed

`stream_states` holds the streams not closed; `recently_closed` remembers how the last
128 closed ones ended, since the error for a late frame depends on it
(5.1: STREAM_CLOSED after a close, nothing at all after our own RST_STREAM).
An id at or below the highest seen that is in neither was never opened: it was
implicitly closed by a higher one (5.1.1).

Errors: `connection_error` queues GOAWAY and marks the connection closed
(`receive` then returns 1 and reads nothing more); `stream_error` queues
RST_STREAM and forgets the stream. Every case follows RFC 9113 6.x and 8.1.1;
the request head checks of 8.2 and 8.3 run in one pass over the decoded list,
byte tables instead of regular expressions.

Decisions where the RFC leaves a choice (h2spec accepts each):
- a stream beyond SETTINGS_MAX_CONCURRENT_STREAMS is refused (RST_STREAM
  REFUSED_STREAM, safe to retry: 5.1.2), not a connection error;
- DATA beyond a stream's window is a connection FLOW_CONTROL_ERROR (6.9.1 allows
  either); DATA or HEADERS again on a half-closed (remote) stream is a stream
  error STREAM_CLOSED;
- a header list over SETTINGS_MAX_HEADER_LIST_SIZE ends the connection with
  ENHANCE_YOUR_CALM: the decoder stopped midway, so its table no longer matches
  the client's (the HPACK bomb guard); a header block in more than 64
  CONTINUATION frames ends it with PROTOCOL_ERROR (as h2 does);
- no SETTINGS acknowledgement timeout (6.5.3 makes it optional): until the
  client acknowledges our SETTINGS, DATA is allowed up to the default window.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer, PyBuffer_Release
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memcmp, memcpy

from fasthttpd.driver import H2_PREFACE as PREFACE  # the client connection preface (RFC 9113 3.4)
from fasthttpd.http2._hpack import HeaderListTooLarge, HpackError

from fasthttpd.http2._hpack cimport Decoder, Encoder

# Python names for the error codes (RFC 9113 7), for the driver's callers and tests.
NO_ERROR = 0
PROTOCOL_ERROR = 1
INTERNAL_ERROR = 2
FLOW_CONTROL_ERROR = 3
STREAM_CLOSED = 5
FRAME_SIZE_ERROR = 6
REFUSED_STREAM = 7
CANCEL = 8
COMPRESSION_ERROR = 9
ENHANCE_YOUR_CALM = 11

cdef enum:
    MAX_WINDOW = 0x7FFFFFFF          # 2^31 - 1 (RFC 9113 6.9.1)
    DEFAULT_WINDOW = 65535
    DEFAULT_FRAME_SIZE = 16384       # ours; we never raise SETTINGS_MAX_FRAME_SIZE
    MAX_FRAME_SIZE_LIMIT = 0xFFFFFF
    MAX_CONTINUATIONS = 64           # a header block in more frames is a flood (as h2)
    RECENTLY_CLOSED_LIMIT = 128      # bounded per-connection memory; older ids count as closed
    OUT_KEEP = 16384                 # output buffer kept between flushes
    BESIDE_DATA = 8192               # DATA payloads this large are written beside the buffer
    SETTINGS_HEADER_TABLE_SIZE = 1
    SETTINGS_ENABLE_PUSH = 2
    SETTINGS_MAX_CONCURRENT_STREAMS = 3
    SETTINGS_INITIAL_WINDOW_SIZE = 4
    SETTINGS_MAX_FRAME_SIZE = 5
    SETTINGS_MAX_HEADER_LIST_SIZE = 6
    SETTINGS_ENABLE_CONNECT_PROTOCOL = 8   # RFC 8441 3

# Field names sorted by what the request checks do with them.
cdef enum:
    NAME_INVALID = -1
    NAME_PLAIN = 0
    NAME_CONNECTION_SPECIFIC = 1     # RFC 9113 8.2.2: the request is malformed
    NAME_TE = 2
    NAME_HOST = 3
    NAME_CONTENT_LENGTH = 4
    NAME_COOKIE = 5

# RFC 9113 8.2.1: no 0x00-0x20, no upper case, no 0x7f-0xff, no colon in a name.
cdef bint NAME_BYTE_OK[256]
# No NUL, CR or LF in a value.
cdef bint VALUE_BYTE_BAD[256]
# RFC 9110 5.6.2 token characters (a method is a token).
cdef bint TOKEN_BYTE[256]


cdef _init_tables():
    cdef int c
    for c in range(256):
        NAME_BYTE_OK[c] = 0x20 < c < 0x7f and not (0x41 <= c <= 0x5a) and c != 0x3a
        VALUE_BYTE_BAD[c] = c == 0 or c == 0x0d or c == 0x0a
        TOKEN_BYTE[c] = (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5a or 0x61 <= c <= 0x7a
                         or c in b"!#$%&'*+-.^_`|~")


_init_tables()

_METHOD_NAMES = {m.encode(): m for m in
                 ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT",
                  "TRACE")}


cdef inline int _name_kind(bytes name):
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(name)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(name), i
    if n == 0:
        return NAME_INVALID
    for i in range(n):
        if not NAME_BYTE_OK[s[i]]:
            return NAME_INVALID
    if n == 2:
        return NAME_TE if s[0] == b't' and s[1] == b'e' else NAME_PLAIN
    if n == 4:
        return NAME_HOST if memcmp(s, b"host", 4) == 0 else NAME_PLAIN
    if n == 6:
        return NAME_COOKIE if memcmp(s, b"cookie", 6) == 0 else NAME_PLAIN
    if n == 7:
        return NAME_CONNECTION_SPECIFIC if memcmp(s, b"upgrade", 7) == 0 else NAME_PLAIN
    if n == 10:
        if memcmp(s, b"connection", 10) == 0 or memcmp(s, b"keep-alive", 10) == 0:
            return NAME_CONNECTION_SPECIFIC
        return NAME_PLAIN
    if n == 14:
        return NAME_CONTENT_LENGTH if memcmp(s, b"content-length", 14) == 0 else NAME_PLAIN
    if n == 16:
        return (NAME_CONNECTION_SPECIFIC if memcmp(s, b"proxy-connection", 16) == 0
                else NAME_PLAIN)
    if n == 17:
        return (NAME_CONNECTION_SPECIFIC if memcmp(s, b"transfer-encoding", 17) == 0
                else NAME_PLAIN)
    return NAME_PLAIN


cdef inline bint _value_ok(bytes value):
    # RFC 9113 8.2.1: no NUL, CR or LF; no leading or trailing SP or HTAB.
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(value)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(value), i
    if n == 0:
        return True
    if s[0] == 0x20 or s[0] == 0x09 or s[n - 1] == 0x20 or s[n - 1] == 0x09:
        return False
    for i in range(n):
        if VALUE_BYTE_BAD[s[i]]:
            return False
    return True


cdef inline bint _is_token(bytes value):
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(value)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(value), i
    if n == 0:
        return False
    for i in range(n):
        if not TOKEN_BYTE[s[i]]:
            return False
    return True


cdef inline long long _digits(bytes value):
    # A content-length value: digits only; -1 when not a number.
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(value)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(value), i
    cdef long long result = 0
    if n == 0 or n > 18:
        return -1
    for i in range(n):
        if not (0x30 <= s[i] <= 0x39):
            return -1
        result = result * 10 + (s[i] - 0x30)
    return result


cdef inline unsigned int _u32(const unsigned char* p):
    return ((<unsigned int>p[0] << 24) | (<unsigned int>p[1] << 16)
            | (<unsigned int>p[2] << 8) | p[3])


cdef class StreamState:
    """One stream's protocol state; `handle` is the driver's object for it."""

    def __init__(self, unsigned int stream_id):
        self.stream_id = stream_id
        self.state = ST_OPEN
        self.content_length = -1

    def __repr__(self):
        return f"<StreamState {self.stream_id} state={self.state}>"


cdef class ServerConnection:
    """The protocol state of one HTTP/2 server connection; see the module docstring."""

    def __init__(self, unsigned int max_concurrent_streams=100,
                 long long initial_window_size=65535,
                 long long connection_window_size=65535,
                 Py_ssize_t max_header_list_size=65536):
        self.max_concurrent_streams = max_concurrent_streams
        self.local_initial_window = initial_window_size
        self.local_connection_window = max(connection_window_size, DEFAULT_WINDOW)
        self.max_header_list_size = max_header_list_size
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_max_frame_size = DEFAULT_FRAME_SIZE
        self.preface_left = len(PREFACE)
        self.expect_settings = True
        self.stream_states = {}
        self.recently_closed = {}
        self.send_window = DEFAULT_WINDOW
        self.recv_window = DEFAULT_WINDOW
        self.inbuf = bytearray()
        self.enable_connect_protocol = True
        self.refuse_above = 0xFFFFFFFF
        self.decoder = Decoder(4096, max_header_list_size)
        self.encoder = Encoder(4096)
        self.error_reason = ""
        self.out_cap = 4096
        self.out = <char*>PyMem_Malloc(self.out_cap)
        self.pieces = None
        if self.out == NULL:
            raise MemoryError()

    def __dealloc__(self):
        if self.out != NULL:
            PyMem_Free(self.out)
            self.out = NULL

    # Hooks (the driver overrides them).
    cpdef on_request(self, StreamState s, list headers, bint end_stream):
        """A valid request head opened stream `s`; the head is in req_* (and headers)."""

    cpdef on_data(self, StreamState s, bytes data, Py_ssize_t flow_length, bint end_stream):
        """Body bytes (possibly none) and whether the request ended with them."""

    cpdef on_stream_reset(self, StreamState s, int code, bint by_client):
        """An open stream ended abnormally: reset by the client, or by us for its error."""

    cpdef on_window_update(self, StreamState s):
        """The client opened a send window: the connection's (s is None) or a stream's."""

    cpdef on_goaway(self, int code):
        """The client sent GOAWAY."""

    # Starting.
    cpdef start(self):
        """Queue our connection preface: SETTINGS and the connection window."""
        if self.started:
            return
        self.started = True
        cdef unsigned char payload[30]
        cdef int n = 0
        n += _setting(payload + n, SETTINGS_MAX_CONCURRENT_STREAMS, self.max_concurrent_streams)
        n += _setting(payload + n, SETTINGS_INITIAL_WINDOW_SIZE, self.local_initial_window)
        n += _setting(payload + n, SETTINGS_MAX_HEADER_LIST_SIZE, self.max_header_list_size)
        if self.enable_connect_protocol:
            n += _setting(payload + n, SETTINGS_ENABLE_CONNECT_PROTOCOL, 1)
        n += _setting(payload + n, SETTINGS_ENABLE_PUSH, 0)
        self._frame_header(n, FT_SETTINGS, 0, 0)
        self._put(<char*>payload, n)
        if self.local_connection_window > DEFAULT_WINDOW:
            self._window_update_frame(0, self.local_connection_window - DEFAULT_WINDOW)
            self.recv_window = self.local_connection_window

    cpdef apply_upgrade_settings(self, bytes payload):
        """HTTP2-Settings of an h2c upgrade (RFC 7540 3.2.1): applied, never acknowledged.

        Raises ValueError when the payload is not a valid SETTINGS payload.
        """
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
        if len(payload) % 6:
            raise ValueError("HTTP2-Settings is not a SETTINGS payload")
        self.expect_settings = False  # they count as the client's first SETTINGS...
        if self._settings(p, 0, len(payload), 0, 0) or self.closed:
            raise ValueError(self.error_reason or "invalid HTTP2-Settings")
        self.acks -= 1  # ...and are not acknowledged: take back the queued ACK
        self.out_len -= 9
        self.expect_settings = True  # the preface still carries a SETTINGS frame

    cpdef StreamState open_upgrade_stream(self):
        """Stream 1, half-closed (remote): the HTTP/1.1 request that asked for h2c."""
        cdef StreamState s = StreamState(1)
        s.state = ST_HALF_CLOSED_REMOTE
        s.send_window = self.peer_initial_window
        s.recv_window = self.local_initial_window
        self.stream_states[1] = s
        self.highest_stream_id = 1
        return s

    # Receiving.
    cpdef int receive(self, bytes data) except -1:
        """Process a received chunk; 1 once the connection is dead (GOAWAY queued)."""
        if self.closed:
            return 1
        if self.inbuf:
            # Appended (amortized linear, however small the chunks), and parsed only
            # once the frame it holds is complete.
            self.inbuf += data
            if len(self.inbuf) < self.inbuf_need:
                return 0
            data = bytes(self.inbuf)
            self.inbuf = bytearray()
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data), pos = 0, length = 0, have
        cdef const char* preface = PyBytes_AS_STRING(PREFACE)
        cdef int ftype, flags
        cdef unsigned int sid
        if self.preface_left:
            have = min(n, self.preface_left)
            if memcmp(p, preface + (24 - self.preface_left), have) != 0:
                return self.connection_error(ERR_PROTOCOL, "invalid connection preface")
            self.preface_left -= have
            pos = have
        while n - pos >= 9:
            length = (<Py_ssize_t>p[pos] << 16) | (<Py_ssize_t>p[pos + 1] << 8) | p[pos + 2]
            ftype = p[pos + 3]
            flags = p[pos + 4]
            sid = _u32(p + pos + 5) & 0x7FFFFFFF
            if length > DEFAULT_FRAME_SIZE:
                # RFC 9113 4.2: over our SETTINGS_MAX_FRAME_SIZE.
                return self.connection_error(ERR_FRAME_SIZE, "frame larger than 16384 bytes")
            if n - pos - 9 < length:
                break
            if self._frame(data, p, pos + 9, length, ftype, flags, sid) or self.closed:
                return 1
            pos += 9 + length
        if pos < n:
            self.inbuf = bytearray(data[pos:] if pos else data)
            self.inbuf_need = 9 if n - pos < 9 else 9 + length
        return 0

    cdef int _frame(self, bytes data, const unsigned char* p, Py_ssize_t start,
                    Py_ssize_t length, int ftype, int flags, unsigned int sid) except -1:
        if self.block_stream_id:
            # RFC 9113 6.10: nothing but this block's CONTINUATION until END_HEADERS.
            if ftype != FT_CONTINUATION or sid != self.block_stream_id:
                return self.connection_error(ERR_PROTOCOL, "header block interrupted")
            return self._continuation(data, start, length, flags, sid)
        if self.expect_settings:
            # RFC 9113 3.4: the preface ends with a SETTINGS frame.
            if ftype != FT_SETTINGS or flags & FL_ACK:
                return self.connection_error(ERR_PROTOCOL, "preface without SETTINGS")
            self.expect_settings = False
        if ftype == FT_DATA:
            return self._data(data, p, start, length, flags, sid)
        if ftype == FT_HEADERS:
            return self._headers(data, p, start, length, flags, sid)
        if ftype == FT_PRIORITY:
            if sid == 0:
                return self.connection_error(ERR_PROTOCOL, "PRIORITY on stream 0")
            if length != 5:
                return self.stream_error(sid, ERR_FRAME_SIZE, "PRIORITY of the wrong size")
            self.control_frames += 1
            if (_u32(p + start) & 0x7FFFFFFF) == sid:
                # RFC 9113 5.3.1: a stream cannot depend on itself.
                return self.stream_error(sid, ERR_PROTOCOL, "stream depends on itself")
            return 0
        if ftype == FT_RST_STREAM:
            return self._rst_stream(p, start, length, sid)
        if ftype == FT_SETTINGS:
            return self._settings(p, start, length, flags, sid)
        if ftype == FT_PUSH_PROMISE:
            # RFC 9113 8.4: a client cannot push.
            return self.connection_error(ERR_PROTOCOL, "PUSH_PROMISE from a client")
        if ftype == FT_PING:
            if sid != 0:
                return self.connection_error(ERR_PROTOCOL, "PING on a stream")
            if length != 8:
                return self.connection_error(ERR_FRAME_SIZE, "PING of the wrong size")
            self.control_frames += 1
            if not flags & FL_ACK:
                self._frame_header(8, FT_PING, FL_ACK, 0)
                self._put(<const char*>p + start, 8)
                self.acks += 1
            return 0
        if ftype == FT_GOAWAY:
            if sid != 0:
                return self.connection_error(ERR_PROTOCOL, "GOAWAY on a stream")
            if length < 8:
                return self.connection_error(ERR_FRAME_SIZE, "GOAWAY too short")
            self.on_goaway(_u32(p + start + 4))
            return 0
        if ftype == FT_WINDOW_UPDATE:
            return self._window_update(p, start, length, sid)
        if ftype == FT_CONTINUATION:
            return self.connection_error(ERR_PROTOCOL, "CONTINUATION without HEADERS")
        self.control_frames += 1  # RFC 9113 4.1: unknown frame types are ignored
        return 0

    cdef int _data(self, bytes data, const unsigned char* p, Py_ssize_t start,
                   Py_ssize_t length, int flags, unsigned int sid) except -1:
        cdef Py_ssize_t body_start = start, body = length, slack
        cdef StreamState s
        cdef object how
        cdef bint end = flags & FL_END_STREAM
        if sid == 0:
            return self.connection_error(ERR_PROTOCOL, "DATA on stream 0")
        if flags & FL_PADDED:
            if length < 1:
                return self.connection_error(ERR_FRAME_SIZE, "padded DATA without pad length")
            # RFC 9113 6.1: padding as long as the payload or longer is an error.
            if p[start] >= length:
                return self.connection_error(ERR_PROTOCOL, "padding longer than DATA")
            body_start = start + 1
            body = length - 1 - p[start]
        if sid > self.highest_stream_id:
            return self.connection_error(ERR_PROTOCOL, "DATA on an idle stream")
        # RFC 9113 6.9: the whole frame, padding included, counts against the windows.
        if length > self.recv_window:
            return self.connection_error(ERR_FLOW_CONTROL, "connection window exceeded")
        self.recv_window -= length
        s = self.stream_states.get(sid)
        if s is None or s.state == ST_HALF_CLOSED_REMOTE or s.state == ST_CLOSED:
            self._return_connection_window(length)
            how = self.recently_closed.get(sid)
            if s is None and how == CLOSED_RESET_SENT:
                return 0  # RFC 9113 5.4.2: frames after our RST_STREAM are ignored
            return self.stream_error(sid, ERR_STREAM_CLOSED, "DATA on a closed stream")
        # Until the client acknowledges our SETTINGS it may count on the default window.
        slack = (0 if self.local_settings_acked
                 else max(0, DEFAULT_WINDOW - self.local_initial_window))
        if length > s.recv_window + slack:
            return self.connection_error(ERR_FLOW_CONTROL, "stream window exceeded")
        s.recv_window -= length
        s.data_received += body
        if not body and not end:
            self.control_frames += 1  # an empty DATA frame does no work
        if s.content_length >= 0 and (s.data_received > s.content_length
                                      or (end and s.data_received != s.content_length)):
            self._return_connection_window(length)
            # RFC 9113 8.1.1: content-length must match the DATA received.
            return self.stream_error(sid, ERR_PROTOCOL, "content-length and DATA disagree")
        if end:
            self._remote_end(s)
        self.on_data(s, data[body_start:body_start + body] if body else b"", length, end)
        return 0

    cdef int _headers(self, bytes data, const unsigned char* p, Py_ssize_t start,
                      Py_ssize_t length, int flags, unsigned int sid) except -1:
        cdef Py_ssize_t pad = 0, end = start + length
        cdef bint bad_priority = False
        if sid == 0:
            return self.connection_error(ERR_PROTOCOL, "HEADERS on stream 0")
        if not sid & 1:
            return self.connection_error(ERR_PROTOCOL, "even stream id from a client")
        if flags & FL_PADDED:
            if length < 1:
                return self.connection_error(ERR_FRAME_SIZE, "padded HEADERS without pad length")
            pad = p[start]
            start += 1
        if flags & FL_PRIORITY:
            if end - start < 5:
                return self.connection_error(ERR_FRAME_SIZE, "HEADERS priority cut short")
            bad_priority = (_u32(p + start) & 0x7FFFFFFF) == sid
            start += 5
        # RFC 9113 6.2: padding longer than what remains is an error.
        if pad > end - start:
            return self.connection_error(ERR_PROTOCOL, "padding longer than HEADERS")
        end -= pad
        if not flags & FL_END_HEADERS:
            self.block_stream_id = sid
            self.block_flags = flags
            self.block_continuations = 0
            self.block_bad_priority = bad_priority
            self.block = bytearray(data[start:end])
            return 0
        return self._header_block(sid, flags, data[start:end], bad_priority)

    cdef int _continuation(self, bytes data, Py_ssize_t start, Py_ssize_t length, int flags,
                           unsigned int sid) except -1:
        self.block_continuations += 1
        if self.block_continuations > MAX_CONTINUATIONS:
            return self.connection_error(ERR_PROTOCOL, "too many CONTINUATION frames")
        self.block += data[start:start + length]
        if not flags & FL_END_HEADERS:
            return 0
        self.block_stream_id = 0
        block = bytes(self.block)
        self.block = None
        return self._header_block(sid, self.block_flags, block, self.block_bad_priority)

    cdef int _header_block(self, unsigned int sid, int flags, bytes block,
                           bint bad_priority) except -1:
        cdef StreamState s
        cdef list fields, headers
        cdef bint end = flags & FL_END_STREAM
        cdef object how
        # Decoded first, whatever becomes of the stream: the decoder's table must
        # follow every block (RFC 9113 4.3).
        try:
            fields = self.decoder.decode(block)
        except HeaderListTooLarge:
            return self.connection_error(ERR_ENHANCE_YOUR_CALM, "header list too large")
        except HpackError:
            return self.connection_error(ERR_COMPRESSION, "HPACK decoding failed")
        s = self.stream_states.get(sid)
        if s is not None:
            if s.state == ST_HALF_CLOSED_REMOTE or s.state == ST_CLOSED:
                return self.stream_error(sid, ERR_STREAM_CLOSED, "HEADERS after END_STREAM")
            if bad_priority:
                return self.stream_error(sid, ERR_PROTOCOL, "stream depends on itself")
            return self._trailers(s, fields, flags)
        if sid <= self.highest_stream_id:
            how = self.recently_closed.get(sid)
            if how is None:
                # RFC 9113 5.1.1: ids increase; a lower one was closed unused.
                return self.connection_error(ERR_PROTOCOL, "stream id not increasing")
            if how == CLOSED_RESET_SENT:
                return 0  # RFC 9113 5.4.2
            return self.connection_error(ERR_STREAM_CLOSED, "HEADERS on a closed stream")
        self.highest_stream_id = sid
        if bad_priority:
            return self.stream_error(sid, ERR_PROTOCOL, "stream depends on itself")
        if sid > self.refuse_above:
            # After our GOAWAY (RFC 9113 6.8): not processed, safe to retry.
            self._rst_frame(sid, ERR_REFUSED_STREAM)
            self._closed(sid, CLOSED_RESET_SENT)
            return 0
        if <unsigned int>len(self.stream_states) >= self.max_concurrent_streams:
            # RFC 9113 5.1.2; counted, since the client ignores our setting.
            self.resets += 1
            self._rst_frame(sid, ERR_REFUSED_STREAM)
            self._closed(sid, CLOSED_RESET_SENT)
            return 0
        headers = self._validate_request(fields)
        if headers is None:
            return self.stream_error(sid, ERR_PROTOCOL, self.error_reason)
        if end and self.req_content_length > 0:
            return self.stream_error(sid, ERR_PROTOCOL, "content-length without DATA")
        s = StreamState.__new__(StreamState)
        s.stream_id = sid
        s.state = ST_HALF_CLOSED_REMOTE if end else ST_OPEN
        s.send_window = self.peer_initial_window
        s.recv_window = self.local_initial_window
        s.content_length = self.req_content_length
        self.stream_states[sid] = s
        self.on_request(s, headers, end)
        return 0

    cdef int _trailers(self, StreamState s, list fields, int flags) except -1:
        cdef bytes name, value
        # RFC 9113 8.1: trailers end the stream; they carry no pseudo-header.
        if not flags & FL_END_STREAM:
            return self.stream_error(s.stream_id, ERR_PROTOCOL, "trailers without END_STREAM")
        cdef int kind
        for field in fields:
            name = field[0]
            value = field[1]
            kind = _name_kind(name)
            if kind == NAME_INVALID or kind == NAME_CONNECTION_SPECIFIC:
                return self.stream_error(s.stream_id, ERR_PROTOCOL, "invalid trailer field")
            if not _value_ok(value):
                return self.stream_error(s.stream_id, ERR_PROTOCOL, "invalid trailer value")
        if self._check_content_length(s):
            return 0
        self._remote_end(s)
        self.on_data(s, b"", 0, True)  # ASGI has no request trailers
        return 0

    cdef int _check_content_length(self, StreamState s) except -1:
        if s.content_length >= 0 and s.data_received != s.content_length:
            self.stream_error(s.stream_id, ERR_PROTOCOL, "content-length and DATA disagree")
            return 1
        return 0

    cdef object _validate_request(self, list fields):
        """The regular fields of a valid request head (req_* set), or None (error_reason)."""
        cdef Py_ssize_t n = len(fields), i = 0, host_index = -1, cookies = 0
        cdef bytes name, value
        cdef const char* s
        cdef Py_ssize_t size
        cdef int kind
        cdef object method = None, path = None, scheme = None, authority = None
        cdef object protocol = None
        cdef long long content_length = -1
        cdef list headers
        # RFC 9113 8.3: pseudo-headers first, each at most once, only these five.
        while i < n:
            field = fields[i]
            name = field[0]
            s = PyBytes_AS_STRING(name)
            size = PyBytes_GET_SIZE(name)
            if size == 0 or s[0] != b':':
                break
            value = field[1]
            if not _value_ok(value):
                self.error_reason = "invalid field value"
                return None
            if size == 5 and memcmp(s, b":path", 5) == 0 and path is None:
                path = value
            elif size == 7 and memcmp(s, b":method", 7) == 0 and method is None:
                method = value
            elif size == 7 and memcmp(s, b":scheme", 7) == 0 and scheme is None:
                scheme = value
            elif size == 10 and memcmp(s, b":authority", 10) == 0 and authority is None:
                authority = value
            elif size == 9 and memcmp(s, b":protocol", 9) == 0 and protocol is None:
                protocol = value
            else:
                self.error_reason = f"unknown or repeated pseudo-header {name!r}"
                return None
            i += 1
        headers = fields[i:] if i else fields
        n = len(headers)
        for i in range(n):
            field = headers[i]
            name = field[0]
            value = field[1]
            kind = _name_kind(name)
            if kind == NAME_PLAIN:
                pass
            elif kind == NAME_INVALID:
                self.error_reason = "invalid or misplaced field name"
                return None
            elif kind == NAME_CONNECTION_SPECIFIC:
                self.error_reason = "connection-specific field"
                return None
            elif kind == NAME_TE:
                if value != b"trailers":
                    self.error_reason = "te other than trailers"
                    return None
            elif kind == NAME_HOST:
                host_index = i
            elif kind == NAME_COOKIE:
                cookies += 1
            elif kind == NAME_CONTENT_LENGTH:
                if content_length != -1:
                    self.error_reason = "repeated content-length"
                    return None
                content_length = _digits(value)
                if content_length < 0:
                    self.error_reason = "invalid content-length"
                    return None
            if not _value_ok(value):
                self.error_reason = "invalid field value"
                return None
        if method is None or not _is_token(method):
            self.error_reason = "missing or invalid :method"
            return None
        if method == b"CONNECT":
            if protocol is None:
                # RFC 9113 8.5: :authority only.
                if scheme is not None or path is not None or authority is None:
                    self.error_reason = "malformed CONNECT"
                    return None
            elif scheme is None or not path or authority is None or path[0] != 0x2f:
                # RFC 8441 4: an extended CONNECT carries :scheme, :path and :authority.
                self.error_reason = "malformed extended CONNECT"
                return None
        elif protocol is not None:
            self.error_reason = ":protocol without CONNECT"
            return None
        if protocol is not None and not self.enable_connect_protocol:
            # RFC 8441 3: only after SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
            self.error_reason = ":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL"
            return None
        elif scheme is None or not path:
            self.error_reason = "missing :scheme or :path"
            return None
        elif path[0] != 0x2f and not (path == b"*" and method == b"OPTIONS"):
            self.error_reason = "invalid :path"
            return None
        if authority is not None:
            if host_index >= 0:
                # RFC 9113 8.3.1: Host and :authority must name the same thing.
                if headers[host_index][1] != authority:
                    self.error_reason = "host differs from :authority"
                    return None
            else:
                if headers is fields:
                    headers = list(fields)
                headers.append((b"host", authority))  # apps build URLs from Host
        if cookies > 1:
            headers = _join_cookies(headers)
        name_str = _METHOD_NAMES.get(method)
        self.req_method = name_str if name_str is not None else method.decode("ascii")
        self.req_path = path
        self.req_scheme = scheme
        self.req_authority = authority
        self.req_protocol = protocol
        self.req_content_length = content_length
        return headers

    cdef int _settings(self, const unsigned char* p, Py_ssize_t start, Py_ssize_t length,
                       int flags, unsigned int sid) except -1:
        cdef Py_ssize_t i
        cdef unsigned int ident, value
        cdef long long delta
        cdef StreamState s
        cdef bint window_changed = False
        if sid != 0:
            return self.connection_error(ERR_PROTOCOL, "SETTINGS on a stream")
        self.control_frames += 1
        if flags & FL_ACK:
            if length:
                return self.connection_error(ERR_FRAME_SIZE, "SETTINGS ACK with a payload")
            self.local_settings_acked = True
            return 0
        if length % 6:
            return self.connection_error(ERR_FRAME_SIZE, "SETTINGS of the wrong size")
        for i in range(start, start + length, 6):
            ident = (p[i] << 8) | p[i + 1]
            value = _u32(p + i + 2)
            if ident == SETTINGS_HEADER_TABLE_SIZE:
                self.encoder.set_max_table_size(min(value, 65536))
            elif ident == SETTINGS_ENABLE_PUSH:
                if value > 1:
                    return self.connection_error(ERR_PROTOCOL, "ENABLE_PUSH not 0 or 1")
            elif ident == SETTINGS_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    return self.connection_error(ERR_FLOW_CONTROL, "INITIAL_WINDOW_SIZE too large")
                # RFC 9113 6.9.2: the change applies to every open stream's window.
                delta = <long long>value - self.peer_initial_window
                self.peer_initial_window = value
                if delta:
                    window_changed = delta > 0
                    for s in self.stream_states.values():
                        s.send_window += delta
                        if s.send_window > MAX_WINDOW:
                            return self.connection_error(ERR_FLOW_CONTROL,
                                                         "stream window over 2^31-1")
            elif ident == SETTINGS_MAX_FRAME_SIZE:
                if value < DEFAULT_FRAME_SIZE or value > MAX_FRAME_SIZE_LIMIT:
                    return self.connection_error(ERR_PROTOCOL, "invalid MAX_FRAME_SIZE")
                self.peer_max_frame_size = value
            elif ident == SETTINGS_ENABLE_CONNECT_PROTOCOL:
                if value > 1:
                    return self.connection_error(ERR_PROTOCOL,
                                                 "ENABLE_CONNECT_PROTOCOL not 0 or 1")
            # Others (MAX_CONCURRENT_STREAMS for pushes we never make,
            # MAX_HEADER_LIST_SIZE, unknown ones) change nothing here.
        self._frame_header(0, FT_SETTINGS, FL_ACK, 0)
        self.acks += 1
        if window_changed:
            self.on_window_update(None)
        return 0

    cdef int _window_update(self, const unsigned char* p, Py_ssize_t start,
                            Py_ssize_t length, unsigned int sid) except -1:
        cdef long long increment
        cdef StreamState s
        if length != 4:
            return self.connection_error(ERR_FRAME_SIZE, "WINDOW_UPDATE of the wrong size")
        increment = _u32(p + start) & 0x7FFFFFFF
        if sid == 0:
            if increment == 0:
                return self.connection_error(ERR_PROTOCOL, "WINDOW_UPDATE of 0")
            self.send_window += increment
            if self.send_window > MAX_WINDOW:
                return self.connection_error(ERR_FLOW_CONTROL, "connection window over 2^31-1")
            self.on_window_update(None)
            return 0
        if sid > self.highest_stream_id:
            return self.connection_error(ERR_PROTOCOL, "WINDOW_UPDATE on an idle stream")
        s = self.stream_states.get(sid)
        if s is None:
            self.control_frames += 1
            return 0  # a closed stream: allowed for a while after END_STREAM (5.1)
        if increment == 0:
            return self.stream_error(sid, ERR_PROTOCOL, "WINDOW_UPDATE of 0")
        s.send_window += increment
        if s.send_window > MAX_WINDOW:
            return self.stream_error(sid, ERR_FLOW_CONTROL, "stream window over 2^31-1")
        self.on_window_update(s)
        return 0

    cdef int _rst_stream(self, const unsigned char* p, Py_ssize_t start, Py_ssize_t length,
                         unsigned int sid) except -1:
        cdef StreamState s
        cdef int code
        if sid == 0:
            return self.connection_error(ERR_PROTOCOL, "RST_STREAM on stream 0")
        if length != 4:
            return self.connection_error(ERR_FRAME_SIZE, "RST_STREAM of the wrong size")
        if sid > self.highest_stream_id:
            return self.connection_error(ERR_PROTOCOL, "RST_STREAM on an idle stream")
        s = self.stream_states.pop(sid, None)
        self.resets += 1
        if s is None:
            return 0
        code = _u32(p + start)
        s.state = ST_CLOSED
        self._closed(sid, CLOSED_RESET_RECEIVED)
        self.on_stream_reset(s, code, True)
        return 0

    cdef _remote_end(self, StreamState s):
        if s.state == ST_HALF_CLOSED_LOCAL:
            s.state = ST_CLOSED
            del self.stream_states[s.stream_id]
            self._closed(s.stream_id, CLOSED_ENDED)
        else:
            s.state = ST_HALF_CLOSED_REMOTE

    cdef _closed(self, unsigned int sid, int how):
        cdef dict closed = self.recently_closed
        if len(closed) >= RECENTLY_CLOSED_LIMIT:
            del closed[next(iter(closed))]
        closed[sid] = how

    cdef _return_connection_window(self, Py_ssize_t length):
        # Flow-controlled bytes nobody will read: the connection window gets them back.
        if length:
            self.recv_window += length
            self._window_update_frame(0, length)

    cdef int connection_error(self, int code, str reason) except -1:
        """GOAWAY with `code` (RFC 9113 5.4.1); nothing more is read."""
        self.error_code = code
        self.error_reason = reason
        if not self.closed:
            self.closed = True
            self._goaway_frame(code, self.highest_stream_id)
        return 1

    cdef int stream_error(self, unsigned int sid, int code, str reason) except -1:
        """RST_STREAM with `code` (RFC 9113 5.4.2); the stream is closed, the driver told."""
        cdef StreamState s = self.stream_states.pop(sid, None)
        self.error_reason = reason
        self.resets += 1  # server-provoked resets count too (CVE-2025-8671)
        self._rst_frame(sid, code)
        self._closed(sid, CLOSED_RESET_SENT)
        if s is not None:
            s.state = ST_CLOSED
            self.on_stream_reset(s, code, False)
        return 0

    # Sending.
    cpdef send_headers(self, StreamState s, list fields, bint end_stream):
        """A HEADERS frame (CONTINUATIONs past the client's frame size) on `s`."""
        cdef bytes block = self.encoder.encode(fields)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(block), offset = 0, chunk
        cdef const char* b = PyBytes_AS_STRING(block)
        cdef Py_ssize_t limit = self.peer_max_frame_size
        cdef int flags = FL_END_STREAM if end_stream else 0
        if size <= limit:
            self._frame_header(size, FT_HEADERS, flags | FL_END_HEADERS, s.stream_id)
            self._put(b, size)
        else:
            self._frame_header(limit, FT_HEADERS, flags, s.stream_id)
            self._put(b, limit)
            offset = limit
            while offset < size:
                chunk = min(limit, size - offset)
                self._frame_header(chunk, FT_CONTINUATION,
                                   FL_END_HEADERS if offset + chunk == size else 0, s.stream_id)
                self._put(b + offset, chunk)
                offset += chunk
        if end_stream:
            self._end_local(s)

    cpdef long long send_window_of(self, StreamState s):
        """Body bytes `s` may send now: the smaller of its window and the connection's."""
        return min(s.send_window, self.send_window)

    cpdef send_data(self, StreamState s, object data, bint end_stream):
        """DATA frames for all of `data`, which the caller fitted to send_window_of()."""
        cdef Py_buffer view
        cdef Py_ssize_t size, offset = 0, chunk, limit = self.peer_max_frame_size
        cdef const char* b
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            size = view.len
            b = <const char*>view.buf
            if size > self.send_window or size > s.send_window:
                raise ValueError("DATA beyond the flow-control window")
            self.send_window -= size
            s.send_window -= size
            if size == 0:
                self._frame_header(0, FT_DATA, FL_END_STREAM if end_stream else 0, s.stream_id)
            if size >= BESIDE_DATA:
                # A large body is not copied into the buffer: its frames' payloads
                # go out as slices of it beside their headers (one writev).
                whole = memoryview(data)
            while offset < size:
                chunk = min(limit, size - offset)
                self._frame_header(chunk, FT_DATA,
                                   FL_END_STREAM if end_stream and offset + chunk == size else 0,
                                   s.stream_id)
                if size >= BESIDE_DATA:
                    self._cut()
                    self.pieces.append(whole[offset:offset + chunk])
                else:
                    self._put(b + offset, chunk)
                offset += chunk
        finally:
            PyBuffer_Release(&view)
        if end_stream:
            self._end_local(s)

    cdef _end_local(self, StreamState s):
        if s.state == ST_HALF_CLOSED_REMOTE:
            s.state = ST_CLOSED
            self.stream_states.pop(s.stream_id, None)
            self._closed(s.stream_id, CLOSED_ENDED)
        elif s.state == ST_OPEN:
            s.state = ST_HALF_CLOSED_LOCAL

    cpdef reset_stream(self, StreamState s, int code):
        """RST_STREAM from our side (not the client's fault: not counted)."""
        if s.state == ST_CLOSED and s.stream_id not in self.stream_states:
            return
        self._rst_frame(s.stream_id, code)
        self.stream_states.pop(s.stream_id, None)
        s.state = ST_CLOSED
        self._closed(s.stream_id, CLOSED_RESET_SENT)

    cpdef acknowledge(self, StreamState s, long long size):
        """The app consumed `size` flow-controlled bytes of `s`: reopen the windows.

        WINDOW_UPDATEs go out once half a window has been consumed, so a steady
        upload costs one per half window, not one per DATA frame.
        """
        if size <= 0 or self.closed:
            return
        self.recv_unacked += size
        if self.recv_unacked * 2 >= self.local_connection_window:
            self._window_update_frame(0, self.recv_unacked)
            self.recv_window += self.recv_unacked
            self.recv_unacked = 0
        if s.state != ST_OPEN and s.state != ST_HALF_CLOSED_LOCAL:
            return  # the client sends nothing more on it
        s.recv_unacked += size
        if s.recv_unacked * 2 >= self.local_initial_window:
            self._window_update_frame(s.stream_id, s.recv_unacked)
            s.recv_window += s.recv_unacked
            s.recv_unacked = 0

    cpdef goaway(self, int code, unsigned int last_stream_id):
        """GOAWAY: streams above `last_stream_id` are refused from now on (RFC 9113 6.8)."""
        self.refuse_above = last_stream_id
        self._goaway_frame(code, last_stream_id)

    cpdef bytes data_to_send(self):
        """Everything serialized since the last call, as one bytes object."""
        output = self.take_output()
        return output if type(output) is bytes else b"".join(output)

    cpdef object take_output(self):
        """Everything serialized since the last call: one bytes object, or a list of
        buffers to write together (writelines) when large DATA payloads went out
        beside the buffer instead of being copied into it."""
        cdef list pieces
        if self.pieces is not None:
            self._cut()
            pieces = self.pieces
            self.pieces = None
            return pieces
        return self._take_buffer()

    cdef _cut(self):
        """End the buffer's current run: it becomes the next piece."""
        if self.pieces is None:
            self.pieces = []
        if self.out_len:
            self.pieces.append(self._take_buffer())

    cdef bytes _take_buffer(self):
        cdef bytes result
        cdef char* shrunk
        if not self.out_len:
            return b""
        result = PyBytes_FromStringAndSize(self.out, self.out_len)
        self.out_len = 0
        if self.out_cap > OUT_KEEP:
            # A large body went out: give the memory back (many idle connections).
            shrunk = <char*>PyMem_Realloc(self.out, OUT_KEEP)
            if shrunk != NULL:
                self.out = shrunk
                self.out_cap = OUT_KEEP
        return result

    # Serialization.
    cdef _rst_frame(self, unsigned int sid, int code):
        cdef unsigned char payload[4]
        _put_u32(payload, code)
        self._frame_header(4, FT_RST_STREAM, 0, sid)
        self._put(<char*>payload, 4)

    cdef _goaway_frame(self, int code, unsigned int last_stream_id):
        cdef unsigned char payload[8]
        _put_u32(payload, last_stream_id)
        _put_u32(payload + 4, code)
        self._frame_header(8, FT_GOAWAY, 0, 0)
        self._put(<char*>payload, 8)

    cdef _window_update_frame(self, unsigned int sid, long long increment):
        cdef unsigned char payload[4]
        _put_u32(payload, <unsigned int>increment)
        self._frame_header(4, FT_WINDOW_UPDATE, 0, sid)
        self._put(<char*>payload, 4)

    cdef _frame_header(self, Py_ssize_t length, int ftype, int flags, unsigned int sid):
        self._reserve(9)
        cdef unsigned char* h = <unsigned char*>self.out + self.out_len
        h[0] = (length >> 16) & 0xFF
        h[1] = (length >> 8) & 0xFF
        h[2] = length & 0xFF
        h[3] = ftype
        h[4] = flags
        _put_u32(h + 5, sid)
        self.out_len += 9

    cdef _put(self, const char* data, Py_ssize_t size):
        self._reserve(size)
        memcpy(self.out + self.out_len, data, size)
        self.out_len += size

    cdef _reserve(self, Py_ssize_t size):
        cdef Py_ssize_t need = self.out_len + size, cap = self.out_cap
        cdef char* grown
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        grown = <char*>PyMem_Realloc(self.out, cap)
        if grown == NULL:
            raise MemoryError()
        self.out = grown
        self.out_cap = cap


cdef inline void _put_u32(unsigned char* p, unsigned int value):
    p[0] = (value >> 24) & 0xFF
    p[1] = (value >> 16) & 0xFF
    p[2] = (value >> 8) & 0xFF
    p[3] = value & 0xFF


cdef inline int _setting(unsigned char* p, int ident, unsigned int value):
    p[0] = (ident >> 8) & 0xFF
    p[1] = ident & 0xFF
    _put_u32(p + 2, value)
    return 6


cdef list _join_cookies(list headers):
    # RFC 9113 8.2.3: several cookie fields are joined with "; " for the application.
    cookies = [v for n, v in headers if n == b"cookie"]
    others = [(n, v) for n, v in headers if n != b"cookie"]
    others.append((b"cookie", b"; ".join(cookies)))
    return others
