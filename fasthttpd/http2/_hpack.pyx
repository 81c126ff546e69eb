# cython: language_level=3
"""HPACK (RFC 7541), compiled: the API of _hpack.pyi (read that first).

Theory of operation
-------------------
Decoding walks the block once, left to right, with a C cursor. Each field
representation (RFC 7541 6) yields one (name, value) tuple; fields taken from a
table are the table's own tuples (no copy). Every malformed input raises
HpackError at the byte where it is found; the running header list size (RFC 9113
6.5.2: name + value + 32 per field) is checked after each field, so a block that
expands beyond max_header_list_size (an "HPACK bomb") stops there, after work
and memory bounded by the limit. After any error the decoder's dynamic table no
longer matches the peer's: the connection must end (COMPRESSION_ERROR).

Huffman strings (RFC 7541 5.2, Appendix B) are decoded four bits at a time
through a table of 256 states x 16 nibbles built at import from the code table
below: a state is an inner node of the code tree (the bits read since the last
symbol), and each entry says the next state, the symbol completed on the way
(the shortest code is 5 bits, so at most one per nibble) and whether the EOS code
was reached. A string ends well only in a state whose bits are all ones and
fewer than 8 (the padding rule).

Both directions keep a dynamic table as a ring of tuples, evicting the oldest
entries by size (RFC 7541 4). The encoder also keeps two dicts, (name, value) ->
entry id and name -> entry id, where ids count insertions; an id's index is
62 + (newest id - id), and an evicted entry's dict slots are dropped when they
still point at it, so lookups stay in step with eviction.

Encoding policy (a server encodes responses): a field found whole in a table is
one index byte; otherwise it is a literal with the name indexed when possible,
added to the dynamic table so that the next similar response finds it whole
(:status, content-type, server, date, content-length...), except for
 * credentials (cookie, set-cookie, authorization, proxy-authorization): never
   indexed (RFC 7541 7.1.3), so no intermediary may index them either;
 * names whose values are usually unique per response (etag, last-modified,
   location, ...): not indexed, they would only push the repeating fields out;
 * a field bigger than half the table: not indexed, it would empty the table.
A string is Huffman-coded when that is shorter.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.tuple cimport PyTuple_GET_ITEM
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

cimport cython


class HpackError(Exception):
    """A malformed header block (RFC 7541): a COMPRESSION_ERROR (RFC 9113 4.3)."""


class HeaderListTooLarge(HpackError):
    """The decoded header list is larger than max_header_list_size (RFC 9113 6.5.2)."""


cdef enum:
    _STATIC_COUNT = 61
    _ENTRY_OVERHEAD = 32  # RFC 7541 4.1
    _MAX_INTEGER = 0x7FFFFFFF  # larger integers are refused (RFC 7541 5.1)
    _DEFAULT_TABLE_SIZE = 4096  # SETTINGS_HEADER_TABLE_SIZE's initial value

DEFAULT_MAX_TABLE_SIZE = _DEFAULT_TABLE_SIZE
DEFAULT_MAX_HEADER_LIST_SIZE = 65536

# RFC 7541 Appendix A.
cdef tuple _STATIC_TABLE = (
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
)
STATIC_TABLE = _STATIC_TABLE

# Index (1-based) of each static field, and of each static name's first entry.
cdef dict _STATIC_FIELD_INDEX = {}
cdef dict _STATIC_NAME_INDEX = {}
for _i, _field in enumerate(_STATIC_TABLE, 1):
    _STATIC_FIELD_INDEX.setdefault(_field, _i)
    _STATIC_NAME_INDEX.setdefault(_field[0], _i)

# Credentials: never indexed, here or by any intermediary (RFC 7541 7.1.3).
cdef frozenset _NEVER_INDEXED = frozenset(
    (b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"))
# Values usually unique per response: indexing them would only evict the
# fields that do repeat.
cdef frozenset _NOT_INDEXED = frozenset((
    b"etag", b"last-modified", b"location", b"content-range", b"content-disposition",
    b"content-location", b"expires", b"age", b"x-request-id", b"link",
))

# RFC 7541 Appendix B: (code, length in bits) of symbols 0-255 and EOS (256).
_HUFFMAN_CODES = (
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28),
    (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24),
    (0x3ffffffc, 30), (0xfffffe9, 28), (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28),
    (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28), (0xffffff4, 28),
    (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
    (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11), (0x3fa, 10), (0x3fb, 10), (0xf9, 8),
    (0x7fb, 11), (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6), (0x0, 5), (0x1, 5), (0x2, 5),
    (0x19, 6), (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7),
    (0xfb, 8), (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13), (0x21, 6),
    (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7), (0x63, 7), (0x64, 7),
    (0x65, 7), (0x66, 7), (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7), (0x6b, 7), (0x6c, 7),
    (0x6d, 7), (0x6e, 7), (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
    (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6), (0x7ffd, 15),
    (0x3, 5), (0x23, 6), (0x4, 5), (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6), (0x27, 6),
    (0x6, 5), (0x74, 7), (0x75, 7), (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5), (0x2b, 6),
    (0x76, 7), (0x2c, 6), (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7), (0x79, 7),
    (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13),
    (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23), (0x3fffd6, 22),
    (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23), (0x7fffdd, 23), (0x7fffde, 23),
    (0xffffeb, 24), (0x7fffdf, 23), (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22),
    (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23), (0x3fffd9, 22),
    (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24), (0x3fffda, 22), (0x1fffdd, 21),
    (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23),
    (0x1fffde, 21), (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23), (0x1fffe0, 21),
    (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21), (0x7fffed, 23), (0x3fffe1, 22),
    (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22),
    (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), (0x3fffe7, 22),
    (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25), (0x3ffffe2, 26), (0x3ffffe3, 26),
    (0x3ffffe4, 26), (0x7ffffde, 27), (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24),
    (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24), (0x1fffe4, 21),
    (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), (0xffffffd, 28), (0x7ffffe3, 27),
    (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20),
    (0x1fffe6, 21), (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25), (0xfffff4, 24),
    (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23), (0x3ffffeb, 26), (0x7ffffe6, 27),
    (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27),
    (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), (0x3fffffff, 30),
)

cdef enum:
    _HUFFMAN_EOS = 256
    _HUFFMAN_STATES = 256  # inner nodes of the code tree (257 leaves, complete)
    _HUFFMAN_EMIT = 1  # the transition completes a symbol
    _HUFFMAN_FAIL = 2  # the transition reaches EOS (RFC 7541 5.2: an error)

ctypedef struct HuffmanStep:
    uint8_t next_state
    uint8_t flags
    uint8_t symbol

cdef uint32_t _huffman_code[257]
cdef uint8_t _huffman_length[257]
cdef HuffmanStep _huffman_steps[_HUFFMAN_STATES][16]
cdef bint _huffman_accepts[_HUFFMAN_STATES]  # a string may end in this state


def _build_huffman_tables():
    """Fill the encoder's code arrays and the decoder's nibble state table."""
    # The code tree: children[node] = [child for bit 0, child for bit 1]; a
    # child >= 0 is an inner node, < 0 is the leaf of symbol -child - 1.
    children = [[None, None]]
    for symbol, (code, length) in enumerate(_HUFFMAN_CODES):
        _huffman_code[symbol] = code
        _huffman_length[symbol] = length
        node = 0
        for shift in range(length - 1, -1, -1):
            bit = (code >> shift) & 1
            if shift == 0:
                assert children[node][bit] is None, "prefix collision"
                children[node][bit] = -symbol - 1
            else:
                if children[node][bit] is None:
                    children[node][bit] = len(children)
                    children.append([None, None])
                node = children[node][bit]
    assert len(children) == _HUFFMAN_STATES, "the code tree is not complete"
    # Depth (bits since the last symbol) and whether those bits are all ones.
    depth = [0] * _HUFFMAN_STATES
    all_ones = [True] * _HUFFMAN_STATES
    for node in range(_HUFFMAN_STATES):
        for bit in (0, 1):
            child = children[node][bit]
            assert child is not None, "the code tree is not complete"
            if child >= 0:
                depth[child] = depth[node] + 1
                all_ones[child] = all_ones[node] and bit == 1
    for state in range(_HUFFMAN_STATES):
        # Padding: up to 7 bits of the EOS code's prefix (all ones), RFC 7541 5.2.
        _huffman_accepts[state] = state == 0 or (all_ones[state] and depth[state] <= 7)
        for nibble in range(16):
            node = state
            flags = 0
            symbol = 0
            for shift in (3, 2, 1, 0):
                child = children[node][(nibble >> shift) & 1]
                if child >= 0:
                    node = child
                    continue
                if -child - 1 == _HUFFMAN_EOS:
                    flags = _HUFFMAN_FAIL
                    node = 0
                    break
                flags |= _HUFFMAN_EMIT
                symbol = -child - 1
                node = 0
            _huffman_steps[state][nibble].next_state = node
            _huffman_steps[state][nibble].flags = flags
            _huffman_steps[state][nibble].symbol = symbol


_build_huffman_tables()


cdef inline Py_ssize_t _huffman_encoded_length(const unsigned char* text, Py_ssize_t length):
    cdef uint64_t bits = 0
    cdef Py_ssize_t i
    for i in range(length):
        bits += _huffman_length[text[i]]
    return <Py_ssize_t>((bits + 7) >> 3)


cdef inline void _huffman_encode(const unsigned char* text, Py_ssize_t length,
                                 unsigned char* out):
    # A code is at most 30 bits and at most 7 bits wait, so 64 bits hold both.
    cdef uint64_t pending = 0
    cdef int pending_bits = 0
    cdef Py_ssize_t i
    cdef unsigned char symbol
    for i in range(length):
        symbol = text[i]
        pending = (pending << _huffman_length[symbol]) | _huffman_code[symbol]
        pending_bits += _huffman_length[symbol]
        while pending_bits >= 8:
            pending_bits -= 8
            out[0] = <unsigned char>(pending >> pending_bits)
            out += 1
        pending &= (<uint64_t>1 << pending_bits) - 1
    if pending_bits:
        # Padded with the most significant bits of EOS: ones (RFC 7541 5.2).
        out[0] = <unsigned char>((pending << (8 - pending_bits)) | (0xFF >> pending_bits))


def huffman_encode(bytes text) -> bytes:
    """The Huffman code of `text` (RFC 7541 5.2), for tests and tools."""
    cdef Py_ssize_t length = PyBytes_GET_SIZE(text)
    cdef bytes out = PyBytes_FromStringAndSize(
        NULL, _huffman_encoded_length(<const unsigned char*>PyBytes_AS_STRING(text), length))
    _huffman_encode(<const unsigned char*>PyBytes_AS_STRING(text), length,
                    <unsigned char*>PyBytes_AS_STRING(out))
    return out


def huffman_decode(bytes data) -> bytes:
    """The text whose Huffman code is `data`; HpackError if it is not one."""
    return Decoder()._huffman(<const unsigned char*>PyBytes_AS_STRING(data),
                              PyBytes_GET_SIZE(data))


cdef inline Py_ssize_t _read_integer(const unsigned char* data, Py_ssize_t end,
                                     Py_ssize_t* pos, int prefix_bits) except -1:
    """An integer with an N-bit prefix at data[pos] (RFC 7541 5.1); pos moves past it."""
    cdef Py_ssize_t i = pos[0]
    cdef uint64_t limit = (1 << prefix_bits) - 1
    cdef uint64_t value = data[i] & limit
    cdef int shift = 0
    cdef unsigned char byte
    i += 1
    if value == limit:
        while True:
            if i >= end:
                raise HpackError("truncated integer")
            byte = data[i]
            i += 1
            value += <uint64_t>(byte & 0x7F) << shift
            if value > _MAX_INTEGER:
                raise HpackError("integer too large")
            if not byte & 0x80:
                break
            shift += 7
            if shift > 28:
                raise HpackError("integer encoding too long")
    pos[0] = i
    return <Py_ssize_t>value


@cython.final
cdef class DynamicTable:
    """The FIFO of RFC 7541 2.3.2: entries are added at the front, evicted at the end."""

    def __cinit__(self, Py_ssize_t max_size):
        self.capacity = 16
        self.ring = [None] * self.capacity
        self.oldest = 0
        self.count = 0
        self.size = 0
        self.max_size = max_size

    cdef tuple get(self, Py_ssize_t position):
        return <tuple>self.ring[(self.oldest + self.count - 1 - position) % self.capacity]

    cdef void push(self, tuple entry, Py_ssize_t entry_size):
        cdef list grown
        if self.count == self.capacity:
            grown = [self.get(i) for i in range(self.count - 1, -1, -1)]
            grown.extend([None] * self.capacity)
            self.ring = grown
            self.oldest = 0
            self.capacity *= 2
        self.ring[(self.oldest + self.count) % self.capacity] = entry
        self.count += 1
        self.size += entry_size

    cdef tuple pop_oldest(self):
        cdef tuple entry = <tuple>self.ring[self.oldest]
        self.ring[self.oldest] = None
        self.oldest = (self.oldest + 1) % self.capacity
        self.count -= 1
        self.size -= PyBytes_GET_SIZE(entry[0]) + PyBytes_GET_SIZE(entry[1]) + _ENTRY_OVERHEAD
        return entry


cdef inline Py_ssize_t _entry_size(tuple entry):
    return PyBytes_GET_SIZE(<bytes>entry[0]) + PyBytes_GET_SIZE(<bytes>entry[1]) + _ENTRY_OVERHEAD


@cython.final
cdef class Decoder:
    """Header blocks -> header lists, one decoder per connection (its table is state)."""

    def __init__(self, Py_ssize_t max_table_size=_DEFAULT_TABLE_SIZE,
                 Py_ssize_t max_header_list_size=65536):
        if max_table_size < 0:
            raise ValueError("max_table_size must be >= 0")
        # The table starts at the protocol's 4096, like the peer's encoder
        # (RFC 9113 6.5.2); only a size update changes it, up to max_table_size.
        # A max_table_size below 4096 requires that update in the first block:
        # a driver lowering it should construct with 4096 and lower
        # max_allowed_table_size once the peer acknowledges the SETTINGS.
        self.table = DynamicTable(_DEFAULT_TABLE_SIZE)
        self.max_allowed_table_size = max_table_size
        self.max_header_list_size = max_header_list_size

    def __dealloc__(self):
        PyMem_Free(self.scratch)

    @property
    def header_table_size(self) -> int:
        """The dynamic table's current maximum size (the last size update)."""
        return self.table.max_size

    @property
    def table_entries(self) -> list:
        """The dynamic table's entries, newest first (for tests and debugging)."""
        return [self.table.get(i) for i in range(self.table.count)]

    cpdef list decode(self, bytes block):
        cdef const unsigned char* data = <const unsigned char*>PyBytes_AS_STRING(block)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(block)
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t index
        cdef Py_ssize_t list_size = 0
        cdef unsigned char first
        cdef list headers = []
        cdef object field
        cdef object name
        cdef bytes value
        while pos < end:
            first = data[pos]
            if first & 0x80:  # indexed field (RFC 7541 6.1)
                field = self._field(_read_integer(data, end, &pos, 7))
            elif first & 0x20 and not first & 0x40:  # size update (RFC 7541 6.3)
                if headers:
                    raise HpackError("dynamic table size update after a field")
                self._resize(_read_integer(data, end, &pos, 5))
                continue
            else:  # literal (6.2.1: with indexing; 6.2.2/6.2.3: without, never)
                index = _read_integer(data, end, &pos, 6 if first & 0x40 else 4)
                if index:
                    name = (<tuple>self._field(index))[0]
                else:
                    name = self._string(data, end, &pos)
                value = self._string(data, end, &pos)
                field = (name, value)
                if first & 0x40:
                    self._add(<tuple>field)
            list_size += (PyBytes_GET_SIZE((<tuple>field)[0])
                          + PyBytes_GET_SIZE((<tuple>field)[1]) + _ENTRY_OVERHEAD)
            if list_size > self.max_header_list_size:
                raise HeaderListTooLarge(
                    f"header list larger than {self.max_header_list_size} bytes")
            headers.append(field)
        if self.table.max_size > self.max_allowed_table_size:
            # Our SETTINGS_HEADER_TABLE_SIZE went down: the first block after it
            # must bring the table within it (RFC 7541 4.2).
            raise HpackError(f"dynamic table size {self.table.max_size} not reduced to "
                             f"the {self.max_allowed_table_size} allowed")
        return headers

    cdef object _field(self, Py_ssize_t index):
        if index == 0:
            raise HpackError("index 0")
        if index <= _STATIC_COUNT:
            return <object>PyTuple_GET_ITEM(_STATIC_TABLE, index - 1)
        index -= _STATIC_COUNT + 1
        if index >= self.table.count:
            raise HpackError("index beyond the dynamic table")
        return self.table.get(index)

    cdef bytes _string(self, const unsigned char* data, Py_ssize_t end, Py_ssize_t* pos):
        """A string literal (RFC 7541 5.2) at data[pos]; pos moves past it."""
        if pos[0] >= end:
            raise HpackError("truncated block: string expected")
        cdef bint huffman = data[pos[0]] & 0x80
        cdef Py_ssize_t length = _read_integer(data, end, pos, 7)
        cdef Py_ssize_t start = pos[0]
        if length > end - start:
            raise HpackError("truncated string")
        pos[0] = start + length
        if huffman:
            return self._huffman(data + start, length)
        return PyBytes_FromStringAndSize(<const char*>data + start, length)

    cdef bytes _huffman(self, const unsigned char* data, Py_ssize_t length):
        # Each symbol takes at least 5 bits: at most 8 * length / 5 symbols.
        cdef Py_ssize_t most = (length * 8) // 5 + 1
        cdef void* grown
        if most > self.scratch_capacity:
            grown = PyMem_Realloc(self.scratch, most)
            if grown == NULL:
                raise MemoryError()
            self.scratch = <unsigned char*>grown
            self.scratch_capacity = most
        cdef unsigned char* out = self.scratch
        cdef Py_ssize_t count = 0
        cdef uint8_t state = 0
        cdef const HuffmanStep* step
        cdef Py_ssize_t i
        for i in range(length):
            step = &_huffman_steps[state][data[i] >> 4]
            if step.flags & _HUFFMAN_FAIL:
                raise HpackError("EOS in a Huffman string")
            if step.flags & _HUFFMAN_EMIT:
                out[count] = step.symbol
                count += 1
            state = step.next_state
            step = &_huffman_steps[state][data[i] & 0x0F]
            if step.flags & _HUFFMAN_FAIL:
                raise HpackError("EOS in a Huffman string")
            if step.flags & _HUFFMAN_EMIT:
                out[count] = step.symbol
                count += 1
            state = step.next_state
        if not _huffman_accepts[state]:
            raise HpackError("Huffman padding longer than 7 bits or not all ones")
        return PyBytes_FromStringAndSize(<const char*>out, count)

    cdef int _add(self, tuple entry) except -1:
        # RFC 7541 4.4: evict until it fits; one larger than the table empties it.
        cdef Py_ssize_t entry_size = _entry_size(entry)
        while self.table.count and self.table.size + entry_size > self.table.max_size:
            self.table.pop_oldest()
        if entry_size <= self.table.max_size:
            self.table.push(entry, entry_size)
        return 0

    cdef int _resize(self, Py_ssize_t max_size) except -1:
        if max_size > self.max_allowed_table_size:
            raise HpackError(f"dynamic table size update to {max_size}, above "
                             f"the {self.max_allowed_table_size} allowed")
        self.table.max_size = max_size
        while self.table.size > max_size:
            self.table.pop_oldest()
        return 0


@cython.final
cdef class Encoder:
    """Header lists -> header blocks, one encoder per connection (its table is state)."""

    def __init__(self, Py_ssize_t max_table_size=_DEFAULT_TABLE_SIZE):
        if max_table_size < 0:
            raise ValueError("max_table_size must be >= 0")
        # Both ends start at the protocol's 4096 (RFC 9113 6.5.2); a smaller
        # limit of ours is announced by a size update in the first block.
        self.table = DynamicTable(_DEFAULT_TABLE_SIZE)
        self.limit = max_table_size
        self.inserted = 0
        self.field_ids = {}
        self.name_ids = {}
        self.update_pending = False
        if max_table_size < _DEFAULT_TABLE_SIZE:
            self.set_max_table_size(max_table_size)

    def __dealloc__(self):
        PyMem_Free(self.out)

    @property
    def header_table_size(self) -> int:
        """The dynamic table's current maximum size."""
        return self.table.max_size

    @property
    def table_entries(self) -> list:
        """The dynamic table's entries, newest first (for tests and debugging)."""
        return [self.table.get(i) for i in range(self.table.count)]

    cpdef set_max_table_size(self, long long size):
        """The peer's SETTINGS_HEADER_TABLE_SIZE: the table shrinks now, grows up
        to this encoder's own limit, and the next block starts with the update."""
        if size < 0:
            raise ValueError("table size must be >= 0")
        cdef Py_ssize_t new_size = min(<Py_ssize_t>size, self.limit)
        if new_size == self.table.max_size and not self.update_pending:
            return
        if not self.update_pending:
            self.update_pending = True
            self.update_smallest = new_size
        elif new_size < self.update_smallest:
            self.update_smallest = new_size
        self._evict_to(new_size)
        self.table.max_size = new_size

    cpdef bytes encode(self, list headers):
        cdef object item
        cdef tuple field
        cdef bytes name
        cdef bytes value
        cdef object found
        cdef Py_ssize_t index
        cdef Py_ssize_t field_size
        self.out_len = 0
        if self.update_pending:
            # RFC 7541 4.2: the smallest size since the last block, then the final one.
            if self.update_smallest < self.table.max_size:
                self._integer(0x20, 5, self.update_smallest)
            self._integer(0x20, 5, self.table.max_size)
            self.update_pending = False
        for item in headers:
            if type(item) is tuple and len(<tuple>item) == 2:
                field = <tuple>item
            else:
                field = tuple(item)
            name = field[0]
            value = field[1]
            found = _STATIC_FIELD_INDEX.get(field)
            if found is not None:
                self._integer(0x80, 7, found)
                continue
            found = self.field_ids.get(field)
            if found is not None:
                self._integer(0x80, 7, self._dynamic_index(found))
                continue
            found = _STATIC_NAME_INDEX.get(name)
            if found is None:
                found = self.name_ids.get(name)
                index = 0 if found is None else self._dynamic_index(found)
            else:
                index = found
            field_size = PyBytes_GET_SIZE(name) + PyBytes_GET_SIZE(value) + _ENTRY_OVERHEAD
            if name in _NEVER_INDEXED:
                self._integer(0x10, 4, index)  # never indexed (RFC 7541 6.2.3)
            elif name in _NOT_INDEXED or field_size * 2 > self.table.max_size:
                self._integer(0x00, 4, index)  # without indexing (6.2.2)
            else:
                self._integer(0x40, 6, index)  # with incremental indexing (6.2.1)
                self._add(field, field_size)
            if not index:
                self._string(name)
            self._string(value)
        return PyBytes_FromStringAndSize(<const char*>self.out, self.out_len)

    cdef Py_ssize_t _dynamic_index(self, long long entry_id):
        return <Py_ssize_t>(_STATIC_COUNT + 1 + (self.inserted - entry_id))

    cdef int _evict_to(self, Py_ssize_t max_size) except -1:
        cdef tuple entry
        cdef long long entry_id
        while self.table.count and self.table.size > max_size:
            entry_id = self.inserted - self.table.count + 1
            entry = self.table.pop_oldest()
            # Drop the lookups that still point at the evicted entry; a newer
            # entry with the same field or name has its own id there.
            if self.field_ids.get(entry) == entry_id:
                del self.field_ids[entry]
            if self.name_ids.get(entry[0]) == entry_id:
                del self.name_ids[entry[0]]
        return 0

    cdef int _add(self, tuple entry, Py_ssize_t entry_size) except -1:
        # Only called with entry_size <= max_size / 2, so the entry always fits.
        self._evict_to(self.table.max_size - entry_size)
        self.table.push(entry, entry_size)
        self.inserted += 1
        self.field_ids[entry] = self.inserted
        self.name_ids[entry[0]] = self.inserted
        return 0

    cdef int _reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t needed = self.out_len + extra
        cdef Py_ssize_t capacity
        cdef void* grown
        if needed <= self.out_capacity:
            return 0
        capacity = max(needed, self.out_capacity * 2, 256)
        grown = PyMem_Realloc(self.out, capacity)
        if grown == NULL:
            raise MemoryError()
        self.out = <unsigned char*>grown
        self.out_capacity = capacity
        return 0

    cdef int _integer(self, unsigned char flags, int prefix_bits, Py_ssize_t value) except -1:
        """RFC 7541 5.1: value in an N-bit prefix after `flags`, then 7 bits a byte."""
        cdef Py_ssize_t limit = (1 << prefix_bits) - 1
        self._reserve(11)
        if value < limit:
            self.out[self.out_len] = flags | <unsigned char>value
            self.out_len += 1
            return 0
        self.out[self.out_len] = flags | <unsigned char>limit
        self.out_len += 1
        value -= limit
        while value >= 0x80:
            self.out[self.out_len] = <unsigned char>((value & 0x7F) | 0x80)
            self.out_len += 1
            value >>= 7
        self.out[self.out_len] = <unsigned char>value
        self.out_len += 1
        return 0

    cdef int _string(self, bytes text) except -1:
        """RFC 7541 5.2: Huffman-coded when that is shorter, raw otherwise."""
        cdef const unsigned char* raw = <const unsigned char*>PyBytes_AS_STRING(text)
        cdef Py_ssize_t length = PyBytes_GET_SIZE(text)
        cdef Py_ssize_t coded = _huffman_encoded_length(raw, length)
        if coded < length:
            self._integer(0x80, 7, coded)
            self._reserve(coded)
            _huffman_encode(raw, length, self.out + self.out_len)
            self.out_len += coded
        else:
            self._integer(0x00, 7, length)
            self._reserve(length)
            memcpy(self.out + self.out_len, raw, length)
            self.out_len += length
        return 0
