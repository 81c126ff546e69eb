"""Request line, line endings and request-target forms (RFC 9112 2, 3), both parsers.

Every input goes through `parse_events` (conftest): fed whole, byte by byte and
with trailing bytes, which must all agree.
"""

from __future__ import annotations

import pytest

HOST = b"Host: example.com\r\n"


def head(request_line: bytes, *fields: bytes) -> bytes:
    return request_line + b"\r\n" + b"".join(fields) + b"\r\n"


# -- line endings -----------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\nHost: a\r\n\r\n",  # request line
    b"GET / HTTP/1.1\r\nHost: a\n\r\n",  # field line
    b"GET / HTTP/1.1\r\nHost: a\r\n\n",  # the empty line
    b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  # before the request line
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\n\r\n",
    b"GET /\n HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost\n: a\r\n\r\n",
])
def test_bare_lf_is_rejected(parse_error, data):
    assert parse_error(data) == 400


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n",
    b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n",
])
def test_bare_cr_is_rejected(parse_error, data):
    assert parse_error(data) == 400


def test_empty_lines_before_the_request_line_are_ignored(parse_events):
    events = parse_events(b"\r\n\r\n" + head(b"GET / HTTP/1.1", HOST))
    assert [kind for kind, _ in events] == ["request", "end"]
    assert events[0][1]["target"] == b"/"


def test_empty_lines_count_toward_the_request_line_limit(parse_error, parse_request):
    request_line = b"GET /abc HTTP/1.1"  # 17 bytes
    assert parse_request(b"\r\n" + head(request_line, HOST),
                         max_request_line_size=20)["target"] == b"/abc"
    assert parse_error(b"\r\n\r\n" + head(request_line, HOST), max_request_line_size=20) == 414
    # An endless stream of empty lines is cut off too.
    assert parse_error(b"\r\n" * 100, max_request_line_size=50) == 414


# -- method, separators, version -------------------------------------------------

@pytest.mark.parametrize("method", [b"GET", b"POST", b"M-SEARCH", b"PROPFIND", b"get",
                                    b"X!#$%&'*+-.^_`|~9"])
def test_any_token_method_is_accepted_as_is(parse_request, method):
    assert parse_request(head(method + b" / HTTP/1.1", HOST))["method"] == method


@pytest.mark.parametrize("request_line", [
    b"G(T / HTTP/1.1",
    b"GE\x00T / HTTP/1.1",
    b"G\xc3\xa9T / HTTP/1.1",
    b"GET\t/ HTTP/1.1",
    b" GET / HTTP/1.1",
    b"GET  / HTTP/1.1",
    b"GET /  HTTP/1.1",
    b"GET / HTTP/1.1 ",
    b"GET / HTTP/1.1\t",
    b"GET /a b HTTP/1.1",
    b"GET",
    b"GET ",
    b"GET /",  # HTTP/0.9
    b"GET / ",
    b" / HTTP/1.1",
])
def test_malformed_request_lines_are_rejected(parse_error, request_line):
    assert parse_error(head(request_line, HOST)) == 400


@pytest.mark.parametrize(("version", "expected"), [
    (b"HTTP/1.1", "1.1"),
    (b"HTTP/1.0", "1.0"),
    (b"HTTP/1.2", "1.1"),  # RFC 9110 6.2: a higher minor version is served as 1.1
    (b"HTTP/1.9", "1.1"),
])
def test_http_1x_versions(parse_request, version, expected):
    assert parse_request(head(b"GET / " + version, HOST))["http_version"] == expected


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9", b"HTTP/9.1"])
def test_other_major_versions_are_not_supported(parse_error, version):
    assert parse_error(head(b"GET / " + version, HOST)) == 505


@pytest.mark.parametrize("version", [b"HTTP/1", b"HTTP/1.10", b"HTTP/11", b"http/1.1",
                                     b"HTTPS/1.1", b"HTTP/a.b", b"HTTP/1,1", b"HTTP /1.1",
                                     b"HTTP/1.1x", b"HTTP/2"])
def test_malformed_versions_are_rejected(parse_error, version):
    assert parse_error(head(b"GET / " + version, HOST)) == 400


# -- request line limit (414) ------------------------------------------------------

def test_request_line_limit_custom(parse_error, parse_request):
    request_line = b"GET /" + b"a" * 15 + b" HTTP/1.1"  # 29 bytes
    assert parse_request(head(request_line, HOST), max_request_line_size=29)["path"] \
        == b"/" + b"a" * 15
    assert parse_error(head(request_line, HOST), max_request_line_size=28) == 414


def test_request_line_limit_default(parse_error, parse_request, parser_module):
    assert parser_module.DEFAULT_MAX_REQUEST_LINE_SIZE == 8190
    filler = 8190 - len(b"GET / HTTP/1.1")
    target = b"/" + b"a" * filler
    assert len(b"GET " + target + b" HTTP/1.1") == 8190
    assert parse_request(head(b"GET " + target + b" HTTP/1.1", HOST))["target"] == target
    assert parse_error(head(b"GET " + target + b"a HTTP/1.1", HOST)) == 414


@pytest.mark.parametrize("prefix", [b"GET /" + b"a" * 40, b"G" * 41, b"GET / HTTP/1.1" + b"1" * 30])
def test_long_request_line_fails_before_its_end_arrives(parser_module, prefix):
    parser = parser_module.RequestParser(max_request_line_size=40)
    events = parser.feed(prefix)
    assert len(events) == 1 and events[0].status_code == 414


def test_request_line_at_the_limit_waits_for_its_crlf(parser_module):
    parser = parser_module.RequestParser(max_request_line_size=14)
    assert parser.feed(b"GET / HTTP/1.1") == []
    assert parser.feed(b"\r") == []
    assert parser.feed(b"\nHost: a\r\n\r\n")[0].target == b"/"


# -- request-target (RFC 9112 3.2) ---------------------------------------------------

@pytest.mark.parametrize(("target", "path", "query"), [
    (b"/", b"/", b""),
    (b"/a/b.html", b"/a/b.html", b""),
    (b"/search?q=1&r=2", b"/search", b"q=1&r=2"),
    (b"/a?", b"/a", b""),
    (b"/a?b?c", b"/a", b"b?c"),
    (b"/%20x?y=%41", b"/%20x", b"y=%41"),
    (b"//double", b"//double", b""),
    (b"/a#frag", b"/a#frag", b""),
])
def test_origin_form(parse_request, target, path, query):
    fields = parse_request(head(b"GET " + target + b" HTTP/1.1", HOST))
    assert (fields["target"], fields["path"], fields["query"]) == (target, path, query)


@pytest.mark.parametrize(("target", "path", "query"), [
    (b"http://example.com", b"/", b""),
    (b"http://example.com/", b"/", b""),
    (b"https://example.com:8443/a/b?c=d", b"/a/b", b"c=d"),
    (b"HTTP://Example.COM/x", b"/x", b""),
    (b"hTTpS://example.com?q", b"/", b"q"),
    (b"http://[::1]:8080/", b"/", b""),
    (b"http://127.0.0.1/p", b"/p", b""),
    (b"http://a.b:/p", b"/p", b""),
])
def test_absolute_form(parse_request, target, path, query):
    fields = parse_request(head(b"GET " + target + b" HTTP/1.1", HOST))
    assert (fields["target"], fields["path"], fields["query"]) == (target, path, query)


@pytest.mark.parametrize("target", [
    b"ftp://example.com/",
    b"http:/example.com/",
    b"http//example.com/",
    b"http://",
    b"http:///path",
    b"http://:80/",
    b"http://user@example.com/",
    b"http://example.com:8o/",
    b"http://exa%mple.com/",
    b"http://[::1/",
    b"example.com",
    b"example.com:80",
    b"a/b",
    b"?q",
    b"**",
    b"*/",
    b"mailto:a@b",
])
def test_invalid_targets_are_rejected(parse_error, target):
    assert parse_error(head(b"GET " + target + b" HTTP/1.1", HOST)) == 400


@pytest.mark.parametrize("byte", [b"\x01", b"\x1f", b"\x7f", b"\x80", b"\xff", b"\t"])
def test_target_bytes_must_be_vchar(parse_error, byte):
    assert parse_error(head(b"GET /a" + byte + b"b HTTP/1.1", HOST)) == 400


def test_authority_form_only_with_connect(parse_request, parse_error):
    fields = parse_request(head(b"CONNECT example.com:443 HTTP/1.1", HOST))
    assert (fields["method"], fields["target"], fields["path"], fields["query"]) == (
        b"CONNECT", b"example.com:443", b"example.com:443", b"")
    assert parse_request(head(b"CONNECT [::1]:8443 HTTP/1.1", HOST))["path"] == b"[::1]:8443"
    assert parse_error(head(b"GET example.com:443 HTTP/1.1", HOST)) == 400
    assert parse_error(head(b"OPTIONS example.com:443 HTTP/1.1", HOST)) == 400


@pytest.mark.parametrize("target", [b"/", b"/path", b"http://example.com:443/", b"*",
                                    b"example.com", b"example.com:", b":443",
                                    b"example.com:443/", b"user@example.com:443"])
def test_connect_needs_authority_form(parse_error, target):
    assert parse_error(head(b"CONNECT " + target + b" HTTP/1.1", HOST)) == 400


def test_asterisk_form_only_with_options(parse_request, parse_error):
    fields = parse_request(head(b"OPTIONS * HTTP/1.1", HOST))
    assert (fields["target"], fields["path"], fields["query"]) == (b"*", b"*", b"")
    assert parse_error(head(b"GET * HTTP/1.1", HOST)) == 400
    assert parse_error(head(b"options * HTTP/1.1", HOST)) == 400
    assert parse_request(head(b"OPTIONS /a HTTP/1.1", HOST))["path"] == b"/a"
