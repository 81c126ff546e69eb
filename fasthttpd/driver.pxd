# Layout of fasthttpd/driver.py when compiled; see fasthttpd/http1/driver.pxd.
# HttpStream is the one contract on the per-request path: the request cycle
# (fasthttpd/asgi.py) reaches its fields and methods through this declaration.

from fasthttpd.client cimport Client


cdef class HttpStream:
    cdef public Client client
    cdef public object method, path, query, http_version, headers, scheme
    cdef public bint is_disconnected

    cpdef send_informational(self, status, headers)
    cpdef start_response(self, status, headers, trailers=*)
    cpdef bint send_body(self, data, bint more_body) except -1
    cpdef send_trailers(self, trailers)
    cpdef abort(self)
    cpdef respond_error(self, int status)
