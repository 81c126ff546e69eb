"""uvicorn command lines from uvicorn's documentation, with only the program name changed.

Each test writes a small project (app, .env, log config, certificates) to a temporary
directory, starts `fasthttpd` there with a uvicorn command line as a shell would split
it, and checks what a uvicorn user would expect of it (issue 10 item 8).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import trustme

from tests.e2e.conftest import ROOT, free_port

APP = '''
import json, os
from helper import VERSION

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    client = scope["client"][0] if scope["client"] else None
    body = json.dumps({"setting": os.environ.get("MY_SETTING"), "client": client,
                       "scheme": scope["scheme"], "version": VERSION,
                       "http_version": scope["http_version"]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def create_app():
    return app
'''

# The shape of uvicorn's own logging config as users copy it: uvicorn's loggers,
# disable_existing_loggers left at dictConfig's default (true).
UVICORN_LOG_YAML = '''
version: 1
formatters:
  default:
    format: "%(asctime)s %(levelname)s %(message)s"
handlers:
  default:
    class: logging.StreamHandler
    formatter: default
    stream: ext://sys.stderr
loggers:
  uvicorn:
    handlers: [default]
    level: INFO
  uvicorn.error:
    level: INFO
  uvicorn.access:
    handlers: [default]
    level: INFO
    propagate: false
'''


def write_project(root: Path) -> None:
    (root / "src").mkdir()
    (root / "main.py").write_text(APP)
    (root / "src" / "helper.py").write_text("VERSION = 'one'\n")
    (root / ".env").write_text("# settings\nexport MY_SETTING='from the env file'\n")
    (root / "log.yaml").write_text(UVICORN_LOG_YAML)


@contextmanager
def fasthttpd(command_line: str, cwd: Path, port: int,
              scheme: str = "http", verify: object = False) -> Iterator[tuple[str, Path]]:
    """Run `fasthttpd COMMAND_LINE` in cwd; yield (base URL, log path) once it answers."""
    log_path = cwd / "server.log"
    env = dict(os.environ)
    env.pop("FASTHTTPD_NO_EXTENSIONS", None)
    # The project's src/ is importable (as uvicorn users arrange it with PYTHONPATH).
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(cwd / "src")])
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "fasthttpd", *shlex.split(command_line)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                httpx.get(url + "/", timeout=2, verify=verify)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        yield url, log_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_deployment_command_line_with_env_file_log_config_and_proxy_headers(tmp_path):
    write_project(tmp_path)
    port = free_port()
    command = (f"main:app --host 127.0.0.1 --port {port} --workers 2 --proxy-headers "
               "--forwarded-allow-ips='*' --log-level debug --env-file .env "
               "--log-config log.yaml --header X-A:1 --http h11 --ws websockets "
               "--interface asgi3 --timeout-keep-alive 5")
    with fasthttpd(command, tmp_path, port) as (url, log_path):
        response = httpx.get(url + "/", timeout=5, headers={
            "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
        assert response.headers["x-a"] == "1"
        assert response.json() == {"setting": "from the env file", "client": "203.0.113.9",
                                   "scheme": "https", "version": "one",
                                   "http_version": "1.1"}
    log = log_path.read_text()
    # The uvicorn log config does not silence fasthttpd's own lines, and the server says
    # once (not once per worker) that the file's loggers are uvicorn's.
    assert "running the app 'main:app'" in log
    assert "press Ctrl+C or send SIGTERM to stop" in log
    assert log.count("configures uvicorn's loggers (uvicorn, uvicorn.access, "
                     "uvicorn.error) and none of fasthttpd's") == 1, log


def test_reload_command_line_watches_the_reload_dir(tmp_path):
    write_project(tmp_path)
    port = free_port()
    with fasthttpd(f"main:app --port {port} --reload --reload-dir src", tmp_path,
                   port) as (url, log_path):
        assert httpx.get(url + "/", timeout=5).json()["version"] == "one"
        time.sleep(0.5)  # the watcher starts after the first worker
        (tmp_path / "src" / "helper.py").write_text("VERSION = 'two'\n")
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/", timeout=5).json()["version"] == "two":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)


def test_tls_command_line_with_uvicorn_default_ciphers(tmp_path):
    write_project(tmp_path)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = free_port()
    # uvicorn's --ssl-ciphers default is "TLSv1"; users pass it along explicitly too.
    command = (f"main:app --port {port} --ssl-keyfile=./key.pem --ssl-certfile=./cert.pem "
               "--ssl-version 17 --ssl-cert-reqs 0 --ssl-ciphers TLSv1")
    verify = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    with fasthttpd(command, tmp_path, port, scheme="https", verify=verify) as (url, _):
        with httpx.Client(verify=verify, http2=True, timeout=5) as client:
            response = client.get(url + "/")
        assert response.json()["scheme"] == "https"
        assert response.http_version == "HTTP/2"


def test_log_config_naming_fasthttpd_loggers_routes_the_access_log(tmp_path):
    write_project(tmp_path)
    access = tmp_path / "access.log"
    (tmp_path / "log.json").write_text(json.dumps({
        "version": 1,
        "formatters": {"plain": {"format": "ACCESS %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(access),
                              "formatter": "plain"}},
        "loggers": {"fasthttpd.access": {"handlers": ["file"], "level": "INFO",
                                         "propagate": False}},
    }))
    port = free_port()
    with fasthttpd(f"main:app --port {port} --log-config log.json", tmp_path,
                   port) as (url, log_path):
        httpx.get(url + "/from-the-test", timeout=5)
        deadline = time.monotonic() + 5
        while "/from-the-test" not in access.read_text():
            assert time.monotonic() < deadline, access.read_text()
            time.sleep(0.05)
    log = log_path.read_text()
    assert "running the app 'main:app'" in log  # the error log was left where it was
    assert "uvicorn's loggers" not in log


def test_factory_without_the_flag_is_served_with_a_warning(tmp_path):
    # uvicorn calls an app that takes no arguments as a factory (and warns about it).
    write_project(tmp_path)
    port = free_port()
    with fasthttpd(f"main:create_app --port {port}", tmp_path, port) as (url, log_path):
        assert httpx.get(url + "/", timeout=5).json()["version"] == "one"
    assert "'main:create_app' takes no arguments: called it as an application factory" \
        in log_path.read_text()
