"""Starlette and FastAPI WebSocket routes under fasthttpd, with the websockets client."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.e2e.conftest import RunningServer, run_server


@pytest.fixture(scope="module")
def starlette_server(impl: str) -> Any:
    with run_server(app="tests.e2e.ws_framework_apps:starlette_app", impl=impl) as server:
        yield server


@pytest.fixture(scope="module")
def fastapi_server(impl: str) -> Any:
    with run_server(app="tests.e2e.ws_framework_apps:fastapi_app", impl=impl) as server:
        yield server


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_starlette_route_with_path_params_and_subprotocol(starlette_server: RunningServer) -> None:
    async def go() -> tuple[str | None, list[str]]:
        url = f"ws://127.0.0.1:{starlette_server.port}/chat/ada"
        async with connect(url, subprotocols=["chat"]) as ws:
            answers = []
            for text in ("hi", "bye"):
                await ws.send(text)
                answers.append(str(await ws.recv()))
            return ws.subprotocol, answers

    assert run(go()) == ("chat", ["ada: hi", "ada: bye"])


def test_starlette_json_and_close_code(starlette_server: RunningServer) -> None:
    async def go() -> tuple[Any, int | None, str | None]:
        async with connect(f"ws://127.0.0.1:{starlette_server.port}/json?q=z") as ws:
            await ws.send(json.dumps({"a": [1, 2]}))
            answer = json.loads(await ws.recv())
            await ws.wait_closed()
            return answer, ws.close_code, ws.close_reason

    assert run(go()) == ({"got": {"a": [1, 2]}, "query": "z"}, 4001, "done")


def test_starlette_unknown_route_is_refused(starlette_server: RunningServer) -> None:
    async def go() -> None:
        async with connect(f"ws://127.0.0.1:{starlette_server.port}/nowhere"):
            pass

    with pytest.raises(websockets.InvalidStatus) as info:
        run(go())
    assert info.value.response.status_code == 403  # Starlette closes before accepting


def test_fastapi_route_and_disconnect(fastapi_server: RunningServer) -> None:
    async def go() -> bytes:
        url = f"ws://127.0.0.1:{fastapi_server.port}/items/7?token=secret"
        async with connect(url) as ws:
            await ws.send(b"abc")
            answer = await ws.recv()
            await ws.close(code=4002)
            return bytes(answer)  # type: ignore[arg-type]

    assert run(go()) == b"cba\x00\x07"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        codes = httpx.get(f"{fastapi_server.url}/disconnects", timeout=5).json()
        if codes:
            break
        time.sleep(0.05)
    assert codes == [4002]


def test_fastapi_close_before_accept_is_403(fastapi_server: RunningServer) -> None:
    async def go() -> None:
        async with connect(f"ws://127.0.0.1:{fastapi_server.port}/items/7?token=wrong"):
            pass

    with pytest.raises(websockets.InvalidStatus) as info:
        run(go())
    assert info.value.response.status_code == 403


def test_fastapi_validation_error_refuses_the_handshake(fastapi_server: RunningServer) -> None:
    async def go() -> None:
        async with connect(f"ws://127.0.0.1:{fastapi_server.port}/items/notanint?token=secret"):
            pass

    with pytest.raises(websockets.InvalidStatus) as info:
        run(go())
    assert info.value.response.status_code == 403
