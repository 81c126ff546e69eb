"""Differential tests of the request parsers, driven by hypothesis.

(a) Generated valid requests: each parser (compiled and pure-Python) agrees with
    httptools (llhttp, driven directly with callbacks) on method, target, path and
    query, headers (names lower-cased), body and trailers; and its events are the
    same whether the bytes arrive whole or split at random points.
(b) Mutated requests (bytes inserted, deleted or replaced: CR, LF, SP, HTAB, ':',
    NUL, DEL, obs-text, digits in lengths and chunk sizes): every request our parser
    accepts (Request ... EndOfMessage, no error), httptools accepts too, with the
    same fields, except for the deliberate differences listed in
    `DELIBERATE_DIFFERENCES`, where llhttp is the stricter one. The reverse
    (httptools accepts, we reject) is expected: our rules are stricter.
(c) The two implementations against each other on valid and mutated requests, with
    small random limits: the same events, the same error statuses, the same
    `bytes_consumed`, `buffered` and `is_idle`, whole, split and byte by byte.

Header values: llhttp strips leading whitespace from a value but keeps trailing
whitespace; we strip both (RFC 9112 5), so values are compared stripped.
"""

from __future__ import annotations

import importlib
import re
import string
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httptools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fasthttpd.http1 import IMPLEMENTATIONS

HYPOTHESIS_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_OWS = b" \t"


def _both_modules() -> list[ModuleType]:
    # As in conftest.py: a missing compiled parser is a failure, not a skip.
    return [importlib.import_module(parser) for parser, _ in IMPLEMENTATIONS.values()]


# ---------------------------------------------------------------------------
# Deliberate differences: requests we accept and llhttp (httptools 0.9) rejects.
# Each entry: (name, reason). `_deliberate_difference` below says which applies.

DELIBERATE_DIFFERENCES = [
    ("unknown method",
     "RFC 9110 9.1: any token is a method; llhttp only knows a fixed list of methods."),
    ("HTTP/1.x with x > 1",
     "RFC 9112 2.3: a higher minor version is served as HTTP/1.1; llhttp refuses it."),
    ("whitespace in chunk extensions",
     "RFC 9112 7.1.1 allows BWS around ';' and '=' in chunk-ext; llhttp refuses it."),
    ("HTAB around a transfer coding",
     "RFC 9112 5: the OWS (SP or HTAB) around a field value is not part of it; llhttp "
     "reads a trailing HTAB as part of the coding and refuses the request."),
    ("bytes after a request that is not keep-alive",
     "llhttp refuses any byte after a message that ends the connection; we parse it "
     "and let the connection decide (it answers, then closes)."),
]


@dataclass
class Message:
    """One complete request, as any of the parsers saw it."""

    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    keep_alive: bool = True
    raw: bytes = b""  # our messages only: the bytes of this message


# ---------------------------------------------------------------------------
# Driving the parsers.


def normalize(events: list[Any]) -> list[tuple[Any, ...]]:
    """Events as comparable tuples; adjacent body chunks are joined (splits move them)."""
    out: list[tuple[Any, ...]] = []
    for event in events:
        kind = type(event).__name__
        if isinstance(event, bytes):
            assert event, "an empty body chunk was emitted"
            if out and out[-1][0] == "body":
                out[-1] = ("body", out[-1][1] + event)
            else:
                out.append(("body", event))
        elif kind == "Request":
            out.append(("request", event.method, event.target, event.path, event.query,
                        event.http_version, list(event.headers), event.keep_alive,
                        event.framing, event.content_length, event.expect_continue,
                        event.upgrade, event.host))
        elif kind == "EndOfMessage":
            out.append(("end", list(event.trailers)))
        else:
            # The reason too: both parsers give the same words for the same fault.
            out.append(("error", event.status_code, event.reason))
    return out


def feed_in_pieces(module: ModuleType, data: bytes, cuts: list[int],
                   limits: dict[str, int] | None = None) -> tuple[list[Any], Any]:
    """Feed data cut at the given positions (0 to len(data))."""
    parser = module.RequestParser(**(limits or {}))
    events: list[Any] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        events += parser.feed(data[start:cut])
        start = cut
    return events, parser


def parser_state(parser: Any) -> tuple[int, int, bool]:
    return parser.bytes_consumed, parser.buffered, parser.is_idle


def our_messages(module: ModuleType, data: bytes) -> list[Message]:
    """The complete requests our parser finds in data (fed whole)."""
    messages: list[Message] = []
    current: Message | None = None
    for event in module.RequestParser().feed(data):
        kind = type(event).__name__
        if kind == "Request":
            current = Message(event.method, event.target, list(event.headers),
                              keep_alive=event.keep_alive)
        elif isinstance(event, bytes):
            assert current is not None
            current.body += event
        elif kind == "EndOfMessage":
            assert current is not None
            current.trailers = list(event.trailers)
            messages.append(current)
            current = None
    return messages


def message_spans(module: ModuleType, data: bytes) -> list[bytes]:
    """The bytes of each complete request: fed byte by byte to see where each ends."""
    parser = module.RequestParser()
    spans: list[bytes] = []
    start = 0
    for index in range(len(data)):
        for event in parser.feed(data[index:index + 1]):
            if type(event).__name__ == "EndOfMessage":
                spans.append(data[start:parser.bytes_consumed])
                start = parser.bytes_consumed
    return spans


class _HttptoolsCollector:
    """httptools callbacks collecting each message's fields."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.messages: list[Message] = []
        self.url = b""
        self.fields: list[tuple[bytes, bytes]] = []
        self.current: Message | None = None

    def on_message_begin(self) -> None:
        self.url = b""
        self.fields = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name.lower(), value.strip(_OWS)))

    def on_headers_complete(self) -> None:
        self.current = Message(self.parser.get_method(), self.url, self.fields,
                               keep_alive=self.parser.should_keep_alive())
        self.fields = []  # trailers come through on_header too

    def on_body(self, body: bytes) -> None:
        assert self.current is not None
        self.current.body += body

    def on_message_complete(self) -> None:
        assert self.current is not None
        self.current.trailers = self.fields
        self.messages.append(self.current)
        self.current = None


def httptools_messages(data: bytes) -> tuple[list[Message], str | None]:
    """The messages llhttp completed, and its error (None when it accepted everything)."""
    collector = _HttptoolsCollector()
    try:
        collector.parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        return collector.messages, None
    except httptools.HttpParserError as error:
        return collector.messages, f"{type(error).__name__}: {error}"
    return collector.messages, None


def compared_fields(message: Message) -> tuple[Any, ...]:
    return message.method, message.target, message.headers, message.body, message.trailers


def same_fields(ours: Message, theirs: Message) -> bool:
    return compared_fields(ours) == compared_fields(theirs)


def check_what_we_accept_httptools_accepts(module: ModuleType, raw: bytes) -> None:
    """Each request we complete, llhttp completes with the same fields, or a
    deliberate difference explains why not (llhttp stops there, so the rest is not
    compared)."""
    ours = our_messages(module, raw)
    theirs, error = httptools_messages(raw)
    spans: list[bytes] | None = None
    previous: Message | None = None
    for index, mine in enumerate(ours):
        if index < len(theirs) and same_fields(mine, theirs[index]):
            previous = mine
            continue
        if spans is None:
            spans = message_spans(module, raw)
        mine.raw = spans[index]
        if _deliberate_difference(mine, previous) is not None:
            return
        assert index < len(theirs), (
            f"we accept request {index} ({mine.raw!r}) and llhttp refuses it: {error}")
        assert compared_fields(mine) == compared_fields(theirs[index]), (
            f"request {index} ({mine.raw!r}) differs")


# ---------------------------------------------------------------------------
# Which deliberate difference explains a request we accept and llhttp does not.

_LLHTTP_METHOD_CACHE: dict[bytes, bool] = {}


def _llhttp_knows_method(method: bytes) -> bool:
    if method not in _LLHTTP_METHOD_CACHE:
        parser = httptools.HttpRequestParser(object())
        try:
            parser.feed_data(method + b" / HTTP/1.1\r\n\r\n")
            known = True
        except httptools.HttpParserInvalidMethodError:
            known = False
        except httptools.HttpParserError:
            known = True  # it got past the method
        _LLHTTP_METHOD_CACHE[method] = known
    return _LLHTTP_METHOD_CACHE[method]


_VERSION_AT_LINE_END = re.compile(rb"HTTP/1\.([0-9])\r\n")
_CHUNK_EXT_BWS = re.compile(rb"[ \t][;=]|[;=][ \t]")
_TRANSFER_ENCODING_HTAB = re.compile(rb"\ntransfer-encoding:[^\n]*\t", re.IGNORECASE)


def _deliberate_difference(message: Message, previous: Message | None) -> str | None:
    """The name of the DELIBERATE_DIFFERENCES entry that applies, or None."""
    if previous is not None and not previous.keep_alive:
        return "bytes after a request that is not keep-alive"
    if not _llhttp_knows_method(message.method):
        return "unknown method"
    request_line = message.raw.lstrip(b"\r\n").split(b"\n", 1)[0] + b"\n"
    version = _VERSION_AT_LINE_END.search(request_line)
    if version is not None and version.group(1) not in b"01":
        return "HTTP/1.x with x > 1"
    head_end = message.raw.find(b"\r\n\r\n")
    if _CHUNK_EXT_BWS.search(message.raw, head_end + 4):
        return "whitespace in chunk extensions"
    if _TRANSFER_ENCODING_HTAB.search(message.raw, 0, head_end + 2):
        return "HTAB around a transfer coding"
    return None


# ---------------------------------------------------------------------------
# Generating valid requests (all of them acceptable to llhttp too).

LLHTTP_METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE",
                  b"PATCH", b"PROPFIND", b"MKCOL", b"PURGE", b"REPORT", b"SEARCH"]
_TCHARS = (string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~").encode()
_PATH_CHARS = (string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%/").encode()
_QUERY_CHARS = _PATH_CHARS + b"?"
_FIELD_TEXT = bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))
# Names that change framing or connection handling are generated on purpose only.
_SPECIAL_NAMES = {b"host", b"content-length", b"transfer-encoding", b"connection",
                  b"proxy-connection", b"upgrade", b"keep-alive", b"te", b"trailer",
                  b"expect"}


def _chars(alphabet: bytes, min_size: int, max_size: int) -> st.SearchStrategy[bytes]:
    """Strings over alphabet: drawn as binary and mapped, much faster than per character."""
    table = bytes(alphabet[byte % len(alphabet)] for byte in range(256))
    return st.binary(min_size=min_size, max_size=max_size).map(
        lambda raw: raw.translate(table))


# Strategies are built once, here: building them inside composites costs most of the time.
_index = st.integers(0, 2**16)  # an index into something: see spread()


def spread(index: int, size: int) -> int:
    """index mapped onto range(size). hypothesis favours small integers; the
    multiplication spreads them over the whole range instead of its start."""
    return (index + 1) * 2654435761 % size


_token = _chars(_TCHARS, 1, 10)
_field_name = _token.filter(lambda name: name.lower() not in _SPECIAL_NAMES)
_ows = st.sampled_from([b"", b"", b" ", b"\t", b"  ", b" \t"])
_host_labels = st.lists(_chars(b"abcdefghijklmnopqrstuvwxyz0123456789-", 1, 8),
                        min_size=1, max_size=3)
_port = st.one_of(st.just(b""), st.integers(1, 65535).map(lambda port: b":%d" % port))
_path = _chars(_PATH_CHARS, 0, 20).map(lambda path: b"/" + path)
_query = st.one_of(st.just(b""), _chars(_QUERY_CHARS, 0, 12).map(lambda query: b"?" + query))
_target_form = st.sampled_from(["origin", "origin", "origin", "absolute", "asterisk"])
_scheme = st.sampled_from([b"http", b"https", b"HTTP"])
_extension_value = st.one_of(
    st.just(b""),
    _token.map(lambda value: b"=" + value),
    _chars(b"abc xyz!#\\", 0, 6).map(lambda value: b'="' + value.replace(b"\\", b"\\\\") + b'"'),
)
_extensions = st.lists(st.tuples(_token, _extension_value), max_size=2).map(
    lambda pairs: b"".join(b";" + name + value for name, value in pairs))
_chunks = st.lists(st.binary(min_size=1, max_size=20), max_size=4)
_size_style = st.sampled_from(["lower", "upper", "zero"])
_last_chunk = st.sampled_from([b"0", b"000"])
_methods = st.sampled_from(LLHTTP_METHODS)
_body_kind = st.sampled_from(["none", "length", "chunked"])
_length_body = st.binary(max_size=40)
_length_prefix = st.sampled_from([b"", b"0"])
_chunked_coding = st.sampled_from([b"chunked", b"Chunked", b"CHUNKED"])
_leading = st.sampled_from([b"", b"", b"", b"\r\n"])


# A value with SP and HTAB inside it but not at its ends (the OWS is drawn apart).
_field_value = _chars(_FIELD_TEXT + b"  \t", 0, 16).map(lambda value: value.strip(_OWS))
_field_line = st.tuples(_field_name, _ows, _field_value, _ows).map(
    lambda parts: parts[0] + b":" + parts[1] + parts[2] + parts[3] + b"\r\n")
_field_lines = st.lists(_field_line, max_size=5)
_trailer_lines = st.lists(_field_line, max_size=2)


@st.composite
def _host_strategy(draw: st.DrawFn) -> bytes:
    return b".".join(draw(_host_labels)) + draw(_port)


_host = _host_strategy()


@st.composite
def _chunked_body_strategy(draw: st.DrawFn) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    """(encoded body, decoded body, trailers)."""
    chunks = draw(_chunks)
    encoded = b""
    for chunk in chunks:
        size = b"%x" % len(chunk)
        style = draw(_size_style)
        size = size.upper() if style == "upper" else b"0" + size if style == "zero" else size
        encoded += size + draw(_extensions) + b"\r\n" + chunk + b"\r\n"
    encoded += draw(_last_chunk) + draw(_extensions) + b"\r\n"
    trailer_lines = draw(_trailer_lines)
    encoded += b"".join(trailer_lines) + b"\r\n"
    trailers = [_split_field(line) for line in trailer_lines]
    return encoded, b"".join(chunks), trailers


_chunked_body = _chunked_body_strategy()


def _split_field(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line[:-2].partition(b":")
    return name.lower(), value.strip(_OWS)


@dataclass
class GeneratedRequest:
    data: bytes
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    trailers: list[tuple[bytes, bytes]]


@st.composite
def _valid_request(draw: st.DrawFn, last: bool) -> GeneratedRequest:
    """One request that both our rules and llhttp accept.

    HTTP/1.0 only with `Connection: keep-alive` unless it is the last request, since
    llhttp refuses bytes after a message that closes the connection.
    """
    method = draw(_methods)
    target = draw(_path) + draw(_query)
    form = draw(_target_form)
    if form == "absolute":
        target = draw(_scheme) + b"://" + draw(_host) + target
    elif form == "asterisk" and method == b"OPTIONS":
        target = b"*"
    http10 = draw(st.booleans()) and draw(st.booleans())
    lines = draw(_field_lines)
    lines.insert(spread(draw(_index), len(lines) + 1), b"Host: " + draw(_host) + b"\r\n")
    if http10 and not last:
        lines.append(b"Connection: keep-alive\r\n")
    body_kind = draw(_body_kind)
    body, encoded, framing = b"", b"", b""
    trailers: list[tuple[bytes, bytes]] = []
    if body_kind == "length":
        body = encoded = draw(_length_body)
        framing = b"Content-Length: " + draw(_length_prefix) + b"%d" % len(body) + b"\r\n"
    elif body_kind == "chunked" and not http10:
        encoded, body, trailers = draw(_chunked_body)
        framing = b"Transfer-Encoding: " + draw(_chunked_coding) + b"\r\n"
    if framing:
        lines.insert(spread(draw(_index), len(lines) + 1), framing)
    version = b"HTTP/1.0" if http10 else b"HTTP/1.1"
    data = (draw(_leading) + method + b" " + target + b" " + version + b"\r\n"
            + b"".join(lines) + b"\r\n" + encoded)
    return GeneratedRequest(data, method, target, [_split_field(line) for line in lines],
                            body, trailers)


_last_request = _valid_request(True)
_earlier_request = _valid_request(False)


@st.composite
def _valid_pipeline(draw: st.DrawFn) -> list[GeneratedRequest]:
    earlier = draw(st.lists(_earlier_request, max_size=2))
    return earlier + [draw(_last_request)]


valid_pipeline = _valid_pipeline()


# ---------------------------------------------------------------------------
# Mutations.

_SPECIAL_BYTES = [b"\r", b"\n", b" ", b"\t", b":", b"\x00", b"\x7f", b"\x80", b"\xff",
                  b";", b",", b"=", b'"', b"\\", b"/", b"?", b"0", b"1", b"9", b"a", b"F",
                  b"\r\n", b"\r\n\r\n"]
# What replaces a digit of a length or chunk size.
_DIGIT_REPLACEMENTS = [b"0", b"1", b"9", b"f", b"", b"00", b" ", b"-", b"+", b"x", b"\t",
                       b",", b"99999"]
_DIGIT_LIKE = frozenset(b"0123456789abcdefABCDEF")
# Where the grammar changes state: a byte inserted or replaced there matters most.
_STRUCTURAL = frozenset(b"\r\n :;=,\"/?")
_special_byte = st.sampled_from(_SPECIAL_BYTES)
_mutation_bytes = st.one_of(_special_byte, _special_byte, _special_byte,
                            st.integers(0, 255).map(lambda byte: bytes([byte])))
_mutations = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace", "digit", "structural"]),
              _index, _mutation_bytes, st.sampled_from(_DIGIT_REPLACEMENTS)),
    min_size=1, max_size=2)


def mutate(data: bytes, mutations: list[tuple[str, int, bytes, bytes]]) -> bytes:
    """data with bytes inserted, deleted or replaced (indices taken modulo the length)."""
    for kind, index, new_bytes, digit_replacement in mutations:
        if kind == "digit" or kind == "structural":
            wanted = _DIGIT_LIKE if kind == "digit" else _STRUCTURAL
            positions = [at for at, byte in enumerate(data) if byte in wanted]
            if positions:
                at = positions[spread(index, len(positions))]
                if kind == "digit":
                    # Lengths and chunk sizes: their digits matter most.
                    data = data[:at] + digit_replacement + data[at + 1:]
                else:
                    # Before, instead of, or after a separator.
                    at += index % 3 - 1
                    keep = index % 3 != 1
                    at = max(at, 0)
                    data = data[:at] + new_bytes + data[at + (0 if keep else 1):]
                continue
        at = spread(index, len(data) + 1)
        if kind == "insert" or at == len(data):
            data = data[:at] + new_bytes + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + 1:]
        else:
            data = data[:at] + new_bytes + data[at + 1:]
    return data


@st.composite
def _mutated_pipeline(draw: st.DrawFn) -> bytes:
    return mutate(b"".join(request.data for request in draw(valid_pipeline)), draw(_mutations))


mutated_pipeline = _mutated_pipeline()
cut_points = st.lists(_index, max_size=8)


def spread_cuts(cuts: list[int], data: bytes) -> list[int]:
    return [spread(cut, len(data) + 1) for cut in cuts]


# ---------------------------------------------------------------------------
# (a) valid requests


@HYPOTHESIS_SETTINGS
@given(pipeline=valid_pipeline, cuts=cut_points)
def test_valid_requests_agree_with_httptools(parser_module: ModuleType,
                                             pipeline: list[GeneratedRequest],
                                             cuts: list[int]) -> None:
    raw = b"".join(request.data for request in pipeline)
    theirs, error = httptools_messages(raw)
    assert error is None, f"the generator made a request llhttp refuses: {error}"
    assert len(theirs) == len(pipeline)

    parser = parser_module.RequestParser()
    whole = parser.feed(raw)
    assert parser.is_idle and parser.buffered == 0 and parser.bytes_consumed == len(raw)
    events = normalize(whole)
    assert not [event for event in events if event[0] == "error"], events
    requests = [event for event in whole if type(event).__name__ == "Request"]
    ours = our_messages(parser_module, raw)
    assert len(ours) == len(requests) == len(pipeline)
    for mine, llhttp, generated, request in zip(ours, theirs, pipeline, requests, strict=True):
        assert compared_fields(mine) == compared_fields(llhttp)
        assert mine.headers == generated.headers
        assert mine.body == generated.body
        assert mine.trailers == generated.trailers
        if request.target.startswith(b"/"):
            url = httptools.parse_url(request.target)
            assert request.path == url.path
            assert request.query == (url.query or b"")

    # Split anywhere: the same events (body chunks joined) and the same end state.
    split_events, split_parser = feed_in_pieces(parser_module, raw, spread_cuts(cuts, raw))
    assert normalize(split_events) == events
    assert parser_state(split_parser) == parser_state(parser)


# ---------------------------------------------------------------------------
# (b) mutated requests


@HYPOTHESIS_SETTINGS
@given(raw=mutated_pipeline)
def test_what_we_accept_httptools_accepts(parser_module: ModuleType, raw: bytes) -> None:
    check_what_we_accept_httptools_accepts(parser_module, raw)


# Every deliberate difference is real: we accept the example, llhttp refuses it, and
# the example is explained by its own entry (so the list cannot go stale unnoticed).
DIFFERENCE_EXAMPLES = {
    "unknown method": b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
    "HTTP/1.x with x > 1": b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    "whitespace in chunk extensions": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                                       b"chunked\r\n\r\n1 ; a = b\r\nx\r\n0\r\n\r\n"),
    "HTAB around a transfer coding": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                                      b"chunked\t\r\n\r\n0\r\n\r\n"),
    "bytes after a request that is not keep-alive": (b"GET / HTTP/1.0\r\n\r\n"
                                                     b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
}


def test_every_deliberate_difference_has_an_example() -> None:
    assert [name for name, _ in DELIBERATE_DIFFERENCES] == list(DIFFERENCE_EXAMPLES)


@pytest.mark.parametrize("name", list(DIFFERENCE_EXAMPLES))
def test_deliberate_difference_is_real(parser_module: ModuleType, name: str) -> None:
    raw = DIFFERENCE_EXAMPLES[name]
    ours = our_messages(parser_module, raw)
    theirs, error = httptools_messages(raw)
    assert error is not None and len(theirs) == len(ours) - 1
    refused = ours[-1]
    refused.raw = message_spans(parser_module, raw)[-1]
    assert _deliberate_difference(refused, ours[-2] if len(ours) > 1 else None) == name


# Every single-byte change (insert, replace, delete) of the bytes the grammar cares
# about, at every position of a few requests: what hypothesis finds only by chance.
SWEEP_SAMPLES = {
    "length": (b"POST /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 5\r\n"
               b"X-Thing: v a l\r\n\r\nhello"),
    "chunked": (b"PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;e=\"q\"\r\nhello\r\n0\r\nT: x\r\n\r\n"),
}
SWEEP_BYTES = [b"\r", b"\n", b" ", b"\t", b":", b"\x00", b"\x7f", b"\x80", b";", b"=", b'"',
               b",", b"0", b"a"]
NEXT_REQUEST = b"GET /next HTTP/1.1\r\nHost: next\r\n\r\n"


def single_byte_changes(sample: bytes) -> list[bytes]:
    changed = []
    for at in range(len(sample) + 1):
        if at < len(sample):
            changed.append(sample[:at] + sample[at + 1:])
        for byte in SWEEP_BYTES:
            changed.append(sample[:at] + byte + sample[at:])
            if at < len(sample):
                changed.append(sample[:at] + byte + sample[at + 1:])
    return [raw + NEXT_REQUEST for raw in changed]


@pytest.mark.parametrize("sample", list(SWEEP_SAMPLES))
def test_single_byte_changes_we_accept_httptools_accepts(parser_module: ModuleType,
                                                         sample: str) -> None:
    for raw in single_byte_changes(SWEEP_SAMPLES[sample]):
        check_what_we_accept_httptools_accepts(parser_module, raw)


@pytest.mark.compiled  # compares the compiled parser with the fallback
@pytest.mark.parametrize("sample", list(SWEEP_SAMPLES))
def test_single_byte_changes_same_outcome_in_both_parsers(sample: str) -> None:
    for raw in single_byte_changes(SWEEP_SAMPLES[sample]):
        outcomes = []
        for module in _both_modules():
            for cuts in ([], list(range(0, len(raw), 7)), [len(raw) // 3, len(raw) // 2]):
                events, parser = feed_in_pieces(module, raw, cuts)
                outcomes.append((normalize(events), parser_state(parser)))
        assert all(outcome == outcomes[0] for outcome in outcomes[1:]), (raw, outcomes)


# ---------------------------------------------------------------------------
# (c) compiled and pure-Python parsers against each other


_small_limits = st.fixed_dictionaries({
    "max_request_line_size": st.integers(1, 60),
    "max_header_count": st.integers(0, 8),
    "max_header_size": st.integers(1, 40),
    "max_body_size": st.integers(0, 60),
    "max_chunk_extension_size": st.integers(1, 30),
})
limits: st.SearchStrategy[dict[str, int]] = st.one_of(st.just({}), _small_limits)

_UPGRADE_REQUEST = (b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                    b"Upgrade: WebSocket\r\n\r\n")


# Header lines that trip the whole-head rules (framing, Host, connection options).
_TRICKY_LINES = [
    b"Content-Length: 3\r\n", b"Content-Length: 0\r\n", b"Content-Length: 1, 1\r\n",
    b"Content-Length: 99999999999999999999\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n", b"Transfer-Encoding: chunked, gzip\r\n",
    b"Transfer-Encoding: \r\n", b"Host: other:81\r\n", b"Host: [::1]:80\r\n",
    b"Host: a b\r\n", b"Connection: close\r\n", b"Connection: keep-alive, Upgrade\r\n",
    b"Upgrade: h2c\r\n", b"Expect: 100-continue\r\n", b"Transfer-Encoding: chunked, chunked\r\n",
    b"Connection: keep-alive\r\n",
]
_tricky_lines = st.lists(st.sampled_from(_TRICKY_LINES), max_size=2)


@st.composite
def _any_input(draw: st.DrawFn) -> bytes:
    """Valid or mutated requests, maybe with tricky header lines in the first one,
    maybe behind an upgrade request, maybe cut short."""
    raw = b"".join(request.data for request in draw(valid_pipeline))
    after_request_line = raw.find(b"\r\n", raw.find(b" HTTP/1.")) + 2
    raw = raw[:after_request_line] + b"".join(draw(_tricky_lines)) + raw[after_request_line:]
    if draw(st.booleans()):
        raw = _UPGRADE_REQUEST + raw  # both parsers stop after it until resume()
    if draw(st.booleans()):
        raw = mutate(raw, draw(_mutations))
    if draw(st.booleans()):
        raw = raw[:spread(draw(_index), len(raw) + 1)]
    return raw


any_input = _any_input()


@pytest.mark.compiled  # compares the compiled parser with the fallback
@HYPOTHESIS_SETTINGS
@given(raw=any_input, limits=limits, cuts=cut_points)
def test_compiled_and_python_parsers_agree(raw: bytes, limits: dict[str, int],
                                           cuts: list[int]) -> None:
    outcomes = []
    for module in _both_modules():
        for pieces in ([], spread_cuts(cuts, raw), list(range(1, len(raw)))):
            events, parser = feed_in_pieces(module, raw, pieces, limits)
            after_feed = parser_state(parser)
            resumed = parser.resume()
            outcomes.append((normalize(events), after_feed, normalize(resumed),
                             parser_state(parser)))
    assert all(outcome == outcomes[0] for outcome in outcomes[1:]), outcomes


# Every pair of the tricky header lines in a few requests: the whole-head rules.
COMBINATION_BASES = {
    "no body": b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    "chunked": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\n\r\n"),
    "HTTP/1.0": b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
}


@pytest.mark.compiled  # compares the compiled parser with the fallback
@pytest.mark.parametrize("base", list(COMBINATION_BASES))
def test_header_combinations_same_outcome_in_both_parsers(base: str) -> None:
    request = COMBINATION_BASES[base]
    after_request_line = request.index(b"\r\n") + 2
    for first in [b"", *_TRICKY_LINES]:
        for second in _TRICKY_LINES:
            raw = (request[:after_request_line] + first + second + request[after_request_line:]
                   + NEXT_REQUEST)
            outcomes = []
            for module in _both_modules():
                for cuts in ([], list(range(0, len(raw), 5))):
                    events, parser = feed_in_pieces(module, raw, cuts, {"max_body_size": 2})
                    outcomes.append((normalize(events), parser_state(parser),
                                     normalize(parser.resume()), parser_state(parser)))
            assert all(outcome == outcomes[0] for outcome in outcomes[1:]), (raw, outcomes)


# Each limit at every value around the sizes in a request: the boundaries, where an
# off-by-one in either parser would show.
LIMIT_SAMPLES = {
    "leading lines": (b"\r\n\r\nGET /path?q HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\n"
                      b"Content-Length: 4\r\n\r\nbody"),
    "chunked": (b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;name=\"v\"\r\nhello\r\n7 ; x\r\n, world\r\n0\r\nTrailer-Field: yes\r\n\r\n"),
}
LIMIT_RANGES = {
    "max_request_line_size": range(1, 40),
    "max_header_count": range(0, 5),
    "max_header_size": range(1, 32),
    "max_body_size": range(0, 16),
    "max_chunk_extension_size": range(1, 16),
}


@pytest.mark.compiled  # compares the compiled parser with the fallback
@pytest.mark.parametrize("sample", list(LIMIT_SAMPLES))
def test_limit_boundaries_same_outcome_in_both_parsers(sample: str) -> None:
    raw = LIMIT_SAMPLES[sample] + NEXT_REQUEST
    for limit, values in LIMIT_RANGES.items():
        for value in values:
            outcomes = []
            for module in _both_modules():
                for cuts in ([], list(range(1, len(raw)))):
                    events, parser = feed_in_pieces(module, raw, cuts, {limit: value})
                    outcomes.append((normalize(events), parser_state(parser)))
            assert all(outcome == outcomes[0] for outcome in outcomes[1:]), (
                limit, value, outcomes)
