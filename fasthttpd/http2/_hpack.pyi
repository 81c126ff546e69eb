"""HPACK header compression for HTTP/2 (RFC 7541), compiled.

One `Decoder` and one `Encoder` per connection: each holds a dynamic table that
must stay in step with the peer's, so every block of a connection goes through the
same object, in order.

`Decoder.decode(block)` turns one complete header block (HEADERS plus its
CONTINUATIONs, joined) into a list of (name, value) bytes tuples, names as sent
(HTTP/2's lower-case rule is the driver's to check). Any malformed block raises
`HpackError` (RFC 9113 4.3: a connection error of type COMPRESSION_ERROR): an
index 0 or beyond the tables, a truncated integer or string, an integer above
2**31 - 1, a Huffman string containing EOS or padded with more than 7 bits or
with bits other than ones, a dynamic table size update after the first field or
above max_table_size. An empty block decodes to []. `HeaderListTooLarge` (an
`HpackError`) is raised as soon as the fields decoded so far exceed
max_header_list_size (RFC 9113 6.5.2: name + value + 32 each), so an expanding
block costs bounded work and memory. After either error the table no longer
matches the peer's: end the connection.

`Encoder.encode(headers)` turns a header list into one block. Fields that repeat
from response to response are added to the dynamic table, so a steady stream of
similar responses costs a few bytes each; credentials (cookie, set-cookie,
authorization, proxy-authorization) are never indexed (RFC 7541 7.1.3), and
values that are usually unique (etag, last-modified, location, ...) are not
indexed. `set_max_table_size` takes the peer's SETTINGS_HEADER_TABLE_SIZE; the
next block starts with the size update(s) RFC 7541 4.2 requires.
"""

from typing import Final

DEFAULT_MAX_TABLE_SIZE: Final[int]  # 4096, SETTINGS_HEADER_TABLE_SIZE's initial value
DEFAULT_MAX_HEADER_LIST_SIZE: Final[int]  # 65536
STATIC_TABLE: Final[tuple[tuple[bytes, bytes], ...]]  # RFC 7541 Appendix A (index 1 first)

class HpackError(Exception):
    """A malformed header block: COMPRESSION_ERROR (RFC 9113 4.3)."""

class HeaderListTooLarge(HpackError):
    """The decoded header list exceeds max_header_list_size (RFC 9113 6.5.2)."""

class Decoder:
    max_header_list_size: int
    # Our SETTINGS_HEADER_TABLE_SIZE (set when the peer acknowledges a change): the
    # largest size update allowed; a table still larger after a block is an error.
    max_allowed_table_size: int
    def __init__(self, max_table_size: int = 4096, max_header_list_size: int = 65536) -> None:
        """max_table_size: our SETTINGS_HEADER_TABLE_SIZE, the largest size update allowed.

        The table itself starts at the protocol's initial 4096, as the peer's
        encoder does, and changes only by the size updates the peer sends; with a
        max_table_size below 4096 the first block must carry an update to it
        (RFC 7541 4.2), else HpackError."""
    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]: ...
    @property
    def header_table_size(self) -> int:
        """The dynamic table's current maximum size (the last size update)."""
    @property
    def table_entries(self) -> list[tuple[bytes, bytes]]:
        """The dynamic table, newest first."""

class Encoder:
    def __init__(self, max_table_size: int = 4096) -> None:
        """max_table_size: the most this encoder uses, whatever the peer allows."""
    def encode(self, headers: list[tuple[bytes, bytes]]) -> bytes: ...
    def set_max_table_size(self, size: int) -> None:
        """The peer's SETTINGS_HEADER_TABLE_SIZE (capped at this encoder's own limit)."""
    @property
    def header_table_size(self) -> int:
        """The dynamic table's current maximum size."""
    @property
    def table_entries(self) -> list[tuple[bytes, bytes]]:
        """The dynamic table, newest first."""

def huffman_encode(text: bytes) -> bytes:
    """The Huffman code of `text` (RFC 7541 5.2), padded with ones."""

def huffman_decode(data: bytes) -> bytes:
    """The text whose Huffman code is `data`; HpackError if it is not a valid one."""
