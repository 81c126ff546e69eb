"""A uvicorn 0.54 command line works with only the program name changed (issue 10 item 8).

The first test walks every option of the installed uvicorn's own `--help`: each one,
with each of its choices, is either accepted by fasthttpd's parser or refused with one
line that names what to use instead. The others check what the accepted ones mean.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fasthttpd.cli import config_from_command_line, with_boolean_values
from fasthttpd.config import REFUSED_VALUES, Config, normalize, validate

HELP_OPTION = re.compile(r"^  (--[a-z0-9-]+)(?: / (--[a-z0-9-]+))?(?: (\[[^\]]*\]|[A-Z]+))?")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("FASTHTTPD_") and name != "FASTHTTPD_NO_EXTENSIONS":
            monkeypatch.delenv(name)
    for name in ("WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)


def uvicorn_options() -> list[tuple[str, str | None, str, str | None]]:
    """(flag, its --no- form, value kind or "[a|b]" choices or "", default) from --help."""
    result = subprocess.run([sys.executable, "-m", "uvicorn", "--help"], capture_output=True,
                            text=True, timeout=60, check=True)
    text = result.stdout
    assert "Usage:" in text and "--header" in text, text
    options = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = HELP_OPTION.match(line)
        if not match:
            continue
        flag, negative, kind = match.group(1), match.group(2), match.group(3) or ""
        # An option's help runs until the next option; its default is in there.
        end = index + 1
        while end < len(lines) and not lines[end].startswith("  --"):
            end += 1
        help_text = " ".join(lines[index:end])
        default = re.search(r"\[default:\s*([^\]]*)\]", help_text)
        options.append((flag, negative, kind, default.group(1).strip() if default else None))
    return options


def sample_invocations(flag: str, kind: str, default: str | None, tmp_path: Path,
                       ) -> list[list[str]]:
    """Command lines using the flag with plausible values (each choice for a choice)."""
    a_file = tmp_path / "file"
    a_file.write_text("")
    if kind.startswith("["):
        return [[flag, choice] for choice in kind.strip("[]").split("|")]
    if kind == "":
        return [[flag]]
    special = {
        "--header": "X-Served-By: fasthttpd",
        "--reload-dir": str(tmp_path), "--app-dir": str(tmp_path),
        "--uds": str(tmp_path / "sock"), "--reload-include": "*.html",
        "--reload-exclude": "tests/*", "--forwarded-allow-ips": "*",
        "--root-path": "/api", "--ssl-ciphers": "ECDHE+AESGCM", "--host": "127.0.0.1",
    }
    if flag in special:
        value = special[flag]
    elif kind == "PATH" or flag.startswith("--ssl-") and kind == "TEXT" and "file" in flag \
            or flag == "--ssl-ca-certs":
        value = str(a_file)
    elif default not in (None, '""'):
        value = default
    else:
        value = {"INTEGER": "2", "FLOAT": "1.5", "BOOLEAN": "false", "TEXT": "text"}[kind]
    companions = ["--ssl-certfile", str(a_file)] if flag == "--ssl-keyfile" else []
    return [[flag, value, *companions]]


def test_every_uvicorn_option_is_accepted_or_refused_with_one_line(tmp_path, capsys):
    options = uvicorn_options()
    assert len(options) > 50, options  # the parse found them all
    accepted, refused = [], []
    for flag, negative, kind, default in options:
        invocations = sample_invocations(flag, kind, default, tmp_path)
        if negative:
            invocations.append([negative])
        for args in invocations:
            argv = ["main:app", *args]
            try:
                config_from_command_line(argv)
            except SystemExit as exit_:
                captured = capsys.readouterr()
                if args[0] in ("--help", "--version"):
                    assert exit_.code == 0
                    accepted.append(args)
                    continue
                lines = captured.err.splitlines()
                assert exit_.code == 2 and len(lines) == 1, (argv, captured.err)
                assert lines[0].startswith("fasthttpd: error: ") and " use " in lines[0], \
                    (argv, lines)
                refused.append((args, lines[0]))
            else:
                accepted.append(args)
    refused_values = {args[1] for args, _line in refused}
    # What fasthttpd refuses on purpose, and nothing else.
    assert refused_values == {value for (_name, value) in REFUSED_VALUES}, refused
    assert ["--http", "h11"] in accepted and ["--ws", "wsproto"] in accepted


def parse(*args: str) -> Config:
    return config_from_command_line(["main:app", *args])


def test_http_implementations_are_all_the_http1_core():
    assert parse("--http", "h11").http == "1"
    assert parse("--http", "httptools").http == "1"
    assert parse("--http", "zttp", "--http2").http == "auto"
    assert parse("--http", "auto").http == "auto"
    assert parse("--http", "2").http == "2"


def test_boolean_with_a_value_as_click_spells_it():
    assert parse("--ws-per-message-deflate", "false").ws_per_message_deflate is False
    assert parse("--ws-per-message-deflate=true").ws_per_message_deflate is True
    assert parse("--no-access-log").access_log is False
    # A word that is not a boolean after a boolean flag stays where it is (the APP).
    assert config_from_command_line(["--reload", "main:app"]).app == "main:app"
    assert with_boolean_values(["--reload", "on", "x:y"]) == ["--reload", "x:y"]
    assert with_boolean_values(["--reload=no"]) == ["--no-reload"]


def test_repeatable_options_collect_every_value(tmp_path):
    config = parse("--header", "X-A: 1", "--header", "X-B:2, 3", "--reload-dir", str(tmp_path),
                   "--reload-include", "*.html", "--reload-include", "*.css")
    assert config.header == ["X-A: 1", "X-B:2, 3"]
    assert config.reload_dir == [str(tmp_path)]
    assert config.reload_include == ["*.html", "*.css"]


def test_header_from_the_environment_is_one_per_line(monkeypatch):
    monkeypatch.setenv("FASTHTTPD_HEADER", "X-A: 1, 2\nX-B: 3\n")
    assert parse().header == ("X-A: 1, 2", "X-B: 3")


@pytest.mark.parametrize("bad", ["no-colon", "Bad Name: x", "X-A: line\r\nbreak"])
def test_bad_header_is_one_line(capsys, bad):
    with pytest.raises(SystemExit) as info:
        parse("--header", bad)
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("fasthttpd: error: --header: ")


def test_server_or_date_header_replaces_the_default_one():
    config = parse("--header", "Server: edge")
    assert config.server_header is False and config.date_header is True
    assert parse("--header", "date: x").date_header is False


def test_worker_healthcheck_timeout_is_the_heartbeat_timeout():
    assert parse("--timeout-worker-healthcheck", "5").worker_heartbeat_timeout == 5.0
    assert parse().worker_heartbeat_timeout == Config().worker_heartbeat_timeout


def test_h11_max_incomplete_event_size_bounds_each_head_line():
    config = parse("--h11-max-incomplete-event-size", "4096")
    assert (config.limit_request_line, config.limit_request_field_size) == (4096, 4096)


@pytest.mark.parametrize("version, message", [
    (3, "asks for TLS 1.0 or 1.1"), (4, "asks for TLS 1.0 or 1.1"),
    (16, "is not a server protocol"),
])
def test_ssl_version_refuses_what_cannot_serve(version, message):
    with pytest.raises(ValueError, match=message):
        validate(normalize(Config(ssl_version=version)))


def test_uvicorn_environment_variables(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1")
    config = parse()
    assert (config.workers, config.forwarded_allow_ips) == (3, "10.0.0.1")
    monkeypatch.setenv("FASTHTTPD_WORKERS", "2")
    assert parse().workers == 2
    assert parse("--workers", "4").workers == 4


def test_env_file_is_loaded_before_anything_reads_the_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("FASTHTTPD_PORT=9123\nAPP_SETTING_XYZ=from-file\n"
                        "ALREADY_SET_XYZ=file\n")
    monkeypatch.setenv("ALREADY_SET_XYZ", "shell")
    monkeypatch.delenv("APP_SETTING_XYZ", raising=False)
    monkeypatch.delenv("FASTHTTPD_PORT", raising=False)
    config = parse("--env-file", str(env_file))
    assert config.port == 9123
    assert os.environ["APP_SETTING_XYZ"] == "from-file"
    assert os.environ["ALREADY_SET_XYZ"] == "shell"


def test_missing_env_file_or_log_config_is_one_line(capsys, tmp_path):
    for flag in ("--env-file", "--log-config"):
        with pytest.raises(SystemExit):
            parse(flag, str(tmp_path / "missing"))
        assert capsys.readouterr().err == (
            f"fasthttpd: error: {flag}: no such file: {tmp_path / 'missing'}\n")
