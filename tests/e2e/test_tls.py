"""TLS end to end: ALPN, the `tls` scope extension, mutual TLS, failed handshakes.

Certificates come from trustme, generated at test time.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.e2e.conftest import RunningServer, run_server

CURL = shutil.which("curl")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reports the protocol facts of the request as JSON."""
    if scope["type"] != "http":
        return
    tls = scope["extensions"].get("tls")
    body = json.dumps({"http_version": scope["http_version"], "scheme": scope["scheme"],
                       "tls": tls}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = trustme.CA()
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.client_cert = self.ca.issue_cert("client@example.test",
                                              common_name="test-client")
        self.ca_file = root / "ca.pem"
        self.cert_file = root / "server.pem"
        self.key_file = root / "server.key"
        self.client_file = root / "client.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        server.cert_chain_pems[0].write_to_path(str(self.cert_file))
        server.private_key_pem.write_to_path(str(self.key_file))
        self.client_cert.private_key_and_cert_chain_pem.write_to_path(str(self.client_file))

    def server_args(self) -> list[str]:
        return ["--ssl-certfile", str(self.cert_file), "--ssl-keyfile", str(self.key_file)]

    def client_context(self, with_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if with_cert:
            context.load_cert_chain(str(self.client_file))
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


# The shared server runs once per HTTP/2 implementation (the compiled core, h2).
@pytest.fixture(scope="module", params=["compiled", "h2"])
def tls_server(pki: Pki, request: pytest.FixtureRequest) -> Any:
    with run_server(*pki.server_args(), "--log-level", "debug", "--http2-impl", request.param,
                    app="tests.e2e.test_tls:app", scheme="https") as server:
        yield server


def test_alpn_h2_and_tls_extension(pki: Pki, tls_server: RunningServer) -> None:
    with httpx.Client(http2=True, verify=pki.client_context(), timeout=5) as client:
        response = client.get(f"{tls_server.url}/")
    assert response.http_version == "HTTP/2"
    facts = response.json()
    assert facts["http_version"] == "2" and facts["scheme"] == "https"
    tls = facts["tls"]
    assert tls["tls_version"] == 0x0304
    assert isinstance(tls["cipher_suite"], int) and tls["cipher_suite"] > 0
    assert tls["server_cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert tls["server_cert"].strip() == pki.cert_file.read_text().strip()
    assert tls["client_cert_chain"] == [] and tls["client_cert_name"] is None
    assert tls["client_cert_error"] is None


def test_alpn_http11(pki: Pki, tls_server: RunningServer) -> None:
    with httpx.Client(http1=True, http2=False, verify=pki.client_context(), timeout=5) as client:
        response = client.get(f"{tls_server.url}/")
    assert response.http_version == "HTTP/1.1"
    facts = response.json()
    assert facts["http_version"] == "1.1" and facts["scheme"] == "https"
    assert facts["tls"]["tls_version"] == 0x0304


def test_tls12_is_the_minimum(pki: Pki, tls_server: RunningServer) -> None:
    context = pki.client_context()
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname="127.0.0.1"):
                pass


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_http2_over_tls(pki: Pki, tls_server: RunningServer) -> None:
    out = subprocess.run([CURL, "-s", "--http2", "--cacert", str(pki.ca_file), "-w",
                          "\n%{http_version}", f"https://localhost:{tls_server.port}/"],
                         capture_output=True, timeout=10, check=True)
    body, version = out.stdout.rsplit(b"\n", 1)
    assert version == b"2" and json.loads(body)["scheme"] == "https"


def test_plain_http_to_the_tls_port(pki: Pki, tls_server: RunningServer) -> None:
    """A failed handshake costs the connection, is no error in the log, and serving goes on."""
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
        assert b"HTTP/1.1 200" not in data
    with httpx.Client(http2=True, verify=pki.client_context(), timeout=5) as client:
        assert client.get(f"{tls_server.url}/").status_code == 200
    log = tls_server.log()
    assert "Traceback" not in log and " ERROR " not in log
    # Logged at debug (the server runs with --log-level debug), with OpenSSL's reason:
    # plain HTTP where a ClientHello belongs.
    failures = re.findall(r" DEBUG TLS handshake failed: (.*)", log)
    assert any("HTTP_REQUEST" in reason or "http request" in reason for reason in failures), \
        log


def test_http1_only_offers_http11(pki: Pki) -> None:
    with run_server(*pki.server_args(), "--http", "1", app="tests.e2e.test_tls:app",
                    scheme="https") as server:
        with httpx.Client(http2=True, verify=pki.client_context(), timeout=5) as client:
            response = client.get(f"{server.url}/")
    assert response.http_version == "HTTP/1.1"


def test_mutual_tls(pki: Pki) -> None:
    args = [*pki.server_args(), "--ssl-ca-certs", str(pki.ca_file), "--ssl-cert-reqs", "2"]
    with run_server(*args, app="tests.e2e.test_tls:app", scheme="https") as server:
        with httpx.Client(http2=True, verify=pki.client_context(with_cert=True),
                          timeout=5) as client:
            tls = client.get(f"{server.url}/").json()["tls"]
        assert len(tls["client_cert_chain"]) == 1
        assert tls["client_cert_chain"][0].strip() == \
            pki.client_cert.cert_chain_pems[0].bytes().decode().strip()
        assert "CN=test-client" in tls["client_cert_name"]
        # Without a client certificate the handshake (or the first read) fails.
        # TLS 1.3 reports the rejection after the handshake: any transport error.
        with pytest.raises(httpx.TransportError):
            with httpx.Client(http2=True, verify=pki.client_context(), timeout=5) as client:
                client.get(f"{server.url}/")
        with httpx.Client(http2=True, verify=pki.client_context(with_cert=True),
                          timeout=5) as client:
            assert client.get(f"{server.url}/").status_code == 200


# The tls module on its own (no server process).
def test_alpn_follows_the_http_setting(pki: Pki) -> None:
    import dataclasses

    from fasthttpd.config import Config
    from fasthttpd.tls import alpn_protocols, create_ssl_context

    config = dataclasses.replace(Config(), ssl_certfile=str(pki.cert_file),
                                 ssl_keyfile=str(pki.key_file))
    context = create_ssl_context(config)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE
    assert alpn_protocols("auto") == ["h2", "http/1.1"]
    assert alpn_protocols("1") == ["http/1.1"]
    assert alpn_protocols("2") == ["h2"]


def test_handshake_failures_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import logging

    from fasthttpd.tls import quiet_handshake_errors

    loop = asyncio.new_event_loop()
    try:
        quiet_handshake_errors(loop)
        with caplog.at_level(logging.DEBUG, logger="fasthttpd.error"):
            loop.call_exception_handler({
                "message": "SSL handshake failed",
                "exception": ssl.SSLError(1, "[SSL: HTTP_REQUEST] http request")})
            loop.call_exception_handler({"message": "something else broke",
                                         "exception": RuntimeError("not TLS")})
    finally:
        loop.close()
    handshake = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert handshake and handshake[0].levelno == logging.DEBUG
    # Everything else still reaches asyncio's default handler (logged as an error).
    others = [r for r in caplog.records if "something else broke" in r.getMessage()]
    assert others and others[0].levelno == logging.ERROR


# Certificates and keys that cannot work: one line that says what is wrong.
def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    from tests.e2e.conftest import ROOT, server_env

    return subprocess.run([sys.executable, "-m", "fasthttpd", "--port", "0", *args],
                          capture_output=True, text=True, timeout=30, cwd=ROOT,
                          env=server_env("compiled"))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_certificate_without_its_key_says_so(pki: Pki, workers: str) -> None:
    result = run_command("--ssl-certfile", str(pki.cert_file), "--workers", workers)
    assert result.returncode == 1
    assert result.stderr == (f"fasthttpd: error: TLS: {pki.cert_file} holds a certificate but "
                             "no private key; give the key with --ssl-keyfile\n")


def test_key_that_does_not_match_the_certificate_says_so(pki: Pki, tmp_path: Path) -> None:
    other_key = tmp_path / "other.key"
    pki.ca.issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other_key))
    result = run_command("--ssl-certfile", str(pki.cert_file), "--ssl-keyfile", str(other_key))
    assert result.returncode == 1
    assert result.stderr == (f"fasthttpd: error: TLS: the private key in {other_key} does not "
                             f"match the certificate in {pki.cert_file}\n")


def test_key_file_that_holds_no_key_says_so(pki: Pki) -> None:
    result = run_command("--ssl-certfile", str(pki.cert_file), "--ssl-keyfile",
                         str(pki.ca_file))
    assert result.returncode == 1
    assert result.stderr == (f"fasthttpd: error: TLS: {pki.ca_file} holds no PEM private key "
                             "(--ssl-keyfile)\n")


def encrypted_key(pki: Pki, path: Path, password: bytes) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.key_file.read_bytes(), password=None)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(password)))
    return path


def test_encrypted_key_without_its_password_says_so_without_prompting(pki: Pki,
                                                                       tmp_path: Path) -> None:
    # OpenSSL would ask on the terminal; a server (or its worker) must not wait for that.
    key = encrypted_key(pki, tmp_path / "encrypted.key", b"secret")
    result = run_command("--ssl-certfile", str(pki.cert_file), "--ssl-keyfile", str(key))
    assert result.returncode == 1
    assert result.stderr == (f"fasthttpd: error: TLS: the private key in {key} is encrypted; "
                             "give its password with --ssl-keyfile-password\n")


def test_encrypted_key_with_a_wrong_password_says_so(pki: Pki, tmp_path: Path) -> None:
    key = encrypted_key(pki, tmp_path / "encrypted.key", b"secret")
    result = run_command("--ssl-certfile", str(pki.cert_file), "--ssl-keyfile", str(key),
                         "--ssl-keyfile-password", "wrong")
    assert result.returncode == 1
    assert result.stderr == (f"fasthttpd: error: TLS: cannot decrypt the private key in {key}: "
                             "check --ssl-keyfile-password\n")


def test_encrypted_key_with_its_password_serves(pki: Pki, tmp_path: Path) -> None:
    key = encrypted_key(pki, tmp_path / "encrypted.key", b"secret")
    with run_server("--ssl-certfile", str(pki.cert_file), "--ssl-keyfile", str(key),
                    "--ssl-keyfile-password", "secret", app="tests.e2e.test_tls:app",
                    scheme="https") as server:
        with httpx.Client(verify=pki.client_context(), timeout=5) as client:
            assert client.get(f"{server.url}/").json()["scheme"] == "https"


def test_ssl_version_5_is_tls12_only(pki: Pki) -> None:
    import dataclasses

    from fasthttpd.config import Config
    from fasthttpd.tls import create_ssl_context

    config = dataclasses.replace(Config(), ssl_certfile=str(pki.cert_file),
                                 ssl_keyfile=str(pki.key_file))
    assert create_ssl_context(config).maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
    tls12 = create_ssl_context(dataclasses.replace(config, ssl_version=5))
    assert tls12.maximum_version == ssl.TLSVersion.TLSv1_2


def test_http2_only_refuses_http11_over_tls_without_alpn_h2(pki: Pki) -> None:
    with run_server(*pki.server_args(), "--http", "2", app="tests.e2e.test_tls:app",
                    scheme="https") as server:
        with httpx.Client(http1=True, http2=False, verify=pki.client_context(),
                          timeout=5) as client:
            refused = client.get(f"{server.url}/")
        assert refused.status_code == 505 and "HTTP/2 only" in refused.text
        with httpx.Client(http1=False, http2=True, verify=pki.client_context(),
                          timeout=5) as client:
            served = client.get(f"{server.url}/")
        assert (served.status_code, served.http_version) == (200, "HTTP/2")
