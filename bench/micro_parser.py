"""Microbenchmark: parsing one realistic browser GET, three ways.

(a) fasthttpd's compiled parser (`fasthttpd._parser.RequestParser.feed`);
(b) httptools.HttpRequestParser driving Python callbacks that collect the same
    fields the way uvicorn's httptools protocol does (URL joined in on_url, names
    lower-cased in on_header, httptools.parse_url for path and query, the HTTP
    version, method and keep-alive read in on_headers_complete);
(c) fasthttpd's pure-Python fallback parser.

Each variant parses the same request over and over on one parser, as on a
keep-alive connection. Rounds are short and interleaved (a, b, c, a, b, c, ...)
so that drift of the machine's speed hits every variant alike; the best round of
each is reported (the least disturbed one) together with the median. Time is the
process's CPU time, so that the other processes of a shared machine do not count
against whichever variant they interrupted. The figure that counts is the ratio
(b)/(a) of time per request, i.e. how many times faster (a) is.

Run: python bench/micro_parser.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httptools

from fasthttpd import _parser as compiled_parser
from fasthttpd.http1 import fallback_parser

# A Firefox navigation request: 9 header fields, 395 bytes.
REQUEST = (
    b"GET /search?q=fast+http&lang=en HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"\r\n"
)


class HttptoolsCollector:
    """The callbacks uvicorn's httptools protocol runs for a request head."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep  # keep the collected requests (for the check) or drop them
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.requests: list[tuple] = []

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        parsed_url = httptools.parse_url(self.url)
        self.requests.append((
            parser.get_method(),
            self.url,
            parsed_url.path,
            parsed_url.query or b"",
            parser.get_http_version(),
            self.headers,
            parser.should_keep_alive(),
        ))

    def on_body(self, body: bytes) -> None:
        pass

    def on_message_complete(self) -> None:
        # Drop what was collected so that memory stays flat over the loop.
        if not self.keep:
            self.requests.clear()


def _time_compiled(module, count: int) -> float:
    parser = module.RequestParser()
    feed = parser.feed
    data = REQUEST
    start = time.process_time()
    for _ in range(count):
        feed(data)
    return time.process_time() - start


def time_compiled(count: int) -> float:
    return _time_compiled(compiled_parser, count)


def time_fallback(count: int) -> float:
    return _time_compiled(fallback_parser, count)


def time_httptools(count: int) -> float:
    collector = HttptoolsCollector()
    feed = collector.parser.feed_data
    data = REQUEST
    start = time.process_time()
    for _ in range(count):
        feed(data)
    return time.process_time() - start


def check_same_fields() -> None:
    """The variants must agree on what they extract, or the race is unfair."""
    events = compiled_parser.RequestParser().feed(REQUEST)
    request = events[0]
    collector = HttptoolsCollector(keep=True)
    collector.parser.feed_data(REQUEST)
    method, url, path, query, version, headers, keep_alive = collector.requests[0]
    assert (request.method, request.target, request.path, request.query) == (
        method, url, path, query), "method/target/path/query differ"
    assert request.http_version == version and request.keep_alive == keep_alive
    assert request.headers == headers, "headers differ"
    fallback_request = fallback_parser.RequestParser().feed(REQUEST)[0]
    assert fallback_request.headers == headers


def run(quick: bool = False) -> dict:
    """Measure; returns ns/request and requests/s (best and median) and the ratio."""
    check_same_fields()
    count = 10_000 if quick else 20_000
    rounds = 5 if quick else 25
    variants = {
        "compiled": time_compiled,
        "httptools": time_httptools,
        "fallback": time_fallback,
    }
    counts = {"compiled": count, "httptools": count, "fallback": max(1000, count // 10)}
    for name, timer in variants.items():
        timer(counts[name] // 10)  # warm up
    per_request: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, timer in variants.items():
            per_request[name].append(timer(counts[name]) / counts[name])
    results: dict = {"request_bytes": len(REQUEST), "rounds": rounds}
    for name, seconds in per_request.items():
        best = min(seconds)
        median = statistics.median(seconds)
        results[name] = {
            "ns_per_request": best * 1e9,
            "median_ns_per_request": median * 1e9,
            "requests_per_second": 1 / best,
        }
    results["ratio"] = (results["httptools"]["ns_per_request"]
                        / results["compiled"]["ns_per_request"])
    results["median_ratio"] = (results["httptools"]["median_ns_per_request"]
                               / results["compiled"]["median_ns_per_request"])
    return results


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    options = arguments.parse_args()
    results = run(options.quick)
    print(f"request: {results['request_bytes']} bytes, best of {results['rounds']} rounds")
    labels = {
        "compiled": "(a) fasthttpd compiled parser",
        "httptools": "(b) httptools + Python callbacks",
        "fallback": "(c) fasthttpd pure-Python fallback",
    }
    for name, label in labels.items():
        figures = results[name]
        print(f"{label:38} {figures['requests_per_second']:>12,.0f} req/s "
              f"{figures['ns_per_request']:>9.0f} ns/req "
              f"(median {figures['median_ns_per_request']:.0f})")
    print(f"ratio (a)/(b) speed: {results['ratio']:.2f}x "
          f"(median rounds: {results['median_ratio']:.2f}x; target >= 3.0)")


if __name__ == "__main__":
    main()
