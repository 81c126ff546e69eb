"""The workloads, as data.

Theory of operation: a `Scenario` says which app and transport the servers must be
started with (servers are shared by consecutive scenarios with the same app and
TLS setting), which load generator drives it and how hard, which protocol feature a
server needs to take part, what the probe request must get back, and which figure
is the scenario's headline (requests per second, p99 latency, or memory). The
runner (bench/runner.py) only interprets these fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import apps
from bench.loadgen import CLOSE_LUA, PIPELINE_LUA, upload_lua
from bench.probe import Probe
from bench.servers import H1, H1_TLS, H2_TLS, H2C

HELLO_APP = "bench.apps:hello"
MIXED_APP = "bench.apps:mixed"
UPLOAD_SIZE = 1024 * 1024
PIPELINE_DEPTH = 16

# Headline figures.
REQUESTS_PER_SECOND = "requests_per_s"
P99_LATENCY = "p99_ms"
IDLE_MEMORY = "added_mib"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    app: str
    feature: str  # what a server must support to take part
    tool: str  # "wrk", "h2load" or "idle" (the memory helper)
    probe: Probe
    path: str = "/"
    tls: bool = False
    connections: int = 64
    streams: int = 1  # h2load: concurrent streams per connection
    lua: str = ""
    script_args: tuple[str, ...] = ()
    min_body_bytes: int = 0  # every counted response carries at least this much
    headline: str = REQUESTS_PER_SECOND
    # wrk times only the first request of a pipelined batch, so such percentiles mislead.
    records_latency: bool = True

    @property
    def higher_is_better(self) -> bool:
        return self.headline == REQUESTS_PER_SECOND

    @property
    def expected_protocol(self) -> str | None:
        """What h2load must report as negotiated."""
        if self.tool != "h2load":
            return None
        return "h2" if self.tls else "h2c"

    @property
    def server_group(self) -> tuple[str, bool]:
        return (self.app, self.tls)


HELLO_PROBE = Probe("/", apps.HELLO_BODY)
HELLO_SIZE = len(apps.HELLO_BODY)

SCENARIOS: list[Scenario] = [
    Scenario("hello", "hello world, keep-alive (wrk -c64)", HELLO_APP, H1, "wrk", HELLO_PROBE,
             min_body_bytes=HELLO_SIZE),
    Scenario("connection-close", "new connection per request (Connection: close, -c64)",
             HELLO_APP, H1, "wrk", Probe("/", apps.HELLO_BODY, headers={"connection": "close"}),
             lua=CLOSE_LUA, min_body_bytes=HELLO_SIZE),
    Scenario("pipelined", f"{PIPELINE_DEPTH}-deep pipelining (-c64)", HELLO_APP, H1, "wrk",
             HELLO_PROBE, lua=PIPELINE_LUA, script_args=(str(PIPELINE_DEPTH),),
             min_body_bytes=HELLO_SIZE, records_latency=False),
    Scenario("json-1k", "1 KiB JSON response (-c64)", MIXED_APP, H1, "wrk",
             Probe("/json", apps.JSON_BODY), path="/json", min_body_bytes=len(apps.JSON_BODY)),
    Scenario("body-64k", "64 KiB response (-c64)", MIXED_APP, H1, "wrk",
             Probe("/64k", apps.LARGE_BODY), path="/64k", min_body_bytes=len(apps.LARGE_BODY)),
    Scenario("upload-1m", "1 MiB upload echoed back (-c16)", MIXED_APP, H1, "wrk",
             Probe("/echo", b"u" * UPLOAD_SIZE, method="POST", request_body=b"u" * UPLOAD_SIZE),
             path="/echo", connections=16, lua=upload_lua(UPLOAD_SIZE),
             min_body_bytes=UPLOAD_SIZE),
    Scenario("stream-100", "response streamed in 100 chunks (-c64)", MIXED_APP, H1, "wrk",
             Probe("/stream", apps.STREAM_BODY), path="/stream",
             min_body_bytes=len(apps.STREAM_BODY)),
    Scenario("h2c", "HTTP/2 cleartext, h2load -c32 -m16", HELLO_APP, H2C, "h2load",
             Probe("/", apps.HELLO_BODY, http2=True), connections=32, streams=16,
             min_body_bytes=HELLO_SIZE),
    Scenario("h2-tls", "HTTP/2 over TLS (ALPN), h2load -c32 -m16", HELLO_APP, H2_TLS,
             "h2load", Probe("/", apps.HELLO_BODY, http2=True), tls=True, connections=32,
             streams=16, min_body_bytes=HELLO_SIZE),
    # Many streams on few connections: the per-stream cost of the HTTP/2 core,
    # with little per-connection work to hide it.
    Scenario("h2c-m100", "HTTP/2 cleartext, many streams per connection, h2load -c4 -m100",
             HELLO_APP, H2C, "h2load", Probe("/", apps.HELLO_BODY, http2=True), connections=4,
             streams=100, min_body_bytes=HELLO_SIZE),
    # Bulk DATA: framing, flow control and writes of a large body (h2load's
    # windows are 2**30 by default, so the server's sending path is what counts).
    Scenario("h2c-download-1m", "HTTP/2 cleartext, 1 MiB download, h2load -c8 -m1", MIXED_APP,
             H2C, "h2load", Probe("/1m", apps.DOWNLOAD_BODY, http2=True), path="/1m",
             connections=8, streams=1, min_body_bytes=len(apps.DOWNLOAD_BODY)),
    Scenario("h1-tls", "HTTP/1.1 over TLS, hello (-c64)", HELLO_APP, H1_TLS, "wrk",
             HELLO_PROBE, tls=True, min_body_bytes=HELLO_SIZE),
    Scenario("latency", "latency percentiles, hello at a fixed -c32", HELLO_APP, H1, "wrk",
             HELLO_PROBE, connections=32, min_body_bytes=HELLO_SIZE, headline=P99_LATENCY),
    Scenario("idle-memory", "memory added by idle keep-alive connections", HELLO_APP, H1,
             "idle", HELLO_PROBE, headline=IDLE_MEMORY),
]

BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}
