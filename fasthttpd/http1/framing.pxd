# The values of framing.py as C constants, for the compiled modules to cimport
# (`from fasthttpd.http1.framing cimport C_FRAMING_NONE`). Keep in step with
# framing.py: tests/unit/test_compile_scheme.py compares the two.

cdef enum:
    C_FRAMING_NONE = 0
    C_FRAMING_LENGTH = 1
    C_FRAMING_CHUNKED = 2
    C_FRAMING_CLOSE = 3

cdef enum:
    C_FLAG_HEAD = 1
    C_FLAG_HTTP10 = 2
    C_FLAG_KEEP_ALIVE = 4
    C_FLAG_TRAILERS = 8
