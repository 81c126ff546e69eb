# Layouts of the compiled HTTP/1.1 request parser's classes (see _parser.pyx).

from cpython.ref cimport PyObject

from fasthttpd.http1.events cimport EndOfMessage, Request


cdef class RequestParser:
    # Limits (from the constructor).
    cdef Py_ssize_t max_request_line_size
    cdef Py_ssize_t max_header_count
    cdef Py_ssize_t max_header_size
    cdef Py_ssize_t max_chunk_extension_size
    cdef long long max_body_size
    cdef Py_ssize_t longest_line  # the largest of the line limits

    cdef int state
    cdef list events  # the list being filled by the current feed()/resume()

    # Unparsed bytes: one incomplete line, or everything after an upgrade.
    cdef unsigned char* buf
    cdef Py_ssize_t buf_len
    cdef Py_ssize_t buf_capacity

    cdef long long consumed  # bytes_consumed
    cdef Py_ssize_t section_bytes  # complete lines of the head or trailers not yet emitted
    cdef Py_ssize_t leading_bytes  # empty lines before the request line

    # Field lines of the head or trailer section being read (owned references).
    cdef PyObject** fields
    cdef Py_ssize_t field_len
    cdef Py_ssize_t field_capacity

    # The message being parsed.
    cdef Request request
    cdef bint is_http11
    cdef bint is_connect
    cdef Py_ssize_t field_count
    cdef int host_count
    cdef int content_length_count
    cdef long long content_length
    cdef bint te_seen
    cdef bint te_last_is_chunked
    cdef int te_chunked_count
    cdef int te_other_count
    cdef bint conn_close
    cdef bint conn_keep_alive
    cdef bint conn_upgrade
    cdef bint expect_continue
    cdef object upgrade_value
    cdef long long body_remaining
    cdef long long body_total

    cdef Py_ssize_t _run(self, const unsigned char* p, Py_ssize_t n, object owner) except -1
    # Reading lines: the index after what was read, or NO_LINE (-1).
    cdef Py_ssize_t _parse_head(self, const unsigned char* p, Py_ssize_t pos,
                                Py_ssize_t n) except -2
    cdef Py_ssize_t _parse_request_line(self, const unsigned char* p, Py_ssize_t pos,
                                        Py_ssize_t n) except? -1
    cdef Py_ssize_t _parse_field_line(self, const unsigned char* p, Py_ssize_t pos,
                                      Py_ssize_t n) except? -1
    cdef Py_ssize_t _parse_chunk_size(self, const unsigned char* p, Py_ssize_t pos,
                                      Py_ssize_t n) except? -1
    cdef Py_ssize_t _parse_trailers(self, const unsigned char* p, Py_ssize_t pos,
                                    Py_ssize_t n) except -2
    # Checks: True to go on, False after a failure.
    cdef bint _start_request(self, const unsigned char* method, Py_ssize_t method_len,
                             const unsigned char* target, Py_ssize_t target_len) except -1
    cdef bint _apply_header(self, int kind, const unsigned char* v, Py_ssize_t vlen,
                            bytes value) except -1
    cdef bint _finish_head(self) except -1
    cdef bint _fail(self, int status, str reason) except -1
    cdef int _finish_message(self) except -1
    cdef void _reset_message(self) noexcept
    cdef int _push_field(self, tuple field) except -1
    cdef list _take_fields(self)
    cdef void _drop_fields(self) noexcept
    cdef int _buf_append(self, const unsigned char* p, Py_ssize_t n) except -1
    cdef void _buf_drop(self, Py_ssize_t n) noexcept
