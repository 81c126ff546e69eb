"""WebSocket frame codec (RFC 6455, RFC 7692): sans-IO, incremental, strict.

Client bytes go in through `FrameParser.feed`, split anywhere; events come out as a
list, in order: `Message` (a whole data message, fragments reassembled, text
validated and decoded), `Ping`, `Pong`, `Close`, and `ProtocolError`.

Every violation of RFC 6455 by a client is a `ProtocolError` event (never an
exception) with the close code to send, 1002 (protocol error), 1007 (invalid
payload data: bad UTF-8, bad deflate data) or 1009 (message too big), and is the
last event: every later `feed` returns []. The same holds after a `Close`: nothing
after a Close frame is parsed (RFC 6455 5.5.1). The session answers a Ping with a
Pong (the codec only reports it), and a ProtocolError with `encode_close(code)`.

Decisions where RFC 6455 leaves the recipient a choice (strict, as fasthttpd is):
- A length not in the minimal encoding (5.2 "MUST be used", a sender rule) is 1002.
- Close codes 1012-1014 (IANA registered) and 3000-4999 are accepted; below 1000,
  1004-1006, 1015, 1016-2999 and 5000 up are 1002.
- The maximum size counts a message's payload bytes as sent, decided from each frame
  header (the total so far plus the declared length) before its payload is read;
  a compressed message is bounded again while it is inflated.
- Bytes that cannot start valid UTF-8 fail at once (1007), not at the message's end.

Both implementations (`fasthttpd.websocket._codec`, compiled, and
`fasthttpd.websocket.fallback_codec`) follow this stub exactly;
`fasthttpd.websocket.codec` picks one.
"""

from typing import Final

from fasthttpd.websocket.deflate import PerMessageDeflate

OP_CONTINUATION: Final = 0
OP_TEXT: Final = 1
OP_BINARY: Final = 2
OP_CLOSE: Final = 8
OP_PING: Final = 9
OP_PONG: Final = 10
MAX_CONTROL_PAYLOAD: Final = 125

class Message:
    is_text: bool
    data: str | bytes  # str for text (validated), bytes for binary
    def __init__(self, is_text: bool, data: str | bytes) -> None: ...

class Ping:
    data: bytes
    def __init__(self, data: bytes) -> None: ...

class Pong:
    data: bytes
    def __init__(self, data: bytes) -> None: ...

class Close:
    code: int | None  # None: the Close frame had no body (1005 to the application)
    reason: str
    def __init__(self, code: int | None, reason: str) -> None: ...

class ProtocolError:
    code: int  # 1002, 1007 or 1009
    reason: str  # why, for the log
    def __init__(self, code: int, reason: str) -> None: ...

Event = Message | Ping | Pong | Close | ProtocolError

class FrameParser:
    def __init__(self, max_message_size: int,
                 deflate: PerMessageDeflate | None = None) -> None: ...
    def feed(self, data: bytes) -> list[Event]: ...

def is_valid_close_code(code: int) -> bool:
    """Whether a Close frame may carry `code` (RFC 6455 7.4, IANA registry)."""

def encode_frame(opcode: int, payload: bytes,
                 deflate: PerMessageDeflate | None = None) -> bytes:
    """One server frame: FIN set, unmasked (RFC 6455 5.1). With `deflate`, a TEXT or
    BINARY payload of at least deflate.MIN_COMPRESSED_SIZE bytes is compressed and
    RSV1 set. ValueError for CONTINUATION, an unknown opcode, or a control payload
    over 125 bytes."""

def encode_close(code: int, reason: str = "") -> bytes:
    """A Close frame with `code` and `reason`, the reason's UTF-8 cut at a character
    boundary to fit the 125-byte control payload. ValueError for a code that may
    not be sent (see is_valid_close_code)."""
