# Layouts of the compiled WebSocket frame codec's classes (see _codec.pyx).

from cpython.ref cimport PyObject
from libc.stdint cimport uint64_t


cdef class Message:
    cdef readonly bint is_text
    cdef readonly object data  # str (text, UTF-8 validated) or bytes


cdef class Ping:
    cdef readonly bytes data


cdef class Pong:
    cdef readonly bytes data


cdef class Close:
    cdef readonly object code  # int, or None for an empty close body
    cdef readonly str reason


cdef class ProtocolError:
    cdef readonly int code
    cdef readonly str reason


cdef class FrameParser:
    cdef uint64_t max_message_size
    cdef object deflate  # PerMessageDeflate or None
    cdef int state

    # A header split across feeds (at most 14 bytes: 2 + 8 length + 4 mask).
    cdef unsigned char header[14]
    cdef int header_len

    # The frame being read.
    cdef bint fin
    cdef int opcode
    cdef unsigned char mask[4]
    cdef uint64_t remaining  # payload bytes still to come
    cdef uint64_t offset  # payload bytes already read (the mask's phase)

    # A control frame's payload (RFC 6455 5.5: at most 125 bytes).
    cdef unsigned char control[125]
    cdef int control_len

    # The data message being assembled (message_opcode 0: none).
    cdef int message_opcode
    cdef bint compressed
    cdef uint64_t message_size  # payload bytes as sent (compressed or not), header-checked
    # The unmasked payload of the message so far, in a bytes object of our own
    # (NULL when there is none) grown in place and handed out as the message's data.
    cdef PyObject* buffer
    cdef Py_ssize_t buf_len  # bytes of it in use
    cdef Py_ssize_t buf_capacity  # its size

    # Incremental UTF-8 validation across fragments (see _utf8_check).
    cdef int utf8_need  # continuation bytes still expected
    cdef unsigned char utf8_low  # range allowed for the next continuation byte
    cdef unsigned char utf8_high

    cdef int _parse_header(self, const unsigned char* data, Py_ssize_t size,
                           list events) except -2
    cdef int _fail(self, list events, int code, str reason) except -1
    cdef int _reserve(self, Py_ssize_t extra) except -1
    cdef object _take_buffer(self)
    cdef void _release_buffer(self)
    cdef int _end_frame(self, list events) except -1
    cdef int _end_message(self, list events) except -1
    cdef int _end_control_frame(self, list events) except -1
    cdef void _reset_message(self)
