# Layout of fasthttpd/websocket/asgi.py when compiled; see fasthttpd/http1/driver.pxd.

cimport cython

from fasthttpd.asgi cimport AsgiHandler
from fasthttpd.websocket.session cimport WebSocketSession


@cython.final
cdef class WebSocketCycle:
    cdef public AsgiHandler handler
    cdef public object stream, handshake, scope
    cdef public bint http2
    cdef public int phase, status
    cdef public WebSocketSession session
    cdef public double start
