# Layout of fasthttpd/state.py when compiled; see fasthttpd/http1/driver.pxd.

cimport cython


@cython.final
cdef class ServerState:
    cdef public object config, loop, observer, on_request_limit
    cdef public tuple http1_settings
    cdef public set connections
    cdef public Py_ssize_t active_requests, total_requests
    cdef public bint shutting_down, trace
    cdef public dict lifespan_state, undecided
