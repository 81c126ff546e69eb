"""Property tests of the WebSocket codec: any split of the input gives the same
events, and the compiled codec and the fallback agree on any input."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fasthttpd.websocket.deflate import PerMessageDeflate
from tests.unit.ws_frames import IMPLEMENTATIONS, feed_chunks, load
from tests.unit.ws_strategies import frames, splits, streams

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def codec(request: pytest.FixtureRequest) -> ModuleType:
    return load(request.param)


@SETTINGS
@given(stream=streams, data=st.data())
def test_any_split_gives_the_same_events(codec: ModuleType, stream: bytes,
                                         data: st.DataObject) -> None:
    whole = feed_chunks(codec, [stream], max_size=64)
    assert feed_chunks(codec, data.draw(splits(stream)), max_size=64) == whole


@SETTINGS
@given(stream=st.lists(frames(valid_only=True), max_size=12).map(b"".join), data=st.data())
def test_any_split_of_mostly_valid_frames(codec: ModuleType, stream: bytes,
                                          data: st.DataObject) -> None:
    whole = feed_chunks(codec, [stream], max_size=100)
    assert feed_chunks(codec, data.draw(splits(stream)), max_size=100) == whole


@pytest.mark.compiled
@SETTINGS
@given(stream=st.one_of(streams, st.binary(max_size=200)), data=st.data(),
       deflate=st.booleans())
def test_compiled_and_fallback_agree(stream: bytes, data: st.DataObject,
                                     deflate: bool) -> None:
    compiled, python = load("compiled"), load("python")
    pieces = data.draw(splits(stream))
    factory = PerMessageDeflate if deflate else None
    assert (feed_chunks(compiled, pieces, max_size=50, deflate=factory)
            == feed_chunks(python, [stream], max_size=50, deflate=factory))
