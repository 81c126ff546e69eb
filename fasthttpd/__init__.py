"""fasthttpd: a fast, strict HTTP/1.1 and HTTP/2 server for ASGI applications."""

__version__ = "0.1.0"
