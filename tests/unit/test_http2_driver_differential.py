"""The compiled driver against the h2-based one: the same client conversation, the
same answers.

Hypothesis generates request sequences (methods, paths, header fields, bodies
split over DATA frames, trailers, client resets, malformed heads); each sequence
is played by an h2 client against both drivers, with the same app, and the
responses each stream gets (status, body, trailers, or the reset code) must agree.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from h2.errors import ErrorCodes
from h2.exceptions import StreamClosedError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fasthttpd.http2 import driver_class
from tests.unit import test_http2_driver as harness


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    fields = b";".join(name + b"=" + value for name, value in scope["headers"])
    trailers = scope["path"] == "/trailers"
    await send({"type": "http.response.start", "status": 201 if body else 200,
                "headers": [(b"x-method", scope["method"].encode())], "trailers": trailers})
    await send({"type": "http.response.body", "body": fields + b"|" + body})
    if trailers:
        await send({"type": "http.response.trailers", "headers": [(b"x-size", b"%d" % len(body))]})


REQUEST = st.fixed_dictionaries({
    "method": st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS"]),
    "path": st.sampled_from(["/", "/a?b=c", "/trailers", "/%20x"]),
    "fields": st.lists(st.tuples(st.sampled_from([b"x-a", b"cookie", b"accept", b"te",
                                                  b"X-Upper", b"connection"]),
                                 st.sampled_from([b"1", b"trailers", b"a=b", b" lead"])),
                       max_size=3),
    "body": st.lists(st.binary(max_size=40), max_size=3),
    "client_trailers": st.booleans(),
    "reset": st.booleans(),
})


async def play(impl: str, requests: list[dict[str, Any]]) -> list[Any]:
    harness._driver_class = driver_class(impl)
    peer = harness.Peer(echo_app)
    peer.h2.config.validate_outbound_headers = False
    peer.h2.config.normalize_outbound_headers = False
    ids = []
    for request in requests:
        sid = peer.h2.get_next_available_stream_id()
        head = [(b":method", request["method"].encode()), (b":path", request["path"].encode()),
                (b":scheme", b"http"), (b":authority", b"t")] + request["fields"]
        parts = request["body"]
        ends_in_headers = not parts and not request["client_trailers"]
        peer.h2.send_headers(sid, head, end_stream=ends_in_headers)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1 and not request["client_trailers"]
            peer.h2.send_data(sid, part, end_stream=last)
        if request["client_trailers"]:
            peer.h2.send_headers(sid, [(b"x-t", b"1")], end_stream=True)
        if request["reset"]:
            try:
                peer.h2.reset_stream(sid, ErrorCodes.CANCEL)
            except StreamClosedError:
                pass  # h2 (the client) refuses to reset what it already ended
        peer.flush()
        ids.append(sid)
    await peer.settle(30)
    outcome = []
    for sid, request in zip(ids, requests, strict=True):
        response = harness.Response.collect(peer.events, sid)
        if request["reset"]:
            outcome.append("client reset")  # whatever raced the reset, the client gave up
            continue
        outcome.append((response.status, response.body, response.trailers, response.ended,
                        response.reset))
    return outcome


@pytest.mark.compiled  # compares the compiled driver with the h2 one
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REQUEST, min_size=1, max_size=5))
def test_both_drivers_answer_alike(requests: list[dict[str, Any]]) -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        return await play("compiled", requests), await play("h2", requests)

    try:
        compiled, h2 = asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        harness._driver_class = None
    assert compiled == h2
