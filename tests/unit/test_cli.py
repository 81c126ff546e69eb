"""The command line, in process: flags, environment, precedence, errors; and the demo app."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from fasthttpd import __version__, demo
from fasthttpd.cli import build_parser, config_from_command_line, main
from fasthttpd.config import Config, env_name, fields_of, flag_name, value_type


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The tests set FASTHTTPD_* themselves; none may leak in from the shell."""
    for name in list(os.environ):
        if name.startswith("FASTHTTPD_") and name != "FASTHTTPD_NO_EXTENSIONS":
            monkeypatch.delenv(name)


def usage_error(capsys, argv: list[str]) -> str:
    """Run the command expecting a usage error; return its single stderr line."""
    with pytest.raises(SystemExit) as info:
        config_from_command_line(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("fasthttpd: error: ")
    return captured.err.removeprefix("fasthttpd: error: ").rstrip("\n")


# Flags and environment variables.

def test_no_arguments_gives_the_defaults_and_the_demo_app():
    assert config_from_command_line([]) == Config()
    assert Config().app == "fasthttpd.demo:app"


def test_every_field_has_a_flag_and_its_env_var_is_in_the_help():
    help_text = build_parser().format_help()
    for field in fields_of():
        if field.name != "app":
            assert flag_name(field.name) in help_text
        assert env_name(field.name) in help_text


def test_every_field_can_be_set_by_flag():
    samples = {int: "7", float: "1.5", str: "text"}
    for field in fields_of():
        kind = value_type(field.name)
        if field.name == "app":
            argv = ["pkg:app"]
        elif kind is bool:
            argv = [flag_name(field.name) if not field.default
                    else "--no-" + flag_name(field.name)[2:]]
        elif field.metadata.get("choices"):
            argv = [flag_name(field.name), field.metadata["choices"][-1]]
        else:
            argv = [flag_name(field.name), samples[kind]]
        parsed = vars(build_parser().parse_args(argv))
        assert list(parsed) == [field.name], argv
        assert parsed[field.name] != field.default, argv


def test_app_is_positional():
    assert config_from_command_line(["main:app", "--port", "9000"]).app == "main:app"


def test_boolean_flags_have_a_negative_form():
    assert config_from_command_line(["--no-access-log"]).access_log is False
    assert config_from_command_line(["--access-log"]).access_log is True
    assert config_from_command_line(["--factory"]).factory is True


def test_numbers_and_optional_values():
    config = config_from_command_line(["--port", "0", "--timeout-keep-alive", "0.5",
                                       "--fd", "3", "--admin-port", "none"])
    assert (config.port, config.timeout_keep_alive, config.fd, config.admin_port) == (
        0, 0.5, 3, None)


def test_environment_sets_values(monkeypatch):
    monkeypatch.setenv("FASTHTTPD_PORT", "9100")
    monkeypatch.setenv("FASTHTTPD_ACCESS_LOG", "false")
    monkeypatch.setenv("FASTHTTPD_APP", "env_module:app")
    config = config_from_command_line([])
    assert (config.port, config.access_log, config.app) == (9100, False, "env_module:app")


def test_flag_wins_over_environment_which_wins_over_default(monkeypatch):
    monkeypatch.setenv("FASTHTTPD_PORT", "9100")
    monkeypatch.setenv("FASTHTTPD_HOST", "::1")
    monkeypatch.setenv("FASTHTTPD_ACCESS_LOG", "false")
    config = config_from_command_line(["--port", "9200", "--access-log", "cli:app"])
    assert config.port == 9200  # flag
    assert config.host == "::1"  # environment
    assert config.access_log is True  # flag, overriding a false environment value
    assert config.backlog == Config().backlog  # default
    assert config.app == "cli:app"


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"fasthttpd {__version__} ")


# Usage errors: one line on stderr, exit code 2.

def test_bad_integer(capsys):
    assert usage_error(capsys, ["--port", "http"]) == (
        "argument --port: expected an integer, got 'http'")


def test_bad_number(capsys):
    assert usage_error(capsys, ["--timeout-keep-alive", "long"]) == (
        "argument --timeout-keep-alive: expected a number, got 'long'")


def test_bad_choice(capsys):
    assert usage_error(capsys, ["--lifespan", "maybe"]).startswith(
        "argument --lifespan: invalid choice: 'maybe'")


def test_unknown_flag(capsys):
    assert usage_error(capsys, ["--prot", "80"]).startswith("unrecognized arguments")


def test_missing_flag_value(capsys):
    assert usage_error(capsys, ["--port"]) == "argument --port: expected one argument"


def test_bad_environment_variable(capsys, monkeypatch):
    monkeypatch.setenv("FASTHTTPD_WORKERS", "many")
    assert usage_error(capsys, []) == "FASTHTTPD_WORKERS: expected an integer, got 'many'"


def test_bad_environment_variable_is_reported_even_when_the_flag_is_given(capsys, monkeypatch):
    # A broken environment is a deployment bug worth surfacing, not silently shadowing.
    monkeypatch.setenv("FASTHTTPD_PORT", "eighty")
    assert usage_error(capsys, ["--port", "80"]).startswith("FASTHTTPD_PORT:")


def test_invalid_value(capsys):
    assert usage_error(capsys, ["--port", "99999"]) == "--port: 99999 is not a port number"


def test_invalid_access_log_format(capsys):
    assert usage_error(capsys, ["--access-log-format", "%(nope)s"]).startswith(
        "--access-log-format: unknown field 'nope'")


def test_conflicting_flags(capsys):
    assert usage_error(capsys, ["--uds", "/tmp/a.sock", "--fd", "3"]) == (
        "--uds and --fd exclude each other: give one")


# Runtime errors: one line on stderr, exit code 1.

def test_wrong_app_path_exits_1_with_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no_such_module_for_cli_test:app"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("fasthttpd: error: module 'no_such_module_for_cli_test' not found")
    assert err.count("\n") == 1


def test_app_without_colon_exits_1(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fasthttpd.demo"])
    assert info.value.code == 1
    assert capsys.readouterr().err.startswith('fasthttpd: error: APP must be "module:attribute"')


# The demo app, called directly as an ASGI server would.

def call_demo(path: str, method: str = "GET", body_parts: tuple[bytes, ...] = (),
              http_version: str = "1.1") -> tuple[int, dict[bytes, bytes], bytes, int]:
    """Run one request through demo.app; returns status, headers, body, body messages."""
    incoming = [{"type": "http.request", "body": part, "more_body": i < len(body_parts) - 1}
                for i, part in enumerate(body_parts or (b"",))]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": http_version,
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"example.test")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    asyncio.run(demo.app(scope, receive, send))
    start, bodies = sent[0], sent[1:]
    assert start["type"] == "http.response.start"
    assert all(m["type"] == "http.response.body" for m in bodies)
    assert not bodies[-1].get("more_body", False)
    return (start["status"], dict(start["headers"]), b"".join(m["body"] for m in bodies),
            len(bodies))


def test_demo_home_page_names_the_protocol():
    status, headers, body, _ = call_demo("/")
    assert status == 200 and headers[b"content-type"].startswith(b"text/html")
    assert b"fasthttpd works" in body and b"HTTP/1.1" in body
    assert b'href="/hello"' in body
    assert b"HTTP/2" in call_demo("/", http_version="2")[2]


def test_demo_hello():
    assert call_demo("/hello")[:3] == (200, {b"content-type": b"text/plain; charset=utf-8",
                                             b"content-length": b"13"}, b"Hello, world!")


def test_demo_json():
    status, headers, body, _ = call_demo("/json")
    assert status == 200 and headers[b"content-type"] == b"application/json"
    assert json.loads(body)["server"] == "fasthttpd"


def test_demo_echo_sends_every_part_back():
    status, _, body, messages = call_demo("/echo", "POST", (b"one ", b"two ", b"three"))
    assert (status, body, messages) == (200, b"one two three", 3)


def test_demo_echo_wants_post():
    status, headers, body, _ = call_demo("/echo")
    assert status == 405 and headers[b"allow"] == b"POST"
    assert int(headers[b"content-length"]) == len(body)


def test_demo_stream_has_several_chunks():
    status, _, body, messages = call_demo("/stream")
    assert status == 200 and messages > 3
    assert body.decode().splitlines() == [f"chunk {n}" for n in range(1, demo.STREAM_CHUNKS + 1)]


def test_demo_unknown_path():
    assert call_demo("/nope")[0] == 404


def test_demo_lifespan_completes_startup_and_shutdown():
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(demo.app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                          receive, send), timeout=5))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                         "lifespan.shutdown.complete"]
