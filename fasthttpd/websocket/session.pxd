# Layout of fasthttpd/websocket/session.py when compiled; see fasthttpd/http1/driver.pxd.
# The session is on the per-message path: its fields are C fields and its internal
# methods C calls.

cimport cython


@cython.final
cdef class WebSocketSession:
    cdef public object carrier, loop, settings, parser, deflate, peer, queue, receiver
    cdef public object timer, ping_payload, close_code, observer, on_closed, out
    cdef public list drainers
    cdef public int state, paused_for
    cdef public str close_reason
    cdef public Py_ssize_t bytes_received, bytes_sent, messages_in, messages_out, out_size
    cdef public bint flush_scheduled

    cpdef data_received(self, data)
    cpdef take(self)
    cpdef bint send_message(self, data) except -1
    cpdef _write(self, bytes data)
    cpdef _flush(self)
    cpdef _close_received(self, event)
    cpdef _fail(self, int code, str reason)
    cpdef _end(self)
    cpdef _set_closed(self, int code, str reason)
    cpdef _wake_receiver(self)
    cpdef _pause(self, int reason)
    cpdef _resume(self, int reason)
