"""WebSocket routes of a Starlette app and a FastAPI app, as users write them."""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket


async def starlette_chat(websocket: StarletteWebSocket) -> None:
    await websocket.accept(subprotocol="chat")
    name = websocket.path_params["name"]
    async for text in websocket.iter_text():
        await websocket.send_text(f"{name}: {text}")


async def starlette_json(websocket: StarletteWebSocket) -> None:
    await websocket.accept()
    data = await websocket.receive_json()
    await websocket.send_json({"got": data, "query": websocket.query_params.get("q")})
    await websocket.close(code=4001, reason="done")


starlette_app = Starlette(routes=[
    WebSocketRoute("/chat/{name}", starlette_chat),
    WebSocketRoute("/json", starlette_json),
])

fastapi_app = FastAPI()
disconnects: list[int] = []


@fastapi_app.websocket("/items/{item_id}")
async def item_updates(websocket: WebSocket, item_id: int, token: str | None = None) -> None:
    if token != "secret":
        await websocket.close(code=1008)  # before accept: the handshake gets 403
        return
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_bytes()
            await websocket.send_bytes(bytes(reversed(data)) + item_id.to_bytes(2, "big"))
    except WebSocketDisconnect as exc:
        disconnects.append(exc.code)


@fastapi_app.get("/disconnects")
async def recorded() -> list[int]:
    return disconnects
