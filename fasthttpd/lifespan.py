"""ASGI lifespan: startup before the first request, shutdown at exit.

`--lifespan auto` runs it and carries on quietly when the app does not support it
(it raises before answering startup); `on` makes such an app a startup failure;
`off` never calls the app with a lifespan scope.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fasthttpd.asgi import ASGI_VERSION, ASGIApp

logger = logging.getLogger("fasthttpd.error")


class Lifespan:
    def __init__(self, app: ASGIApp, mode: str, state: dict[str, Any]) -> None:
        self.app = app
        self.mode = mode
        self.state = state
        self._messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._answer: asyncio.Future[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsupported = False

    async def startup(self) -> bool:
        """Run startup; False means the server must not start."""
        if self.mode == "off":
            return True
        self._task = asyncio.get_running_loop().create_task(self._run())
        answer = await self._ask({"type": "lifespan.startup"})
        if answer is None:
            return self.mode != "on"
        if answer["type"] == "lifespan.startup.failed":
            logger.error("application startup failed: %s", answer.get("message", ""))
            return False
        return True

    async def shutdown(self) -> None:
        if self._task is None or self._unsupported or self._task.done():
            return
        answer = await self._ask({"type": "lifespan.shutdown"})
        if answer is not None and answer["type"] == "lifespan.shutdown.failed":
            logger.error("application shutdown failed: %s", answer.get("message", ""))

    async def _ask(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Send one event and wait for the app's answer (None: the app gave up)."""
        self._answer = asyncio.get_running_loop().create_future()
        await self._messages.put(message)
        assert self._task is not None
        waiters: set[asyncio.Future[Any]] = {self._answer, self._task}
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if self._answer in done:
            return self._answer.result()
        return None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            if self._answer is not None and not self._answer.done() and self.mode == "auto":
                self._unsupported = True
                logger.info("ASGI lifespan not supported by the app (%s); carrying on",
                            type(exc).__name__)
            else:
                logger.error("exception in ASGI lifespan", exc_info=exc)
            if not isinstance(exc, Exception):
                raise

    async def _receive(self) -> dict[str, Any]:
        return await self._messages.get()

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind not in ("lifespan.startup.complete", "lifespan.startup.failed",
                        "lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            raise RuntimeError(f"unexpected lifespan message {kind!r}")
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(message)
