"""HTTP/2 microbenchmark: how much of h2's own speed survives Http2Driver.

(a) h2 alone, in process, no I/O: a client and a server H2Connection exchange a
    GET and a 200 response with a 13-byte body per stream, 16 streams per batch
    (as h2load -m16). The server side is written the way a plain h2 server
    would be: default H2Configuration (h2 validates headers), bytes headers.
(a') the same with the H2Configuration Http2Driver uses (h2's header checks
    off, since the driver does its own in one pass).
(b) the same exchange through Http2Driver, on an in-memory transport, with an
    on_message that answers at once (no ASGI cycle, no Task): what the driver
    adds around h2.

Reported: requests/s of each, and the ratios (b)/(a) and (b)/(a'). The target
is (b)/(a) >= 0.75. The client's work is the same h2 code in all three.
Usage: python -m bench.micro_h2 [--quick]
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived

from fasthttpd.client import Client
from fasthttpd.config import Config
from fasthttpd.http2 import Http2Driver
from fasthttpd.http2.headers import http_date
from fasthttpd.state import ServerState

STREAMS_PER_BATCH = 16
BODY = b"Hello, world!"
REQUEST = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"),
           (b":authority", b"127.0.0.1:8000"), (b"user-agent", b"h2load nghttp2/1.52.0")]
RESPONSE_HEADERS = [(b"content-type", b"text/plain")]


def new_client() -> H2Connection:
    client = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    return client


def client_batch(client: H2Connection) -> bytes:
    for _ in range(STREAMS_PER_BATCH):
        client.send_headers(client.get_next_available_stream_id(), REQUEST, end_stream=True)
    return client.data_to_send()


def client_receive(client: H2Connection, data: bytes) -> int:
    """Feed the server's bytes to the client; return the responses completed."""
    done = 0
    for event in client.receive_data(data):
        if type(event) is DataReceived:
            client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if event.stream_ended is not None:
                done += 1
    return done


def bench_h2_alone(batches: int, server_config: H2Configuration) -> float:
    client = new_client()
    server = H2Connection(server_config)
    server.initiate_connection()
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    head = [(b":status", b"200"), (b"server", b"fasthttpd"), (b"date", http_date()),
            *RESPONSE_HEADERS]
    done = 0
    start = time.perf_counter()
    for _ in range(batches):
        for event in server.receive_data(client_batch(client)):
            if type(event) is RequestReceived:
                server.send_headers(event.stream_id, head)
                server.send_data(event.stream_id, BODY, end_stream=True)
        done += client_receive(client, server.data_to_send())
    elapsed = time.perf_counter() - start
    assert done == batches * STREAMS_PER_BATCH, done
    return done / elapsed


class MemoryConnection:
    """The transport side of a connection: collects what the driver writes."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def write(self, data: bytes, close: bool = False) -> None:
        self.out.append(data)

    def take(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def answer_at_once(stream: Any) -> None:
    stream.start_response(200, RESPONSE_HEADERS)
    stream.send_body(BODY, False)


def bench_driver(batches: int) -> float:
    loop = asyncio.new_event_loop()
    try:
        config = dataclasses.replace(Config(), access_log=False)
        driver = Http2Driver(ServerState(config, loop))
        connection = MemoryConnection()
        driver.setup(Client(("127.0.0.1", 1), ("127.0.0.1", 8000)), answer_at_once,
                     connection)  # type: ignore[arg-type]
        client = new_client()
        driver.data_received(client.data_to_send())
        client.receive_data(connection.take())
        driver.data_received(client.data_to_send())
        done = 0
        start = time.perf_counter()
        for _ in range(batches):
            driver.data_received(client_batch(client))
            done += client_receive(client, connection.take())
        elapsed = time.perf_counter() - start
        assert done == batches * STREAMS_PER_BATCH, done
        return done / elapsed
    finally:
        loop.close()


def best_of(rounds: int, fn: Any, *args: Any) -> float:
    return max(fn(*args) for _ in range(rounds))


def run(quick: bool = False) -> dict[str, float]:
    batches = 60 if quick else 400
    rounds = 2 if quick else 4
    default = H2Configuration(client_side=False, header_encoding=None)
    like_driver = H2Configuration(
        client_side=False, header_encoding=None, validate_inbound_headers=False,
        normalize_inbound_headers=False, validate_outbound_headers=False,
        normalize_outbound_headers=False, split_outbound_cookies=False)
    results: dict[str, float] = {}
    # Interleaved rounds, best of each: the figures drift less than single runs.
    alone, alone_lean, driver = [], [], []
    for _ in range(rounds):
        alone.append(bench_h2_alone(batches, default))
        alone_lean.append(bench_h2_alone(batches, like_driver))
        driver.append(bench_driver(batches))
    results["h2_alone_rps"] = max(alone)
    results["h2_alone_driver_config_rps"] = max(alone_lean)
    results["driver_rps"] = max(driver)
    results["ratio_driver_to_h2"] = results["driver_rps"] / results["h2_alone_rps"]
    results["ratio_driver_to_h2_same_config"] = (results["driver_rps"]
                                                 / results["h2_alone_driver_config_rps"])
    return results


def main() -> None:
    results = run(quick="--quick" in sys.argv)
    print(f"(a)  h2 alone, default config:   {results['h2_alone_rps']:10.0f} req/s")
    print(f"(a') h2 alone, driver's config:  {results['h2_alone_driver_config_rps']:10.0f} req/s")
    print(f"(b)  through Http2Driver:        {results['driver_rps']:10.0f} req/s")
    print(f"(b)/(a)  = {results['ratio_driver_to_h2']:.2f}   (target >= 0.75)")
    print(f"(b)/(a') = {results['ratio_driver_to_h2_same_config']:.2f}")


if __name__ == "__main__":
    main()
