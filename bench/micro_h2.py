"""HTTP/2 microbenchmark: how much of h2's own speed survives H2LibraryDriver.

(a) h2 alone, in process, no I/O: a client and a server H2Connection exchange a
    GET and a 200 response with a 13-byte body per stream, 16 streams per batch
    (as h2load -m16). The server side is written the way a plain h2 server
    would be: default H2Configuration (h2 validates headers), bytes headers.
(a') the same with the H2Configuration H2LibraryDriver uses (h2's header checks
    off, since the driver does its own in one pass).
(b) the same exchange through H2LibraryDriver, on an in-memory transport, with an
    on_message that answers at once (no ASGI cycle, no Task): what the driver
    adds around h2.

(c) the same exchange through Http2Driver (the compiled core), with the same
    h2 client: the client's work dominates here.

Replayed: the client's bytes for every batch are recorded once (an h2 client
talking to an h2 server), then fed to a fresh driver with no client in the loop,
so the figure is the server's alone:
(d) H2LibraryDriver (h2) and (e) Http2Driver, answering at once (no ASGI cycle);
(f) and (g) the same two with the ASGI cycle and the hello app, one loop
    iteration per batch (the app's Tasks run, the flush goes out).

Reported: requests/s of each, and the ratios (b)/(a), (b)/(a') and (e)/(d),
(g)/(f). The target for (b)/(a) is >= 0.75.

Instructions (`--callgrind`, valgrind needed): the compiled core's own cost per
request for the hello exchange (frames in, HPACK, stream state, frames out:
callgrind collects only inside the core's entry points, and not inside the
driver's hooks they call), and the whole in-process server path beside it (driver,
core, ASGI cycle, the app's Task), for the compiled driver and the h2 one, each from
two runs of different lengths so that start-up cancels out.

Usage: python -m bench.micro_h2 [--quick] [--callgrind]
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
from fasthttpd.http2 import H2LibraryDriver, Http2Driver
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


def bench_driver(batches: int, driver_class: Any = H2LibraryDriver) -> float:
    loop = asyncio.new_event_loop()
    try:
        config = dataclasses.replace(Config(), access_log=False)
        driver = driver_class(ServerState(config, loop))
        connection = MemoryConnection()
        driver.setup(Client(("127.0.0.1", 1), ("127.0.0.1", 8000)), answer_at_once,
                     connection)
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



def bench_core_driver(batches: int) -> float:
    """(c): as bench_driver, through the compiled core's driver."""
    return bench_driver(batches, Http2Driver)


def record_client(batches: int) -> list[bytes]:
    """What an h2 client sends over `batches` batches: the preface first, then one
    chunk per batch (16 requests and its WINDOW_UPDATEs), recorded against h2."""
    client = new_client()
    server = H2Connection(H2Configuration(client_side=False, header_encoding=None))
    server.initiate_connection()
    chunks = [client.data_to_send()]
    server.receive_data(chunks[0])
    client.receive_data(server.data_to_send())
    head = [(b":status", b"200"), (b"server", b"fasthttpd"), (b"date", http_date()),
            *RESPONSE_HEADERS]
    for _ in range(batches):
        data = client.data_to_send() + client_batch(client)
        chunks.append(data)
        for event in server.receive_data(data):
            if type(event) is RequestReceived:
                server.send_headers(event.stream_id, head)
                server.send_data(event.stream_id, BODY, end_stream=True)
        client_receive(client, server.data_to_send())
    chunks.append(client.data_to_send())  # the last acknowledgements
    return chunks


class CountingConnection(MemoryConnection):
    """Counts the bytes written instead of keeping them."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: bytes, close: bool = False) -> None:
        self.written += len(data)


def new_driver(driver_class: Any, on_message: Any, loop: asyncio.AbstractEventLoop,
               connection: MemoryConnection) -> Any:
    config = dataclasses.replace(Config(), access_log=False)
    state = ServerState(config, loop)
    driver = driver_class(state)
    if on_message is None:
        from bench.apps import hello
        from fasthttpd.asgi import AsgiHandler

        on_message = AsgiHandler(state, hello)
    driver.setup(Client(("127.0.0.1", 1), ("127.0.0.1", 8000)), on_message,
                 connection)
    return driver


def replay(driver_class: Any, chunks: list[bytes], asgi: bool) -> float:
    """Feed recorded client bytes to a fresh driver; requests/s (server side only)."""
    loop = asyncio.new_event_loop()
    connection = CountingConnection()
    answered = [0]

    def answer(stream: Any) -> None:
        answered[0] += 1
        answer_at_once(stream)

    driver = new_driver(driver_class, None if asgi else answer, loop, connection)

    async def feed_all() -> float:
        sleep = asyncio.sleep
        driver.data_received(chunks[0])
        start = time.perf_counter()
        for chunk in chunks[1:]:
            driver.data_received(chunk)
            await sleep(0)  # the apps' Tasks run...
            await sleep(0)  # ...and the flush they asked for goes out
        return time.perf_counter() - start

    try:
        elapsed = loop.run_until_complete(feed_all())
    finally:
        loop.close()
    requests = (len(chunks) - 2) * STREAMS_PER_BATCH
    if connection.written < requests * len(BODY):
        raise RuntimeError("not every request was answered")
    return requests / elapsed


def callgrind_counts(batches: int) -> dict[str, float]:
    """Instructions per request under callgrind: the core alone, and the whole path."""
    import os
    import pickle
    import re
    import subprocess
    import tempfile

    # The core's entry points, and the driver's hooks they call (collection is
    # toggled at each entry and exit, so the hooks' own work is left out).
    core = ["ServerConnection_receive", "ServerConnection_send_headers",
            "ServerConnection_send_data", "ServerConnection_data_to_send",
            "ServerConnection_acknowledge"]
    hooks = ["CoreHttp2Driver_on_request", "CoreHttp2Driver_on_data",
             "CoreHttp2Driver_on_window_update", "CoreHttp2Driver_on_stream_reset"]

    def run(count: int, toggles: list[str], impl: str = "compiled") -> int:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "callgrind.out")
            recorded = os.path.join(tmp, "client.bin")
            with open(recorded, "wb") as file:  # recorded outside the measured process
                pickle.dump(record_client(count), file)
            command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
            command += [f"--toggle-collect=__pyx_f_*{name}" for name in toggles]
            if toggles:
                command.append("--collect-atstart=no")
            command += [sys.executable, "-m", "bench.micro_h2", "--replay-only", recorded, impl]
            subprocess.run(command, check=True, capture_output=True, timeout=900,
                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            text = open(out).read()
        match = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        assert match, "no totals in the callgrind output"
        return int(match.group(1))

    small, large = batches, batches * 3
    requests = (large - small) * STREAMS_PER_BATCH
    core_cost = (run(large, core + hooks) - run(small, core + hooks)) / requests
    whole = (run(large, []) - run(small, [])) / requests
    whole_h2 = (run(large, [], "h2") - run(small, [], "h2")) / requests
    return {"core_instructions_per_request": core_cost,
            "server_path_instructions_per_request": whole,
            "h2_server_path_instructions_per_request": whole_h2}


def replay_only(recorded: str, impl: str) -> None:
    """The run callgrind watches: recorded client bytes to a driver with the ASGI cycle."""
    import pickle

    with open(recorded, "rb") as file:
        chunks = pickle.load(file)
    replay(Http2Driver if impl == "compiled" else H2LibraryDriver, chunks, asgi=True)


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
    alone, alone_lean, driver, core = [], [], [], []
    chunks = record_client(batches)
    replays: dict[str, list[float]] = {"h2": [], "compiled": [], "h2_asgi": [],
                                       "compiled_asgi": []}
    for _ in range(rounds):
        alone.append(bench_h2_alone(batches, default))
        alone_lean.append(bench_h2_alone(batches, like_driver))
        driver.append(bench_driver(batches))
        core.append(bench_core_driver(batches))
        replays["h2"].append(replay(H2LibraryDriver, chunks, asgi=False))
        replays["compiled"].append(replay(Http2Driver, chunks, asgi=False))
        replays["h2_asgi"].append(replay(H2LibraryDriver, chunks, asgi=True))
        replays["compiled_asgi"].append(replay(Http2Driver, chunks, asgi=True))
    results["h2_alone_rps"] = max(alone)
    results["h2_alone_driver_config_rps"] = max(alone_lean)
    results["driver_rps"] = max(driver)
    results["core_driver_rps"] = max(core)
    for name, samples in replays.items():
        results[f"replay_{name}_rps"] = max(samples)
    results["ratio_compiled_to_h2_replay"] = (results["replay_compiled_rps"]
                                              / results["replay_h2_rps"])
    results["ratio_compiled_to_h2_replay_asgi"] = (results["replay_compiled_asgi_rps"]
                                                   / results["replay_h2_asgi_rps"])
    results["ratio_driver_to_h2"] = results["driver_rps"] / results["h2_alone_rps"]
    results["ratio_driver_to_h2_same_config"] = (results["driver_rps"]
                                                 / results["h2_alone_driver_config_rps"])
    return results


def main() -> None:
    if "--replay-only" in sys.argv:
        where = sys.argv.index("--replay-only")
        replay_only(sys.argv[where + 1], sys.argv[where + 2])
        return
    if Http2Driver is None:
        raise SystemExit("build the extensions first: python setup.py build_ext --inplace")
    if "--callgrind" in sys.argv:
        counts = callgrind_counts(20 if "--quick" in sys.argv else 100)
        print(f"compiled core alone:        {counts['core_instructions_per_request']:10.0f} "
              "instructions per request")
        print(f"whole server path (ASGI):   "
              f"{counts['server_path_instructions_per_request']:10.0f} instructions per request")
        print(f"the same on the h2 driver:  "
              f"{counts['h2_server_path_instructions_per_request']:10.0f} instructions per request")
        return
    results = run(quick="--quick" in sys.argv)
    print(f"(a)  h2 alone, default config:   {results['h2_alone_rps']:10.0f} req/s")
    print(f"(a') h2 alone, driver's config:  {results['h2_alone_driver_config_rps']:10.0f} req/s")
    print(f"(b)  through H2LibraryDriver:        {results['driver_rps']:10.0f} req/s")
    print(f"(b)/(a)  = {results['ratio_driver_to_h2']:.2f}   (target >= 0.75)")
    print(f"(b)/(a') = {results['ratio_driver_to_h2_same_config']:.2f}")
    print(f"(c)  through Http2Driver:    {results['core_driver_rps']:10.0f} req/s")
    print("replayed client bytes, server side only:")
    print(f"(d)  H2LibraryDriver (h2):           {results['replay_h2_rps']:10.0f} req/s")
    print(f"(e)  Http2Driver:            {results['replay_compiled_rps']:10.0f} req/s"
          f"   (e)/(d) = {results['ratio_compiled_to_h2_replay']:.2f}")
    print(f"(f)  H2LibraryDriver + ASGI hello:   {results['replay_h2_asgi_rps']:10.0f} req/s")
    print(f"(g)  Http2Driver + ASGI:     {results['replay_compiled_asgi_rps']:10.0f} req/s"
          f"   (g)/(f) = {results['ratio_compiled_to_h2_replay_asgi']:.2f}")


if __name__ == "__main__":
    main()
