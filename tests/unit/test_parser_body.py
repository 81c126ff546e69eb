"""Message body framing (RFC 9112 6, 7): Content-Length, Transfer-Encoding, chunked
bodies and trailers, the body-size limit. Both parsers, three ways.
"""

from __future__ import annotations

import itertools

import pytest

from tests.unit.conftest import feed_split, feed_whole

FRAMING_NONE, FRAMING_LENGTH, FRAMING_CHUNKED = 0, 1, 2


def post(*fields: bytes, body: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    return (b"POST /upload " + version + b"\r\nHost: example.com\r\n" + b"".join(fields)
            + b"\r\n" + body)


def chunked(body: bytes, *fields: bytes) -> bytes:
    return post(b"Transfer-Encoding: chunked\r\n", *fields, body=body)


def body_events(events: list[tuple]) -> list[tuple]:
    assert events[0][0] == "request"
    return events[1:]


# -- Content-Length -------------------------------------------------------------------

@pytest.mark.parametrize(("value", "length"), [
    (b"5", 5), (b"0005", 5), (b" 5 ", 5), (b"10", 10), (b"00", 0),
])
def test_content_length(parse_events, value, length):
    body = b"x" * length
    events = parse_events(post(b"Content-Length: " + value + b"\r\n", body=body))
    fields = events[0][1]
    assert (fields["framing"], fields["content_length"]) == (FRAMING_LENGTH, length)
    assert body_events(events) == ([("data", body)] if body else []) + [("end", [])]


def test_content_length_zero_has_no_body_event(parse_events):
    events = parse_events(post(b"Content-Length: 0\r\n"))
    assert events[0][1]["framing"] == FRAMING_LENGTH
    assert events[0][1]["content_length"] == 0
    assert body_events(events) == [("end", [])]


@pytest.mark.parametrize("value", [b"", b"+5", b"-5", b"5, 5", b"5,5", b"0x5", b"5 5", b"5a",
                                   b"five", b"\xd9\xa5", b"5.0"])
def test_invalid_content_length_is_rejected(parse_error, value):
    assert parse_error(post(b"Content-Length: " + value + b"\r\n", body=b"xxxxx")) == 400


def test_repeated_content_length_is_rejected_even_when_equal(parse_error):
    assert parse_error(post(b"Content-Length: 5\r\n", b"Content-Length: 5\r\n",
                            body=b"hello")) == 400
    assert parse_error(post(b"Content-Length: 5\r\n", b"content-length: 6\r\n",
                            body=b"hello!")) == 400


def test_content_length_overflow_is_rejected(parse_error, parser_module):
    assert parse_error(post(b"Content-Length: 9223372036854775808\r\n")) == 400
    assert parse_error(post(b"Content-Length: 99999999999999999999999\r\n")) == 400
    # The largest value is accepted (the body then simply takes long to arrive).
    events = parser_module.RequestParser().feed(post(b"Content-Length: 9223372036854775807\r\n"))
    assert events[0].content_length == 2**63 - 1


def test_no_framing_headers_means_no_body(parse_events):
    events = parse_events(post())
    assert (events[0][1]["framing"], events[0][1]["content_length"]) == (FRAMING_NONE, -1)
    assert body_events(events) == [("end", [])]


def test_body_chunks_come_out_as_they_arrive(parser_module):
    parser = parser_module.RequestParser()
    events = parser.feed(post(b"Content-Length: 10\r\n", body=b"abc"))
    assert isinstance(events[0], parser_module.Request) and events[1:] == [b"abc"]
    assert parser.feed(b"defg") == [b"defg"]
    assert parser.feed(b"") == []
    events = parser.feed(b"hij")
    assert events[0] == b"hij" and isinstance(events[1], parser_module.EndOfMessage)


def test_chunk_data_comes_out_as_it_arrives(parser_module):
    parser = parser_module.RequestParser()
    events = parser.feed(chunked(b"a\r\nhel"))
    assert isinstance(events[0], parser_module.Request) and events[1:] == [b"hel"]
    assert parser.feed(b"lo") == [b"lo"]
    assert parser.feed(b"worl") == [b"worl"]
    assert parser.feed(b"d\r") == [b"d"]
    assert parser.feed(b"\n0\r\n") == []
    assert isinstance(parser.feed(b"\r\n")[0], parser_module.EndOfMessage)


# -- Transfer-Encoding (RFC 9112 6.1, 6.3) --------------------------------------------

CHUNKED_BODY = b"5\r\nhello\r\n0\r\n\r\n"


@pytest.mark.parametrize("fields", [
    [b"Transfer-Encoding: chunked\r\n"],
    [b"Transfer-Encoding: Chunked\r\n"],
    [b"Transfer-Encoding: CHUNKED\r\n"],
    [b"Transfer-Encoding:  chunked \r\n"],
])
def test_chunked_is_accepted(parse_events, fields):
    events = parse_events(post(*fields, body=CHUNKED_BODY))
    assert (events[0][1]["framing"], events[0][1]["content_length"]) == (FRAMING_CHUNKED, -1)
    assert body_events(events) == [("data", b"hello"), ("end", [])]


@pytest.mark.parametrize(("fields", "status"), [
    ([b"Transfer-Encoding: gzip, chunked\r\n"], 501),
    ([b"Transfer-Encoding: deflate,chunked\r\n"], 501),
    ([b"Transfer-Encoding: foo , chunked\r\n"], 501),
    ([b"Transfer-Encoding: gzip\r\n", b"Transfer-Encoding: chunked\r\n"], 501),
    ([b"Transfer-Encoding: chunked, gzip\r\n"], 400),
    ([b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: gzip\r\n"], 400),
    ([b"Transfer-Encoding: gzip\r\n"], 400),
    ([b"Transfer-Encoding: identity\r\n"], 400),
    ([b"Transfer-Encoding: chunked, chunked\r\n"], 400),
    ([b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: chunked\r\n"], 400),
    ([b"Transfer-Encoding: gzip, chunked, chunked\r\n"], 400),
    ([b"Transfer-Encoding: xchunked\r\n"], 400),
    ([b"Transfer-Encoding: chunked;q=1\r\n"], 400),
    ([b"Transfer-Encoding: chunked x\r\n"], 400),
    ([b"Transfer-Encoding: \"chunked\"\r\n"], 400),
    ([b"Transfer-Encoding:\r\n"], 400),
    ([b"Transfer-Encoding: chunked,\r\n"], 400),
    ([b"Transfer-Encoding: , chunked\r\n"], 400),
    ([b"Transfer-Encoding: gzip,,chunked\r\n"], 400),
    ([b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n"], 400),
    ([b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n"], 400),
    ([b"Content-Length: 5\r\n", b"Transfer-Encoding: gzip, chunked\r\n"], 400),
])
def test_transfer_encoding_rules(parse_error, fields, status):
    assert parse_error(post(*fields, body=CHUNKED_BODY)) == status


def test_transfer_encoding_in_http_10_is_rejected(parse_error):
    data = post(b"Transfer-Encoding: chunked\r\n", body=CHUNKED_BODY, version=b"HTTP/1.0")
    assert parse_error(data) == 400


# -- chunked bodies (RFC 9112 7.1) -----------------------------------------------------

@pytest.mark.parametrize(("body", "data"), [
    (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
    (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
    (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
    (b"0005\r\nhello\r\n000\r\n\r\n", b"hello"),
    (b"0\r\n\r\n", b""),
    (b"1\r\n\x00\r\n1\r\n\r\r\n0\r\n\r\n", b"\x00\r"),
])
def test_chunked_bodies(parse_events, body, data):
    events = parse_events(chunked(body))
    assert body_events(events) == ([("data", data)] if data else []) + [("end", [])]


@pytest.mark.parametrize("size_line", [
    b"5;name", b"5;name=value", b"5;name=\"quoted value\"", b"5;a=\"q\\\"x\\\\\"",
    b"5 ;a", b"5\t; a = b", b"5;a;b=c;d", b"5;a=\"\"", b"5;!#$%&'*+-.^_`|~=x",
    b"5;a=\"caf\xc3\xa9\"",
])
def test_chunk_extensions_are_accepted_and_ignored(parse_events, size_line):
    events = parse_events(chunked(size_line + b"\r\nhello\r\n0;last\r\n\r\n"))
    assert body_events(events) == [("data", b"hello"), ("end", [])]


@pytest.mark.parametrize("size_line", [
    b"", b"0x5", b"+5", b"-5", b" 5", b"5 ", b"5\t", b"g", b"5g", b"5,", b"5.0",
    b"5;", b"5; ", b"5;=x", b"5;a=", b"5;a= ", b"5;a=\"x", b"5;a=\"x\"y", b"5;a b",
    b"5;a=b c", b"5;a=\"\x01\"", b"5;a=@", b"5 5",
])
def test_bad_chunk_size_lines_are_rejected(parse_error, size_line):
    assert parse_error(chunked(size_line + b"\r\nhello\r\n0\r\n\r\n")) == 400


def test_chunk_size_overflow_is_rejected(parse_error, parser_module):
    assert parse_error(chunked(b"10000000000000000\r\n")) == 400  # 17 significant digits
    assert parse_error(chunked(b"8000000000000000\r\n")) == 400  # 2**63
    assert parse_error(chunked(b"FFFFFFFFFFFFFFFF\r\n")) == 400
    # Leading zeros are not significant; the largest size is accepted.
    largest = b"00000000000000000007FFFFFFFFFFFFFFF\r\nab"
    events = parser_module.RequestParser().feed(chunked(largest))
    assert events[1:] == [b"ab"]


def test_chunk_size_line_limit(parse_events, parse_error):
    line = b"5;" + b"a" * 18  # 20 bytes
    events = parse_events(chunked(line + b"\r\nhello\r\n0\r\n\r\n"), max_chunk_extension_size=20)
    assert body_events(events) == [("data", b"hello"), ("end", [])]
    assert parse_error(chunked(line + b"\r\nhello\r\n0\r\n\r\n"),
                       max_chunk_extension_size=19) == 400
    # Without an end in sight it fails as soon as the limit is passed.
    assert parse_error(chunked(b"5;a=\"" + b"x" * 2000), max_chunk_extension_size=1024) == 400
    assert parse_error(chunked(b"0" * 2000)) == 400


@pytest.mark.parametrize("body", [
    b"5\r\nhelloX\r\n0\r\n\r\n",
    b"5\r\nhello\n0\r\n\r\n",
    b"5\r\nhello\rX0\r\n\r\n",
    b"5\r\nhello world\r\n0\r\n\r\n",
    b"5\r\nhell\r\n0\r\n\r\n",
])
def test_chunk_data_must_end_with_crlf(parse_events, body):
    events = parse_events(chunked(body))
    assert events[-1] == ("error", 400)


def test_chunk_data_is_emitted_before_the_error(parse_events):
    assert body_events(parse_events(chunked(b"5\r\nhelloX"))) == [
        ("data", b"hello"), ("error", 400)]


# -- trailers (RFC 9112 7.1.2) ----------------------------------------------------------

def test_trailers(parse_events):
    events = parse_events(
        chunked(b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nEXPIRES:  never \r\n\r\n"))
    assert body_events(events) == [
        ("data", b"hello"), ("end", [(b"x-checksum", b"abc"), (b"expires", b"never")])]


def test_trailers_are_not_headers(parse_events):
    # A trailer named like a framing header changes nothing about this message.
    events = parse_events(chunked(b"0\r\nContent-Length: 5\r\nHost: x\r\n\r\n"))
    assert body_events(events) == [("end", [(b"content-length", b"5"), (b"host", b"x")])]


@pytest.mark.parametrize("trailer", [
    b"X-A : v\r\n", b"X-A: a\x00b\r\n", b" folded\r\n", b"X-A\r\n", b"X-A: v\n", b"X-A: v\rX\r\n",
    b": v\r\n",
])
def test_trailers_are_validated_like_headers(parse_error, trailer):
    assert parse_error(chunked(b"0\r\n" + trailer + b"\r\n")) == 400


def test_trailers_count_toward_the_field_limit(parse_events, parse_error):
    # Host and Transfer-Encoding are two fields; two trailers make four.
    body = b"0\r\nX-A: 1\r\nX-B: 2\r\n\r\n"
    events = parse_events(chunked(body), max_header_count=4)
    assert events[-1] == ("end", [(b"x-a", b"1"), (b"x-b", b"2")])
    assert parse_error(chunked(body), max_header_count=3) == 431


def test_trailer_size_limit(parse_events, parse_error):
    body = b"0\r\nX-A: " + b"v" * 35 + b"\r\n\r\n"  # a 40-byte trailer line
    assert parse_events(chunked(body), max_header_size=40)[-1][0] == "end"
    assert parse_error(chunked(body), max_header_size=39) == 431


# -- body size limit (413) -------------------------------------------------------------

def test_content_length_above_the_limit(parse_events, parse_error):
    events = parse_events(post(b"Content-Length: 10\r\n", body=b"x" * 10), max_body_size=10)
    assert body_events(events) == [("data", b"x" * 10), ("end", [])]
    # The Request is not emitted: the head alone decides.
    assert parse_events(post(b"Content-Length: 11\r\n", body=b"x" * 11),
                        max_body_size=10) == [("error", 413)]


def test_chunked_body_above_the_limit(parse_events):
    ok = chunked(b"4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n")
    assert body_events(parse_events(ok, max_body_size=10)) == [
        ("data", b"abcdefghij"), ("end", [])]
    # Bytes up to the limit come out; the first byte past it fails the request.
    too_big = chunked(b"4\r\nabcd\r\n7\r\nefghijk\r\n0\r\n\r\n")
    assert body_events(parse_events(too_big, max_body_size=10)) == [
        ("data", b"abcdefghij"), ("error", 413)]


def test_no_body_limit_by_default(parse_events):
    body = b"x" * 30_000
    events = parse_events(post(b"Content-Length: 30000\r\n", body=body))
    assert body_events(events) == [("data", body), ("end", [])]


# -- split points -----------------------------------------------------------------------

def test_every_split_point_of_a_chunked_request_with_trailers(parser_module):
    data = (chunked(b"3;x=\"y\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: t\r\n\r\n")
            + b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
    expected = feed_whole(parser_module, data)
    assert [kind for kind, _ in expected] == ["request", "data", "end", "request", "end"]
    assert expected[2] == ("end", [(b"x-t", b"t")])
    for cut in range(1, len(data)):
        assert feed_split(parser_module, data, [cut]) == expected, f"split at {cut}"
    for first, second in itertools.combinations(range(1, len(data), 7), 2):
        assert feed_split(parser_module, data, [first, second]) == expected, (first, second)


def test_every_split_point_of_an_invalid_chunked_request(parser_module):
    data = chunked(b"3\r\nabc\r\n4;a=b\r\nwxyz\r\n0\r\nX-T: \x01\r\n\r\n")
    expected = feed_whole(parser_module, data)
    assert expected[-1] == ("error", 400) and expected[1] == ("data", b"abcwxyz")
    for cut in range(1, len(data)):
        assert feed_split(parser_module, data, [cut]) == expected, f"split at {cut}"
