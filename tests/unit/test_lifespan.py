"""ASGI lifespan: startup before serving, shutdown at exit, the three modes."""

import asyncio
import logging

import pytest

from fasthttpd.lifespan import Lifespan


@pytest.fixture
def error_log():
    """What the server logs on "fasthttpd.error" (which may not propagate to root)."""
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("fasthttpd.error")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


def make_app(events, *, fail_startup=False, fail_shutdown=False):
    async def app(scope, receive, send):
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            events.append(message["type"])
            if message["type"] == "lifespan.startup":
                scope["state"]["db"] = "connected"
                if fail_startup:
                    await send({"type": "lifespan.startup.failed", "message": "no db"})
                    return
                await send({"type": "lifespan.startup.complete"})
            else:
                kind = "failed" if fail_shutdown else "complete"
                await send({"type": f"lifespan.shutdown.{kind}", "message": "bye"})
                return
    return app


async def http_only_app(scope, receive, send):
    assert scope["type"] == "http", "this app does not speak lifespan"


def test_startup_and_shutdown_share_state():
    events, state = [], {}

    async def main():
        lifespan = Lifespan(make_app(events), "auto", state)
        assert await lifespan.startup()
        assert state == {"db": "connected"}
        await lifespan.shutdown()

    run(main())
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_startup_failure_stops_the_server(error_log):
    async def main():
        return await Lifespan(make_app([], fail_startup=True), "auto", {}).startup()

    assert run(main()) is False
    assert any("no db" in line for line in error_log)


def test_shutdown_failure_is_logged(error_log):
    async def main():
        lifespan = Lifespan(make_app([], fail_shutdown=True), "on", {})
        assert await lifespan.startup()
        await lifespan.shutdown()

    run(main())
    assert "application shutdown failed: bye" in error_log


@pytest.mark.parametrize("mode, expected", [("auto", True), ("on", False)])
def test_app_without_lifespan_support(mode, expected):
    async def main():
        lifespan = Lifespan(http_only_app, mode, {})
        ok = await lifespan.startup()
        await lifespan.shutdown()
        return ok

    assert run(main()) is expected


def test_off_never_calls_the_app():
    called = []

    async def app(scope, receive, send):
        called.append(scope["type"])

    async def main():
        lifespan = Lifespan(app, "off", {})
        assert await lifespan.startup()
        await lifespan.shutdown()

    run(main())
    assert called == []
