"""Hypothesis strategies for the WebSocket codec tests: streams of client frames,
mostly well formed, sometimes wrong in any of the ways a frame can be wrong."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.unit.ws_frames import client_frame

# Close codes on both sides of every boundary the codec checks.
CLOSE_CODES = [0, 999, 1000, 1001, 1003, 1004, 1005, 1006, 1007, 1011, 1012, 1013, 1014,
               1015, 1016, 2999, 3000, 4999, 5000, 65535]

# Bytes that are interesting to UTF-8: ASCII, multi-byte characters, and bytes and
# sequences that are never valid (overlongs, surrogates, above U+10FFFF, stray bytes).
UTF8_PIECES = [b"a", b"hello ", "é".encode(), "€".encode(), "𝄞".encode(), b"\x00",
               b"\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
               b"\xff", b"\xce", b"\xf0\x9d"]

payloads = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from(UTF8_PIECES), max_size=8).map(b"".join),
    st.text(max_size=20).map(str.encode),
)


@st.composite
def frames(draw: st.DrawFn, valid_only: bool = False) -> bytes:
    """One client frame; unless valid_only, sometimes broken in one way."""
    opcode = draw(st.sampled_from([0, 1, 1, 2, 2, 8, 9, 10]))
    fin = draw(st.booleans()) if opcode < 8 else True
    if opcode == 8:
        code = draw(st.sampled_from([None, *CLOSE_CODES]))
        payload = b"" if code is None else code.to_bytes(2, "big") + draw(payloads)[:20]
    else:
        payload = draw(payloads)
    options: dict = {"fin": fin}
    if draw(st.integers(0, 3)) == 0:
        options["mask"] = draw(st.binary(min_size=4, max_size=4))
    if not valid_only and draw(st.integers(0, 9)) == 0:
        flaw = draw(st.sampled_from(["opcode", "rsv", "unmasked", "fin", "length",
                                     "long control", "one-byte close"]))
        if flaw == "opcode":
            opcode = draw(st.sampled_from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]))
        elif flaw == "rsv":
            options["rsv"] = draw(st.integers(1, 7))
        elif flaw == "unmasked":
            options["mask"] = None
        elif flaw == "fin":
            options["fin"] = False
        elif flaw == "length":
            options["length_size"] = draw(st.sampled_from([2, 8]))
        elif flaw == "long control":
            opcode = draw(st.sampled_from([8, 9, 10]))
            payload = b"\x03\xe8" + bytes(draw(st.integers(124, 130)))
        else:
            opcode, payload = 8, b"\x03"
    return client_frame(opcode, payload, **options)


streams = st.lists(frames(), max_size=12).map(b"".join)


def splits(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """`data` cut into pieces at arbitrary points."""
    return st.lists(st.integers(0, len(data)), max_size=8).map(
        lambda cuts: _cut(data, sorted(cuts)))


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    pieces, start = [], 0
    for cut in [*cuts, len(data)]:
        pieces.append(data[start:cut])
        start = cut
    return pieces
