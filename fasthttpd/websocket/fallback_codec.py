"""WebSocket frame codec in pure Python: the API of _codec.pyi (read that first).

Used when the compiled `_codec` is not built or FASTHTTPD_NO_EXTENSIONS=1; runs the
same tests. Received bytes are kept in one bytearray; a frame's header is parsed
once all of it is there (each rule checked as soon as the bytes it needs are), then
its payload is unmasked as it arrives, with the mask phase carried across feeds.
Text is decoded incrementally so that bad UTF-8 is reported as soon as it is seen.
"""

from __future__ import annotations

import codecs
import zlib

from fasthttpd.websocket.deflate import MIN_COMPRESSED_SIZE, MessageTooBig, PerMessageDeflate

OP_CONTINUATION = 0
OP_TEXT = 1
OP_BINARY = 2
OP_CLOSE = 8
OP_PING = 9
OP_PONG = 10

_KNOWN_OPCODES = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG))
MAX_CONTROL_PAYLOAD = 125  # RFC 6455 5.5

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class Message:
    """A complete data message: `data` is str for text (validated), bytes for binary."""

    __slots__ = ("is_text", "data")

    def __init__(self, is_text: bool, data: str | bytes) -> None:
        self.is_text = is_text
        self.data = data

    def __repr__(self) -> str:
        return f"Message(is_text={self.is_text!r}, data={self.data!r})"


class Ping:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Ping(data={self.data!r})"


class Pong:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Pong(data={self.data!r})"


class Close:
    """The client's Close frame; `code` is None when the body was empty (1005 to the app)."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int | None, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"Close(code={self.code!r}, reason={self.reason!r})"


class ProtocolError:
    """The client broke RFC 6455: close with `code` (1002, 1007 or 1009), then hang up."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"ProtocolError(code={self.code!r}, reason={self.reason!r})"


def is_valid_close_code(code: int) -> bool:
    """Whether a Close frame may carry `code` (RFC 6455 7.4, IANA registry)."""
    if 3000 <= code <= 4999:
        return True  # registered (3xxx) and private (4xxx) codes
    return 1000 <= code <= 1014 and code not in (1004, 1005, 1006)


def _unmask(data: bytes, mask: bytes, offset: int) -> bytes:
    """`data` XOR the mask, `data` starting `offset` bytes into the frame's payload."""
    size = len(data)
    if not size:
        return b""
    phase = offset & 3
    key = (mask[phase:] + mask[:phase]) * (size // 4 + 1)
    return (int.from_bytes(data, "little")
            ^ int.from_bytes(key[:size], "little")).to_bytes(size, "little")


class FrameParser:
    """Client frames in, events out (sans-IO). After a ProtocolError or a Close,
    every later feed returns []."""

    def __init__(self, max_message_size: int, deflate: PerMessageDeflate | None = None) -> None:
        if max_message_size < 0:
            raise ValueError("max_message_size must not be negative")
        self._max_message_size = max_message_size
        self._deflate = deflate
        self._buffer = bytearray()
        self._finished = False
        # The frame being read (after its header).
        self._in_payload = False
        self._fin = False
        self._opcode = 0
        self._mask = b""
        self._remaining = 0
        self._offset = 0  # payload bytes of this frame already read
        self._control = bytearray()
        # The data message being assembled (its opcode is 0 when there is none).
        self._message_opcode = 0
        self._compressed = False
        self._size = 0  # payload bytes received for it, as sent (compressed or not)
        self._pieces: list[bytes] = []
        self._text: list[str] = []
        self._decoder: codecs.IncrementalDecoder | None = None

    def feed(self, data: bytes) -> list[object]:
        events: list[object] = []
        if self._finished:
            return events
        self._buffer += data
        while not self._finished:
            if self._in_payload:
                if not self._read_payload(events):
                    break
            elif not self._read_header(events):
                break
        return events

    def _fail(self, events: list[object], code: int, reason: str) -> bool:
        events.append(ProtocolError(code, reason))
        self._finished = True
        self._buffer = bytearray()
        self._pieces = []
        self._text = []
        return False

    def _read_header(self, events: list[object]) -> bool:
        buffer = self._buffer
        if len(buffer) < 2:
            return False
        first, second = buffer[0], buffer[1]
        fin = bool(first & 0x80)
        rsv = first & 0x70
        opcode = first & 0x0F
        length = second & 0x7F
        if opcode not in _KNOWN_OPCODES:
            return self._fail(events, 1002, f"unknown opcode {opcode}")
        if opcode >= OP_CLOSE:
            if not fin:
                return self._fail(events, 1002, "fragmented control frame")
            if length > MAX_CONTROL_PAYLOAD:
                return self._fail(events, 1002, "control frame payload over 125 bytes")
            if rsv:
                return self._fail(events, 1002, "reserved bit set on a control frame")
        elif opcode == OP_CONTINUATION:
            if not self._message_opcode:
                return self._fail(events, 1002, "continuation frame with nothing to continue")
            if rsv:
                # RFC 7692 6.1: RSV1 only on a message's first frame.
                return self._fail(events, 1002, "reserved bit set on a continuation frame")
        else:
            if self._message_opcode:
                return self._fail(events, 1002, "new data message inside a fragmented one")
            if rsv & 0x30 or (rsv and self._deflate is None):
                return self._fail(events, 1002, "reserved bit set without a negotiated extension")
        if not second & 0x80:
            return self._fail(events, 1002, "unmasked client frame")  # RFC 6455 5.1
        position = 2
        if length == 126:
            if len(buffer) < 4:
                return False
            length = int.from_bytes(buffer[2:4], "big")
            position = 4
            if length < 126:
                # RFC 6455 5.2: the minimal length encoding MUST be used; strict here.
                return self._fail(events, 1002, "non-minimal payload length encoding")
        elif length == 127:
            if len(buffer) < 10:
                return False
            length = int.from_bytes(buffer[2:10], "big")
            position = 10
            if length >> 63:
                return self._fail(events, 1002, "payload length with the top bit set")
            if length < 0x10000:
                return self._fail(events, 1002, "non-minimal payload length encoding")
        if opcode < OP_CLOSE and self._size + length > self._max_message_size:
            return self._fail(events, 1009,
                              f"message over the maximum size of {self._max_message_size} bytes")
        if len(buffer) < position + 4:
            return False
        self._mask = bytes(buffer[position:position + 4])
        del buffer[:position + 4]
        if opcode in (OP_TEXT, OP_BINARY):
            self._message_opcode = opcode
            self._compressed = bool(rsv)
            if opcode == OP_TEXT and not self._compressed:
                self._decoder = _Utf8Decoder()
        self._in_payload = True
        self._fin = fin
        self._opcode = opcode
        self._remaining = length
        self._offset = 0
        return True

    def _read_payload(self, events: list[object]) -> bool:
        buffer = self._buffer
        size = min(self._remaining, len(buffer))
        if size:
            chunk = _unmask(bytes(buffer[:size]), self._mask, self._offset)
            del buffer[:size]
            self._remaining -= size
            self._offset += size
            if self._opcode >= OP_CLOSE:
                self._control += chunk
            elif not self._add_to_message(events, chunk):
                return False
        elif self._remaining:
            return False
        if self._remaining:
            return False
        self._in_payload = False
        if self._opcode >= OP_CLOSE:
            return self._end_control_frame(events)
        if self._fin:
            return self._end_message(events)
        return True

    def _add_to_message(self, events: list[object], chunk: bytes) -> bool:
        self._size += len(chunk)
        if self._decoder is None:
            self._pieces.append(chunk)
            return True
        try:
            self._text.append(self._decoder.decode(chunk))
        except UnicodeDecodeError:
            return self._fail(events, 1007, "invalid UTF-8 in a text message")
        pending = self._decoder.getstate()[0]
        # CPython's incremental decoder waits for the third byte before rejecting an
        # encoded surrogate (ED A0..BF); reject it as soon as the second byte is seen.
        if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
            return self._fail(events, 1007, "invalid UTF-8 in a text message")
        return True

    def _end_message(self, events: list[object]) -> bool:
        is_text = self._message_opcode == OP_TEXT
        data: str | bytes
        if self._compressed:
            assert self._deflate is not None
            try:
                payload = self._deflate.inflate(b"".join(self._pieces), self._max_message_size)
            except MessageTooBig:
                return self._fail(events, 1009, f"message inflates to more than "
                                  f"{self._max_message_size} bytes")
            except zlib.error:
                return self._fail(events, 1007, "invalid deflate data")
            if is_text:
                try:
                    data = payload.decode("utf-8")
                except UnicodeDecodeError:
                    return self._fail(events, 1007, "invalid UTF-8 in a text message")
            else:
                data = payload
        elif is_text:
            assert self._decoder is not None
            try:
                self._text.append(self._decoder.decode(b"", True))
            except UnicodeDecodeError:
                return self._fail(events, 1007, "invalid UTF-8 in a text message")
            data = "".join(self._text)
        else:
            data = b"".join(self._pieces)
        events.append(Message(is_text, data))
        self._message_opcode = 0
        self._compressed = False
        self._size = 0
        self._pieces = []
        self._text = []
        self._decoder = None
        return True

    def _end_control_frame(self, events: list[object]) -> bool:
        payload = bytes(self._control)
        self._control = bytearray()
        if self._opcode == OP_PING:
            events.append(Ping(payload))
            return True
        if self._opcode == OP_PONG:
            events.append(Pong(payload))
            return True
        if not payload:
            events.append(Close(None, ""))
        elif len(payload) == 1:
            return self._fail(events, 1002, "close frame with a 1-byte body")
        else:
            code = int.from_bytes(payload[:2], "big")
            if not is_valid_close_code(code):
                return self._fail(events, 1002, f"invalid close code {code}")
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                return self._fail(events, 1007, "close reason is not valid UTF-8")
            events.append(Close(code, reason))
        # RFC 6455 5.5.1: nothing may follow a Close; what does is not parsed.
        self._finished = True
        self._buffer = bytearray()
        return False


def _header(first: int, length: int) -> bytes:
    if length < 126:
        return bytes((first, length))
    if length < 0x10000:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


def encode_frame(opcode: int, payload: bytes, deflate: PerMessageDeflate | None = None) -> bytes:
    """One server frame: FIN set, unmasked (RFC 6455 5.1). TEXT and BINARY payloads are
    compressed (RSV1 set) when `deflate` is given and they are not tiny."""
    if opcode not in _KNOWN_OPCODES or opcode == OP_CONTINUATION:
        raise ValueError(f"cannot encode a frame with opcode {opcode}")
    first = 0x80 | opcode
    if opcode >= OP_CLOSE:
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise ValueError("a control frame's payload is at most 125 bytes")
    elif deflate is not None and len(payload) >= MIN_COMPRESSED_SIZE:
        payload = deflate.deflate(payload)
        first |= 0x40
    return _header(first, len(payload)) + payload


def encode_close(code: int, reason: str = "") -> bytes:
    """A Close frame; the reason is cut at a character boundary to fit 125 bytes."""
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent")
    encoded = reason.encode("utf-8")
    if len(encoded) > MAX_CONTROL_PAYLOAD - 2:
        encoded = encoded[:MAX_CONTROL_PAYLOAD - 2].decode("utf-8", "ignore").encode("utf-8")
    return _header(0x80 | OP_CLOSE, len(encoded) + 2) + code.to_bytes(2, "big") + encoded

