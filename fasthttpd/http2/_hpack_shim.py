"""THROWAWAY: the contracts.md HPACK API over the `hpack` library, until h2core's
compiled fasthttpd/http2/_hpack lands. Not to be merged into main."""

from __future__ import annotations

import hpack
from hpack.exceptions import OversizedHeaderListError


class HpackError(Exception):
    pass


class HeaderListTooLarge(HpackError):
    pass


class Decoder:
    def __init__(self, max_table_size: int = 4096, max_header_list_size: int = 65536) -> None:
        self._decoder = hpack.Decoder(max_header_list_size=max_header_list_size)
        self._decoder.max_allowed_table_size = max_table_size

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        try:
            return self._decoder.decode(block, raw=True)
        except OversizedHeaderListError as exc:
            raise HeaderListTooLarge(str(exc)) from None
        except Exception as exc:
            raise HpackError(str(exc)) from None


class Encoder:
    def __init__(self, max_table_size: int = 4096) -> None:
        self._encoder = hpack.Encoder()

    def encode(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        return self._encoder.encode(headers)

    def set_max_table_size(self, size: int) -> None:
        self._encoder.header_table_size = size
