# Layout of fasthttpd/connection.py when compiled; see fasthttpd/http1/driver.pxd.
# The Writer is what compiled drivers call on the hot path: final, so that its
# methods are C calls from a driver that types it.

cimport cython

from fasthttpd.client cimport Client
from fasthttpd.state cimport ServerState


@cython.final
cdef class Writer:
    cdef public bint is_writing_paused
    cdef readonly bint closed_by_server
    cdef object _transport, _transport_write, _connection

    cpdef write(self, bytes data, bint close=*)
    cpdef writelines(self, pieces, bint close=*)
    cpdef close(self)
    cpdef abort(self)
    cpdef reset(self)
    cpdef pause_reading(self)
    cpdef resume_reading(self)
    cpdef switch_driver(self, driver, data)


@cython.final
cdef class Connection:
    cdef public ServerState state
    cdef public object factory, on_message, transport, driver, data_received
    cdef public Client client
    cdef public Writer writer
    cdef bytes _sniffed
    cdef object _listener

    cpdef switch_driver(self, driver, bytes data)
    cpdef _select_driver(self, bytes data)


cdef object _address(object address)
