"""Write the seed corpus fuzz/seeds/ for fuzz_parser.py (run it after editing SEEDS).

Each seed is: limit profile byte, cut-count byte, two bytes per cut, payload
(the layout fuzz_parser.split_input reads).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HOST = b"Host: example.com\r\n"

SEEDS: list[bytes] = [
    b"GET / HTTP/1.1\r\n" + HOST + b"\r\n",
    b"GET /search?q=a&b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"\r\n\r\nGET http://example.com:8080/a?b HTTP/1.1\r\n" + HOST + b"\r\n",
    b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\n" + HOST + b"\r\n",
    b"POST /upload HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1;q=\"a\\\"b\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"PUT /x HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"GET /ws HTTP/1.1\r\n" + HOST + b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    b"\x81\x05hello",
    b"GET /a HTTP/1.1\r\n" + HOST + b"\r\nPOST /b HTTP/1.1\r\n" + HOST
    + b"Content-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: [::1]:8000\r\nX-Obs: caf\xc3\xa9\r\nX-Empty:\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET /\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
]


def main() -> None:
    directory = Path(__file__).resolve().parent / "seeds"
    directory.mkdir(exist_ok=True)
    for payload in SEEDS:
        for prefix in (b"\x00\x00", b"\x01\x02\x00\x07\x00\x1d"):
            seed = prefix + payload
            name = hashlib.sha1(seed).hexdigest()[:16]
            (directory / name).write_bytes(seed)


if __name__ == "__main__":
    main()
