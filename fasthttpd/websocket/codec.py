"""WebSocket frame codec: the compiled `_codec` when it is built, else the pure-Python
fallback; both follow `_codec.pyi`.

`FASTHTTPD_NO_EXTENSIONS=1` forces the fallback (the test suite runs both).
`IMPLEMENTATION` says which one was loaded: "compiled" or "python".
"""

import os

if os.environ.get("FASTHTTPD_NO_EXTENSIONS") == "1":
    _compiled = False
else:
    try:
        from fasthttpd.websocket import _codec  # noqa: F401

        _compiled = True
    except ImportError:
        _compiled = False

if _compiled:
    from fasthttpd.websocket._codec import (
        MAX_CONTROL_PAYLOAD,
        OP_BINARY,
        OP_CLOSE,
        OP_CONTINUATION,
        OP_PING,
        OP_PONG,
        OP_TEXT,
        Close,
        FrameParser,
        Message,
        Ping,
        Pong,
        ProtocolError,
        encode_close,
        encode_frame,
        is_valid_close_code,
    )
else:
    from fasthttpd.websocket.fallback_codec import (  # type: ignore[assignment]
        MAX_CONTROL_PAYLOAD,
        OP_BINARY,
        OP_CLOSE,
        OP_CONTINUATION,
        OP_PING,
        OP_PONG,
        OP_TEXT,
        Close,
        FrameParser,
        Message,
        Ping,
        Pong,
        ProtocolError,
        encode_close,
        encode_frame,
        is_valid_close_code,
    )

IMPLEMENTATION = "compiled" if _compiled else "python"

__all__ = [
    "IMPLEMENTATION", "MAX_CONTROL_PAYLOAD", "OP_BINARY", "OP_CLOSE", "OP_CONTINUATION",
    "OP_PING", "OP_PONG", "OP_TEXT", "Close", "FrameParser", "Message", "Ping", "Pong",
    "ProtocolError", "encode_close", "encode_frame", "is_valid_close_code",
]
