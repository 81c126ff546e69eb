"""Which HTTP/2 driver serves: --http2-impl auto|compiled|h2, and the fallback.

The compiled core's driver serves by default when the extensions are built; the
h2-based driver serves when they are not, under FASTHTTPD_NO_EXTENSIONS=1, and when
`--http2-impl h2` asks for it. Both entry points that create an HTTP/2 driver (the
connection factory and the h2c upgrade) go through the same chooser.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fasthttpd.client import Client
from fasthttpd.config import Config
from fasthttpd.driver import H2_PREFACE, HttpDriver
from fasthttpd.factory import DefaultHttpDriverFactory
from fasthttpd.http2 import H2LibraryDriver, Http2Driver, driver_class
from fasthttpd.state import ServerState

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.compiled  # needs the compiled core
def test_auto_is_the_compiled_core_when_built() -> None:
    assert Http2Driver is not None, "build the extensions: python setup.py build_ext -i"
    assert driver_class("auto") is Http2Driver
    assert driver_class("compiled") is Http2Driver
    assert driver_class("h2") is H2LibraryDriver
    assert issubclass(Http2Driver, HttpDriver)


@pytest.mark.compiled  # needs the compiled core
@pytest.mark.parametrize("impl, expected", [("auto", "Http2Driver"),
                                            ("compiled", "Http2Driver"),
                                            ("h2", "H2LibraryDriver")])
def test_factory_follows_the_setting(impl: str, expected: str) -> None:
    async def main() -> str:
        config = dataclasses.replace(Config(), http2_impl=impl, access_log=False)
        factory = DefaultHttpDriverFactory(ServerState(config, asyncio.get_running_loop()))
        client = Client(("127.0.0.1", 1), ("127.0.0.1", 2))
        return type(factory.select_driver(client, H2_PREFACE)).__name__
    assert asyncio.run(main()) == expected


@pytest.mark.compiled  # validation refuses "compiled" where it is not built
def test_flag_and_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from fasthttpd.cli import config_from_command_line

    assert config_from_command_line(["app:app", "--http2-impl", "h2"]).http2_impl == "h2"
    assert config_from_command_line(["app:app"]).http2_impl == "auto"
    monkeypatch.setenv("FASTHTTPD_HTTP2_IMPL", "compiled")
    assert config_from_command_line(["app:app"]).http2_impl == "compiled"
    with pytest.raises(SystemExit):
        config_from_command_line(["app:app", "--http2-impl", "hyper"])


def run_isolated(code: str) -> dict[str, str]:
    env = dict(os.environ, FASTHTTPD_NO_EXTENSIONS="1", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_no_extensions_falls_back_to_h2() -> None:
    result = run_isolated(
        "import json\n"
        "from fasthttpd import http2\n"
        "from fasthttpd.config import Config, validate\n"
        "out = {'auto': http2.driver_class('auto').__name__}\n"
        "try:\n"
        "    validate(Config(http2_impl='compiled'))\n"
        "    out['validated'] = 'accepted'\n"
        "except ValueError as exc:\n"
        "    out['validated'] = str(exc)\n"
        "try:\n"
        "    http2.driver_class('compiled')\n"
        "    out['compiled'] = 'served'\n"
        "except RuntimeError as exc:\n"
        "    out['compiled'] = str(exc)\n"
        "print(json.dumps(out))\n")
    assert result["auto"] == "H2LibraryDriver"
    assert "not built" in result["compiled"]
    # Refused at startup, with one line, instead of on the first HTTP/2 connection.
    assert result["validated"].startswith("--http2-impl compiled: the compiled HTTP/2 core")
