"""A Starlette app streaming without end (an SSE feed) and one that fails mid-stream.

/events  text/event-stream, one event every 20 ms until the client leaves
/broken  a streamed response whose generator raises after its first part
"""

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


async def events(request: Request) -> StreamingResponse:
    async def feed():
        n = 0
        while True:
            yield f"data: {n}\n\n"
            n += 1
            await asyncio.sleep(0.02)

    return StreamingResponse(feed(), media_type="text/event-stream")


async def broken(request: Request) -> StreamingResponse:
    async def parts():
        yield "first\n"
        await asyncio.sleep(0.05)
        raise RuntimeError("the stream breaks on purpose")

    return StreamingResponse(parts(), media_type="text/plain")


app = Starlette(routes=[Route("/events", events), Route("/broken", broken)])
