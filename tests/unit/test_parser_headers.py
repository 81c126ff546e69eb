"""Header fields (RFC 9112 5, RFC 9110 5.5), their limits and the headers the
framing depends on: Host, Connection, Expect, Upgrade. Both parsers, three ways.
"""

from __future__ import annotations

import pytest


def get(*fields: bytes, version: bytes = b"HTTP/1.1", host: bool = True) -> bytes:
    host_line = (b"Host: example.com\r\n",) if host else ()
    return b"GET / " + version + b"\r\n" + b"".join(host_line + fields) + b"\r\n"


def headers_of(parse_request, *fields: bytes, **limits: int) -> list[tuple[bytes, bytes]]:
    return parse_request(get(*fields), **limits)["headers"][1:]


# -- field lines -------------------------------------------------------------------

def test_names_are_lower_cased_and_order_is_kept(parse_request):
    assert headers_of(parse_request, b"X-B: 1\r\n", b"Content-TYPE: text/plain\r\n",
                      b"x-b: 2\r\n", b"USER-AGENT: ua\r\n") == [
        (b"x-b", b"1"), (b"content-type", b"text/plain"), (b"x-b", b"2"),
        (b"user-agent", b"ua")]


def test_every_token_character_is_allowed_in_names(parse_request):
    name = b"!#$%&'*+-.^_`|~09AZaz"
    assert headers_of(parse_request, name + b": v\r\n") == [(name.lower(), b"v")]


def test_long_names_are_lower_cased_too(parse_request):
    name = b"X-" + b"Ab" * 100
    assert headers_of(parse_request, name + b": v\r\n") == [(name.lower(), b"v")]


@pytest.mark.parametrize(("line", "value"), [
    (b"X-A: v\r\n", b"v"),
    (b"X-A:v\r\n", b"v"),
    (b"X-A: \t v \t \r\n", b"v"),
    (b"X-A: a  b\tc\r\n", b"a  b\tc"),
    (b"X-A:\r\n", b""),
    (b"X-A:   \r\n", b""),
    (b"X-A: \x80\xff caf\xc3\xa9\r\n", b"\x80\xff caf\xc3\xa9"),  # obs-text
    (b'X-A: !"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\r\n', b'!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'),
    (b"X-A: a:b: c\r\n", b"a:b: c"),
])
def test_values(parse_request, line, value):
    assert headers_of(parse_request, line) == [(b"x-a", value)]


@pytest.mark.parametrize("byte", [b"\x00", b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1b",
                                  b"\x1f", b"\x7f"])
def test_control_characters_in_values_are_rejected(parse_error, byte):
    assert parse_error(get(b"X-A: a" + byte + b"b\r\n")) == 400
    assert parse_error(get(b"X-A: " + byte + b"\r\n")) == 400
    assert parse_error(get(b"X-Long: " + b"x" * 30 + byte + b"y" * 30 + b"\r\n")) == 400


@pytest.mark.parametrize("line", [
    b"X-A : v\r\n",  # RFC 9112 5.1: whitespace before the colon MUST be rejected
    b"X-A\t: v\r\n",
    b": v\r\n",
    b"X-A v\r\n",
    b"X-A\r\n",
    b"X@A: v\r\n",
    b"X(A): v\r\n",
    b"X/A: v\r\n",
    b"X\"A: v\r\n",
    b"X\x00A: v\r\n",
    b"X\x7fA: v\r\n",
    b"\xc3\xa9: v\r\n",
    b"[X]: v\r\n",
    # Control bytes that equal a common name's bytes once 0x20 is OR-ed in.
    b"User\rAgent: v\r\n",
    b"Content\x0dLength: 0\r\n",
    b"Content-MD\x15: v\r\n",
    b"Sec-Fetch\x0dDest: v\r\n",
    b"\x08ost: v\r\n",
])
def test_invalid_field_names_are_rejected(parse_error, line):
    assert parse_error(get(line)) == 400


def test_obs_fold_is_rejected(parse_error):
    assert parse_error(get(b"X-A: a\r\n", b" b\r\n")) == 400
    assert parse_error(get(b"X-A: a\r\n", b"\tb\r\n")) == 400


def test_whitespace_before_the_first_field_is_rejected(parse_error):
    assert parse_error(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n") == 400


# -- limits (431) --------------------------------------------------------------------

def test_field_count_limit_custom(parse_request, parse_error):
    fields = [b"X-%d: v\r\n" % i for i in range(4)]  # Host makes five
    assert len(parse_request(get(*fields), max_header_count=5)["headers"]) == 5
    assert parse_error(get(*fields), max_header_count=4) == 431


def test_field_count_limit_default(parse_request, parse_error, parser_module):
    assert parser_module.DEFAULT_MAX_HEADER_COUNT == 100
    fields = [b"X-%d: v\r\n" % i for i in range(99)]
    assert len(parse_request(get(*fields))["headers"]) == 100
    assert parse_error(get(*fields, b"X-Last: v\r\n")) == 431


def test_field_size_limit_custom(parse_request, parse_error):
    line = b"X-A: " + b"v" * 15  # 20 bytes without the CRLF
    assert headers_of(parse_request, line + b"\r\n", max_header_size=20) == [(b"x-a", b"v" * 15)]
    assert parse_error(get(line + b"\r\n"), max_header_size=19) == 431
    assert parse_error(get(b"X-" + b"a" * 30 + b": v\r\n"), max_header_size=19) == 431


def test_field_size_limit_default(parse_request, parse_error, parser_module):
    assert parser_module.DEFAULT_MAX_HEADER_SIZE == 8190
    value = b"v" * (8190 - len(b"X-A: "))
    assert headers_of(parse_request, b"X-A: " + value + b"\r\n") == [(b"x-a", value)]
    assert parse_error(get(b"X-A: " + value + b"v\r\n")) == 431


@pytest.mark.parametrize("prefix", [b"X-A: " + b"v" * 40, b"X" * 41, b"X-A:" + b" " * 40])
def test_long_field_fails_before_its_end_arrives(parser_module, prefix):
    parser = parser_module.RequestParser(max_header_size=40)
    events = parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n" + prefix)
    assert len(events) == 1 and events[0].status_code == 431


# -- Host (RFC 9112 3.2) -------------------------------------------------------------

@pytest.mark.parametrize("value", [
    b"example.com", b"example.com:8080", b"EXAMPLE.com", b"127.0.0.1:80", b"[::1]",
    b"[::1]:8000", b"[2001:db8::ff00:42:8329]", b"[::ffff:192.0.2.1]", b"[v1.fe80::a+en1]",
    b"a-b_c~d.e", b"%41bc.example", b"!$&'()*+,;=", b"example.com:", b"",
])
def test_valid_host_values(parse_request, value):
    data = b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n"
    assert parse_request(data)["host"] == value


@pytest.mark.parametrize("value", [
    b"exa mple.com", b"example.com/", b"user@example.com", b"example.com:80a",
    b"example.com:80:90", b"[::1", b"::1", b"[::1]x", b"[::1]:a", b"[]", b"[fe80::1%25en0]",
    b"[v1]", b"[vx.a]", b"%4", b"%zz", b"exa\"mple", b"a?b", b"a#b", b"<a>", b"a\\b",
    b"\xc3\xa9.example",
])
def test_invalid_host_values_are_rejected(parse_error, value):
    assert parse_error(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n") == 400


def test_host_is_required_in_http_11(parse_error, parse_request):
    assert parse_error(get(host=False)) == 400
    fields = parse_request(get(version=b"HTTP/1.0", host=False))
    assert fields["host"] == b""


def test_more_than_one_host_is_rejected(parse_error):
    assert parse_error(get(b"Host: example.com\r\n")) == 400
    assert parse_error(get(b"host: other.example\r\n")) == 400
    assert parse_error(get(b"Host: a\r\n", version=b"HTTP/1.0")) == 400


def test_host_value_is_reported_with_absolute_form(parse_request):
    data = b"GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n"
    fields = parse_request(data)
    assert (fields["host"], fields["path"]) == (b"b.example", b"/x")


# -- Connection and keep-alive (RFC 9112 9.3) -----------------------------------------

@pytest.mark.parametrize(("version", "fields", "keep_alive"), [
    (b"HTTP/1.1", [], True),
    (b"HTTP/1.1", [b"Connection: close\r\n"], False),
    (b"HTTP/1.1", [b"Connection: CLOSE\r\n"], False),
    (b"HTTP/1.1", [b"Connection: keep-alive\r\n"], True),
    (b"HTTP/1.1", [b"Connection: keep-alive, close\r\n"], False),
    (b"HTTP/1.1", [b"Connection: foo ,close , bar\r\n"], False),
    (b"HTTP/1.1", [b"Connection: closed\r\n"], True),
    (b"HTTP/1.1", [b"Connection: keep-alive\r\n", b"Connection: close\r\n"], False),
    (b"HTTP/1.0", [], False),
    (b"HTTP/1.0", [b"Connection: keep-alive\r\n"], True),
    (b"HTTP/1.0", [b"Connection: Keep-Alive\r\n"], True),
    (b"HTTP/1.0", [b"Connection: x, keep-alive\r\n"], True),
    (b"HTTP/1.0", [b"Connection: keep-alive, close\r\n"], False),
    (b"HTTP/1.0", [b"Connection: keep-alive\r\n", b"Connection: close\r\n"], False),
    (b"HTTP/1.0", [b"Connection: close\r\n"], False),
    (b"HTTP/1.0", [b"Connection: keep-alived\r\n"], False),
    (b"HTTP/1.2", [], True),
])
def test_keep_alive(parse_request, version, fields, keep_alive):
    assert parse_request(get(*fields, version=version))["keep_alive"] is keep_alive


# -- Expect (RFC 9110 10.1.1) ---------------------------------------------------------

@pytest.mark.parametrize(("version", "value", "expected"), [
    (b"HTTP/1.1", b"100-continue", True),
    (b"HTTP/1.1", b"100-Continue", True),
    (b"HTTP/1.1", b"  100-continue ", True),
    (b"HTTP/1.1", b"100-continued", False),
    (b"HTTP/1.1", b"something-else", False),
    (b"HTTP/1.0", b"100-continue", False),
])
def test_expect_continue(parse_request, version, value, expected):
    data = get(b"Expect: " + value + b"\r\n", version=version)
    assert parse_request(data)["expect_continue"] is expected


def test_no_expect_means_no_continue(parse_request):
    assert parse_request(get())["expect_continue"] is False


# -- Upgrade (RFC 9110 7.8) -----------------------------------------------------------

@pytest.mark.parametrize(("version", "fields", "upgrade"), [
    (b"HTTP/1.1", [b"Connection: Upgrade\r\n", b"Upgrade: WebSocket\r\n"], b"websocket"),
    (b"HTTP/1.1", [b"Upgrade: h2c\r\n", b"Connection: keep-alive, upgrade\r\n"], b"h2c"),
    (b"HTTP/1.1", [b"Upgrade: websocket\r\n"], None),
    (b"HTTP/1.1", [b"Connection: upgrade\r\n"], None),
    (b"HTTP/1.1", [], None),
    (b"HTTP/1.0", [b"Connection: upgrade\r\n", b"Upgrade: websocket\r\n"], None),
])
def test_upgrade(parse_request, version, fields, upgrade):
    assert parse_request(get(*fields, version=version))["upgrade"] == upgrade


def test_headers_are_reported_as_received_with_framing_headers_among_them(parse_request):
    fields = parse_request(get(b"Connection: Upgrade\r\n", b"Upgrade: WebSocket\r\n",
                               b"Expect: 100-continue\r\n"))
    assert fields["headers"] == [
        (b"host", b"example.com"), (b"connection", b"Upgrade"), (b"upgrade", b"WebSocket"),
        (b"expect", b"100-continue")]
