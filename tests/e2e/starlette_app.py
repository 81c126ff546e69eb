"""A real Starlette application: routing, JSON, streaming, streamed upload, background task."""

import asyncio

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

BACKGROUND_RUNS: list[str] = []


async def user(request: Request) -> JSONResponse:
    return JSONResponse({"id": int(request.path_params["user_id"]),
                         "q": request.query_params.get("q"),
                         "url": str(request.url)})


async def numbers(request: Request) -> StreamingResponse:
    async def generate():
        for i in range(5):
            yield f"{i}\n"
            await asyncio.sleep(0)

    return StreamingResponse(generate(), media_type="text/plain")


async def upload(request: Request) -> JSONResponse:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return JSONResponse({"size": size})


async def with_background(request: Request) -> PlainTextResponse:
    def record() -> None:
        BACKGROUND_RUNS.append("ran")

    return PlainTextResponse("accepted", background=BackgroundTask(record))


async def background_runs(request: Request) -> JSONResponse:
    return JSONResponse({"runs": len(BACKGROUND_RUNS)})


app = Starlette(routes=[
    Route("/users/{user_id:int}", user),
    Route("/numbers", numbers),
    Route("/upload", upload, methods=["POST"]),
    Route("/background", with_background),
    Route("/background-runs", background_runs),
])
