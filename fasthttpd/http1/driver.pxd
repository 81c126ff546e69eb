# Layout of fasthttpd/http1/driver.py when compiled: the module stays plain Python
# (it runs as is where the extensions are not built); this augmenting declaration
# turns its two classes into cdef classes with typed fields, and their internal
# methods into C calls.

cimport cython

from fasthttpd.client cimport Client
from fasthttpd.connection cimport Writer
from fasthttpd.driver cimport HttpStream
from fasthttpd.http1.events cimport EndOfMessage, Request
from fasthttpd.state cimport ServerState


# Not final: Cython refuses a final subclass overriding its base's cpdef methods.
cdef class Http1Stream(HttpStream):
    cdef public Http1Driver driver
    cdef public Request request
    cdef public bint runs_ahead, dispatched, complete
    cdef public object _chunks
    cdef public Py_ssize_t _buffered
    cdef public bint _body_complete, _continue_owed, _trailers, _head_sent
    cdef public bint _keep_alive, _close_after
    cdef public object _body_waiter, _disconnect_waiter, _turn
    cdef public int _flags, _framing
    cdef public object _status, _headers
    cdef public long long _remaining
    cdef public int status
    cdef public list _held

    cpdef _open(self, Http1Driver driver, Request request)
    cpdef feed_body(self, bytes data)
    cpdef end_body(self)
    cpdef _wake_body(self)
    cpdef lose_connection(self)
    cpdef take_turn(self)
    cpdef send_informational(self, status, headers)
    cpdef start_response(self, status, headers, trailers=*)
    cpdef bint send_body(self, data, bint more_body) except -1
    cpdef send_trailers(self, trailers)
    cpdef _head_with(self, bytes data, bint more_body)
    cpdef _fail_too_long(self)
    cpdef _finish_with(self, out)
    cpdef abort(self)
    cpdef respond_error(self, int status)
    cpdef int request_flags(self) except -1


@cython.final
cdef class Http1Driver:
    cdef public Client client
    cdef public ServerState state
    cdef public object loop, config, parser, serializer, on_message
    cdef public Writer writer
    cdef public list queue
    cdef public Http1Stream receiving, _upgrading
    cdef public bint closing, write_paused, _dispatching, _feeding
    cdef public list _drain_waiters
    cdef public int _reading_paused_for, _wait
    cdef public double _deadline, _timer_at, _timeout_keep_alive
    cdef public object _timer, _pending_error
    cdef public Py_ssize_t _drain_budget, _out_size, _waiting, _unsafe, _window_bytes
    cdef public bint _input_closed
    cdef public double _window_end, _window_min, _paused_at
    cdef public object _send_timer
    cdef public list _out

    cpdef _process(self, list events)
    @cython.locals(stream=Http1Stream)
    cpdef _request_received(self, Request request)
    @cython.locals(stream=Http1Stream)
    cpdef _end_of_message(self)
    cpdef _after_input(self)
    cpdef bint _body_window_passed(self, double now) except -1
    cpdef _body_failed(self)
    cpdef _drop(self, Http1Stream stream)
    cpdef emit(self, Http1Stream stream, data, bint close=*, bint final=*)
    cpdef _flush(self, bint close=*)
    @cython.locals(request=Request)
    cpdef response_complete(self, Http1Stream stream)
    @cython.locals(done=Http1Stream, head=Http1Stream)
    cpdef _advance(self)
    @cython.locals(stream=Http1Stream)
    cpdef _dispatch_waiting(self)
    cpdef drained(self, Py_ssize_t size)
    cpdef pause_body(self)
    cpdef resume_body(self)
    cpdef _pause_reading(self, int reason)
    cpdef _resume_reading(self, int reason)
    cpdef _set_deadline(self, int wait, double timeout)
    cpdef _set_deadline_at(self, int wait, double deadline)
    cpdef _close_now(self)


# Module constants: C values in compiled code, plain globals in the source.
cdef Py_ssize_t BODY_BUFFER_LIMIT, PIPELINE_LIMIT, DRAIN_LIMIT, GATHER_LIMIT, LARGE_BODY
cdef frozenset SAFE_METHODS
cdef double INFINITY
cdef int WAIT_HEAD, WAIT_BODY, WAIT_IDLE, WAIT_ANSWERED
cdef dict _METHOD_NAMES
cdef int _PAUSED_BODY, _PAUSED_PIPELINE
cdef bytes _CONTINUE, _LAST_CHUNK, _SWITCHING_TO_H2C
cdef int _FRAMING_NONE, _FRAMING_LENGTH, _FRAMING_CHUNKED, _FRAMING_CLOSE
cdef int _FLAG_HEAD, _FLAG_HTTP10, _FLAG_KEEP_ALIVE, _FLAG_TRAILERS
