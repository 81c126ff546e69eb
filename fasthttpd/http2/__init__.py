"""HTTP/2 (RFC 9113) on the h2 library, behind the same HttpDriver as HTTP/1.1."""

from fasthttpd.http2.driver import Http2Driver
from fasthttpd.http2.stream import Http2Stream

__all__ = ["Http2Driver", "Http2Stream"]
