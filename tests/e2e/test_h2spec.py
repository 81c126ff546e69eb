"""h2spec, the HTTP/2 conformance suite, against a real fasthttpd process.

Every case (strict ones included, `-S`) must pass, for each HTTP/2 implementation
and over cleartext (prior knowledge) and TLS (ALPN h2). h2spec is built offline
by `../shared/tools/get-h2spec` (the `shared` folder beside the repository) into
/tmp/h2s/h2spec (or $H2SPEC_OUT) the first time it is missing; the build is bounded
in time and a failed build fails the tests (no skip).

One case may fail on cleartext by design: "3.5/2 Sends invalid connection
preface". fasthttpd's cleartext port speaks HTTP/1.1 and HTTP/2 and tells them apart
by the first bytes, so `INVALID CONNECTION PREFACE\r\n\r\n` is an HTTP/1.1 request
to it, answered with 400 Bad Request and a close, which h2spec reads as a broken
frame. The test checks that answer itself instead of h2spec's verdict. Over TLS,
ALPN has already chosen h2 and the case must pass.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from fasthttpd.config import Config
from tests.e2e.conftest import ROOT, run_server

GET_H2SPEC = ROOT.parent / "shared" / "tools" / "get-h2spec"
H2SPEC = Path(os.environ.get("H2SPEC_OUT", "/tmp/h2s")) / "h2spec"
BUILD_TIMEOUT = 900  # apt-get of the Go toolchain on a cold machine, then a build
RUN_TIMEOUT = 240
APP = "tests.e2e.h2spec_app:app"

# The HTTP/2 implementations selectable by --http2-impl. Before that flag exists
# there is one implementation (the h2-based driver) and no flag to pass.
HAS_HTTP2_IMPL_FLAG = "http2_impl" in {field.name for field in dataclasses.fields(Config)}
HTTP2_IMPLS = ["h2", "compiled"] if HAS_HTTP2_IMPL_FLAG else ["h2"]

INVALID_PREFACE_CASE = ("http2/3.5", "Sends invalid connection preface")


@pytest.fixture(scope="session")
def h2spec() -> Path:
    if H2SPEC.exists():
        return H2SPEC
    if not GET_H2SPEC.exists():
        pytest.fail(f"h2spec is not built and {GET_H2SPEC} is missing: the tests need the "
                    "`shared` folder beside the repository (see tests/e2e/test_h2spec.py)")
    env = dict(os.environ, H2SPEC_OUT=str(H2SPEC.parent))
    try:
        result = subprocess.run([str(GET_H2SPEC)], env=env, capture_output=True, text=True,
                                timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"get-h2spec did not finish within {BUILD_TIMEOUT}s: {exc.stdout!r}")
    if result.returncode != 0 or not H2SPEC.exists():
        pytest.fail(f"get-h2spec failed ({result.returncode}):\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return H2SPEC


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("h2spec-tls")
    issued = trustme.CA().issue_cert("127.0.0.1", "localhost")
    cert, key = root / "server.pem", root / "server.key"
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(cert))
    return cert, key


def failed_cases(junit_report: Path) -> list[tuple[str, str, str]]:
    """(section, case, h2spec's explanation) of every case that did not pass."""
    failed = []
    for case in ElementTree.parse(junit_report).getroot().iter("testcase"):
        for outcome in case:
            if outcome.tag in ("failure", "error"):
                failed.append((case.get("package", ""), case.get("classname", ""),
                               " | ".join((outcome.text or "").split("\n")).strip()))
    return failed


def answers_invalid_preface_as_http11(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"INVALID CONNECTION PREFACE\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # until the server closes
            received += chunk
    return received


@pytest.fixture(params=["cleartext", "tls"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=HTTP2_IMPLS)
def http2_impl(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def server_args(http2_impl: str, transport: str,
                certificate: tuple[Path, Path]) -> Iterator[list[str]]:
    args = ["--http2-impl", http2_impl] if HAS_HTTP2_IMPL_FLAG else []
    if transport == "tls":
        args += ["--ssl-certfile", str(certificate[0]), "--ssl-keyfile", str(certificate[1])]
    yield args


@pytest.mark.timeout(BUILD_TIMEOUT + RUN_TIMEOUT + 60)
def test_h2spec_passes(h2spec: Path, server_args: list[str], transport: str,
                       tmp_path: Path) -> None:
    report = tmp_path / "h2spec.xml"
    scheme = "https" if transport == "tls" else "http"
    with run_server(*server_args, app=APP, scheme=scheme) as server:
        command = [str(h2spec), "-h", "127.0.0.1", "-p", str(server.port), "-S", "-o", "5",
                   "-j", str(report)]
        if transport == "tls":
            command += ["-t", "-k"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        failed = failed_cases(report)
        if transport == "cleartext" and INVALID_PREFACE_CASE in [f[:2] for f in failed]:
            # The one case allowed to fail, answered as HTTP/1.1 (see the module doc).
            answer = answers_invalid_preface_as_http11(server.port)
            assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
            failed = [f for f in failed if f[:2] != INVALID_PREFACE_CASE]
        server_log = server.log()
    summary = result.stdout.strip().splitlines()[-1:] if result.stdout else ["(no output)"]
    assert not failed, (
        f"h2spec: {summary[0]}; failed cases:\n"
        + "\n".join(f"  {section} {case}: {why}" for section, case, why in failed)
        + "\n\nh2spec's report:\n" + result.stdout[result.stdout.find("Failures:"):][-6000:]
        + "\n\nserver log:\n" + server_log[-3000:]
    )
    assert "tests," in summary[0], result.stdout[-3000:] + result.stderr[-3000:]
