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
    cdef public int phase, status
    cdef public bint runs_ahead, body_complete, continue_owed
    cdef object _chunks, _body_waiter, _disconnect_waiter, _turn, _status, _headers
    cdef Py_ssize_t _buffered
    cdef bint _trailers, _keep_alive, _close_after
    cdef int _flags, _framing
    cdef long long _remaining
    cdef list _held

    cpdef _open(self, Http1Driver driver, Request request)
    cpdef start(self)
    cpdef drop(self)
    cpdef take_held(self)
    cpdef hold(self, data, bint close)
    cpdef Py_ssize_t drop_unread_body(self) except -1
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
    cdef public Http1Stream receiving
    cdef public int reading
    cdef public bint closing, write_paused
    cdef Http1Stream _upgrading
    cdef bint _dispatching, _feeding
    cdef list _drain_waiters, _out
    cdef int _reading_paused_for
    cdef double _deadline, _timer_at, _timeout_keep_alive
    cdef double _window_end, _window_min, _paused_at
    cdef object _timer, _pending_error, _send_timer
    cdef Py_ssize_t _discard_budget, _out_size, _waiting, _unsafe, _window_bytes

    cpdef _process(self, list events)

    @cython.locals(stream=Http1Stream)
    cpdef _request_received(self, Request request)

    @cython.locals(stream=Http1Stream)
    cpdef _end_of_message(self)
    cpdef _after_input(self)

    @cython.locals(receiving=Http1Stream)
    cpdef bint _body_window_passed(self, double now) except -1
    cpdef _close_input(self)
    cpdef _wake_drainers(self)
    cpdef _forget(self, Http1Stream stream)
    cpdef emit(self, Http1Stream stream, data, bint close=*, bint final=*)
    cpdef _flush(self, bint close=*)

    @cython.locals(request=Request)
    cpdef response_complete(self, Http1Stream stream)

    @cython.locals(done=Http1Stream, head=Http1Stream)
    cpdef _advance(self)

    @cython.locals(stream=Http1Stream)
    cpdef _dispatch_waiting(self)
    cpdef discarded(self, Py_ssize_t size)
    cpdef pause_body(self)
    cpdef resume_body(self)
    cpdef _pause_reading(self, int reason)
    cpdef _resume_reading(self, int reason)
    cpdef _set_deadline(self, double timeout)
    cpdef _set_deadline_at(self, double deadline)
    cpdef _body_failed(self)
    cpdef _answer_and_close(self, int status)
    cpdef _close_now(self)


# Module constants: C values in compiled code, plain globals in the source.
cdef Py_ssize_t BODY_BUFFER_LIMIT, PIPELINE_LIMIT, DISCARD_LIMIT, GATHER_LIMIT, LARGE_BODY
cdef frozenset SAFE_METHODS
cdef double INFINITY
cdef int QUEUED, RUNNING, HEAD_HELD, STREAMING, COMPLETE, ABORTED
cdef int IDLE, HEAD, BODY, DISCARD, CLOSED
cdef dict _METHOD_NAMES
cdef int _PAUSED_BODY, _PAUSED_PIPELINE
cdef bytes _CONTINUE, _LAST_CHUNK, _SWITCHING_TO_H2C
# Imported from fasthttpd/http1/framing.py, their one home, into C ints.
cdef int FRAMING_NONE, FRAMING_LENGTH, FRAMING_CHUNKED
cdef int FLAG_HEAD, FLAG_HTTP10, FLAG_KEEP_ALIVE, FLAG_TRAILERS
