"""What the HTTP drivers call to reach the WebSocket side (imported by them at startup,
so it stays light: the ASGI part is imported on the first handshake)."""

from __future__ import annotations

from typing import Any

from fasthttpd.websocket.handshake import is_websocket_upgrade


def dispatch(on_message: Any, stream: Any, http2: bool = False) -> None:
    """A WebSocket handshake request, in place of `on_message(stream)`."""
    from fasthttpd.websocket.asgi import dispatch as dispatch_websocket

    dispatch_websocket(on_message, stream, http2)


__all__ = ["dispatch", "is_websocket_upgrade"]
