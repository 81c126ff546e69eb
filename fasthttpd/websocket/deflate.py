"""permessage-deflate (RFC 7692): negotiation and the per-connection compression state.

`negotiate(offers)` reads the client's Sec-WebSocket-Extensions value and accepts the
first permessage-deflate offer whose parameters are all known, well formed and not
repeated (RFC 7692 5: an offer we cannot honour is declined, and the next one is
tried); it returns the response header value and a `PerMessageDeflate`, or None.

Decisions where the RFC leaves a choice:
- `server_max_window_bits=8` is declined: zlib cannot compress with a 256-byte
  window (it silently uses 512, which would break the promise we would make).
- `client_no_context_takeover` is accepted and echoed when offered (the client asked
  for it); `client_max_window_bits` is echoed only when offered with a value, so that
  our inflater can allocate the smaller window (RFC 7692 7.1.2.2).
- Messages shorter than `MIN_COMPRESSED_SIZE` bytes are sent uncompressed (RSV1
  unset, allowed per message by RFC 7692 6): a sync-flushed deflate block barely
  shrinks them and costs a compressor call each.
- `server_no_context_takeover` is honoured with a full flush (Z_FULL_FLUSH) after
  each message instead of a new compressor: the flush resets the dictionary, so no
  later message refers to an earlier one, without reallocating zlib's state.
- The compressor and the inflater are created on first use: an idle connection that
  negotiated the extension holds no zlib memory.
- The compressor uses a 4 KiB window (12 bits, or less if the client asked for less)
  and zlib memory level 5: about 40 KiB per connection instead of about 270 KiB at
  zlib's defaults, since with context takeover it lives as long as the connection.
  A smaller window than negotiated needs no announcement: the client's inflater
  reads it with the window it has (RFC 7692 7.1.2.1 bounds the sender only).
- A corrupt deflate stream raises `zlib.error` from `inflate`; the frame parser
  answers it with 1007 (invalid payload data).
"""

from __future__ import annotations

import zlib

MIN_COMPRESSED_SIZE = 16
COMPRESSION_LEVEL = 6
COMPRESSION_WINDOW_BITS = 12
MEMORY_LEVEL = 5

# RFC 7692 7.2.1: the sender removes these four octets (the empty stored block a sync
# flush ends with); the receiver appends them back before inflating (7.2.2).
_TAIL = b"\x00\x00\xff\xff"

_EXTENSION_NAME = "permessage-deflate"
_FLAGS = ("server_no_context_takeover", "client_no_context_takeover")


class MessageTooBig(Exception):
    """A message inflated past the maximum message size (close code 1009)."""


class PerMessageDeflate:
    """The negotiated parameters, and the inflater/deflater of one connection."""

    __slots__ = ("server_no_context_takeover", "client_no_context_takeover",
                 "server_max_window_bits", "client_max_window_bits",
                 "_inflater", "_deflater")

    def __init__(self, server_no_context_takeover: bool = False,
                 client_no_context_takeover: bool = False,
                 server_max_window_bits: int = 15,
                 client_max_window_bits: int = 15) -> None:
        if not 9 <= server_max_window_bits <= 15:
            raise ValueError("server_max_window_bits must be 9..15 (zlib cannot use 8)")
        if not 8 <= client_max_window_bits <= 15:
            raise ValueError("client_max_window_bits must be 8..15")
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self._inflater: zlib._Decompress | None = None
        self._deflater: zlib._Compress | None = None

    def __repr__(self) -> str:
        return (f"PerMessageDeflate(server_no_context_takeover="
                f"{self.server_no_context_takeover}, client_no_context_takeover="
                f"{self.client_no_context_takeover}, server_max_window_bits="
                f"{self.server_max_window_bits}, client_max_window_bits="
                f"{self.client_max_window_bits})")

    def inflate(self, data: bytes, max_size: int) -> bytes:
        """The payload of one whole compressed message (all its frames joined), inflated.

        Raises MessageTooBig as soon as the output would pass `max_size`: zlib is
        never asked for more than max_size + 1 bytes, so a small frame that would
        inflate to gigabytes costs at most that much memory.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = zlib.decompressobj(-self.client_max_window_bits)
            self._inflater = inflater
        output = inflater.decompress(data, max_size + 1)
        if len(output) > max_size or inflater.unconsumed_tail:
            raise MessageTooBig(f"message inflates to more than {max_size} bytes")
        if not inflater.eof:
            end = inflater.decompress(_TAIL, max_size + 1 - len(output))
            if end:
                output += end
                if len(output) > max_size or inflater.unconsumed_tail:
                    raise MessageTooBig(f"message inflates to more than {max_size} bytes")
        if inflater.eof or self.client_no_context_takeover:
            # A block with BFINAL set ends the deflate stream (RFC 7692 7.2.3.4): the
            # next message starts a new one. Without context takeover the window is
            # never needed again, so the memory is given back until the next message.
            self._inflater = None
        return output

    def deflate(self, data: bytes) -> bytes:
        """`data` compressed as one message, without the 00 00 ff ff tail (RFC 7692 7.2.1)."""
        deflater = self._deflater
        if deflater is None:
            window_bits = min(self.server_max_window_bits, COMPRESSION_WINDOW_BITS)
            deflater = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -window_bits,
                                        MEMORY_LEVEL)
            self._deflater = deflater
        flush = zlib.Z_FULL_FLUSH if self.server_no_context_takeover else zlib.Z_SYNC_FLUSH
        output = deflater.compress(data) + deflater.flush(flush)
        if output.endswith(_TAIL):
            output = output[:-4]
        return output


def negotiate(offers: bytes) -> tuple[bytes, PerMessageDeflate] | None:
    """The response header value and state for the first acceptable offer, or None.

    `offers` is the Sec-WebSocket-Extensions value; several header lines may be
    joined with commas (RFC 9110 5.3). Other extensions are ignored.
    """
    for offer in _split_offers(offers):
        if offer[0] != _EXTENSION_NAME:
            continue
        accepted = _accept(offer[1])
        if accepted is not None:
            return accepted
    return None


def _split_offers(offers: bytes) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Each offer as (name, [(parameter, value or None)]), names lower-cased."""
    text = offers.decode("latin-1")
    result = []
    for element in text.split(","):
        parts = [part.strip(" \t") for part in element.split(";")]
        if not parts[0]:
            continue
        params: list[tuple[str, str | None]] = []
        for part in parts[1:]:
            name, equals, value = part.partition("=")
            params.append((name.strip(" \t").lower(),
                           _unquote(value.strip(" \t")) if equals else None))
        result.append((parts[0].lower(), params))
    return result


def _unquote(value: str) -> str:
    # RFC 6455 9.1: a quoted-string value must still be a token once unquoted.
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace("\\", "")
    return value


def _window_bits(value: str | None) -> int | None:
    # RFC 7692 7.1.2: 8..15, decimal, no leading zeros.
    if value is None or value not in {str(bits) for bits in range(8, 16)}:
        return None
    return int(value)


def _accept(params: list[tuple[str, str | None]]) -> tuple[bytes, PerMessageDeflate] | None:
    seen: set[str] = set()
    flags = {name: False for name in _FLAGS}
    server_bits: int | None = None
    client_bits: int | None = None
    for name, value in params:
        if name in seen:
            return None  # RFC 7692 7: a parameter appears at most once
        seen.add(name)
        if name in flags:
            if value is not None:
                return None
            flags[name] = True
        elif name == "server_max_window_bits":
            server_bits = _window_bits(value)
            if server_bits is None or server_bits == 8:
                return None
        elif name == "client_max_window_bits":
            if value is not None:
                client_bits = _window_bits(value)
                if client_bits is None:
                    return None
        else:
            return None
    response = [_EXTENSION_NAME]
    response += [name for name in _FLAGS if flags[name]]
    if server_bits is not None:
        response.append(f"server_max_window_bits={server_bits}")
    if client_bits is not None:
        response.append(f"client_max_window_bits={client_bits}")
    state = PerMessageDeflate(
        server_no_context_takeover=flags["server_no_context_takeover"],
        client_no_context_takeover=flags["client_no_context_takeover"],
        server_max_window_bits=server_bits or 15,
        client_max_window_bits=client_bits or 15,
    )
    return "; ".join(response).encode("ascii"), state
