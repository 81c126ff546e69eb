"""DefaultHttpDriverFactory: HTTP/2 by ALPN or by its preface, else HTTP/1.1."""

from __future__ import annotations

import logging
from typing import Any

from fasthttpd.client import Client
from fasthttpd.driver import H2_PREFACE, HttpDriver, HttpDriverFactory
from fasthttpd.http1.driver import Http1Driver
from fasthttpd.state import ServerState

logger = logging.getLogger("fasthttpd.error")

# RFC 9110 15.6.6: 505 is for a major version the server does not support; here the
# server supports only the other one. Connection: close, since nothing else can follow.
HTTP2_ONLY_BODY = (b"This server speaks HTTP/2 only (--http 2). Connect with HTTP/2: "
                   b"prior knowledge on cleartext (curl --http2-prior-knowledge), ALPN h2 "
                   b"on TLS.\n")
HTTP2_ONLY_RESPONSE = (b"HTTP/1.1 505 HTTP Version Not Supported\r\n"
                       b"content-type: text/plain; charset=utf-8\r\n"
                       b"content-length: %d\r\nconnection: close\r\n\r\n"
                       % len(HTTP2_ONLY_BODY)) + HTTP2_ONLY_BODY


class DefaultHttpDriverFactory(HttpDriverFactory):
    """ALPN decides on TLS; on cleartext the first bytes do (RFC 9113 3.3, 3.4).

    `--http 1` never selects HTTP/2. `--http 2` serves HTTP/2 only: ALPN h2 on TLS, or
    the connection preface (prior knowledge, RFC 9113 3.3) on cleartext and on a TLS
    connection without ALPN; anything else is answered with a 505 that says so, and
    closed. (So no h2c upgrade either: it starts as HTTP/1.1.)
    """

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.http = state.config.http

    def select_driver(self, client: Client, data: bytes) -> HttpDriver | None:
        # The common case first, in as few steps as it takes: cleartext whose first
        # byte cannot begin the preface is HTTP/1.1 (unless --http 2).
        if data[:1] != b"P" and not client.is_encrypted and self.http != "2":
            return Http1Driver(self.state)  # type: ignore[return-value]
        if client.is_encrypted:
            alpn = (client.tls_info or {}).get("alpn_protocol")
            if alpn == "h2" and self.http != "1":
                return self._http2()
            if self.http != "2":
                return self._http1()
            if not data:
                return None  # no ALPN h2: the first bytes must be the preface
        if self.http == "2":
            if len(data) < len(H2_PREFACE) and H2_PREFACE.startswith(data):
                return None  # could still be the preface: wait for more
            if data.startswith(H2_PREFACE):
                return self._http2()
            return Http2OnlyRefusal()
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


class Http2OnlyRefusal(HttpDriver):
    """With --http 2, a client that does not speak HTTP/2: one 505, then close."""

    __slots__ = ("_writer", "_answered")

    def setup(self, client: Client, on_message: Any, writer: Any) -> None:
        self._writer = writer
        self._answered = False
        logger.debug("%s: not HTTP/2 on an HTTP/2-only server (--http 2): refused with 505",
                     client.remote_address)

    def data_received(self, data: bytes) -> None:
        if not self._answered:
            self._answered = True
            self._writer.write(HTTP2_ONLY_RESPONSE, close=True)

    def connection_lost(self, exc: BaseException | None) -> None:
        pass

    @property
    def pending_request_count(self) -> int:
        return 0

    def stop(self) -> None:
        pass
