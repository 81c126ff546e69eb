"""One real request, checked byte for byte, before and after every measured run.

Theory of operation: the load generators count responses but read bodies only
loosely, so each measured run is bracketed by a probe made with httpx (h2 for the
HTTP/2 scenarios: prior knowledge on cleartext, ALPN on TLS) that checks the status,
the negotiated protocol and the exact body. A probe that fails disqualifies the run:
a server that answers errors fast, or breaks under load, gets no number.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Probe:
    path: str
    expected_body: bytes
    method: str = "GET"
    request_body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    http2: bool = False
    websocket: bool = False  # expected_body is sent as one message and must come back
    binary: bool = False


@functools.cache
def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    # Built once: loading a CA bundle costs tens of milliseconds per probe otherwise.
    return ssl.create_default_context(cafile=cafile)


def check(probe: Probe, port: int, cafile: str | None, timeout: float = 10.0) -> str | None:
    """Why the server's answer to `probe` is wrong, or None when it is exactly right."""
    if probe.websocket:
        from bench.wsload import probe_websocket

        return probe_websocket(port, probe.path, probe.expected_body, probe.binary, timeout)
    scheme = "https" if cafile else "http"
    verify = _ssl_context(cafile)
    url = f"{scheme}://127.0.0.1:{port}{probe.path}"
    try:
        # http1=False with http2=True on cleartext is h2c with prior knowledge.
        with httpx.Client(http1=not probe.http2, http2=probe.http2, verify=verify,
                          timeout=timeout) as client:
            response = client.request(probe.method, url, content=probe.request_body,
                                      headers=probe.headers)
    except httpx.HTTPError as exc:
        return f"probe {probe.method} {probe.path}: {type(exc).__name__}: {exc}"
    expected_version = "HTTP/2" if probe.http2 else "HTTP/1.1"
    if response.http_version != expected_version:
        return f"probe {probe.path}: answered in {response.http_version}, not {expected_version}"
    if response.status_code != 200:
        return f"probe {probe.path}: status {response.status_code}"
    body = response.content
    if body != probe.expected_body:
        return (f"probe {probe.path}: body of {len(body)} bytes differs from the expected "
                f"{len(probe.expected_body)} bytes")
    return None
