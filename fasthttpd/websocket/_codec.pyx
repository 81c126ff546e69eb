# cython: language_level=3
"""WebSocket frame codec, compiled: the API of _codec.pyi (read that first).

Theory of operation
-------------------
`FrameParser.feed(data)` walks `data` with two states. In S_HEADER it parses a frame
header straight from `data`; only a header split across feeds is copied (at most 14
bytes) into `header`. Every rule is checked as soon as the bytes it needs are there:
the first two bytes decide opcode, RSV, FIN and masking errors, the extended length
decides the 1009 (message size from the header, before any payload) and the
length-encoding errors. In S_PAYLOAD the payload is unmasked a machine word at a
time from `data` into its destination, with the mask's phase taken from the offset
in the frame, so a payload may be split anywhere:
- a control frame into `control` (125 bytes at most, inside the object);
- a one-frame binary message whose payload is all in this `data` straight into the
  bytes object of its event (one copy);
- anything else into `buffer`, the message so far: a bytes object of our own (no
  one else has a reference to it), grown in place with _PyBytes_Resize as bytes
  arrive (never past what the frame header declared) and, for a binary or a
  compressed message, cut to size and handed out as the message's data, so that
  the payload is copied once however it was split. A text message's buffer is kept
  for the next message unless it grew over 1 KiB (reuse saves about a tenth of a
  small message's cost), so an idle connection holds at most that.
Text is checked by a small UTF-8 state machine as it arrives, so that bytes that
cannot start valid UTF-8 fail at once (1007), across fragments too; the piece that
completes the message is left to PyUnicode_DecodeUTF8, which checks it while
decoding. Compressed messages (RSV1, RFC 7692) are collected as sent and inflated
when complete by the PerMessageDeflate object, bounded by the maximum size.

Errors are events, not exceptions: `_fail` appends a ProtocolError and the parser
is done; a Close ends it the same way (RFC 6455 5.5.1: nothing follows a Close).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint64_t
from cpython.bytes cimport _PyBytes_Resize
from cpython.ref cimport PyObject, Py_XDECREF
from libc.string cimport memcpy

import zlib

cdef extern from "Python.h":
    # The PyObject* forms, for the message buffer (a reference we own by hand).
    PyObject* _bytes_new "PyBytes_FromStringAndSize" (
        const char* data, Py_ssize_t size) except NULL
    char* _bytes_data "PyBytes_AS_STRING" (PyObject* bytes_object)

from fasthttpd.websocket.deflate import MIN_COMPRESSED_SIZE as _MIN_COMPRESSED_SIZE
from fasthttpd.websocket.deflate import MessageTooBig

cdef enum:
    _OP_CONTINUATION = 0
    _OP_TEXT = 1
    _OP_BINARY = 2
    _OP_CLOSE = 8
    _OP_PING = 9
    _OP_PONG = 10

OP_CONTINUATION = _OP_CONTINUATION
OP_TEXT = _OP_TEXT
OP_BINARY = _OP_BINARY
OP_CLOSE = _OP_CLOSE
OP_PING = _OP_PING
OP_PONG = _OP_PONG

MAX_CONTROL_PAYLOAD = 125  # RFC 6455 5.5

cdef enum:
    S_HEADER = 0
    S_PAYLOAD = 1
    S_DONE = 2  # after a ProtocolError or a Close
    # A message buffer larger than this is freed once its message is out.
    KEEP_BUFFER = 1024

cdef Py_ssize_t MIN_COMPRESSED = _MIN_COMPRESSED_SIZE
cdef char* EMPTY = ""

# Which opcodes exist (RFC 6455 5.2, 11.8).
cdef bint KNOWN_OPCODE[16]
for _op in range(16):
    KNOWN_OPCODE[_op] = _op in (0, 1, 2, 8, 9, 10)


cdef class Message:
    def __init__(self, bint is_text, data):
        self.is_text = is_text
        self.data = data

    def __repr__(self):
        return f"Message(is_text={self.is_text!r}, data={self.data!r})"


cdef class Ping:
    def __init__(self, bytes data):
        self.data = data

    def __repr__(self):
        return f"Ping(data={self.data!r})"


cdef class Pong:
    def __init__(self, bytes data):
        self.data = data

    def __repr__(self):
        return f"Pong(data={self.data!r})"


cdef class Close:
    def __init__(self, code, str reason):
        self.code = code
        self.reason = reason

    def __repr__(self):
        return f"Close(code={self.code!r}, reason={self.reason!r})"


cdef class ProtocolError:
    def __init__(self, int code, str reason):
        self.code = code
        self.reason = reason

    def __repr__(self):
        return f"ProtocolError(code={self.code!r}, reason={self.reason!r})"


cdef inline bint _valid_close_code(long code) noexcept:
    # RFC 6455 7.4 and the IANA registry: 1004-1006 and 1015 are never sent,
    # 1016-2999 are unassigned, 3000-4999 are for libraries and applications.
    if 3000 <= code <= 4999:
        return True
    return 1000 <= code <= 1014 and code != 1004 and code != 1005 and code != 1006


def is_valid_close_code(long code) -> bool:
    """Whether a Close frame may carry `code` (RFC 6455 7.4, IANA registry)."""
    return _valid_close_code(code)


cdef inline void _unmask(unsigned char* dst, const unsigned char* src, Py_ssize_t size,
                         const unsigned char* mask, uint64_t offset) noexcept nogil:
    """dst = src XOR mask, src starting `offset` bytes into the frame's payload."""
    cdef unsigned char key[8]
    cdef uint64_t key_word, word
    cdef Py_ssize_t index
    cdef int phase = <int>(offset & 3)
    for index in range(8):
        key[index] = mask[(phase + index) & 3]
    # memcpy to and from a word: unaligned loads without undefined behaviour.
    memcpy(&key_word, key, 8)
    index = 0
    while index + 8 <= size:
        memcpy(&word, src + index, 8)
        word ^= key_word
        memcpy(dst + index, &word, 8)
        index += 8
    while index < size:
        dst[index] = src[index] ^ key[index & 7]
        index += 1


cdef inline bint _utf8_check(FrameParser parser, const unsigned char* data,
                             Py_ssize_t size) noexcept nogil:
    """Advance the parser's UTF-8 state over `data`; False at the first byte that
    cannot belong to valid UTF-8 (RFC 3629 4: no overlongs, surrogates, > U+10FFFF)."""
    cdef Py_ssize_t index = 0
    cdef int need = parser.utf8_need
    cdef unsigned char low = parser.utf8_low
    cdef unsigned char high = parser.utf8_high
    cdef unsigned char byte
    cdef uint64_t word
    while index < size:
        if need == 0:
            # ASCII runs a word at a time.
            while index + 8 <= size:
                memcpy(&word, data + index, 8)
                if word & 0x8080808080808080ULL:
                    break
                index += 8
            if index == size:
                break
            byte = data[index]
            index += 1
            if byte < 0x80:
                continue
            low = 0x80
            high = 0xBF
            if byte < 0xC2:
                return False  # a continuation byte, or an overlong 2-byte start
            elif byte < 0xE0:
                need = 1
            elif byte < 0xF0:
                need = 2
                if byte == 0xE0:
                    low = 0xA0  # overlong below U+0800
                elif byte == 0xED:
                    high = 0x9F  # surrogates U+D800-U+DFFF
            elif byte < 0xF5:
                need = 3
                if byte == 0xF0:
                    low = 0x90  # overlong below U+10000
                elif byte == 0xF4:
                    high = 0x8F  # above U+10FFFF
            else:
                return False
        else:
            byte = data[index]
            index += 1
            if byte < low or byte > high:
                return False
            need -= 1
            low = 0x80
            high = 0xBF
    parser.utf8_need = need
    parser.utf8_low = low
    parser.utf8_high = high
    return True


cdef class FrameParser:
    def __cinit__(self):
        self.buffer = NULL
        self.buf_len = 0
        self.buf_capacity = 0

    def __init__(self, long long max_message_size, deflate=None):
        if max_message_size < 0:
            raise ValueError("max_message_size must not be negative")
        self.max_message_size = <uint64_t>max_message_size
        self.deflate = deflate
        self.state = S_HEADER
        self.header_len = 0
        self.control_len = 0
        self._reset_message()

    def __dealloc__(self):
        Py_XDECREF(self.buffer)

    cdef void _reset_message(self):
        self.message_opcode = 0
        self.compressed = False
        self.message_size = 0
        self.buf_len = 0
        self.utf8_need = 0
        self.utf8_low = 0x80
        self.utf8_high = 0xBF
        if self.buf_capacity > KEEP_BUFFER:
            self._release_buffer()

    cdef int _fail(self, list events, int code, str reason) except -1:
        cdef ProtocolError error = ProtocolError.__new__(ProtocolError)
        error.code = code
        error.reason = reason
        events.append(error)
        self.state = S_DONE
        self._release_buffer()
        return 0

    cdef void _release_buffer(self):
        Py_XDECREF(self.buffer)
        self.buffer = NULL
        self.buf_len = 0
        self.buf_capacity = 0

    cdef object _take_buffer(self):
        """The message so far as a bytes object of its exact size, now the caller's."""
        cdef object data
        if self.buffer == NULL:
            return b""
        if self.buf_len != self.buf_capacity:
            self.buf_capacity = 0
            _PyBytes_Resize(&self.buffer, self.buf_len)  # shrinks in place
        data = <object>self.buffer
        self._release_buffer()
        return data

    cdef int _reserve(self, Py_ssize_t extra) except -1:
        """Room in `buffer` for `extra` more bytes: doubling, but never past the end
        of the current frame (what its header declared)."""
        cdef Py_ssize_t needed = self.buf_len + extra
        cdef Py_ssize_t frame_end, capacity
        if needed <= self.buf_capacity:
            return 0
        frame_end = self.buf_len + <Py_ssize_t>self.remaining
        capacity = self.buf_capacity * 2
        if capacity < 256:
            capacity = 256
        if capacity > frame_end:
            capacity = frame_end
        if capacity < needed:
            capacity = needed
        if self.buffer == NULL:
            self.buffer = _bytes_new(NULL, capacity)
        else:
            # Our own object, referenced nowhere else: it may be resized (on failure
            # _PyBytes_Resize frees it and leaves NULL).
            self.buf_capacity = 0
            _PyBytes_Resize(&self.buffer, capacity)
        self.buf_capacity = capacity
        return 0

    cdef int _parse_header(self, const unsigned char* data, Py_ssize_t size,
                           list events) except -2:
        """The header's size once it is all in data[:size]; 0 while bytes are
        missing; -1 after a protocol error (appended to events)."""
        cdef unsigned char first, second
        cdef int opcode, rsv, position
        cdef bint fin
        cdef uint64_t length
        if size < 2:
            return 0
        first = data[0]
        second = data[1]
        fin = first & 0x80
        rsv = first & 0x70
        opcode = first & 0x0F
        length = second & 0x7F
        if not KNOWN_OPCODE[opcode]:
            self._fail(events, 1002, f"unknown opcode {opcode}")
            return -1
        if opcode >= _OP_CLOSE:
            if not fin:
                self._fail(events, 1002, "fragmented control frame")
                return -1
            if length > 125:
                self._fail(events, 1002, "control frame payload over 125 bytes")
                return -1
            if rsv:
                self._fail(events, 1002, "reserved bit set on a control frame")
                return -1
        elif opcode == _OP_CONTINUATION:
            if not self.message_opcode:
                self._fail(events, 1002, "continuation frame with nothing to continue")
                return -1
            if rsv:
                # RFC 7692 6.1: RSV1 only on a message's first frame.
                self._fail(events, 1002, "reserved bit set on a continuation frame")
                return -1
        else:
            if self.message_opcode:
                self._fail(events, 1002, "new data message inside a fragmented one")
                return -1
            if rsv & 0x30 or (rsv and self.deflate is None):
                self._fail(events, 1002, "reserved bit set without a negotiated extension")
                return -1
        if not second & 0x80:
            self._fail(events, 1002, "unmasked client frame")  # RFC 6455 5.1
            return -1
        position = 2
        if length == 126:
            if size < 4:
                return 0
            length = (<uint64_t>data[2] << 8) | data[3]
            position = 4
            if length < 126:
                # RFC 6455 5.2: the minimal length encoding MUST be used; strict here.
                self._fail(events, 1002, "non-minimal payload length encoding")
                return -1
        elif length == 127:
            if size < 10:
                return 0
            length = 0
            for position in range(2, 10):
                length = (length << 8) | data[position]
            position = 10
            if length >> 63:
                self._fail(events, 1002, "payload length with the top bit set")
                return -1
            if length < 0x10000:
                self._fail(events, 1002, "non-minimal payload length encoding")
                return -1
        if opcode < _OP_CLOSE and self.message_size + length > self.max_message_size:
            self._fail(events, 1009,
                       f"message over the maximum size of {self.max_message_size} bytes")
            return -1
        if size < position + 4:
            return 0
        memcpy(self.mask, data + position, 4)
        if opcode == _OP_TEXT or opcode == _OP_BINARY:
            self.message_opcode = opcode
            self.compressed = rsv != 0
        if opcode < _OP_CLOSE:
            self.message_size += length
        else:
            self.control_len = 0
        self.fin = fin
        self.opcode = opcode
        self.remaining = length
        self.offset = 0
        return position + 4

    def feed(self, data):
        cdef list events = []
        cdef const unsigned char* start
        cdef Py_ssize_t size, position = 0, available, take, copied
        cdef int header_size
        cdef unsigned char* destination
        cdef bytes payload
        cdef Message message
        if self.state == S_DONE:
            return events
        if not PyBytes_CheckExact(data):
            data = bytes(data)
        start = <const unsigned char*>PyBytes_AS_STRING(data)
        size = len(data)
        while self.state != S_DONE:
            if self.state == S_HEADER:
                if self.header_len == 0:
                    header_size = self._parse_header(start + position, size - position, events)
                    if header_size > 0:
                        position += header_size
                    elif header_size == 0:
                        # Incomplete (under 14 bytes): keep it for the next feed.
                        self.header_len = <int>(size - position)
                        memcpy(self.header, start + position, self.header_len)
                        break
                    else:
                        break
                else:
                    copied = size - position
                    if copied > 14 - self.header_len:
                        copied = 14 - self.header_len
                    memcpy(self.header + self.header_len, start + position, copied)
                    header_size = self._parse_header(self.header, self.header_len + copied,
                                                     events)
                    if header_size > 0:
                        position += header_size - self.header_len
                        self.header_len = 0
                    elif header_size == 0:
                        self.header_len += <int>copied
                        break
                    else:
                        break
                self.state = S_PAYLOAD
            available = size - position
            take = available if <uint64_t>available < self.remaining else <Py_ssize_t>self.remaining
            if self.opcode >= _OP_CLOSE:
                _unmask(self.control + self.control_len, start + position, take,
                        self.mask, self.offset)
                self.control_len += <int>take
            elif (self.opcode == _OP_BINARY and self.fin and not self.compressed
                  and self.offset == 0 and <uint64_t>take == self.remaining):
                # A whole one-frame binary message: unmasked into its event's bytes.
                payload = PyBytes_FromStringAndSize(NULL, take)
                _unmask(<unsigned char*>PyBytes_AS_STRING(payload), start + position, take,
                        self.mask, 0)
                message = Message.__new__(Message)
                message.is_text = False
                message.data = payload
                events.append(message)
                position += take
                self.remaining = 0
                self.state = S_HEADER
                self._reset_message()
                continue
            elif take:
                self._reserve(take)
                destination = <unsigned char*>_bytes_data(self.buffer) + self.buf_len
                _unmask(destination, start + position, take, self.mask, self.offset)
                if (self.message_opcode == _OP_TEXT and not self.compressed
                        and not (self.fin and <uint64_t>take == self.remaining)
                        and not _utf8_check(self, destination, take)):
                    self._fail(events, 1007, "invalid UTF-8 in a text message")
                    break
                self.buf_len += take
            position += take
            self.remaining -= <uint64_t>take
            self.offset += <uint64_t>take
            if self.remaining:
                break
            self.state = S_HEADER
            self._end_frame(events)
        return events

    cdef int _end_frame(self, list events) except -1:
        if self.opcode >= _OP_CLOSE:
            return self._end_control_frame(events)
        if self.fin:
            return self._end_message(events)
        return 0

    cdef int _end_message(self, list events) except -1:
        cdef bint is_text = self.message_opcode == _OP_TEXT
        cdef object data
        cdef bytes payload
        cdef Message message
        if self.compressed:
            payload = self._take_buffer()
            try:
                payload = self.deflate.inflate(payload, self.max_message_size)
            except MessageTooBig:
                return self._fail(events, 1009, f"message inflates to more than "
                                  f"{self.max_message_size} bytes")
            except zlib.error:
                return self._fail(events, 1007, "invalid deflate data")
            if is_text:
                try:
                    data = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(payload), len(payload), NULL)
                except UnicodeDecodeError:
                    return self._fail(events, 1007, "invalid UTF-8 in a text message")
            else:
                data = payload
        elif is_text:
            try:
                data = PyUnicode_DecodeUTF8(_bytes_data(self.buffer) if self.buffer != NULL
                                            else EMPTY, self.buf_len, NULL)
            except UnicodeDecodeError:
                return self._fail(events, 1007, "invalid UTF-8 in a text message")
        else:
            data = self._take_buffer()
        message = Message.__new__(Message)
        message.is_text = is_text
        message.data = data
        events.append(message)
        self._reset_message()
        return 0

    cdef int _end_control_frame(self, list events) except -1:
        cdef Ping ping
        cdef Pong pong
        cdef Close close
        cdef long code
        cdef str reason
        if self.opcode == _OP_PING:
            ping = Ping.__new__(Ping)
            ping.data = PyBytes_FromStringAndSize(<char*>self.control, self.control_len)
            events.append(ping)
            return 0
        if self.opcode == _OP_PONG:
            pong = Pong.__new__(Pong)
            pong.data = PyBytes_FromStringAndSize(<char*>self.control, self.control_len)
            events.append(pong)
            return 0
        if self.control_len == 0:
            close = Close.__new__(Close)
            close.code = None
            close.reason = ""
        elif self.control_len == 1:
            return self._fail(events, 1002, "close frame with a 1-byte body")
        else:
            code = (self.control[0] << 8) | self.control[1]
            if not _valid_close_code(code):
                return self._fail(events, 1002, f"invalid close code {code}")
            try:
                reason = PyUnicode_DecodeUTF8(<char*>self.control + 2, self.control_len - 2,
                                              NULL)
            except UnicodeDecodeError:
                return self._fail(events, 1007, "close reason is not valid UTF-8")
            close = Close.__new__(Close)
            close.code = code
            close.reason = reason
        events.append(close)
        # RFC 6455 5.5.1: nothing may follow a Close; what does is not parsed.
        self.state = S_DONE
        self._release_buffer()
        return 0


cdef bytes _frame(int first, const unsigned char* payload, Py_ssize_t size):
    cdef Py_ssize_t header_size = 2 if size < 126 else 4 if size < 0x10000 else 10
    cdef bytes frame = PyBytes_FromStringAndSize(NULL, header_size + size)
    cdef unsigned char* out = <unsigned char*>PyBytes_AS_STRING(frame)
    cdef int index
    out[0] = <unsigned char>first
    if size < 126:
        out[1] = <unsigned char>size
    elif size < 0x10000:
        out[1] = 126
        out[2] = <unsigned char>(size >> 8)
        out[3] = <unsigned char>size
    else:
        out[1] = 127
        for index in range(8):
            out[2 + index] = <unsigned char>(<uint64_t>size >> (56 - 8 * index))
    memcpy(out + header_size, payload, size)
    return frame


def encode_frame(int opcode, payload, deflate=None) -> bytes:
    """One server frame: FIN set, unmasked (RFC 6455 5.1). TEXT and BINARY payloads are
    compressed (RSV1 set) when `deflate` is given and they are not tiny."""
    cdef int first
    if opcode < 0 or opcode > 15 or not KNOWN_OPCODE[opcode] or opcode == _OP_CONTINUATION:
        raise ValueError(f"cannot encode a frame with opcode {opcode}")
    if not PyBytes_CheckExact(payload):
        payload = bytes(payload)
    first = 0x80 | opcode
    if opcode >= _OP_CLOSE:
        if len(payload) > 125:
            raise ValueError("a control frame's payload is at most 125 bytes")
    elif deflate is not None and len(payload) >= MIN_COMPRESSED:
        payload = deflate.deflate(payload)
        first |= 0x40
    return _frame(first, <const unsigned char*>PyBytes_AS_STRING(payload), len(payload))


def encode_close(int code, str reason="") -> bytes:
    """A Close frame; the reason is cut at a character boundary to fit 125 bytes."""
    cdef bytes encoded
    cdef unsigned char body[125]
    cdef Py_ssize_t size
    if not _valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent")
    encoded = reason.encode("utf-8")
    size = len(encoded)
    if size > 123:
        size = 123
        # Back up over continuation bytes to the start of the cut character.
        while size > 0 and (encoded[size] & 0xC0) == 0x80:
            size -= 1
    body[0] = <unsigned char>(code >> 8)
    body[1] = <unsigned char>code
    memcpy(body + 2, PyBytes_AS_STRING(encoded), size)
    return _frame(0x80 | _OP_CLOSE, body, size + 2)
