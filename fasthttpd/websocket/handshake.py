"""The WebSocket opening handshake (RFC 6455 4.2; RFC 8441 4 over HTTP/2).

Theory of operation: the HTTP side recognises a handshake by its upgrade
(HTTP/1.1: a GET whose `Connection` lists `upgrade` and whose `Upgrade` lists
`websocket`; HTTP/2: an extended CONNECT with `:protocol websocket`). Then
`check_request` looks at the rest of the header list before anything reaches the
app: a missing or malformed `Sec-WebSocket-Key` is 400, a missing or other
`Sec-WebSocket-Version` is 426 naming the version we speak (RFC 6455 4.2.2). A
request that passes has its offered subprotocols and extensions read for the ASGI
scope. `accept_key` and `response_headers` build the server's answer once the app
accepts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

# RFC 6455 1.3: appended to the client's key before hashing.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
VERSION = b"13"
# The header of a 426 answer (RFC 6455 4.4).
VERSION_HEADER = (b"sec-websocket-version", VERSION)


class Handshake:
    """What a valid handshake request offers."""

    __slots__ = ("key", "subprotocols", "extensions")

    def __init__(self, key: bytes, subprotocols: list[str], extensions: bytes) -> None:
        self.key = key  # b"" over HTTP/2, which has no key (RFC 8441 5)
        self.subprotocols = subprotocols  # in the order offered
        self.extensions = extensions  # Sec-WebSocket-Extensions values, joined with ", "


class Rejection:
    """Why a handshake request is refused, and with what status."""

    __slots__ = ("status", "reason", "headers")

    def __init__(self, status: int, reason: str,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers or []


def is_websocket_upgrade(upgrade: bytes | None) -> bool:
    """`Upgrade` lists the websocket protocol (RFC 6455 4.2.1 item 3; tokens are
    case-insensitive, and the parser hands the value over lower-cased)."""
    if upgrade is None:
        return False
    if upgrade == b"websocket":
        return True
    return any(token.strip(b" \t") == b"websocket" for token in upgrade.split(b","))


def check_request(headers: list[tuple[bytes, bytes]], http2: bool = False) -> Handshake | Rejection:
    """Validate the handshake fields (the method and upgrade were checked by the caller)."""
    keys: list[bytes] = []
    versions: list[bytes] = []
    protocols: list[str] = []
    extensions: list[bytes] = []
    for name, value in headers:
        if name == b"sec-websocket-key":
            keys.append(value)
        elif name == b"sec-websocket-version":
            versions.append(value)
        elif name == b"sec-websocket-protocol":
            protocols.extend(token.strip().decode("latin-1") for token in value.split(b",")
                             if token.strip())
        elif name == b"sec-websocket-extensions":
            extensions.append(value)
    # RFC 6455 4.2.2: a version we do not speak is answered 426 with ours.
    if len(versions) != 1 or versions[0].strip() != VERSION:
        return Rejection(426, "missing or unsupported Sec-WebSocket-Version", [VERSION_HEADER])
    key = b""
    if not http2:  # RFC 8441 5: no Sec-WebSocket-Key (nor Accept) over HTTP/2
        if len(keys) != 1 or not _is_valid_key(keys[0].strip()):
            return Rejection(400, "missing or malformed Sec-WebSocket-Key")
        key = keys[0].strip()
    return Handshake(key, protocols, b", ".join(extensions))


def _is_valid_key(key: bytes) -> bool:
    """RFC 6455 4.1: the base64 encoding of exactly 16 bytes (24 characters)."""
    if len(key) != 24:
        return False
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def accept_key(key: bytes) -> bytes:
    """Sec-WebSocket-Accept for a client's key (RFC 6455 4.2.2 item 5.4)."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def response_headers(handshake: Handshake, subprotocol: str | None,
                     extension: bytes | None,
                     extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The fields of the 101 (HTTP/1.1) or 200 (HTTP/2) answer, before the app's own."""
    headers: list[tuple[bytes, bytes]] = []
    if handshake.key:
        headers.append((b"upgrade", b"websocket"))
        headers.append((b"connection", b"Upgrade"))
        headers.append((b"sec-websocket-accept", accept_key(handshake.key)))
    if subprotocol is not None:
        headers.append((b"sec-websocket-protocol", subprotocol.encode("latin-1")))
    if extension is not None:
        headers.append((b"sec-websocket-extensions", extension))
    headers.extend(extra)
    return headers
