"""HPACK codec (fasthttpd.http2._hpack): RFC 7541 Appendix C, malformed blocks, limits.

Round trips against the `hpack` library are in test_hpack_roundtrip.py.
"""

from __future__ import annotations

import hpack
import pytest

from fasthttpd.http2._hpack import (
    STATIC_TABLE,
    Decoder,
    Encoder,
    HeaderListTooLarge,
    HpackError,
    huffman_decode,
    huffman_encode,
)

# RFC 7541 Appendix C: each example is a sequence of blocks sharing one table,
# with the header lists and the dynamic table (newest first) after each block.
REQUEST_1 = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
             (b":authority", b"www.example.com")]
REQUEST_2 = REQUEST_1 + [(b"cache-control", b"no-cache")]
REQUEST_3 = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/index.html"),
             (b":authority", b"www.example.com"), (b"custom-key", b"custom-value")]
REQUEST_TABLES = [
    [(b":authority", b"www.example.com")],
    [(b"cache-control", b"no-cache"), (b":authority", b"www.example.com")],
    [(b"custom-key", b"custom-value"), (b"cache-control", b"no-cache"),
     (b":authority", b"www.example.com")],
]
DATE_1 = b"Mon, 21 Oct 2013 20:13:21 GMT"
DATE_2 = b"Mon, 21 Oct 2013 20:13:22 GMT"
COOKIE = b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
RESPONSE_1 = [(b":status", b"302"), (b"cache-control", b"private"), (b"date", DATE_1),
              (b"location", b"https://www.example.com")]
RESPONSE_2 = [(b":status", b"307")] + RESPONSE_1[1:]
RESPONSE_3 = [(b":status", b"200"), (b"cache-control", b"private"), (b"date", DATE_2),
              (b"location", b"https://www.example.com"), (b"content-encoding", b"gzip"),
              (b"set-cookie", COOKIE)]
RESPONSE_TABLES = [
    [(b"location", b"https://www.example.com"), (b"date", DATE_1),
     (b"cache-control", b"private"), (b":status", b"302")],
    [(b":status", b"307"), (b"location", b"https://www.example.com"), (b"date", DATE_1),
     (b"cache-control", b"private")],
    [(b"set-cookie", COOKIE), (b"content-encoding", b"gzip"), (b"date", DATE_2)],
]

EXAMPLES = {
    # name: (table size, [(block hex, header list, table after)])
    "C.3 requests without Huffman": (4096, list(zip([
        "828684410f7777772e6578616d706c652e636f6d",
        "828684be58086e6f2d6361636865",
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
    ], [REQUEST_1, REQUEST_2, REQUEST_3], REQUEST_TABLES, strict=True))),
    "C.4 requests with Huffman": (4096, list(zip([
        "828684418cf1e3c2e5f23a6ba0ab90f4ff",
        "828684be5886a8eb10649cbf",
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
    ], [REQUEST_1, REQUEST_2, REQUEST_3], REQUEST_TABLES, strict=True))),
    "C.5 responses without Huffman": (256, list(zip([
        "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a3231"
        "20474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        "4803333037c1c0bf",
        "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a6970"
        "7738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d61"
        "67653d333630303b2076657273696f6e3d31",
    ], [RESPONSE_1, RESPONSE_2, RESPONSE_3], RESPONSE_TABLES, strict=True))),
    "C.6 responses with Huffman": (256, list(zip([
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad"
        "171863c78f0b97c8e9ae82ae43d3",
        "4883640effc1c0bf",
        "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2"
        "e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ], [RESPONSE_1, RESPONSE_2, RESPONSE_3], RESPONSE_TABLES, strict=True))),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_rfc7541_appendix_c_decoding(name):
    table_size, blocks = EXAMPLES[name]
    decoder = Decoder()
    if table_size != 4096:
        # The examples assume a table of 256 from the start: a size update first.
        assert decoder.decode(b"\x3f\xe1\x01") == []
        assert decoder.header_table_size == table_size
    for block, headers, table in blocks:
        assert decoder.decode(bytes.fromhex(block)) == headers
        assert decoder.table_entries == table


@pytest.mark.parametrize("block, headers", [
    ("400a637573746f6d2d6b65790d637573746f6d2d686561646572", [(b"custom-key", b"custom-header")]),
    ("040c2f73616d706c652f70617468", [(b":path", b"/sample/path")]),
    ("100870617373776f726406736563726574", [(b"password", b"secret")]),
    ("82", [(b":method", b"GET")]),
])
def test_rfc7541_c2_single_representations(block, headers):
    decoder = Decoder()
    assert decoder.decode(bytes.fromhex(block)) == headers
    # Only the literal with incremental indexing (C.2.1) is added to the table.
    assert decoder.table_entries == (headers if block.startswith("40") else [])


def test_rfc7541_c4_encoding_is_byte_exact():
    # The RFC's choices in C.4 are this encoder's: indexed static fields, new
    # fields with incremental indexing, Huffman strings.
    encoder = Encoder()
    blocks = [block for block, _, _ in EXAMPLES["C.4 requests with Huffman"][1]]
    for headers, block in zip([REQUEST_1, REQUEST_2, REQUEST_3], blocks, strict=True):
        assert encoder.encode(headers).hex() == block
    assert encoder.table_entries == REQUEST_TABLES[2]


def test_rfc7541_c6_encoding_differs_only_by_policy():
    # C.6 indexes `location`; this encoder does not (usually unique per response),
    # so its blocks differ, but they decode to the same lists with a table of 256.
    encoder = Encoder(max_table_size=256)
    decoder = hpack.Decoder()  # follows the size update to 256 in the first block
    for headers in (RESPONSE_1, RESPONSE_2, RESPONSE_3):
        block = encoder.encode(headers)
        assert decoder.decode(block, raw=True) == headers
    assert (b"location", b"https://www.example.com") not in encoder.table_entries


def test_static_table_is_rfc7541_appendix_a():
    assert len(STATIC_TABLE) == 61
    assert STATIC_TABLE[0] == (b":authority", b"")
    assert STATIC_TABLE[7] == (b":status", b"200")
    assert STATIC_TABLE[15] == (b"accept-encoding", b"gzip, deflate")
    assert STATIC_TABLE[60] == (b"www-authenticate", b"")
    decoder = Decoder()
    for index, field in enumerate(STATIC_TABLE, 1):
        assert decoder.decode(bytes([0x80 | index])) == [field]


@pytest.mark.parametrize("text", [
    b"", b"a", b"www.example.com", b"no-cache", bytes(range(256)), b"\xff" * 40,
    b"Mon, 21 Oct 2013 20:13:21 GMT",
])
def test_huffman_round_trip_and_agrees_with_hpack(text):
    from hpack.huffman import HuffmanEncoder
    from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
    from hpack.huffman_table import decode_huffman

    coded = huffman_encode(text)
    assert coded == HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(text)
    assert huffman_decode(coded) == text
    assert decode_huffman(coded) == text


@pytest.mark.parametrize("data, why", [
    (b"\xff\xff\xff\xff", "EOS (30 ones) inside the string"),
    (b"\xf8\x3f\xff\xff\xff\xff", "'&' (0xf8) then EOS"),
    (b"\x1f\xff", "'a' then 11 bits of padding"),
    (b"\x1c", "'a' then padding 100 (not all ones)"),
    (b"\x00", "'0' then 3 zero bits of padding"),
    (b"\xff", "8 ones: padding longer than 7 bits"),
])
def test_huffman_invalid(data, why):
    with pytest.raises(HpackError):
        huffman_decode(data)


def test_huffman_longest_valid_padding():
    # 'a' is 00011 (5 bits): 3 bits of ones pad it; '0' is 00000, 3 ones pad it too.
    assert huffman_decode(b"\x1f") == b"a"
    assert huffman_decode(b"\x07") == b"0"
    # 'a' (5 bits) + '0' (5 bits) + 6 ones of padding = 16 bits.
    assert huffman_decode(bytes([0b00011000, 0b00111111])) == b"a0"


def literal(name: bytes, value: bytes, first: int = 0x00) -> bytes:
    """A literal field with a literal name (short strings, no Huffman)."""
    return bytes([first, len(name)]) + name + bytes([len(value)]) + value


MALFORMED = {
    "index 0": b"\x80",
    "static index 62 with an empty dynamic table": b"\xbe",
    "index far beyond the tables": b"\xff\x80\x01",
    "truncated integer": b"\xff",
    "truncated integer after continuation bytes": b"\xff\x80\x80",
    "integer above 2**31 - 1": b"\xff\xff\xff\xff\xff\x0f",
    "integer with too many continuation bytes": b"\xff\x80\x80\x80\x80\x80\x00",
    "literal name index beyond the tables": b"\x7f\x10",
    "truncated name length": b"\x40",
    "truncated name": b"\x40\x05ab",
    "truncated value": b"\x40\x01a\x05ab",
    "missing value": b"\x40\x01a",
    "value length overflows": b"\x00\x01a\x7f\xff\xff\xff\xff\x0f",
    "Huffman value containing EOS": b"\x00\x01a\x84\xff\xff\xff\xff",
    "Huffman value with 8 bits of padding": b"\x00\x01a\x81\xff",
    "Huffman value padded with zeros": b"\x00\x01a\x81\x00",
    "Huffman name with bad padding": b"\x00\x81\x1c\x01a",
    "size update after a field": b"\x82\x20",
    "size update between fields": b"\x82\x3f\xe1\x1f\x82",
    "size update above the maximum": b"\x3f\xe2\x1f",
    "size update far above the maximum": b"\x3f\xff\xff\xff\xff\x07",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_block_raises_hpack_error(name):
    with pytest.raises(HpackError):
        Decoder().decode(MALFORMED[name])


def test_index_of_an_evicted_entry_raises_hpack_error():
    decoder = Decoder()
    assert decoder.decode(literal(b"a", b"b", 0x40) + b"\xbe") == [(b"a", b"b")] * 2
    assert decoder.decode(b"\x20") == []  # a size update to 0 evicts everything
    with pytest.raises(HpackError):
        decoder.decode(b"\xbe")


@pytest.mark.parametrize("name", [
    name for name in MALFORMED
    # Not: a sequence of blocks, and a limit of ours that hpack does not have.
    if not name.startswith(("indexed field after", "integer with too many"))
])
def test_malformed_block_is_refused_by_hpack_too(name):
    # The oracle agrees that each of these is malformed.
    block = MALFORMED[name]
    with pytest.raises(hpack.HPACKError):
        hpack.Decoder().decode(block, raw=True)


def test_empty_block_is_an_empty_list():
    assert Decoder().decode(b"") == []


def test_size_updates_at_block_start():
    decoder = Decoder()
    decoder.decode(literal(b"a", b"b", 0x40))
    # Two updates at the start (RFC 7541 4.2: the smallest, then the final).
    assert decoder.decode(b"\x20\x3f\xe1\x1f" + b"\x82") == [(b":method", b"GET")]
    assert decoder.header_table_size == 4096
    assert decoder.table_entries == []  # the update to 0 evicted the entry
    assert decoder.decode(b"\x3f\x11") == []  # 15 + 17 = 32: room for one small entry
    decoder.decode(literal(b"a", b"b", 0x40) + literal(b"c", b"d", 0x40))
    assert decoder.table_entries == [(b"c", b"d")]


def test_entry_larger_than_the_table_empties_it():
    decoder = Decoder()
    decoder.decode(b"\x3f\x21" + literal(b"a", b"b", 0x40))  # size update to 64
    big = literal(b"n" * 20, b"v" * 20, 0x40)  # 72 bytes > 64
    assert decoder.decode(big) == [(b"n" * 20, b"v" * 20)]
    assert decoder.table_entries == []


def test_eviction_by_size_keeps_newest():
    decoder = Decoder()
    decoder.decode(b"\x3f\x45")  # a size update to 100: room for three 33-byte entries
    for name in (b"a", b"b", b"c", b"d"):
        decoder.decode(literal(name, b"", 0x40))
    assert decoder.table_entries == [(b"d", b""), (b"c", b""), (b"b", b"")]
    assert decoder.decode(b"\xbe\xbf\xc0") == [(b"d", b""), (b"c", b""), (b"b", b"")]
    with pytest.raises(HpackError):
        decoder.decode(b"\xc1")


def test_many_insertions_through_the_ring():
    decoder = Decoder()
    encoder = Encoder()
    for i in range(2000):
        headers = [(b"x-n", b"%d" % i), (b"x-m", b"%d" % (i % 7))]
        assert decoder.decode(encoder.encode(headers)) == headers
    assert decoder.table_entries == encoder.table_entries


def test_header_list_limit():
    decoder = Decoder(max_header_list_size=100)
    fits = [(b"a" * 30, b"b" * 38)]  # 30 + 38 + 32 = 100
    assert decoder.decode(Encoder().encode(fits)) == fits
    with pytest.raises(HeaderListTooLarge):
        Decoder(max_header_list_size=100).decode(Encoder().encode([(b"a" * 30, b"b" * 39)]))
    with pytest.raises(HeaderListTooLarge):
        Decoder(max_header_list_size=100).decode(b"\x82" * 3)  # 3 x (7 + 3 + 32)
    assert issubclass(HeaderListTooLarge, HpackError)


def test_hpack_bomb_stops_early():
    # One 4000-byte entry referenced 100,000 times would be 400 MB of headers;
    # decoding stops at the first reference past the limit.
    decoder = Decoder(max_header_list_size=65536)
    value = b"v" * 3900
    # 3900 = 127 + 0x3d + (0x1d << 7): a 7-bit prefix full, then two bytes.
    decoder.decode(bytes([0x40, 1]) + b"x" + b"\x7f\xbd\x1d" + value)
    assert decoder.table_entries == [(b"x", value)]
    with pytest.raises(HeaderListTooLarge) as caught:
        decoder.decode(b"\xbe" * 100_000)
    assert "65536" in str(caught.value)


def test_encoder_indexes_repeating_response_fields():
    encoder = Encoder()
    response = [(b":status", b"200"), (b"content-type", b"text/plain; charset=utf-8"),
                (b"server", b"fasthttpd"), (b"date", b"Sat, 05 Dec 2026 13:37:23 GMT"),
                (b"content-length", b"13")]
    first = encoder.encode(response)
    second = encoder.encode(response)
    assert len(first) > 40
    assert len(second) == 5  # one index byte per field
    assert hpack.Decoder().decode(first + second, raw=True) == response * 2


def test_encoder_never_indexes_credentials():
    encoder = Encoder()
    decoder = Decoder()
    for headers in ([(b"set-cookie", b"session=abc")], [(b"authorization", b"Basic eA==")],
                    [(b"cookie", b"a=b")], [(b"proxy-authorization", b"x")]):
        block = encoder.encode(headers)
        assert block[0] & 0xF0 == 0x10  # literal never indexed (RFC 7541 6.2.3)
        assert encoder.encode(headers)[0] & 0xF0 == 0x10
        assert decoder.decode(block) == headers
    assert encoder.table_entries == []
    # hpack keeps the flag: an intermediary would not index them either.
    decoded = hpack.Decoder().decode(Encoder().encode([(b"set-cookie", b"a=b")]), raw=True)
    assert isinstance(decoded[0], hpack.NeverIndexedHeaderTuple)


def test_encoder_does_not_index_unique_values_or_huge_fields():
    encoder = Encoder(max_table_size=256)
    encoder.encode([(b"etag", b'"abc"'), (b"x-big", b"v" * 100)])
    assert encoder.table_entries == []


def test_encoder_size_updates():
    encoder = Encoder()
    decoder = Decoder()
    headers = [(b"x-a", b"1"), (b"x-b", b"2")]
    decoder.decode(encoder.encode(headers))
    encoder.set_max_table_size(0)
    encoder.set_max_table_size(1000)
    block = encoder.encode(headers)
    assert block[:3] == b"\x20\x3f\xc9\x07"[:3]  # 0, then 1000 (RFC 7541 4.2)
    assert decoder.decode(block) == headers
    assert decoder.header_table_size == encoder.header_table_size == 1000
    assert decoder.table_entries == encoder.table_entries == headers[::-1]
    # Above the encoder's own limit the table stays at the limit.
    limited = Encoder(max_table_size=512)
    assert limited.encode([])[:1] == b"\x3f"  # announces 512 at once
    limited.set_max_table_size(65536)
    assert limited.header_table_size == 512
    # Setting the same size again costs nothing.
    same = Encoder()
    same.set_max_table_size(4096)
    assert same.encode([(b":status", b"200")]) == b"\x88"


def test_encoder_accepts_lists_as_fields():
    assert Decoder().decode(Encoder().encode([[b":status", b"200"]])) == [(b":status", b"200")]


def test_lowered_table_size_must_be_signalled_in_the_next_block():
    # Our SETTINGS_HEADER_TABLE_SIZE is 256: the peer's first block must shrink
    # its table from the initial 4096 (RFC 7541 4.2).
    with pytest.raises(HpackError):
        Decoder(max_table_size=256).decode(b"\x82")
    decoder = Decoder(max_table_size=256)
    assert decoder.decode(b"\x3f\xe1\x01\x82") == [(b":method", b"GET")]
    # Lowered later (the driver sets it when the peer acknowledges SETTINGS).
    decoder = Decoder()
    decoder.decode(literal(b"a", b"b", 0x40))
    decoder.max_allowed_table_size = 64
    with pytest.raises(HpackError):
        decoder.decode(b"\x82")
    decoder = Decoder()
    decoder.max_allowed_table_size = 64
    assert decoder.decode(b"\x3f\x21\x82") == [(b":method", b"GET")]


def test_encoder_takes_any_settings_value():
    # SETTINGS_HEADER_TABLE_SIZE is a 32-bit value: the largest is legal and
    # leaves the table at the encoder's own limit (no update owed: 4096 already).
    encoder = Encoder()
    encoder.set_max_table_size(2**32 - 1)
    assert encoder.header_table_size == 4096
    assert encoder.encode([(b":status", b"200")]) == b"\x88"
    with pytest.raises(ValueError):
        encoder.set_max_table_size(-1)
