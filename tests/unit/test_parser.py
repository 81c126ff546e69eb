"""The parser API (fasthttpd/_parser.pyi) on both implementations: events and their
order, pipelining, upgrade stop/resume/take_unparsed, the byte counters, the dead
state after an error. The rules themselves are in test_parser_*.py.
"""

from __future__ import annotations

import pytest

from tests.unit.conftest import feed_whole, normalize

GET = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
POST = b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
CHUNKED = (b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2\r\nab\r\n0\r\nX-T: 1\r\n\r\n")
UPGRADE = b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"


def test_constants(parser_module):
    assert (parser_module.FRAMING_NONE, parser_module.FRAMING_LENGTH,
            parser_module.FRAMING_CHUNKED) == (0, 1, 2)
    assert parser_module.DEFAULT_MAX_REQUEST_LINE_SIZE == 8190
    assert parser_module.DEFAULT_MAX_HEADER_COUNT == 100
    assert parser_module.DEFAULT_MAX_HEADER_SIZE == 8190
    assert parser_module.DEFAULT_MAX_CHUNK_EXTENSION_SIZE == 1024


def test_http_parse_error(parser_module):
    error = parser_module.HttpParseError(431, "too many header fields")
    assert isinstance(error, Exception)
    assert (error.status_code, error.reason) == (431, "too many header fields")


def test_event_types_and_fields(parser_module):
    events = parser_module.RequestParser().feed(POST)
    request, body, end = events
    assert isinstance(request, parser_module.Request)
    assert (request.method, request.target, request.path, request.query) == (
        b"POST", b"/b", b"/b", b"")
    assert (request.http_version, request.keep_alive, request.framing) == ("1.1", True, 1)
    assert (request.content_length, request.expect_continue, request.upgrade) == (3, False, None)
    assert request.host == b"h"
    assert request.headers == [(b"host", b"h"), (b"content-length", b"3")]
    assert body == b"xyz" and type(body) is bytes
    assert isinstance(end, parser_module.EndOfMessage) and end.trailers == []


def test_pipelined_requests_come_out_in_order(parser_module):
    data = GET + POST + CHUNKED + GET
    events = normalize(parser_module, parser_module.RequestParser().feed(data))
    assert [(kind, fields["target"] if kind == "request" else fields)
            for kind, fields in events] == [
        ("request", b"/a"), ("end", []),
        ("request", b"/b"), ("data", b"xyz"), ("end", []),
        ("request", b"/c"), ("data", b"ab"), ("end", [(b"x-t", b"1")]),
        ("request", b"/a"), ("end", []),
    ]


def test_pipelined_requests_fed_in_odd_pieces(parser_module):
    data = (GET + POST + CHUNKED) * 3
    expected = feed_whole(parser_module, data)
    for size in (1, 2, 3, 5, 7, 16, 61):
        parser = parser_module.RequestParser()
        events = []
        for start in range(0, len(data), size):
            events += parser.feed(data[start:start + size])
        assert normalize(parser_module, events) == expected, size


def test_an_error_in_a_pipeline_stops_it(parser_module):
    parser = parser_module.RequestParser()
    events = normalize(parser_module, parser.feed(GET + b"GET / HTTP/1.1\r\n\r\n" + GET))
    assert [kind for kind, _ in events] == ["request", "end", "error"]
    assert events[-1] == ("error", 400)


def test_dead_after_error(parser_module):
    parser = parser_module.RequestParser()
    assert parser.feed(b"GET / HTTP/2.0\r\n")[-1].status_code == 505
    assert parser.feed(GET) == []
    assert parser.feed(b"") == []
    assert parser.resume() == []
    assert not parser.is_idle


def test_empty_feed_does_nothing(parser_module):
    parser = parser_module.RequestParser()
    assert parser.feed(b"") == []
    assert parser.is_idle and parser.bytes_consumed == 0 and parser.buffered == 0


# -- counters ----------------------------------------------------------------------

def test_counters_through_a_request(parser_module):
    parser = parser_module.RequestParser()
    head, body = POST[:-3], POST[-3:]
    assert parser.feed(head[:10]) == []
    assert (parser.bytes_consumed, parser.buffered, parser.is_idle) == (0, 10, False)
    parser.feed(head[10:])
    assert (parser.bytes_consumed, parser.buffered, parser.is_idle) == (len(head), 0, False)
    assert parser.feed(body[:1]) == [b"x"]
    assert (parser.bytes_consumed, parser.buffered, parser.is_idle) == (len(head) + 1, 0, False)
    parser.feed(body[1:])
    assert (parser.bytes_consumed, parser.buffered, parser.is_idle) == (len(POST), 0, True)


def test_counters_through_a_chunked_request(parser_module):
    parser = parser_module.RequestParser()
    for index in range(len(CHUNKED)):
        parser.feed(CHUNKED[index:index + 1])
        assert parser.bytes_consumed + parser.buffered == index + 1
        assert parser.is_idle == (index + 1 == len(CHUNKED))
    assert parser.bytes_consumed == len(CHUNKED)


def test_counters_with_pipelined_bytes(parser_module):
    parser = parser_module.RequestParser()
    parser.feed(GET + GET[:7])
    assert (parser.bytes_consumed, parser.buffered, parser.is_idle) == (len(GET), 7, False)


# -- upgrade -----------------------------------------------------------------------

def test_parser_stops_after_an_upgrade_request(parser_module):
    parser = parser_module.RequestParser()
    events = parser.feed(UPGRADE + b"\x00binary frames\xff" + GET)
    assert [type(event).__name__ for event in events] == ["Request", "EndOfMessage"]
    assert events[0].upgrade == b"websocket"
    kept = len(b"\x00binary frames\xff" + GET)
    assert parser.buffered == kept and parser.bytes_consumed == len(UPGRADE)
    assert parser.feed(b"more") == []
    assert parser.buffered == kept + 4
    assert parser.take_unparsed() == b"\x00binary frames\xff" + GET + b"more"
    assert parser.buffered == 0


def test_resume_after_a_declined_upgrade(parser_module):
    parser = parser_module.RequestParser()
    assert len(parser.feed(UPGRADE + POST + GET[:5])) == 2
    events = normalize(parser_module, parser.resume())
    assert [kind for kind, _ in events] == ["request", "data", "end"]
    assert events[0][1]["target"] == b"/b"
    assert parser.buffered == 5
    events = normalize(parser_module, parser.feed(GET[5:]))
    assert [kind for kind, _ in events] == ["request", "end"]
    assert parser.is_idle


def test_resume_with_nothing_kept_waits_for_more(parser_module):
    parser = parser_module.RequestParser()
    parser.feed(UPGRADE)
    assert parser.buffered == 0 and not parser.is_idle
    assert parser.resume() == []
    assert parser.is_idle
    assert [type(event).__name__ for event in parser.feed(GET)] == ["Request", "EndOfMessage"]


def test_upgrade_stop_happens_after_the_body(parser_module):
    data = (b"POST /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
            b"Content-Length: 4\r\n\r\nbody")
    parser = parser_module.RequestParser()
    events = normalize(parser_module, parser.feed(data + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
    assert [kind for kind, _ in events] == ["request", "data", "end"]
    assert events[0][1]["upgrade"] == b"h2c"
    assert parser.take_unparsed() == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def test_upgrade_split_everywhere(parser_module):
    data = UPGRADE + b"rest"
    for cut in range(1, len(data)):
        parser = parser_module.RequestParser()
        events = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert len(events) == 2, cut
        assert parser.take_unparsed() == b"rest", cut


def test_resume_with_an_invalid_request_kept(parser_module):
    parser = parser_module.RequestParser()
    parser.feed(UPGRADE + b"BAD\r\n\r\n")
    events = parser.resume()
    assert len(events) == 1 and events[0].status_code == 400
    assert parser.feed(GET) == []


def test_take_unparsed_without_upgrade_returns_the_incomplete_bytes(parser_module):
    parser = parser_module.RequestParser()
    parser.feed(GET[:9])
    assert parser.take_unparsed() == GET[:9]


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF"),
    (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bare CR"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400,
     "Content-Length"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, "Host"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400, "colon"),
    (b"GET / HTTP/2.0\r\n\r\n", 505, "version"),
])
def test_error_reasons_name_the_problem(parser_module, data, status, words):
    error = parser_module.RequestParser().feed(data)[-1]
    assert error.status_code == status
    assert words.lower() in error.reason.lower()
