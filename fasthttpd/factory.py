"""DefaultHttpDriverFactory: HTTP/2 by ALPN or by its preface, else HTTP/1.1."""

from __future__ import annotations

from fasthttpd.client import Client
from fasthttpd.driver import H2_PREFACE, HttpDriver, HttpDriverFactory
from fasthttpd.http1.driver import Http1Driver
from fasthttpd.state import ServerState


class DefaultHttpDriverFactory(HttpDriverFactory):
    """ALPN decides on TLS; on cleartext the first bytes do (RFC 9113 3.3, 3.4).

    `--http 1` never selects HTTP/2; `--http 2` still accepts HTTP/1.1 on
    cleartext, since that is how an h2c upgrade starts, but not on TLS.
    """

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.http = state.config.http

    def select_driver(self, client: Client, data: bytes) -> HttpDriver | None:
        if client.is_encrypted:
            alpn = (client.tls_info or {}).get("alpn_protocol")
            if alpn == "h2" and self.http != "1":
                return self._http2()
            return self._http1()
        if self.http != "1" and data[:1] == b"P":
            if len(data) < len(H2_PREFACE) and H2_PREFACE.startswith(data):
                return None  # could still be the preface: wait for more
            if data.startswith(H2_PREFACE):
                return self._http2()
        return self._http1()

    def _http1(self) -> HttpDriver:
        # A registered HttpDriver (a cdef class when compiled), which type checkers
        # cannot see.
        return Http1Driver(self.state)  # type: ignore[return-value]

    def _http2(self) -> HttpDriver:
        from fasthttpd.http2 import new_http2_driver

        return new_http2_driver(self.state)
