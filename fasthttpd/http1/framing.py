"""HTTP/1.1 framing values, the one home for them: how a message's body is delimited,
and the request facts a response's framing depends on.

`Request.framing` (both parsers) holds a FRAMING_* value; `serialize_response` (both
serializers) takes FLAG_* bits and returns a FRAMING_* value; the driver reads both.
The compiled modules cimport the same values as C constants from framing.pxd, where
they are written beside these (C_ prefix); tests/unit/test_compile_scheme.py checks
that the two agree.
"""

from __future__ import annotations

# How the body of a message is delimited (RFC 9112 6.3).
FRAMING_NONE = 0  # no body
FRAMING_LENGTH = 1  # Content-Length bytes
FRAMING_CHUNKED = 2  # Transfer-Encoding: chunked
FRAMING_CLOSE = 3  # until the connection closes (responses to HTTP/1.0 only)

# Facts about the request that a response's framing depends on, OR-ed together.
FLAG_HEAD = 1  # the request method was HEAD
FLAG_HTTP10 = 2  # the request was HTTP/1.0
FLAG_KEEP_ALIVE = 4  # the connection may persist after this response
FLAG_TRAILERS = 8  # the app announced trailers

__all__ = ["FLAG_HEAD", "FLAG_HTTP10", "FLAG_KEEP_ALIVE", "FLAG_TRAILERS", "FRAMING_CHUNKED",
           "FRAMING_CLOSE", "FRAMING_LENGTH", "FRAMING_NONE"]
