"""H2LibraryDriver abuse limits, driven without sockets (h2 or raw frames as the client).

Each attack ends in the answer RFC 9113 or the CVE write-ups call for, and a
second, well-behaved connection on the same server state keeps being served.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h2.events as ev
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from tests.unit.test_http2_driver import (
    Gate,
    Peer,
    Response,
    big_app,
    hello_app,
    http2_impl,  # noqa: F401 - the fixture that runs every test on both implementations
    make_config,
    run,
    split_frames,
)

ENHANCE_YOUR_CALM = ErrorCodes.ENHANCE_YOUR_CALM


def goaway_of(peer: Peer) -> GoAwayFrame | None:
    frames = [f for f in split_frames(bytes(peer.conn.written)) if isinstance(f, GoAwayFrame)]
    return frames[-1] if frames else None


async def still_serves(config: Any = None) -> None:
    """A well-behaved connection next to the attacked one gets its answer."""
    other = Peer(hello_app, config=config)
    sid = other.request("/")
    assert (await other.response(sid)).body == b"Hello, world!"


def request_frame(encoder: Encoder, stream_id: int, end_stream: bool = True,
                  extra: list[tuple[bytes, bytes]] | None = None) -> bytes:
    block = encoder.encode([(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"),
                            (b":authority", b"t")] + (extra or []))
    frame = HeadersFrame(stream_id, block)
    frame.flags.add("END_HEADERS")
    if end_stream:
        frame.flags.add("END_STREAM")
    return frame.serialize()


def test_rapid_reset_gets_enhance_your_calm() -> None:
    """CVE-2023-44487: HEADERS then RST_STREAM, over and over."""
    async def main() -> None:
        gate = Gate()
        config = make_config(h2_max_resets_per_second=100)
        peer = Peer(gate, config=config)
        for _ in range(150):
            sid = peer.h2.get_next_available_stream_id()
            peer.h2.send_headers(sid, [(b":method", b"GET"), (b":path", b"/"),
                                       (b":scheme", b"http"), (b":authority", b"t")])
            peer.h2.reset_stream(sid, ErrorCodes.CANCEL)
            peer.flush()
            if peer.conn.closed:
                break
        goaway = goaway_of(peer)
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
        assert peer.conn.closed
        # Streams opened and reset in the same read never started the app.
        await asyncio.sleep(0)
        assert gate.started == 0
        await still_serves(config)
    run(main())


def test_server_provoked_resets_count() -> None:
    """CVE-2025-8671 (MadeYouReset): malformed requests the server must reset."""
    async def main() -> None:
        config = make_config(h2_max_resets_per_second=100)
        peer = Peer(hello_app, config=config)
        encoder = Encoder()
        data = b"".join(
            request_frame(encoder, 2 * i + 1, extra=[(b"connection", b"close")])
            for i in range(150))
        peer.send_raw(data)
        goaway = goaway_of(peer)
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
        assert peer.conn.closed
        await still_serves(config)
    run(main())


def test_refused_streams_count() -> None:
    """A client ignoring SETTINGS_MAX_CONCURRENT_STREAMS is refused, then sent away."""
    async def main() -> None:
        gate = Gate()
        config = make_config(h2_max_concurrent_streams=5, h2_max_resets_per_second=50)
        peer = Peer(gate, config=config)
        encoder = Encoder()
        peer.send_raw(b"".join(request_frame(encoder, 2 * i + 1) for i in range(5)))
        await asyncio.sleep(0)
        assert gate.started == 5
        peer.send_raw(b"".join(request_frame(encoder, 2 * i + 1) for i in range(5, 100)))
        await asyncio.sleep(0)
        assert gate.started == 5
        goaway = goaway_of(peer)
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    run(main())


def flood_test(frame_bytes: bytes, count: int = 1500) -> None:
    async def main() -> None:
        config = make_config(h2_max_control_frames_per_second=1000)
        peer = Peer(hello_app, config=config)
        peer.read()
        peer.send_raw(frame_bytes * count)
        goaway = goaway_of(peer)
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
        assert peer.conn.closed
        await still_serves(config)
    run(main())


def test_ping_flood() -> None:
    flood_test(PingFrame(0, b"12345678").serialize())


def test_settings_flood() -> None:
    frame = SettingsFrame(0)
    frame.settings[SettingCodes.HEADER_TABLE_SIZE] = 4096
    flood_test(frame.serialize())


def test_priority_flood() -> None:
    flood_test(PriorityFrame(1, depends_on=0, stream_weight=16).serialize())


def test_window_update_flood() -> None:
    flood_test(WindowUpdateFrame(0, window_increment=1).serialize(), count=1200)


def test_empty_data_flood() -> None:
    async def main() -> None:
        gate = Gate()
        config = make_config(h2_max_control_frames_per_second=1000)
        peer = Peer(gate, config=config)
        sid = peer.request("/", method="POST", end=False)
        peer.send_raw(DataFrame(sid, b"").serialize() * 1500)
        goaway = goaway_of(peer)
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    run(main())


def test_legitimate_control_frames_pass() -> None:
    """Below the rate nothing happens: a few PINGs and SETTINGS are normal."""
    async def main() -> None:
        peer = Peer(hello_app)
        for _ in range(50):
            peer.h2.ping(b"abcdefgh")
        peer.flush()
        events = peer.read()
        assert sum(isinstance(e, ev.PingAckReceived) for e in events) == 50
        sid = peer.request("/")
        assert (await peer.response(sid)).status == 200
    run(main())


def test_continuation_flood() -> None:
    """A header block that never ends: h2 stops at 64 CONTINUATION frames."""
    async def main() -> None:
        peer = Peer(hello_app)
        peer.read()
        first = HeadersFrame(1, Encoder().encode([(b":method", b"GET")]))
        data = first.serialize() + b"".join(
            ContinuationFrame(1, b"\x00" * 16000).serialize() for _ in range(100))
        peer.send_raw(data)
        goaway = goaway_of(peer)
        assert goaway is not None and goaway.error_code == ErrorCodes.PROTOCOL_ERROR
        assert peer.conn.closed
        await still_serves()
    run(main())


def test_hpack_bomb() -> None:
    """A 4 KB value put in the dynamic table once and referenced 2000 times."""
    async def main() -> None:
        peer = Peer(hello_app)
        peer.read()
        encoder = Encoder()
        fields = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"),
                  (b"x-bomb", b"b" * 4000)]
        block = encoder.encode(fields)
        # Index 62 is the newest dynamic entry: x-bomb. One byte per reference.
        block += b"\xbe" * 2000
        frame = HeadersFrame(1, block)
        frame.flags.add("END_HEADERS")
        frame.flags.add("END_STREAM")
        peer.send_raw(frame.serialize())
        assert len(block) < 10_000  # small on the wire, 8 MB decoded
        goaway = goaway_of(peer)
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
        assert peer.conn.closed
        await still_serves()
    run(main())


def test_header_list_size_is_advertised() -> None:
    async def main() -> None:
        peer = Peer(hello_app, config=make_config(h2_max_header_list_size=8192))
        events = peer.read()
        changed = [e for e in events if isinstance(e, ev.RemoteSettingsChanged)][0]
        settings = changed.changed_settings
        assert settings[SettingCodes.MAX_HEADER_LIST_SIZE].new_value == 8192
        assert settings[SettingCodes.MAX_CONCURRENT_STREAMS].new_value == 100
        # A request over the cap ends the connection.
        sid = peer.request("/", headers=[(b"x-big", b"v" * 9000)])
        assert goaway_of(peer) is not None and sid == 1
    run(main())


def test_queued_acks_capped_when_client_does_not_read() -> None:
    async def main() -> None:
        config = make_config(h2_max_queued_control_frames=100,
                             h2_max_control_frames_per_second=100_000)
        peer = Peer(hello_app, config=config)
        peer.read()
        peer.driver.pause_writing()  # what the transport says once its buffer is full
        ping = PingFrame(0, b"12345678").serialize()
        for _ in range(50):
            peer.send_raw(ping)
        assert not peer.conn.closed
        peer.send_raw(ping * 60)
        assert peer.conn.aborted and peer.conn.was_reset  # a TCP reset: nothing more sent
        await still_serves(config)
    run(main())


def test_zero_window_runs_into_the_deadline() -> None:
    """The client never opens its window: the stream is reset, the app told."""
    async def main() -> None:
        config = make_config(h2_send_timeout=0.3)
        peer = Peer(big_app(200_000), config=config)
        sid = peer.request("/")
        other = peer.request("/")
        start = asyncio.get_running_loop().time()
        resp = await peer.response(sid, timeout=3)
        assert resp.reset == ErrorCodes.CANCEL
        assert asyncio.get_running_loop().time() - start >= 0.3
        assert Response.collect(peer.events, other).reset == ErrorCodes.CANCEL
        assert not peer.conn.closed
        assert not peer.driver.streams
    run(main())


def test_client_that_stops_reading_is_dropped() -> None:
    async def main() -> None:
        config = make_config(h2_send_timeout=0.3)
        peer = Peer(big_app(200_000), config=config)
        peer.request("/")
        # The client reads nothing from the start. Paused later, the stream could
        # first be reset for its own stalled window (also h2_send_timeout), leaving
        # an idle connection that is rightly not dropped.
        peer.driver.pause_writing()
        await peer.settle()
        # The send timeout is checked on the connection's once-a-second tick.
        for _ in range(40):
            if peer.conn.aborted:
                break
            await asyncio.sleep(0.1)
        assert peer.conn.aborted and peer.conn.was_reset  # a TCP reset: nothing more sent
    run(main())


def test_stalled_request_body_is_reset() -> None:
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate, config=make_config(timeout_request_body=0.3))
        sid = peer.request("/wait-disconnect", method="POST", end=False)
        resp = await peer.response(sid, timeout=3)
        assert resp.reset == ErrorCodes.CANCEL
        await asyncio.sleep(0)
        assert gate.messages[-1] == {"type": "http.disconnect"}
    run(main())


async def trickle(peer: Peer, sid: int, chunk: bytes, interval: float, seconds: float) -> None:
    """Send `chunk` on stream `sid` every `interval` s for `seconds` (while it is open)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if Response.collect(peer.events, sid).reset is not None or \
                Response.collect(peer.events, sid).status:
            return
        peer.h2.send_data(sid, chunk)
        peer.flush()
        await asyncio.sleep(interval)
        peer.read()


def test_request_body_below_the_minimum_rate_is_408() -> None:
    # 300 bytes needed per 0.3 s window; 10 bytes every 0.05 s bring about 60.
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate, config=make_config(timeout_request_body=0.3,
                                              limit_request_body_rate=1000))
        sid = peer.request("/wait-disconnect", method="POST", end=False)
        await trickle(peer, sid, b"x" * 10, 0.05, 2.0)
        resp = await peer.response(sid, timeout=1)
        assert resp.status == 408
        await asyncio.sleep(0)
        assert gate.messages[-1] == {"type": "http.disconnect"}  # the app is told
        await still_serves()
    run(main())


def test_request_body_at_the_minimum_rate_is_served() -> None:
    # 100 bytes every 0.05 s: about 600 per 0.3 s window, twice what is needed.
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate, config=make_config(timeout_request_body=0.3,
                                              limit_request_body_rate=1000))
        sid = peer.request("/wait-disconnect", method="POST", end=False)
        await trickle(peer, sid, b"x" * 100, 0.05, 1.2)
        resp = Response.collect(peer.events, sid)
        assert resp.status == 0 and resp.reset is None  # still being received
        assert sum(len(m.get("body", b"")) for m in gate.messages) > 1000
    run(main())
