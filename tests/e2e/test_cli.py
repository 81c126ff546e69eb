"""The `fasthttpd` command end to end, and socket binding on real sockets.

The server runs as `python -m fasthttpd` in a subprocess on 127.0.0.1 (port 0 where
possible: the bound address is read back from the startup log line), is queried with
httpx, and is always stopped by its PID in a finally block.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fasthttpd.config import Config
from fasthttpd.sockets import BindError, bind_sockets, describe
from tests.e2e.conftest import IMPLEMENTATIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# The single-process startup line says "listening on URL", the worker master "serving URL".
LISTENING = re.compile(r"(?:listening on|serving) (\S+)")


def ipv6_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_works(), reason="this machine cannot bind ::1")


def config(**changes) -> Config:
    return dataclasses.replace(Config(), **changes)


def connects(family: socket.AddressFamily, address: tuple) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(2.0)
        try:
            client.connect(address)
        except OSError:
            return False
    return True


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


# bind_sockets, in process.

def test_tcp_ipv4_socket_is_listening_and_non_blocking():
    sockets = bind_sockets(config(port=0))
    try:
        assert len(sockets) == 1
        sock = sockets[0]
        assert sock.family == socket.AF_INET and sock.getblocking() is False
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        port = sock.getsockname()[1]
        assert describe(sock) == f"http://127.0.0.1:{port}"
        assert describe(sock, "https") == f"https://127.0.0.1:{port}"
        assert connects(socket.AF_INET, ("127.0.0.1", port))
    finally:
        close_all(sockets)


def test_busy_port_is_a_one_line_bind_error():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(BindError) as info:
            bind_sockets(config(port=port))
    assert str(info.value) == f"127.0.0.1:{port} is already in use"
    assert info.value.errno == errno.EADDRINUSE


def test_address_not_on_this_machine():
    with pytest.raises(BindError) as info:
        bind_sockets(config(host="192.0.2.1", port=0))  # TEST-NET-1, never local
    assert str(info.value) == "cannot bind 192.0.2.1:0: the address is not on this machine"


def test_unresolvable_host():
    with pytest.raises(BindError) as info:
        bind_sockets(config(host="no-such-host.invalid", port=0))
    assert str(info.value).startswith("cannot resolve host 'no-such-host.invalid'")


def test_reuse_port_lets_two_sockets_share_a_port():
    first = bind_sockets(config(port=0, reuse_port=True))
    try:
        port = first[0].getsockname()[1]
        second = bind_sockets(config(port=port, reuse_port=True))
        close_all(second)
    finally:
        close_all(first)


def test_hostname_binds_every_address_on_one_port():
    sockets = bind_sockets(config(host="localhost", port=0))
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 1
        assert socket.AF_INET in {sock.family for sock in sockets}
    finally:
        close_all(sockets)


@needs_ipv6
def test_ipv6_literal():
    sockets = bind_sockets(config(host="::1", port=0))
    try:
        port = sockets[0].getsockname()[1]
        assert sockets[0].family == socket.AF_INET6
        assert describe(sockets[0]) == f"http://[::1]:{port}"
        assert connects(socket.AF_INET6, ("::1", port))
    finally:
        close_all(sockets)


@needs_ipv6
def test_ipv6_literal_in_brackets():
    sockets = bind_sockets(config(host="[::1]", port=0))
    close_all(sockets)
    assert len(sockets) == 1


@needs_ipv6
def test_double_colon_is_dual_stack():
    sockets = bind_sockets(config(host="::", port=0))
    try:
        port = sockets[0].getsockname()[1]
        assert connects(socket.AF_INET6, ("::1", port))
        assert connects(socket.AF_INET, ("127.0.0.1", port))
    finally:
        close_all(sockets)


def test_unix_socket(tmp_path):
    path = str(tmp_path / "app.sock")
    sockets = bind_sockets(config(uds=path))
    try:
        assert sockets[0].family == socket.AF_UNIX and sockets[0].getblocking() is False
        assert describe(sockets[0]) == f"unix:{path}"
        assert connects(socket.AF_UNIX, path)
    finally:
        close_all(sockets)


def test_stale_unix_socket_file_is_replaced(tmp_path):
    path = str(tmp_path / "app.sock")
    left_over = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left_over.bind(path)
    left_over.close()  # the file stays, nobody listens: what a crashed server leaves
    assert os.path.exists(path)
    sockets = bind_sockets(config(uds=path))
    try:
        assert connects(socket.AF_UNIX, path)
    finally:
        close_all(sockets)


def test_live_unix_socket_is_in_use(tmp_path):
    path = str(tmp_path / "app.sock")
    holder = bind_sockets(config(uds=path))
    try:
        with pytest.raises(BindError) as info:
            bind_sockets(config(uds=path))
        assert str(info.value) == f"unix:{path} is already in use"
    finally:
        close_all(holder)


def test_regular_file_is_never_removed(tmp_path):
    path = tmp_path / "important.txt"
    path.write_text("keep me")
    with pytest.raises(BindError) as info:
        bind_sockets(config(uds=str(path)))
    assert "exists and is not a socket" in str(info.value)
    assert path.read_text() == "keep me"


def test_inherited_listening_fd():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    fd = os.dup(listener.fileno())
    listener.close()
    sockets = bind_sockets(config(fd=fd))
    try:
        assert sockets[0].fileno() == fd and sockets[0].getblocking() is False
        assert describe(sockets[0]) == f"http://127.0.0.1:{port}"
        assert connects(socket.AF_INET, ("127.0.0.1", port))
    finally:
        close_all(sockets)


def test_fd_of_a_socket_that_is_not_listening_is_refused_and_left_open():
    with socket.socket() as unbound:
        with pytest.raises(BindError) as info:
            bind_sockets(config(fd=unbound.fileno()))
        assert str(info.value).startswith(f"--fd {unbound.fileno()}: the socket is not listening")
        os.fstat(unbound.fileno())  # still open: it belongs to its owner


def test_fd_of_a_datagram_socket_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(BindError) as info:
            bind_sockets(config(fd=udp.fileno()))
        assert str(info.value) == f"--fd {udp.fileno()}: not a stream socket"


def test_fd_that_is_not_a_socket(tmp_path):
    with open(tmp_path / "file", "w") as file:
        with pytest.raises(BindError) as info:
            bind_sockets(config(fd=file.fileno()))
        assert str(info.value) == f"--fd {file.fileno()}: not a socket"


def test_fd_that_is_not_open():
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    with pytest.raises(BindError) as info:
        bind_sockets(config(fd=read_end))
    assert str(info.value) == f"--fd {read_end}: not an open file descriptor"


# The command, as a subprocess.

class Command:
    """One `python -m fasthttpd` process with its output in files."""

    def __init__(self, tmp_path: Path, args: list[str], env: dict[str, str] | None = None,
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.out_path = tmp_path / "stdout.txt"
        self.err_path = tmp_path / "stderr.txt"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FASTHTTPD_")
                       or k == "FASTHTTPD_NO_EXTENSIONS"}
        environment.update(env or {})
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fasthttpd", *args], cwd=REPO_ROOT, stdout=out,
                stderr=err, env=environment, pass_fds=pass_fds)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_listening(self) -> str:
        """The URL from the startup line; fails if the process exits or takes too long."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = LISTENING.search(self.stderr)
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                pytest.fail(f"fasthttpd exited with {self.process.returncode}: {self.stderr}")
            time.sleep(0.05)
        pytest.fail(f"fasthttpd did not start within {START_TIMEOUT}s: {self.stderr}")

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"fasthttpd did not exit within {STOP_TIMEOUT}s: {self.stderr}")

    def stop(self) -> int:
        """SIGTERM (graceful), then SIGKILL if it lingers; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        return self.process.returncode


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serves_the_demo_app_by_default_and_stops_on_sigterm(tmp_path):
    command = Command(tmp_path, ["--port", "0"])
    try:
        url = command.wait_listening()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        with httpx.Client(base_url=url, timeout=5.0) as client:
            home = client.get("/")
            assert home.status_code == 200 and "fasthttpd works" in home.text
            assert "HTTP/1.1" in home.text
            hello = client.get("/hello")
            assert (hello.status_code, hello.text) == (200, "Hello, world!")
            assert client.get("/json").json()["server"] == "fasthttpd"
            assert client.post("/echo", content=b"ping" * 1000).content == b"ping" * 1000
            assert client.get("/stream").text.splitlines()[-1] == "chunk 5"
            assert client.get("/missing").status_code == 404
    finally:
        exit_code = command.stop()
    assert exit_code == 0
    assert '"GET /hello HTTP/1.1" 200 13' in command.stdout  # the access log, on stdout


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_startup_lines_say_what_runs_where_and_how_to_stop(tmp_path, impl):
    env = {"FASTHTTPD_NO_EXTENSIONS": "1"} if impl == "python" else {}
    command = Command(tmp_path, ["fasthttpd.demo:app", "--port", "0"], env=env)
    try:
        url = command.wait_listening()
        deadline = time.monotonic() + START_TIMEOUT
        while "to stop" not in command.stderr and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        command.stop()
    import fasthttpd  # the package under test: the checkout's, or an installed wheel's

    shown = "compiled" if impl == "compiled" else "pure Python"
    package = Path(os.path.abspath(fasthttpd.__file__)).parent
    assert f"fasthttpd 0.1.0 ({shown}) from {package}" in command.stderr
    assert "running the app 'fasthttpd.demo:app'" in command.stderr
    assert f"listening on {url}" in command.stderr
    assert "press Ctrl+C or send SIGTERM to stop" in command.stderr


def test_explicit_app_and_json_access_log(tmp_path):
    command = Command(tmp_path, ["fasthttpd.demo:app", "--port", "0", "--access-log-json"])
    try:
        url = command.wait_listening()
        assert httpx.get(url + "/hello", timeout=5.0).text == "Hello, world!"
    finally:
        command.stop()
    line = next(line for line in command.stdout.splitlines() if '"/hello"' in line)
    assert '"status":200' in line and '"method":"GET"' in line


def test_port_from_the_environment(tmp_path):
    port = free_port()
    command = Command(tmp_path, [], env={"FASTHTTPD_PORT": str(port),
                                         "FASTHTTPD_ACCESS_LOG": "false"})
    try:
        assert command.wait_listening() == f"http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/hello", timeout=5.0).status_code == 200
    finally:
        command.stop()
    assert "GET /hello" not in command.stdout


def test_unix_socket_serving(tmp_path):
    path = str(tmp_path / "fasthttpd.sock")
    command = Command(tmp_path, ["--uds", path])
    try:
        assert command.wait_listening() == f"unix:{path}"
        transport = httpx.HTTPTransport(uds=path)
        with httpx.Client(transport=transport, base_url="http://localhost", timeout=5.0) as c:
            assert c.get("/hello").text == "Hello, world!"
    finally:
        command.stop()


def test_inherited_fd_serving(tmp_path):
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        command = Command(tmp_path, ["--fd", str(listener.fileno())],
                          pass_fds=(listener.fileno(),))
        try:
            command.wait_listening()
            assert httpx.get(f"http://127.0.0.1:{port}/hello", timeout=5.0).status_code == 200
        finally:
            command.stop()
    finally:
        listener.close()


def test_wrong_app_path_is_one_line_and_exit_code_1(tmp_path):
    command = Command(tmp_path, ["no_such_module_xyz:app"])
    assert command.wait_exit() == 1
    assert command.stderr == (
        f"fasthttpd: error: module 'no_such_module_xyz' not found (searched sys.path, which "
        f"starts with the app directory {str(REPO_ROOT)!r})\n")


def test_app_that_raises_while_importing_shows_where(tmp_path):
    (tmp_path / "broken_app_xyz.py").write_text("import os\n\nratio = 1 / 0\n")
    command = Command(tmp_path, ["broken_app_xyz:app", "--app-dir", str(tmp_path)])
    assert command.wait_exit() == 1
    location = f'File "{tmp_path / "broken_app_xyz.py"}", line 3, in <module>'
    lines = command.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert location in command.stderr
    assert lines[-1] == ("fasthttpd: error: error while importing 'broken_app_xyz': "
                         f"ZeroDivisionError: division by zero ({location})")


def test_busy_port_is_one_line_and_exit_code_1(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        command = Command(tmp_path, ["--port", str(port)])
        assert command.wait_exit() == 1
    assert command.stderr == f"fasthttpd: error: 127.0.0.1:{port} is already in use\n"


def test_bad_flag_value_is_one_line_and_exit_code_2(tmp_path):
    command = Command(tmp_path, ["--port", "eighty"])
    assert command.wait_exit() == 2
    assert command.stderr == (
        "fasthttpd: error: argument --port: expected an integer, got 'eighty'\n")


def test_bad_environment_value_is_one_line_and_exit_code_2(tmp_path):
    command = Command(tmp_path, [], env={"FASTHTTPD_TIMEOUT_KEEP_ALIVE": "forever"})
    assert command.wait_exit() == 2
    assert command.stderr == (
        "fasthttpd: error: FASTHTTPD_TIMEOUT_KEEP_ALIVE: expected a number, got 'forever'\n")


def test_wrong_app_path_with_workers_is_one_line_not_a_crash_loop(tmp_path):
    command = Command(tmp_path, ["no_such_module_xyz:app", "--workers", "2", "--port", "0"])
    assert command.wait_exit() == 1
    assert command.stderr.startswith("fasthttpd: error: module 'no_such_module_xyz' not found")
    assert command.stderr.count("\n") == 1


def test_workers_option_hands_over_to_the_worker_pool(tmp_path):
    command = Command(tmp_path, ["--workers", "2", "--port", "0", "--no-access-log"])
    try:
        url = command.wait_listening()
        assert httpx.get(url + "/hello", timeout=5.0).text == "Hello, world!"
    finally:
        exit_code = command.stop()
    assert exit_code == 0
    assert "worker" in command.stderr


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_http2_only_on_cleartext_refuses_http1_and_serves_prior_knowledge(tmp_path, impl):
    env = {"FASTHTTPD_NO_EXTENSIONS": "1"} if impl == "python" else {}
    command = Command(tmp_path, ["--port", "0", "--http", "2", "--no-access-log"], env=env)
    try:
        url = command.wait_listening()
        port = int(url.rsplit(":", 1)[1])
        for request in (b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                        b"PUT /hello HTTP/1.1\r\nHost: x\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(65536):  # until the server closes
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n")
            assert b"connection: close" in answer and b"HTTP/2 only" in answer
        with httpx.Client(http1=False, http2=True, timeout=5.0) as client:
            response = client.get(url + "/hello")
        assert (response.http_version, response.text) == ("HTTP/2", "Hello, world!")
        # An h2c upgrade starts as HTTP/1.1: refused too.
        upgrade = httpx.get(url + "/hello", headers={"Upgrade": "h2c", "Connection":
                            "Upgrade, HTTP2-Settings", "HTTP2-Settings": "AAMAAABkAAQAoAAA"},
                            timeout=5.0)
        assert upgrade.status_code == 505
    finally:
        command.stop()


# uvicorn's options, end to end.

def test_header_option_reaches_http1_and_http2_responses(tmp_path):
    command = Command(tmp_path, ["--port", "0", "--no-access-log", "--header",
                                 "X-Served-By: edge-1", "--header", "Server: my-edge"])
    try:
        url = command.wait_listening()
        for http2 in (False, True):
            with httpx.Client(http1=not http2, http2=http2, timeout=5.0) as client:
                response = client.get(url + "/hello")
            assert response.text == "Hello, world!"
            assert response.headers.get_list("x-served-by") == ["edge-1"]
            assert response.headers.get_list("server") == ["my-edge"]  # instead of ours
            assert "date" in response.headers
    finally:
        command.stop()


def test_env_file_is_loaded_before_the_app_is_imported(tmp_path):
    (tmp_path / "env_app_xyz.py").write_text(
        "import os\n"
        "GREETING = os.environ['GREETING_XYZ']  # read at import time\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': GREETING.encode()})\n")
    (tmp_path / ".env").write_text('export GREETING_XYZ="hello from .env"\n')
    for workers in ("1", "2"):
        command = Command(tmp_path, ["env_app_xyz:app", "--app-dir", str(tmp_path),
                                     "--env-file", str(tmp_path / ".env"), "--port", "0",
                                     "--workers", workers, "--no-access-log"])
        try:
            url = command.wait_listening()
            assert httpx.get(url + "/", timeout=5.0).text == "hello from .env"
        finally:
            command.stop()


def test_reload_without_watchfiles_exits_with_its_error(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "watchfiles.py").write_text("raise ImportError(\"No module named 'watchfiles'\")\n")
    command = Command(tmp_path, ["--reload", "--port", "0"],
                      env={"PYTHONPATH": f"{hidden}{os.pathsep}{REPO_ROOT}"})
    assert command.wait_exit() == 1
    assert command.stderr == (
        "fasthttpd: error: --reload needs watchfiles: pip install 'fasthttpd[reload]' "
        "(No module named 'watchfiles')\n")


def test_asgi2_app_is_served_with_interface_auto(tmp_path):
    (tmp_path / "asgi2_app_xyz.py").write_text(
        "class App:\n"
        "    def __init__(self, scope):\n"
        "        self.scope = scope\n"
        "    async def __call__(self, receive, send):\n"
        "        await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "        await send({'type': 'http.response.body', 'body': b'asgi2 ' +\n"
        "                    self.scope['path'].encode()})\n")
    command = Command(tmp_path, ["asgi2_app_xyz:App", "--app-dir", str(tmp_path), "--port", "0",
                                 "--no-access-log"])
    try:
        url = command.wait_listening()
        assert httpx.get(url + "/there", timeout=5.0).text == "asgi2 /there"
    finally:
        command.stop()


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_reset_contextvars_is_what_fasthttpd_always_does(tmp_path, impl):
    # uvicorn's --reset-contextvars: no request sees what the lifespan or an earlier
    # request on the same connection set.
    (tmp_path / "context_app_xyz.py").write_text(
        "import contextvars\n"
        "var = contextvars.ContextVar('var', default='unset')\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] == 'lifespan':\n"
        "        while True:\n"
        "            message = await receive()\n"
        "            if message['type'] == 'lifespan.startup':\n"
        "                var.set('lifespan')\n"
        "                await send({'type': 'lifespan.startup.complete'})\n"
        "            else:\n"
        "                await send({'type': 'lifespan.shutdown.complete'})\n"
        "                return\n"
        "    seen = var.get()\n"
        "    var.set('request')\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': seen.encode()})\n")
    env = {"FASTHTTPD_NO_EXTENSIONS": "1"} if impl == "python" else {}
    command = Command(tmp_path, ["context_app_xyz:app", "--app-dir", str(tmp_path), "--port",
                                 "0", "--no-access-log", "--reset-contextvars"], env=env)
    try:
        url = command.wait_listening()
        with httpx.Client(timeout=5.0) as client:  # one keep-alive connection
            assert [client.get(url + "/").text for _ in range(3)] == ["unset"] * 3
    finally:
        command.stop()


def test_demo_page_names_http2_when_the_client_speaks_it(tmp_path):
    command = Command(tmp_path, ["--port", "0", "--no-access-log"])
    try:
        url = command.wait_listening()
        # Cleartext HTTP/2 with prior knowledge (RFC 9113 3.3).
        with httpx.Client(http1=False, http2=True, timeout=5.0) as client:
            response = client.get(url + "/")
        assert response.http_version == "HTTP/2"
        assert "<strong>HTTP/2</strong>" in response.text
    finally:
        command.stop()
