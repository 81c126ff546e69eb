"""The WebSocket load generator (bench/ws_load.c): built with gcc, run, read.

Theory of operation: no packaged tool generates WebSocket load, and a Python client
would be slower than the servers it measures, so bench/ws_load.c is compiled at
bench time (once, into the bench work folder, rebuilt when the source changes) and
driven like wrk: one run per measurement, one `BENCH-RESULT {json}` line back,
turned into a LoadResult (a "request" is one echoed message) and validated like
any other run: any connect, handshake, read, write, mismatch or close error, or a
connection lost before the end, rejects it. The same binary, with `--serve`, is a
trivial epoll echo server, the `ws-ceiling` peer: what the generator can reach when
the server costs next to nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
from pathlib import Path

from bench.loadgen import LoadResult, _run_tool
from bench.servers import pinned

SOURCE = Path(__file__).resolve().parent / "ws_load.c"
BUILD_DIR = Path(__file__).resolve().parent / ".build"


class BuildFailed(Exception):
    pass


def binary() -> Path:
    """The compiled generator, built now if missing or older than its source."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    target = BUILD_DIR / f"ws_load-{digest}"
    if target.exists():
        return target
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise BuildFailed("gcc is not installed")
    BUILD_DIR.mkdir(exist_ok=True)
    completed = subprocess.run([compiler, "-O2", "-Wall", "-o", str(target), str(SOURCE)],
                               capture_output=True, text=True, timeout=120)
    if completed.returncode != 0:
        raise BuildFailed(" ".join((completed.stdout + completed.stderr).split())[-400:])
    return target


def run_wsload(port: int, path: str, *, connections: int, seconds: int, size: int,
               depth: int, binary_messages: bool, core: int | None) -> LoadResult:
    try:
        tool = binary()
    except BuildFailed as exc:
        return LoadResult(problem=f"building ws_load: {exc}")
    command = [str(tool), "127.0.0.1", str(port), path, str(connections), str(seconds),
               str(size), str(depth), "binary" if binary_messages else "text"]
    output, problem = _run_tool(pinned(command, core), timeout=seconds + 60)
    result = parse_wsload(output, size)
    result.command = "ws_load " + " ".join(command[1:])
    result.problem = problem or result.problem
    return result


def parse_wsload(output: str, size: int) -> LoadResult:
    match = re.search(r"^BENCH-RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        return LoadResult(problem="ws_load printed no result: " + " ".join(output.split())[-300:])
    data = json.loads(match.group(1))
    lost = data["connections"] - data["open_at_end"]
    return LoadResult(
        requests=data["messages"],
        seconds=data["duration_us"] / 1e6,
        body_bytes=data["messages"] * size,
        errors={"connect": data["connect"], "handshake": data["handshake"],
                "read": data["read"], "write": data["write"], "mismatch": data["mismatch"],
                "closed": data["closed"], "connections-lost": lost},
    )


def idle_command(port: int, path: str, count: int) -> list[str]:
    """The generator in idle mode, speaking bench/idle_clients.py's protocol."""
    return [str(binary()), "--idle", "127.0.0.1", str(port), path, str(count)]


def ceiling_command(port: int) -> list[str]:
    return [str(binary()), "--serve", str(port)]


def probe_websocket(port: int, path: str, message: bytes, binary_message: bool,
                    timeout: float) -> str | None:
    """Handshake, one message, its exact echo (the WebSocket scenarios' probe)."""
    key = base64.b64encode(os.urandom(16))
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {key.decode()}\r\n\r\n").encode()
    opcode = 2 if binary_message else 1
    mask = os.urandom(4)
    size = len(message)
    length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    frame = bytes([0x80 | opcode]) + length + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(message))
    expected_head = bytes([0x80 | opcode]) + (
        bytes([size]) if size < 126 else bytes([126]) + struct.pack("!H", size))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    return "probe: connection closed during the WebSocket handshake"
                received += chunk
            head, _, rest = received.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                status_line = head.split(b"\r\n")[0]
                return f"probe: handshake answered {status_line!r}"
            sock.sendall(frame)
            wanted = len(expected_head) + size
            while len(rest) < wanted:
                chunk = sock.recv(65536)
                if not chunk:
                    return "probe: connection closed before the echo"
                rest += chunk
            if rest[:wanted] != expected_head + message:
                return "probe: the echo differs from the message sent"
            sock.sendall(bytes([0x88, 0x82]) + mask + bytes(
                b ^ mask[i % 4] for i, b in enumerate(struct.pack("!H", 1000))))
    except OSError as exc:
        return f"probe: {type(exc).__name__}: {exc}"
    return None
