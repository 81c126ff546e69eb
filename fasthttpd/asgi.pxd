# Layout of fasthttpd/asgi.py when compiled; see fasthttpd/http1/driver.pxd.

cimport cython

from fasthttpd.client cimport Client
from fasthttpd.driver cimport HttpStream
from fasthttpd.state cimport ServerState


@cython.final
cdef class AsgiHandler:
    cdef public ServerState state
    cdef public object app, loop, root_path, raw_root_path
    cdef public Py_ssize_t limit_concurrency, limit_max_requests
    cdef public object access_log, trusted_proxies, sent
    cdef public set tasks
    cdef public dict decoded_paths, scope_template
    cdef public bint timed, custom_task_factory

    @cython.locals(cycle=RequestCycle)
    cpdef dispatch(self, HttpStream stream)
    cpdef start_task(self, coro)
    cpdef dict build_scope(self, HttpStream stream)
    cpdef dict connection_scope(self, Client client)
    cpdef bint trusts(self, host) except -1


@cython.final
cdef class RequestCycle:
    cdef public AsgiHandler handler
    cdef public HttpStream stream
    cdef public dict scope
    cdef public int phase, status
    cdef public Py_ssize_t size
    cdef public double start
    cdef public bint request_done, trailers
    cdef public object held_trailers, task

    cpdef _open(self, AsgiHandler handler, HttpStream stream, dict scope)
    cpdef _app_failed(self, exc)
    cpdef _app_returned(self)
    cpdef _end(self)
    cpdef _respond_500(self)
    cpdef _record(self)
    cpdef _out_of_order(self, kind)
    cpdef send(self, dict message)


# Module constants: C values in compiled code, plain globals in the source.
cdef int INITIAL, STARTED, STREAMING, BODY_DONE, COMPLETE
cdef bint EAGER_TASKS
cdef Py_ssize_t DECODED_PATHS_LIMIT
cdef dict EXTENSIONS, DISCONNECT
cdef str TASK_NAME


# Called for every request from a trusted peer (127.0.0.1 by default): a C call.
@cython.locals(name=bytes, value=bytes, proto=str, host=str)
cdef _apply_proxy_headers(dict scope)
