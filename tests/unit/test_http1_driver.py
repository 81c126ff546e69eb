"""Http1Driver and the ASGI cycle on an in-memory transport, for both implementations."""

from __future__ import annotations

import asyncio
import importlib
import types

import pytest

from fasthttpd.http1 import IMPLEMENTATIONS
from tests.unit.memory_transport import Harness, parse_responses


@pytest.fixture(params=list(IMPLEMENTATIONS))
def impl(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    parser_name, serializer_name = IMPLEMENTATIONS[request.param]
    return types.SimpleNamespace(parser=importlib.import_module(parser_name),
                                 serializer=importlib.import_module(serializer_name))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


async def hello_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def echo_app(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_simple_get_is_one_write_with_content_length(impl):
    async def main():
        h = Harness(hello_app, impl)
        h.send(GET)
        await h.settle()
        out = h.transport.take()
        assert out.startswith(b"HTTP/1.1 200 OK\r\n")
        [response] = parse_responses(out)
        assert response.body == b"Hello, world!"
        assert response.headers[b"content-length"] == b"13"
        assert b"date" in response.headers
        assert not h.transport.closed
    run(main())


def test_app_runs_in_its_own_named_task(impl):
    seen = []

    async def app(scope, receive, send):
        task = asyncio.current_task()
        seen.append((task, task.get_name()))
        await hello_app(scope, receive, send)

    async def main():
        h = Harness(app, impl)
        h.send(GET + GET)
        await h.settle()
        assert len(parse_responses(h.transport.take())) == 2

    run(main())
    [(first, first_name), (second, second_name)] = seen
    assert first is not second  # one Task per request: contextvars never leak between them
    assert first_name == second_name == "fasthttpd-request"


def test_task_factory_installed_before_serving_is_honoured(impl):
    made = []

    def factory(loop, coro, **kwargs):
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    async def main():
        asyncio.get_running_loop().set_task_factory(factory)
        h = Harness(hello_app, impl)
        h.send(GET)
        await h.settle()
        assert parse_responses(h.transport.take())[0].body == b"Hello, world!"

    run(main())
    # The test's own helpers make Tasks through it too; the request's is among them.
    assert [task.get_name() for task in made].count("fasthttpd-request") == 1


def test_pipelined_requests_are_answered_in_order(impl):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])
        await asyncio.sleep(0.01 if scope["path"] == "/a" else 0)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    async def main():
        h = Harness(app, impl)
        h.send(b"".join(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in (b"a", b"b", b"c")))
        await asyncio.sleep(0.05)
        await h.settle()
        responses = h.responses()
        assert [r.body for r in responses] == [b"/a", b"/b", b"/c"]
        assert seen == ["/a", "/b", "/c"]
    run(main())


def test_pipelined_safe_requests_run_in_parallel_answered_in_order(impl):
    harness = None
    events = []
    heads_when_post_started = []

    async def app(scope, receive, send):
        events.append(("start", scope["path"]))
        if scope["path"] == "/post":
            heads_when_post_started.append(
                [stream.path for stream in harness.connection.driver.queue])
        if scope["path"] == "/slow":
            await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})
        events.append(("end", scope["path"]))

    async def main():
        nonlocal harness
        h = harness = Harness(app, impl)
        h.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
               + b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        await asyncio.sleep(0.1)
        await h.settle()
        # /fast ran while /slow slept; /post (unsafe) waited until both were answered.
        assert events.index(("end", "/fast")) < events.index(("end", "/slow"))
        assert heads_when_post_started == [[b"/post"]]
        assert [r.body for r in h.responses()] == [b"/slow", b"/fast", b"/post"]
    run(main())


def test_pipelined_responses_leave_in_few_writes(impl):
    async def main():
        h = Harness(hello_app, impl)
        h.send(GET * 16)
        await h.settle()
        responses = h.responses()
        assert len(responses) == 16 and all(r.body == b"Hello, world!" for r in responses)
        assert h.transport.write_calls <= 3
    run(main())


def test_chunks_sent_without_waiting_leave_in_one_write(impl):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(100):
            await send({"type": "http.response.body", "body": b"%02d" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def main():
        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        [response] = h.responses()
        assert response.body == b"".join(b"%02d" % i for i in range(100))
        assert h.transport.write_calls == 1
    run(main())


def test_streamed_chunk_is_written_while_the_app_waits(impl):
    async def main():
        proceed = asyncio.Event()

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            await proceed.wait()  # an app between two events of a stream
            await send({"type": "http.response.body", "body": b"last"})

        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        assert h.transport.written.endswith(b"first\r\n")  # its chunk, framed, is out
        proceed.set()
        await h.settle()
        assert h.responses()[0].body == b"firstlast"
    run(main())


def test_streamed_response_behind_the_head_waits_for_its_turn(impl):
    async def app(scope, receive, send):
        if scope["path"] == "/first":
            await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            part = b"%s%d;" % (scope["path"].encode(), i)
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def main():
        h = Harness(app, impl)
        h.send(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.1)
        await h.settle()
        bodies = [r.body for r in h.responses()]
        assert bodies == [b"/first0;/first1;/first2;", b"/second0;/second1;/second2;"]
    run(main())


def test_request_body_content_length_and_chunked(impl):
    async def main():
        h = Harness(echo_app, impl)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel")
        await h.settle()
        h.send(b"lo")
        await h.settle()
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        await h.settle()
        assert [r.body for r in h.responses(method=b"POST")] == [b"hello", b"abcde"]
    run(main())


def test_expect_continue_sent_when_app_reads(impl):
    async def main():
        h = Harness(echo_app, impl)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        await h.settle()
        assert h.transport.take() == b"HTTP/1.1 100 Continue\r\n\r\n"
        h.send(b"abc")
        await h.settle()
        [response] = h.responses()
        assert response.body == b"abc"
    run(main())


def test_expect_continue_not_sent_when_app_answers_first(impl):
    async def main():
        h = Harness(hello_app, impl)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        await h.settle()
        out = h.transport.take()
        assert b"100 Continue" not in out
        assert out.startswith(b"HTTP/1.1 200 OK")
        assert h.transport.closed  # the unread body might still come: the connection closes
    run(main())


def test_head_has_no_body(impl):
    async def main():
        h = Harness(hello_app, impl)
        h.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        await h.settle()
        out = h.transport.take()
        assert out.endswith(b"\r\n\r\n") and b"Hello" not in out
    run(main())


def test_http10_and_connection_close_close_after_response(impl):
    async def main():
        for request in (b"GET / HTTP/1.0\r\n\r\n",
                        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
            h = Harness(hello_app, impl)
            h.send(request)
            await h.settle()
            out = h.transport.take()
            assert b"connection: close" in out.lower()
            assert out.endswith(b"Hello, world!")
            assert h.transport.closed
    run(main())


def test_parse_error_answers_after_pending_response_then_closes(impl):
    async def main():
        h = Harness(hello_app, impl)
        h.send(GET + b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n")
        await h.settle()
        out = h.transport.take()
        assert out.startswith(b"HTTP/1.1 200 OK")
        assert b"HTTP/1.1 400 Bad Request\r\n" in out
        assert out.index(b"200 OK") < out.index(b"400 Bad Request")
        assert h.transport.closed
    run(main())


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
])
def test_framing_errors_get_their_status_and_close(impl, request_bytes, status):
    async def main():
        h = Harness(hello_app, impl)
        h.send(request_bytes)
        await h.settle()
        out = h.transport.take()
        assert out.startswith(b"HTTP/1.1 %d " % status)
        assert b"connection: close" in out.lower()
        assert h.transport.closed
    run(main())


def test_body_over_limit_is_413(impl):
    async def main():
        h = Harness(echo_app, impl, limit_request_body=10)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
        await h.settle()
        assert h.transport.take().startswith(b"HTTP/1.1 413 ")
        assert h.transport.closed
    run(main())


def test_app_error_before_start_gives_500_and_close(impl):
    async def app(scope, receive, send):
        raise ValueError("boom")

    async def main():
        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        [response] = h.responses()
        assert response.status == 500
        assert h.transport.closed
    run(main())


def test_app_error_after_start_aborts_without_last_chunk(impl):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise ValueError("boom")

    async def main():
        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        out = h.transport.take()
        assert b"transfer-encoding: chunked" in out.lower()
        assert not out.endswith(b"0\r\n\r\n")
        assert h.transport.aborted
    run(main())


def test_app_returning_without_response_gives_500(impl):
    async def app(scope, receive, send):
        return None

    async def main():
        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        assert h.responses()[0].status == 500
    run(main())


def test_body_shorter_than_content_length_closes(impl):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"short"})

    async def main():
        h = Harness(app, impl)
        h.send(GET + GET)
        await h.settle()
        out = h.transport.take()
        assert out.count(b"HTTP/1.1 200") == 1
        assert h.transport.closed
    run(main())


def test_trailers_and_early_hints(impl):
    async def app(scope, receive, send):
        assert "http.response.trailers" in scope["extensions"]
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await send({"type": "http.response.start", "status": 200, "trailers": True,
                    "headers": []})
        await send({"type": "http.response.body", "body": b"abc"})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    async def main():
        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        [response] = h.responses()
        assert response.informational == [103]
        assert response.body == b"abc"
        assert response.trailers == {b"x-sum": b"1"}
    run(main())


def test_unread_small_body_is_discarded_and_connection_reused(impl):
    async def main():
        h = Harness(hello_app, impl)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        await h.settle()
        h.send(b"56789" + GET)
        await h.settle()
        assert [r.status for r in h.responses()] == [200, 200]
        assert not h.transport.closed
    run(main())


def test_unread_large_body_closes_connection(impl):
    async def main():
        h = Harness(hello_app, impl)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nabc")
        await h.settle()
        assert h.responses()[0].status == 200
        assert h.transport.closed
    run(main())


def test_reading_pauses_while_app_does_not_read_body(impl):
    release = asyncio.Event()

    async def app(scope, receive, send):
        await release.wait()
        await echo_app(scope, receive, send)

    async def main():
        h = Harness(app, impl)
        total = 2 * 1024 * 1024
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total)
        sent = 0
        while sent < total and not h.transport.reading_paused:
            h.send(b"x" * 65536)
            sent += 65536
        assert h.transport.reading_paused
        assert sent < total  # stopped well before the whole body was buffered
        release.set()
        while sent < total:
            await h.settle()
            if not h.transport.reading_paused:
                h.send(b"x" * 65536)
                sent += 65536
        await h.settle(50)
        [response] = h.responses()
        assert len(response.body) == total
    run(main())


def test_send_waits_while_transport_is_paused(impl):
    progress = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            progress.append(i)
        await send({"type": "http.response.body", "body": b""})

    async def main():
        h = Harness(app, impl)
        h.connection.pause_writing()
        h.send(GET)
        await h.settle()
        assert progress == []  # first send() is waiting for the buffer to drain
        h.connection.resume_writing()
        await h.settle()
        assert progress == [0, 1, 2]
    run(main())


def test_disconnect_is_delivered_and_send_after_it_raises_oserror(impl):
    outcome = {}

    async def app(scope, receive, send):
        assert (await receive())["type"] == "http.request"
        outcome["message"] = (await receive())["type"]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except OSError as exc:
            outcome["error"] = exc

    async def main():
        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        h.transport.client_gone()
        await h.settle()
        assert outcome["message"] == "http.disconnect"
        assert isinstance(outcome["error"], OSError)
    run(main())


def test_limit_concurrency_answers_503(impl):
    release = asyncio.Event()

    async def app(scope, receive, send):
        await release.wait()
        await hello_app(scope, receive, send)

    async def main():
        first = Harness(app, impl, limit_concurrency=1)
        first.send(GET)
        await first.settle()
        second = Harness(app, impl, limit_concurrency=1)
        second.state = first.state  # same server
        second.handler.state = first.state
        second.send(GET)
        await second.settle()
        assert second.responses()[0].status == 503
        release.set()
        await first.settle()
        assert first.responses()[0].status == 200
    run(main())


def test_keep_alive_timeout_closes_idle_connection(impl):
    async def main():
        h = Harness(hello_app, impl, timeout_keep_alive=0.05)
        h.send(GET)
        await h.settle()
        assert not h.transport.closed
        await asyncio.sleep(0.15)
        assert h.transport.closed
    run(main())


def test_request_head_deadline_is_not_extended_by_dribbling(impl):
    async def main():
        h = Harness(hello_app, impl, timeout_request_header=0.2)
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\n":
            h.send(bytes([byte]))
            await asyncio.sleep(0.01)
            if h.transport.closed:
                break
        await asyncio.sleep(0.25)
        assert h.transport.take().startswith(b"HTTP/1.1 408 ")
        assert h.transport.closed
    run(main())


def test_body_gap_deadline(impl):
    async def main():
        h = Harness(echo_app, impl, timeout_request_body=0.1)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.sleep(0.3)
        assert h.transport.take().startswith(b"HTTP/1.1 408 ")
        assert h.transport.closed
    run(main())


def test_busy_connection_is_not_closed_as_idle(impl):
    async def main():
        h = Harness(hello_app, impl, timeout_keep_alive=0.2)
        for _ in range(8):  # 0.4 s of requests, each within the keep-alive time
            h.send(GET)
            await asyncio.sleep(0.05)
        assert not h.transport.closed
        assert len(h.responses()) == 8
    run(main())


def test_unread_body_being_discarded_has_a_deadline(impl):
    async def main():
        h = Harness(hello_app, impl, timeout_request_body=0.1)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        await h.settle()
        assert h.responses()[0].status == 200
        assert not h.transport.closed
        await asyncio.sleep(0.3)  # the rest of the body never comes
        assert h.transport.closed
    run(main())


BIG = bytes(range(256)) * 512  # 128 KiB, above the size written beside its head


@pytest.mark.parametrize("headers, parts, request_line, expect_length", [
    ([], [(BIG, False)], b"GET / HTTP/1.1", True),  # length added by the server
    ([(b"content-length", b"%d" % (2 * len(BIG)))], [(BIG, True), (BIG, False)],
     b"GET / HTTP/1.1", True),
    ([], [(BIG, True), (BIG, True), (b"", False)], b"GET / HTTP/1.1", False),  # chunked
    ([], [(BIG, False)], b"GET / HTTP/1.0", True),
])
def test_large_bodies_are_framed_right(impl, headers, parts, request_line, expect_length):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for body, more in parts:
            await send({"type": "http.response.body", "body": body, "more_body": more})

    async def main():
        h = Harness(app, impl)
        h.send(request_line + b"\r\nHost: x\r\n\r\n")
        await h.settle()
        [response] = h.responses()
        assert response.complete
        assert response.body == b"".join(body for body, _ in parts)
        assert (b"content-length" in response.headers) is expect_length
    run(main())


def test_large_body_to_head_request_is_not_sent(impl):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": BIG})

    async def main():
        h = Harness(app, impl)
        h.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        await h.settle()
        out = h.transport.take()
        assert out.endswith(b"\r\n\r\n") and len(out) < 1000
    run(main())


def test_large_body_with_trailers(impl):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [],
                    "trailers": True})
        await send({"type": "http.response.body", "body": BIG})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"9")]})

    async def main():
        h = Harness(app, impl)
        h.send(GET)
        await h.settle()
        [response] = h.responses()
        assert response.body == BIG and response.trailers == {b"x-sum": b"9"}
    run(main())


# Issue 10: hardening.

def test_nothing_after_a_closing_request_is_processed(impl):
    """RFC 9112 9.6: a request pipelined behind Connection: close (or HTTP/1.0
    without keep-alive) never reaches the app."""
    paths = []

    async def app(scope, receive, send):
        paths.append(scope["path"])
        await hello_app(scope, receive, send)

    async def main():
        for first in (b"GET / HTTP/1.0\r\n\r\n",
                      b"GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n"):
            paths.clear()
            h = Harness(app, impl)
            h.send(first + b"GET /b HTTP/1.1\r\nHost: s\r\n\r\n")
            h.send(b"GET /c HTTP/1.1\r\nHost: s\r\n\r\n")
            await h.settle()
            assert paths == ["/"]
            assert len(h.responses()) == 1
            assert h.transport.closed
    run(main())


def test_closing_request_with_a_slow_app_is_not_cut_by_the_head_deadline(impl):
    release = asyncio.Event()

    async def app(scope, receive, send):
        await release.wait()
        await hello_app(scope, receive, send)

    async def main():
        h = Harness(app, impl, timeout_request_header=0.05)
        h.send(b"GET / HTTP/1.0\r\n\r\nGET /b HTTP/1.1\r\n")  # a partial head follows
        await asyncio.sleep(0.15)
        assert not h.transport.closed
        release.set()
        await h.settle()
        [response] = h.responses()
        assert response.status == 200 and response.body == b"Hello, world!"
        assert h.transport.closed
    run(main())


def test_expect_continue_with_the_body_already_sent_keeps_the_connection(impl):
    """curl sends the body after a second without a 100: the exchange completes
    and the connection stays reusable."""
    async def main():
        h = Harness(echo_app, impl)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               b"Expect: 100-continue\r\n\r\nping")
        await h.settle()
        [response] = h.responses()
        assert response.body == b"ping"
        assert b"connection" not in response.headers
        assert not h.transport.closed
        h.send(GET)
        await h.settle()
        [response] = h.responses()
        assert response.status == 200
    run(main())


def test_expect_continue_body_arriving_while_app_waits_keeps_the_connection(impl):
    release = asyncio.Event()

    async def app(scope, receive, send):
        await release.wait()  # the body arrives before the app asks for it
        await echo_app(scope, receive, send)

    async def main():
        h = Harness(app, impl)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               b"Expect: 100-continue\r\n\r\n")
        await h.settle()
        h.send(b"ping")
        release.set()
        await h.settle()
        out = h.transport.take()
        assert b"100 Continue" not in out
        assert out.endswith(b"ping") and b"connection: close" not in out.lower()
        assert not h.transport.closed
    run(main())


def test_request_body_below_the_minimum_rate_gets_408(impl):
    """A body trickled in small pieces, each within the gap deadline, but slower
    than --limit-request-body-rate over a --timeout-request-body window."""
    async def main():
        h = Harness(echo_app, impl, timeout_request_body=0.3, limit_request_body_rate=1000)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        started = asyncio.get_running_loop().time()
        while not h.transport.closed and asyncio.get_running_loop().time() - started < 2:
            h.send(b"x" * 10)  # 10 bytes every 50 ms: 200 bytes/s
            await asyncio.sleep(0.05)
        assert h.transport.closed
        assert asyncio.get_running_loop().time() - started < 1.0
        assert h.transport.take().startswith(b"HTTP/1.1 408 ")
    run(main())


def test_request_body_at_the_minimum_rate_is_served(impl):
    async def main():
        h = Harness(echo_app, impl, timeout_request_body=0.2, limit_request_body_rate=1000)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 800\r\n\r\n")
        for _ in range(8):
            h.send(b"x" * 100)  # 100 bytes every 50 ms: 2000 bytes/s
            await asyncio.sleep(0.05)
        await h.settle()
        [response] = h.responses()
        assert response.status == 200 and len(response.body) == 800
    run(main())


def test_body_rate_does_not_count_time_the_app_leaves_the_body_unread(impl):
    """Reading pauses while the app does not read (the buffer is full): that time is
    the app's, not the client's, and does not count against the rate."""
    first, rest = 300 * 1024, 100 * 1024

    async def app(scope, receive, send):
        await asyncio.sleep(0.5)
        await echo_app(scope, receive, send)

    async def main():
        # 600 kB are needed per 0.3 s window of waiting on the client.
        h = Harness(app, impl, timeout_request_body=0.3, limit_request_body_rate=2_000_000)
        h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (first + rest))
        h.send(b"x" * first)
        assert h.transport.reading_paused
        while h.transport.reading_paused:
            await asyncio.sleep(0.01)
        h.send(b"y" * rest)
        await h.settle()
        [response] = h.responses()
        assert response.status == 200 and len(response.body) == first + rest
    run(main())


def test_client_that_stops_reading_a_response_is_aborted(impl):
    """--timeout-response-send: the write buffer stays above its high-water mark."""
    outcome = {}

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x" * 1000,
                            "more_body": True})
        except OSError as exc:
            outcome["error"] = exc

    async def main():
        h = Harness(app, impl, timeout_response_send=0.2)
        h.connection.pause_writing()  # the client does not read
        h.send(GET)
        await asyncio.sleep(0.1)
        assert not h.transport.closed
        await asyncio.sleep(0.3)
        assert h.transport.aborted
        await h.settle()
        assert isinstance(outcome.get("error"), OSError)
    run(main())


def test_response_progress_resets_the_send_deadline(impl):
    async def main():
        h = Harness(hello_app, impl, timeout_response_send=0.2)
        for _ in range(4):  # blocked for 0.1 s at a time, then drained
            h.connection.pause_writing()
            await asyncio.sleep(0.1)
            h.connection.resume_writing()
        assert not h.transport.closed
    run(main())


def test_connection_that_never_shows_its_protocol_is_closed(impl):
    """The head deadline runs from the accept, before any driver exists."""
    from fasthttpd.connection import close_undecided

    async def main():
        h = Harness(hello_app, impl, timeout_request_header=0.1)
        close_undecided(h.state)
        assert not h.transport.closed
        await asyncio.sleep(0.15)
        close_undecided(h.state)
        assert h.transport.closed and h.transport.take() == b""
        await h.settle()
        assert not h.state.undecided
    run(main())


def test_first_head_deadline_counts_from_the_accept(impl):
    async def main():
        h = Harness(hello_app, impl, timeout_request_header=0.2)
        await asyncio.sleep(0.15)
        h.send(b"GET / HTTP/1.1\r\n")  # picks the driver 0.15 s after the accept
        await asyncio.sleep(0.1)
        assert h.transport.closed
        assert h.transport.take().startswith(b"HTTP/1.1 408 ")
    run(main())


# The state tables of fasthttpd/http1/driver.py (module constants are C values when
# compiled, so the tests name the numbers the module docstring gives them).
QUEUED, RUNNING, HEAD_HELD, STREAMING, COMPLETE, ABORTED = range(6)
IDLE, HEAD, BODY, DISCARD, CLOSED = range(5)


def test_stream_lifecycle_and_read_states(impl):
    seen = {}
    release = asyncio.Event()

    async def app(scope, receive, send):
        driver = harness.connection.driver
        me = driver.queue[0] if scope["path"] == "/a" else driver.queue[-1]
        seen.setdefault(scope["path"], []).append((me.phase, driver.reading))
        if scope["path"] == "/a":
            seen["/b queued"] = driver.queue[1].phase
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        seen[scope["path"]].append((me.phase, driver.reading))
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        seen[scope["path"]].append((me.phase, driver.reading))
        await send({"type": "http.response.body", "body": b""})
        seen[scope["path"]].append((me.phase, driver.reading))

    async def main():
        nonlocal harness
        harness = Harness(app, impl)
        driver = harness.connection.driver
        assert driver is None  # no driver before the first byte
        # An unsafe request first: the one behind it waits (QUEUED) until it is answered.
        harness.send(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
                     b"GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\n")
        driver = harness.connection.driver
        assert driver.reading == HEAD  # part of /c's head
        await harness.settle()
        assert seen["/b queued"] == QUEUED
        release.set()
        await harness.settle()
        # (Read state BODY while /a's body arrives, if its app started eagerly.)
        assert seen["/a"][0][1] in (BODY, HEAD)
        assert seen["/a"][1:] == [(HEAD_HELD, HEAD), (STREAMING, HEAD), (COMPLETE, HEAD)]
        assert seen["/a"][0][0] == RUNNING
        assert [phase for phase, _ in seen["/b"]] == [RUNNING, HEAD_HELD, STREAMING, COMPLETE]
        assert len(harness.responses()) == 2
        # A body the app does not read is discarded after its answer.
        harness.send(b"Host: x\r\n\r\n")  # ends /c's head: answered at once
        await harness.settle()
        harness.send(b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        await harness.settle()
        assert driver.reading == DISCARD
        harness.send(b"defghij")
        await harness.settle()
        assert driver.reading == IDLE
        harness.send(b"GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await harness.settle()
        assert driver.reading == CLOSED and harness.transport.closed

    harness = None
    run(main())
