# Layout of fasthttpd/http1/events.py when compiled; the compiled parser fills
# these fields directly.

cimport cython


@cython.final
cdef class Request:
    cdef public bytes method
    cdef public bytes target
    cdef public bytes path
    cdef public bytes query
    cdef public str http_version
    cdef public list headers
    cdef public bint keep_alive
    cdef public int framing
    cdef public long long content_length
    cdef public bint expect_continue
    cdef public object upgrade
    cdef public bytes host


@cython.final
cdef class EndOfMessage:
    cdef public list trailers
