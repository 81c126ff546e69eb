"""TLS: the server's SSLContext, the ASGI `tls` extension, quiet handshake failures.

Theory of operation. `create_ssl_context(config)` builds one server context from
the --ssl-* settings (TLS 1.2 at least; ALPN offers "h2" and "http/1.1" as
--http allows). The server hands it to `loop.create_server`; once a handshake is
done, the connection calls `tls_info(ssl_object)` for what the `tls` extension of
the ASGI scope reports, plus the negotiated ALPN protocol that the driver factory
reads. `quiet_handshake_errors(loop)` keeps failed handshakes (port scanners,
plain HTTP sent to the TLS port) out of the error log: they are logged at debug.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from fasthttpd.config import Config

logger = logging.getLogger("fasthttpd.error")

_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_CERT_REQS = {0: ssl.CERT_NONE, 1: ssl.CERT_OPTIONAL, 2: ssl.CERT_REQUIRED}
# Attribute names set on the context: what tls_info() needs but SSLObject does not say.
_SERVER_CERT = "fasthttpd_server_cert"
_CIPHER_IDS = "fasthttpd_cipher_ids"


def alpn_protocols(http: str) -> list[str]:
    """What ALPN offers, most preferred first (RFC 7301), as --http allows."""
    if http == "1":
        return ["http/1.1"]
    if http == "2":
        return ["h2"]
    return ["h2", "http/1.1"]


def create_ssl_context(config: Config) -> ssl.SSLContext:
    """The server context for the --ssl-* settings."""
    if not config.ssl_certfile:
        raise ValueError("--ssl-certfile is required for TLS")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # RFC 9113 9.2: HTTP/2 over TLS needs TLS 1.2 or later; older versions are
    # deprecated for everything else too (RFC 8996).
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.ssl_version == ssl.PROTOCOL_TLSv1_2:  # uvicorn's --ssl-version 5
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    load_certificate(context, config)
    context.verify_mode = _CERT_REQS[config.ssl_cert_reqs]
    if config.ssl_ca_certs:
        context.load_verify_locations(config.ssl_ca_certs)
    if config.ssl_ciphers:
        context.set_ciphers(config.ssl_ciphers)
    context.set_alpn_protocols(alpn_protocols(config.http))
    context.sslobject_class = HandshakeReportingSSLObject
    # RFC 9113 9.2.2 blocklists TLS 1.2 ciphers without forward secrecy or AEAD;
    # Python's default list already leaves them out.
    setattr(context, _SERVER_CERT, _first_pem(config.ssl_certfile))
    setattr(context, _CIPHER_IDS, {c["name"]: c["id"] & 0xFFFF for c in context.get_ciphers()})
    return context


def load_certificate(context: ssl.SSLContext, config: Config) -> None:
    """load_cert_chain, with OpenSSL's terse errors ("PEM lib") said in words.

    Raises ValueError: "TLS: ..." naming the file and what is wrong with it.
    """
    certfile = config.ssl_certfile
    assert certfile is not None
    keyfile = config.ssl_keyfile
    # Without a password, OpenSSL would prompt for one on the terminal (and a worker
    # would wait for an answer that never comes); ask the user for the flag instead.
    password = config.ssl_keyfile_password or _no_password(keyfile or certfile)
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except _PasswordNeeded as exc:
        raise ValueError(str(exc)) from None
    except ssl.SSLError as exc:
        raise ValueError(certificate_problem(certfile, keyfile, exc)) from None


class _PasswordNeeded(Exception):
    pass


def _no_password(keyfile: str) -> Any:
    def password() -> str:
        raise _PasswordNeeded(f"TLS: the private key in {keyfile} is encrypted; give its "
                              "password with --ssl-keyfile-password")
    return password


def certificate_problem(certfile: str, keyfile: str | None, exc: ssl.SSLError) -> str:
    reason = exc.reason or ""
    if reason == "KEY_VALUES_MISMATCH":
        return (f"TLS: the private key in {keyfile or certfile} does not match the "
                f"certificate in {certfile}")
    if not _holds(certfile, "CERTIFICATE"):
        return f"TLS: {certfile} holds no PEM certificate (--ssl-certfile)"
    if keyfile is None and not _holds(certfile, "PRIVATE KEY"):
        return (f"TLS: {certfile} holds a certificate but no private key; give the key "
                "with --ssl-keyfile")
    if keyfile is not None and not _holds(keyfile, "PRIVATE KEY"):
        return f"TLS: {keyfile} holds no PEM private key (--ssl-keyfile)"
    encrypted = _holds(keyfile or certfile, "ENCRYPTED PRIVATE KEY") or \
        _holds_text(keyfile or certfile, "Proc-Type: 4,ENCRYPTED")
    if reason in ("BAD_DECRYPT", "BAD_PASSWORD_READ") or "decrypt" in str(exc).lower() or \
            encrypted:
        return (f"TLS: cannot decrypt the private key in {keyfile or certfile}: check "
                "--ssl-keyfile-password")
    return f"TLS: cannot load the certificate or key: {exc}"


def _holds(path: str, label: str) -> bool:
    """Whether the PEM file has a block whose label ends with `label`."""
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError:
        return False
    return f"{label}-----" in text and "-----BEGIN " in text


def _holds_text(path: str, text: str) -> bool:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return text in file.read()
    except OSError:
        return False


def _first_pem(path: str) -> str | None:
    """The leaf certificate of a PEM chain file (the first block)."""
    with open(path, encoding="ascii", errors="replace") as file:
        text = file.read()
    start = text.find("-----BEGIN CERTIFICATE-----")
    end_marker = "-----END CERTIFICATE-----"
    end = text.find(end_marker, start)
    if start < 0 or end < 0:
        return None
    return text[start:end + len(end_marker)] + "\n"


def tls_info(ssl_object: Any) -> dict[str, Any]:
    """The ASGI `tls` extension for one connection, plus "alpn_protocol".

    Computed once per connection, after the handshake.
    """
    context = ssl_object.context
    cipher = ssl_object.cipher()
    cipher_ids = getattr(context, _CIPHER_IDS, None) or {}
    client_der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name = None
    if client_der:
        chain.append(ssl.DER_cert_to_PEM_cert(client_der))
        name = _rfc4514_name(ssl_object.getpeercert())
    return {
        "server_cert": getattr(context, _SERVER_CERT, None),
        "client_cert_chain": chain,
        "client_cert_name": name,
        # A certificate that failed verification fails the handshake, so a
        # connection that exists has none to report.
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": cipher_ids.get(cipher[0]) if cipher else None,
        "alpn_protocol": ssl_object.selected_alpn_protocol(),
    }


def _rfc4514_name(cert: dict[str, Any] | None) -> str | None:
    """The subject as RFC 4514 writes it: last RDN first, "," between RDNs."""
    if not cert or not cert.get("subject"):
        return None
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
             "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
             "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID"}
    rdns = []
    for rdn in reversed(cert["subject"]):
        rdns.append("+".join(f"{short.get(key, key)}={_escape(value)}" for key, value in rdn))
    return ",".join(rdns)


def _escape(value: str) -> str:
    # RFC 4514 2.4: these characters are escaped with a backslash.
    out = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if out[:1] in (" ", "#"):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


class HandshakeReportingSSLObject(ssl.SSLObject):
    """An SSLObject that logs why its handshake failed, at debug level.

    uvloop (and asyncio) drop a failed server-side handshake silently: the error is an
    OSError, which they log only with the loop in debug mode, and the protocol never
    hears of the connection. The event loop drives the handshake through this
    object's do_handshake(), so the reason is caught where it is raised. Set as the
    context's `sslobject_class`, it costs one Python call per handshake step.
    """

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise  # not a failure: the handshake needs more bytes
        except ssl.SSLError as exc:
            logger.debug("TLS handshake failed: %s", exc)
            raise


def quiet_handshake_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Log failed TLS handshakes at debug level; pass everything else on."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if is_handshake_failure(context):
            logger.debug("TLS handshake failed: %s (%s)", context.get("exception"),
                         _peer(context))
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def is_handshake_failure(context: dict[str, Any]) -> bool:
    exc = context.get("exception")
    message = str(context.get("message", ""))
    if "handshake" in message.lower() and (exc is None or isinstance(exc, OSError)):
        return True
    return isinstance(exc, ssl.SSLError)


def _peer(context: dict[str, Any]) -> Any:
    transport = context.get("transport")
    try:
        return transport.get_extra_info("peername") if transport is not None else None
    except Exception:  # a half-dead transport may not answer
        return None
