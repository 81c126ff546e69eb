"""A real Starlette app served by fasthttpd, through httpx."""

import time

import httpx
import pytest

from tests.e2e.conftest import run_server


@pytest.fixture(scope="module")
def starlette_server(impl):
    with run_server(app="tests.e2e.starlette_app:app", impl=impl) as srv:
        yield srv


def test_routing_and_json(starlette_server):
    response = httpx.get(starlette_server.url + "/users/42?q=hi", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"id": 42, "q": "hi",
                               "url": starlette_server.url + "/users/42?q=hi"}
    assert httpx.get(starlette_server.url + "/users/abc", timeout=5).status_code == 404


def test_streaming_response(starlette_server):
    with httpx.stream("GET", starlette_server.url + "/numbers", timeout=5) as response:
        assert response.read() == b"0\n1\n2\n3\n4\n"


def test_streamed_upload(starlette_server):
    def body():
        for _ in range(64):
            yield b"z" * 16384

    response = httpx.post(starlette_server.url + "/upload", content=body(), timeout=10)
    assert response.json() == {"size": 64 * 16384}


def test_background_task_runs_after_response(starlette_server):
    with httpx.Client(base_url=starlette_server.url, timeout=5) as client:
        before = client.get("/background-runs").json()["runs"]
        assert client.get("/background").text == "accepted"
        deadline = time.monotonic() + 5
        while client.get("/background-runs").json()["runs"] != before + 1:
            assert time.monotonic() < deadline, "the background task never ran"
            time.sleep(0.01)
