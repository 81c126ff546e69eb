"""Fixtures for the parser tests: both implementations, fed three ways.

`parser_module` runs a test once against the compiled parser and once against the
pure-Python fallback (imported directly, not through `fasthttpd.http1`, so that
both run in one session). `parse_events` feeds a byte string whole, byte by byte, and
followed by trailing bytes, checks that the three agree, and returns the events
in a normalized form (consecutive body chunks joined) that is easy to compare.

With FASTHTTPD_NO_EXTENSIONS=1 (.ci/run runs the unit suite so once more) nothing
compiled can be imported: `pytest_collection_modifyitems` deselects the compiled
implementation's cases and the tests marked `compiled` (those that compare it with
the fallback), `pytest_ignore_collect` leaves out the test modules that import a
compiled-only module (a .pyx: the HPACK codec has no fallback) at their top, and
the summary names them; everything else runs on the modules compiled from Python,
as plain Python.
"""

from __future__ import annotations

import ast
import importlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import fasthttpd
from fasthttpd.http1 import IMPLEMENTATIONS

# A complete, valid request used as the "trailing bytes" after the input.
NEXT_REQUEST = b"GET /next HTTP/1.1\r\nHost: next.example\r\n\r\n"

NO_EXTENSIONS = os.environ.get("FASTHTTPD_NO_EXTENSIONS") == "1"

_PACKAGE_DIR = Path(fasthttpd.__file__).resolve().parent
# Modules that exist only compiled (a .pyx, no Python source of the same name).
COMPILED_ONLY = {".".join(("fasthttpd", *path.relative_to(_PACKAGE_DIR).with_suffix("").parts))
                 for path in _PACKAGE_DIR.rglob("*.pyx")}
_not_collected: list[str] = []


def imports_compiled_only(path: Path) -> bool:
    """Whether the module at path imports a compiled-only module at its top level."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        if COMPILED_ONLY.intersection(names):
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if (NO_EXTENSIONS and collection_path.suffix == ".py"
            and collection_path.name.startswith("test_")
            and imports_compiled_only(collection_path)):
        _not_collected.append(collection_path.name)
        return True
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _not_collected:
        terminalreporter.write_line(
            "not collected under FASTHTTPD_NO_EXTENSIONS=1 (they import compiled-only "
            f"modules): {', '.join(sorted(_not_collected))}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not NO_EXTENSIONS:
        return
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        compiled_case = callspec is not None and "compiled" in callspec.id.split("-")
        if compiled_case or item.get_closest_marker("compiled") is not None:
            deselected.append(item)
        else:
            selected.append(item)
    config.hook.pytest_deselected(items=deselected)
    items[:] = selected


@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def parser_module(request: pytest.FixtureRequest) -> ModuleType:
    # An ImportError here is a failure, not a skip: both implementations must exist
    # (build the compiled one with `python setup.py build_ext --inplace`).
    return importlib.import_module(IMPLEMENTATIONS[request.param][0])


def normalize(module: ModuleType, events: Iterable[Any]) -> list[tuple]:
    """Events as plain tuples; consecutive body chunks are joined into one."""
    out: list[tuple] = []
    body: bytearray | None = None  # the body chunks being joined
    for event in events:
        if isinstance(event, bytes):
            assert event, "an empty body chunk was emitted"
            if body is None:
                body = bytearray()
            body += event
            continue
        if body is not None:
            out.append(("data", bytes(body)))
            body = None
        if isinstance(event, module.Request):
            out.append(("request", request_fields(event)))
        elif isinstance(event, module.EndOfMessage):
            out.append(("end", list(event.trailers)))
        elif isinstance(event, module.HttpParseError):
            assert isinstance(event.reason, str) and event.reason
            out.append(("error", event.status_code))
        else:
            raise AssertionError(f"unexpected event {event!r}")
    if body is not None:
        out.append(("data", bytes(body)))
    errors = [index for index, event in enumerate(out) if event[0] == "error"]
    assert errors in ([], [len(out) - 1]), f"an error must be the last event: {out}"
    return out


def request_fields(request: Any) -> dict[str, Any]:
    return {
        "method": request.method,
        "target": request.target,
        "path": request.path,
        "query": request.query,
        "http_version": request.http_version,
        "headers": list(request.headers),
        "keep_alive": request.keep_alive,
        "framing": request.framing,
        "content_length": request.content_length,
        "expect_continue": request.expect_continue,
        "upgrade": request.upgrade,
        "host": request.host,
    }


def feed_whole(module: ModuleType, data: bytes, **limits: int) -> list[tuple]:
    return normalize(module, module.RequestParser(**limits).feed(data))


def feed_bytewise(module: ModuleType, data: bytes, **limits: int) -> list[tuple]:
    parser = module.RequestParser(**limits)
    events: list[Any] = []
    for index in range(len(data)):
        events += parser.feed(data[index:index + 1])
    return normalize(module, events)


def feed_split(module: ModuleType, data: bytes, cuts: Iterable[int],
               **limits: int) -> list[tuple]:
    parser = module.RequestParser(**limits)
    events: list[Any] = []
    start = 0
    for cut in [*cuts, len(data)]:
        events += parser.feed(data[start:cut])
        start = cut
    return normalize(module, events)


def is_upgrade(events: list[tuple]) -> bool:
    requests = [fields for kind, fields in events if kind == "request"]
    return bool(requests) and requests[-1]["upgrade"] is not None


def parse_three_ways(module: ModuleType, data: bytes, **limits: int) -> list[tuple]:
    """Feed `data` whole, byte by byte and with trailing bytes; return the events.

    The three must agree. With trailing bytes: after an error nothing more comes
    out; after a complete request a pipelined request comes out too (unless the
    parser stopped for an upgrade, when the bytes stay unparsed).
    """
    whole = feed_whole(module, data, **limits)
    bytewise = feed_bytewise(module, data, **limits)
    assert bytewise == whole, "byte-by-byte feeding differs from feeding whole"

    parser = module.RequestParser(**limits)
    trailing = normalize(module, parser.feed(data + NEXT_REQUEST))
    if whole and whole[-1][0] == "error":
        assert trailing == whole, "bytes after an error changed the outcome"
        assert parser.feed(NEXT_REQUEST) == [], "the parser must be dead after an error"
    elif whole and whole[-1][0] == "end" and is_upgrade(whole):
        assert trailing == whole
        assert parser.buffered == len(NEXT_REQUEST)
    elif whole and whole[-1][0] == "end":
        expected_next = feed_whole(module, NEXT_REQUEST)
        assert trailing == whole + expected_next, "a pipelined request did not come out"
        assert parser.bytes_consumed == len(data) + len(NEXT_REQUEST)
        assert parser.is_idle
    return whole


@pytest.fixture
def parse_events(parser_module: ModuleType) -> Callable[..., list[tuple]]:
    """parse_events(data, **limits): the events, checked to agree over the three feeds."""

    def parse_events(data: bytes, **limits: int) -> list[tuple]:
        return parse_three_ways(parser_module, data, **limits)

    return parse_events


@pytest.fixture
def parse_error(parse_events: Callable[..., list[tuple]]) -> Callable[..., int]:
    """parse_error(data, **limits): the status of the error the input must end in."""

    def parse_error(data: bytes, **limits: int) -> int:
        events = parse_events(data, **limits)
        assert events and events[-1][0] == "error", f"expected an error, got {events}"
        return events[-1][1]

    return parse_error


@pytest.fixture
def parse_request(parse_events: Callable[..., list[tuple]]) -> Callable[..., dict[str, Any]]:
    """parse_request(data, **limits): the fields of the one complete request in data."""

    def parse_request(data: bytes, **limits: int) -> dict[str, Any]:
        events = parse_events(data, **limits)
        assert events and events[0][0] == "request", f"expected a request, got {events}"
        assert events[-1][0] == "end", f"expected a complete request, got {events}"
        return events[0][1]

    return parse_request
