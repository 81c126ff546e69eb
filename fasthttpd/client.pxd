# Layout of fasthttpd/client.py when compiled; see fasthttpd/http1/driver.pxd.

cimport cython


@cython.final
cdef class Client:
    cdef public object id, remote_address, local_address, tls_info, scheme
    cdef public bint is_unix, is_encrypted, is_exported
    cdef public Py_ssize_t pending_request_count, pending_response_count
    cdef public int status  # closed-by bits: CLOSED_BY_CLIENT | CLOSED_BY_SERVER
    cdef public double expiration_time
    cdef public object _close, _close_callbacks
    cdef public dict scope_base

    cpdef _open(self, remote_address, local_address, bint is_unix, tls_info, close)
    cpdef mark_closed(self, bint by_client)
