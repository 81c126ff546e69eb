"""Fuzz the compiled HPACK decoder and encoder with atheris (libFuzzer).

Properties checked on every input (a sequence of header blocks, decoded in order
by one decoder, so that dynamic table state is carried from block to block):
- decoding never crashes and raises nothing but HpackError (HeaderListTooLarge
  included); after an error the sequence stops, as the connection would;
- bounded memory: a decoded list never exceeds max_header_list_size (RFC 9113
  6.5.2 sizes) and the dynamic table never exceeds its maximum size;
- the same sequence gives the same result every time (a second, fresh decoder);
- the `hpack` library (the oracle) decodes the same sequence to the same lists
  and fails on the same block, except where this decoder has a stricter limit
  (integers above 2**31 - 1 or with more than 5 continuation bytes);
- every decoded list survives a round trip through this module's Encoder, into
  both this Decoder and hpack's.

Input layout: byte 0 chooses the limits (see LIMIT_PROFILES), byte 1 the number
of cut points (mod 8), then two bytes per cut point (big-endian, modulo the
payload length); the payload is cut there into consecutive blocks.

Run (see fuzz/README.md):  python fuzz/fuzz_hpack.py fuzz/corpus-hpack fuzz/seeds-hpack
Write the seeds:           python fuzz/fuzz_hpack.py --write-seeds
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():  # before fasthttpd.http2, which imports it too
    import hpack

from fasthttpd.http2 import _hpack  # noqa: E402 (compiled: nothing to instrument)

SEEDS = Path(__file__).resolve().parent / "seeds-hpack"
ENTRY_OVERHEAD = 32
# (our SETTINGS_HEADER_TABLE_SIZE, max_header_list_size): small limits reach the
# eviction, size update and list limit paths with short inputs.
LIMIT_PROFILES = [(4096, 65536), (256, 1024), (0, 200), (65536, 100)]
STRICTER_LIMITS = ("integer too large", "integer encoding too long")


def split_input(data: bytes) -> tuple[tuple[int, int], list[bytes]]:
    """Limits and the blocks from a fuzzer input."""
    if len(data) < 2:
        return LIMIT_PROFILES[0], [data]
    limits = LIMIT_PROFILES[data[0] % len(LIMIT_PROFILES)]
    cut_count = data[1] % 8
    payload = data[2 + 2 * cut_count:]
    cuts = set()
    if payload:
        for index in range(cut_count):
            offset = 2 + 2 * index
            if offset + 2 <= len(data):
                cuts.add(int.from_bytes(data[offset:offset + 2], "big") % len(payload))
    bounds = [0, *sorted(cuts), len(payload)]
    return limits, [payload[start:end] for start, end in zip(bounds, bounds[1:], strict=False)]


def list_size(headers: list[tuple[bytes, bytes]]) -> int:
    return sum(len(name) + len(value) + ENTRY_OVERHEAD for name, value in headers)


@atheris.instrument_func
def decode_ours(blocks: list[bytes], limits: tuple[int, int]) -> list:
    """Each block's header list, then ("error", message) if one failed."""
    table_size, list_limit = limits
    decoder = _hpack.Decoder(max_table_size=table_size, max_header_list_size=list_limit)
    outcomes: list = []
    for block in blocks:
        try:
            headers = decoder.decode(block)
        except _hpack.HpackError as exc:
            outcomes.append(("error", type(exc).__name__, str(exc)))
            break
        if list_size(headers) > list_limit:
            raise AssertionError(f"list of {list_size(headers)} bytes past {list_limit}")
        table = decoder.table_entries
        if list_size(table) > decoder.header_table_size:
            raise AssertionError("dynamic table above its maximum size")
        if decoder.header_table_size > max(table_size, _hpack.DEFAULT_MAX_TABLE_SIZE):
            raise AssertionError("dynamic table maximum above the allowed size")
        outcomes.append(headers)
    return outcomes


def decode_oracle(blocks: list[bytes], limits: tuple[int, int]) -> list:
    table_size, list_limit = limits
    decoder = hpack.Decoder(max_header_list_size=list_limit)
    decoder.max_allowed_table_size = table_size
    outcomes: list = []
    for block in blocks:
        try:
            headers = decoder.decode(block, raw=True)
        except hpack.HPACKError as exc:
            outcomes.append(("error", type(exc).__name__, str(exc)))
            break
        outcomes.append([(bytes(name), bytes(value)) for name, value in headers])
    return outcomes


@atheris.instrument_func
def compare_with_oracle(ours: list, theirs: list) -> None:
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=False)):
        mine_failed = isinstance(mine, tuple)
        other_failed = isinstance(other, tuple)
        if mine_failed and other_failed:
            return
        if mine_failed and mine[2] in STRICTER_LIMITS:
            return
        if mine_failed != other_failed or mine != other:
            raise AssertionError(f"block {index}: ours {mine!r}, hpack {other!r}")
    if len(ours) != len(theirs):
        raise AssertionError(f"ours {ours!r}, hpack {theirs!r}")


@atheris.instrument_func
def check_round_trip(outcomes: list) -> None:
    encoder = _hpack.Encoder()
    decoder = _hpack.Decoder(max_header_list_size=1 << 30)
    oracle = hpack.Decoder(max_header_list_size=1 << 30)
    for headers in outcomes:
        if isinstance(headers, tuple):
            break
        block = encoder.encode(headers)
        if decoder.decode(block) != headers:
            raise AssertionError(f"our round trip of {headers!r} differs")
        if [tuple(field) for field in oracle.decode(block, raw=True)] != headers:
            raise AssertionError(f"hpack decodes our block of {headers!r} differently")


@atheris.instrument_func
def coverage_hints(outcomes: list) -> None:
    """Distinct Python branches per outcome of the compiled decoder (which is not
    instrumented), so that libFuzzer keeps inputs that reach new errors and sizes."""
    for outcome in outcomes:
        if isinstance(outcome, tuple):
            message = outcome[2]
            if message.startswith("index 0"):
                pass
            elif message.startswith("index beyond"):
                pass
            elif message.startswith("truncated integer"):
                pass
            elif message.startswith("truncated string"):
                pass
            elif message.startswith("truncated block"):
                pass
            elif message.startswith("integer"):
                pass
            elif message.startswith("EOS"):
                pass
            elif message.startswith("Huffman padding"):
                pass
            elif message.startswith("dynamic table size update after"):
                pass
            elif message.startswith("dynamic table size update to"):
                pass
            elif message.startswith("dynamic table size"):
                pass
            elif outcome[1] == "HeaderListTooLarge":
                pass
            continue
        count = len(outcome)
        if count == 0:
            pass
        elif count == 1:
            pass
        elif count < 4:
            pass
        elif count < 16:
            pass
        else:
            pass


@atheris.instrument_func
def check(data: bytes) -> None:
    limits, blocks = split_input(data)
    ours = decode_ours(blocks, limits)
    again = decode_ours(blocks, limits)
    if again != ours:
        raise AssertionError(f"not deterministic:\n{ours!r}\n{again!r}")
    compare_with_oracle(ours, decode_oracle(blocks, limits))
    check_round_trip(ours)
    coverage_hints(ours)


def seed_payloads() -> list[bytes]:
    """RFC 7541 Appendix C blocks, an encoder's output and a few malformed blocks."""
    rfc = [
        "828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        "4882640e5885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff",
        "4883640effc1c0bf", "3fe101", "20", "100870617373776f726406736563726574",
    ]
    seeds = [bytes.fromhex(block) for block in rfc]
    encoder = _hpack.Encoder()
    response = [(b":status", b"200"), (b"content-type", b"text/html"),
                (b"set-cookie", b"id=1"), (b"date", b"Sat, 05 Dec 2026 13:37:23 GMT")]
    seeds += [encoder.encode(response), encoder.encode(response)]
    seeds += [b"\xff\x80\x80\x80\x80\x08", b"\x00\x81\xff\x01a", b"\x82\x20"]
    return seeds


def write_seeds() -> None:
    SEEDS.mkdir(exist_ok=True)
    payloads = seed_payloads()
    inputs = [b"\x00\x00" + payload for payload in payloads]
    # Sequences: the first blocks of C.4 and C.6 with their state carried.
    inputs.append(b"\x00\x02\x00\x11\x00\x1d" + payloads[0] + payloads[1] + payloads[2])
    inputs.append(b"\x01\x02\x00\x03\x00\x26" + payloads[5] + payloads[3] + payloads[4])
    for data in inputs:
        (SEEDS / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def main() -> None:
    if sys.argv[1:] == ["--write-seeds"]:
        write_seeds()
        return
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
