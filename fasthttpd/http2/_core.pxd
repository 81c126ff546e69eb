# Layout of the sans-IO HTTP/2 server connection (fasthttpd/http2/_core.pyx), so
# that the driver (fasthttpd/http2/_driver.pyx) derives from it and reaches its
# fields and methods as C.

from fasthttpd.http2._hpack cimport Decoder, Encoder


# Frame types, flags and error codes (RFC 9113 6, 7), stream states (5.1).
cdef enum:
    FT_DATA = 0
    FT_HEADERS = 1
    FT_PRIORITY = 2
    FT_RST_STREAM = 3
    FT_SETTINGS = 4
    FT_PUSH_PROMISE = 5
    FT_PING = 6
    FT_GOAWAY = 7
    FT_WINDOW_UPDATE = 8
    FT_CONTINUATION = 9

cdef enum:
    FL_END_STREAM = 0x1
    FL_ACK = 0x1
    FL_END_HEADERS = 0x4
    FL_PADDED = 0x8
    FL_PRIORITY = 0x20

cdef enum:
    ERR_NO_ERROR = 0
    ERR_PROTOCOL = 1
    ERR_INTERNAL = 2
    ERR_FLOW_CONTROL = 3
    ERR_SETTINGS_TIMEOUT = 4
    ERR_STREAM_CLOSED = 5
    ERR_FRAME_SIZE = 6
    ERR_REFUSED_STREAM = 7
    ERR_CANCEL = 8
    ERR_COMPRESSION = 9
    ERR_CONNECT = 10
    ERR_ENHANCE_YOUR_CALM = 11

cdef enum:
    ST_OPEN = 1
    ST_HALF_CLOSED_REMOTE = 2   # the client sent END_STREAM
    ST_HALF_CLOSED_LOCAL = 3    # we sent END_STREAM
    ST_CLOSED = 4

cdef enum:
    CLOSED_ENDED = 1            # END_STREAM both ways
    CLOSED_RESET_SENT = 2       # we sent RST_STREAM: later frames are ignored (5.4.2)
    CLOSED_RESET_RECEIVED = 3   # the client sent RST_STREAM


cdef class StreamState:
    cdef public unsigned int stream_id
    cdef public int state                   # STREAM_* below
    cdef public long long send_window       # what we may still send on it
    cdef public long long recv_window       # what the client may still send on it
    cdef public long long recv_unacked      # read by the app, not yet announced
    cdef public long long content_length    # -1 when the request has none
    cdef public long long data_received     # DATA payload bytes so far
    cdef public object handle               # the driver's stream


cdef class ServerConnection:
    # Settings: ours (advertised) and the client's.
    cdef public unsigned int max_concurrent_streams
    cdef public long long local_initial_window
    cdef public long long local_connection_window
    cdef public Py_ssize_t max_header_list_size
    cdef public long long peer_initial_window
    cdef public Py_ssize_t peer_max_frame_size
    cdef public bint local_settings_acked

    # Connection state.
    cdef public bint started, closed, preface_received, expect_settings
    cdef public Py_ssize_t preface_left
    cdef public unsigned int highest_stream_id, refuse_above
    cdef public dict stream_states          # stream id -> StreamState, not closed yet
    cdef public dict recently_closed        # stream id -> CLOSED_* (bounded)
    cdef public long long send_window       # connection window for our DATA
    cdef public long long recv_window       # connection window for the client's DATA
    cdef public long long recv_unacked
    cdef bytearray inbuf                    # an incomplete frame from the last chunks
    cdef Py_ssize_t inbuf_need              # bytes it needs before it can be parsed
    cdef public bint enable_connect_protocol  # RFC 8441: advertised, :protocol accepted

    # A header block in progress (HEADERS without END_HEADERS).
    cdef public unsigned int block_stream_id
    cdef int block_flags
    cdef int block_continuations
    cdef bytearray block
    cdef bint block_bad_priority

    # HPACK.
    cdef public Decoder decoder
    cdef public Encoder encoder

    # Counters the driver reads for its abuse limits, then zeroes.
    cdef public Py_ssize_t resets, control_frames, acks

    # The request head found by the last validation.
    cdef public object req_method, req_path, req_scheme, req_authority, req_protocol
    cdef public long long req_content_length
    cdef public str error_reason
    cdef public int error_code

    # Output: frames serialized into one C buffer until data_to_send().
    cdef char* out
    cdef Py_ssize_t out_len, out_cap
    cdef list pieces  # with large DATA: the buffer's runs and payload slices, in order

    # Receiving.
    cpdef int receive(self, bytes data) except -1
    cdef int _frame(self, bytes data, const unsigned char* p, Py_ssize_t start,
                    Py_ssize_t length, int ftype, int flags, unsigned int sid) except -1
    cdef int _data(self, bytes data, const unsigned char* p, Py_ssize_t start,
                   Py_ssize_t length, int flags, unsigned int sid) except -1
    cdef int _headers(self, bytes data, const unsigned char* p, Py_ssize_t start,
                      Py_ssize_t length, int flags, unsigned int sid) except -1
    cdef int _continuation(self, bytes data, Py_ssize_t start, Py_ssize_t length,
                           int flags, unsigned int sid) except -1
    cdef int _header_block(self, unsigned int sid, int flags, bytes block,
                           bint bad_priority) except -1
    cdef int _trailers(self, StreamState s, list fields, int flags) except -1
    cdef int _settings(self, const unsigned char* p, Py_ssize_t start, Py_ssize_t length,
                       int flags, unsigned int sid) except -1
    cdef int _window_update(self, const unsigned char* p, Py_ssize_t start,
                            Py_ssize_t length, unsigned int sid) except -1
    cdef int _rst_stream(self, const unsigned char* p, Py_ssize_t start, Py_ssize_t length,
                         unsigned int sid) except -1
    cdef object _validate_request(self, list fields)
    cdef int connection_error(self, int code, str reason) except -1
    cdef int stream_error(self, unsigned int sid, int code, str reason) except -1
    cdef _closed(self, unsigned int sid, int how)
    cdef _remote_end(self, StreamState s)
    cdef int _check_content_length(self, StreamState s) except -1

    # Sending.
    cpdef start(self)
    cpdef apply_upgrade_settings(self, bytes payload)
    cpdef StreamState open_upgrade_stream(self)
    cpdef send_headers(self, StreamState s, list fields, bint end_stream)
    cpdef long long send_window_of(self, StreamState s)
    cpdef send_data(self, StreamState s, object data, bint end_stream)
    cpdef reset_stream(self, StreamState s, int code)
    cpdef acknowledge(self, StreamState s, long long size)
    cpdef goaway(self, int code, unsigned int last_stream_id)
    cpdef bytes data_to_send(self)
    cpdef object take_output(self)
    cdef _cut(self)
    cdef bytes _take_buffer(self)
    cdef _end_local(self, StreamState s)
    cdef _frame_header(self, Py_ssize_t length, int ftype, int flags, unsigned int sid)
    cdef _put(self, const char* data, Py_ssize_t size)
    cdef _reserve(self, Py_ssize_t size)
    cdef _window_update_frame(self, unsigned int sid, long long increment)
    cdef _rst_frame(self, unsigned int sid, int code)
    cdef _goaway_frame(self, int code, unsigned int last_stream_id)
    cdef _return_connection_window(self, Py_ssize_t length)

    # Hooks: the driver overrides them (cpdef, so a Python test subclass can too).
    cpdef on_request(self, StreamState s, list headers, bint end_stream)
    cpdef on_data(self, StreamState s, bytes data, Py_ssize_t flow_length, bint end_stream)
    cpdef on_stream_reset(self, StreamState s, int code, bint by_client)
    cpdef on_window_update(self, StreamState s)
    cpdef on_goaway(self, int code)
