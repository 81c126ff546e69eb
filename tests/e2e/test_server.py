"""Server start-up and event-loop choices, end to end."""

import subprocess
import sys

import httpx
import pytest

from tests.e2e.conftest import ROOT, free_port, run_server, server_env


def run_to_exit(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fasthttpd", *args, "--port", str(free_port()),
         "--app-dir", str(ROOT)],
        capture_output=True, text=True, timeout=timeout, env=server_env("compiled"), cwd=ROOT)


def test_startup_failure_exits_3_without_serving():
    result = run_to_exit("tests.e2e.lifespan_apps:failing_startup")
    assert result.returncode == 3
    assert "database unreachable" in result.stderr


def test_lifespan_on_requires_support():
    result = run_to_exit("tests.e2e.lifespan_apps:no_lifespan", "--lifespan", "on")
    assert result.returncode == 3


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_app_without_lifespan_is_served_in_auto_and_off(mode):
    with run_server("--lifespan", mode, app="tests.e2e.lifespan_apps:no_lifespan") as srv:
        assert httpx.get(srv.url, timeout=5).text == "ok"


def test_asyncio_loop_serves_too():
    with run_server("--loop", "asyncio") as srv:
        assert httpx.get(srv.url + "/hello", timeout=5).text == "Hello, world!"
