"""The WebSocket opening handshake checks (RFC 6455 4.2.1, 4.2.2; RFC 8441 5)."""

from __future__ import annotations

import base64

import pytest

from fasthttpd.websocket.handshake import (
    Handshake,
    Rejection,
    accept_key,
    check_request,
    is_websocket_upgrade,
    response_headers,
)

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 1.3


def headers(key: bytes | None = KEY, version: bytes | None = b"13",
            *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    fields = [(b"host", b"example.com"), (b"upgrade", b"websocket")]
    if key is not None:
        fields.append((b"sec-websocket-key", key))
    if version is not None:
        fields.append((b"sec-websocket-version", version))
    return fields + list(extra)


def test_accept_key_is_the_rfc_example() -> None:
    assert accept_key(KEY) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_request_gives_subprotocols_in_order_and_extensions() -> None:
    result = check_request(headers(KEY, b"13",
                                   (b"sec-websocket-protocol", b"chat, superchat"),
                                   (b"sec-websocket-protocol", b"v3"),
                                   (b"sec-websocket-extensions", b"permessage-deflate"),
                                   (b"sec-websocket-extensions", b"x-other")))
    assert isinstance(result, Handshake)
    assert result.key == KEY
    assert result.subprotocols == ["chat", "superchat", "v3"]
    assert result.extensions == b"permessage-deflate, x-other"


@pytest.mark.parametrize("key", [
    None,
    b"",
    b"not base64 at all!!!!!!",
    base64.b64encode(b"15 bytes only..")[:24],  # 15 bytes: 20 characters
    base64.b64encode(b"seventeen bytes!!"),  # 17 bytes
    b"dGhlIHNhbXBsZSBub25jZQ=!",
])
def test_missing_or_malformed_key_is_400(key: bytes | None) -> None:
    result = check_request(headers(key))
    assert isinstance(result, Rejection) and result.status == 400


def test_two_keys_are_400() -> None:
    result = check_request(headers(KEY, b"13", (b"sec-websocket-key", KEY)))
    assert isinstance(result, Rejection) and result.status == 400


@pytest.mark.parametrize("version", [None, b"8", b"12", b"13, 8", b""])
def test_missing_or_other_version_is_426_naming_13(version: bytes | None) -> None:
    result = check_request(headers(KEY, version))
    assert isinstance(result, Rejection) and result.status == 426
    assert result.headers == [(b"sec-websocket-version", b"13")]


def test_http2_needs_no_key() -> None:
    result = check_request(headers(None), http2=True)
    assert isinstance(result, Handshake) and result.key == b""
    assert response_headers(result, None, None, []) == []  # RFC 8441 5: no Accept


@pytest.mark.parametrize(("value", "expected"), [
    (b"websocket", True), (b"h2c, websocket", True), (b"websocket , foo", True),
    (b"h2c", False), (b"websockets", False), (None, False),
])
def test_upgrade_tokens(value: bytes | None, expected: bool) -> None:
    assert is_websocket_upgrade(value) is expected


def test_response_headers() -> None:
    handshake = check_request(headers())
    assert isinstance(handshake, Handshake)
    assert response_headers(handshake, "chat", b"permessage-deflate",
                            [(b"x-a", b"1")]) == [
        (b"upgrade", b"websocket"), (b"connection", b"Upgrade"),
        (b"sec-websocket-accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        (b"sec-websocket-protocol", b"chat"),
        (b"sec-websocket-extensions", b"permessage-deflate"), (b"x-a", b"1")]
