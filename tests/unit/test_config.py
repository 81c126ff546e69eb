"""Settings: parsing from text, the environment, validation, and the README's table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from fasthttpd.config import (
    Config,
    env_name,
    fields_of,
    flag_name,
    from_environment,
    markdown_table,
    parse_value,
    update_readme,
    validate,
    value_type,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_options_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- options:start -->\n(.*?)\n<!-- options:end -->", text, re.S)
    assert match, "README.md has no options section between the markers"
    assert match.group(1).strip() == markdown_table(), (
        "README options table is stale: run `python -m fasthttpd.config --update-readme`")


def test_every_field_has_a_table_row_with_flag_env_and_help():
    table = markdown_table()
    for f in fields_of():
        assert f.metadata["help"], f.name
        assert f"`{env_name(f.name)}`" in table
        if f.name != "app":
            assert f"`{flag_name(f.name)}`" in table


def test_names_are_derived_from_the_field():
    assert flag_name("timeout_keep_alive") == "--timeout-keep-alive"
    assert env_name("timeout_keep_alive") == "FASTHTTPD_TIMEOUT_KEEP_ALIVE"


@pytest.mark.parametrize("name, raw, expected", [
    ("port", "8080", 8080),
    ("port", " 8080 ", 8080),
    ("timeout_keep_alive", "2.5", 2.5),
    ("timeout_keep_alive", "3", 3.0),
    ("reload", "yes", True),
    ("reload", "ON", True),
    ("reload", "1", True),
    ("reload", "false", False),
    ("reload", "0", False),
    ("uds", "none", None),
    ("uds", "", None),
    ("uds", "/tmp/app.sock", "/tmp/app.sock"),
    ("fd", "3", 3),
    ("fd", "None", None),
    ("host", "::", "::"),
])
def test_parse_value_converts_to_the_field_type(name, raw, expected):
    value = parse_value(name, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("name, raw, message", [
    ("port", "eighty", "expected an integer, got 'eighty'"),
    ("port", "80.5", "expected an integer, got '80.5'"),
    ("port", "", "expected an integer, got ''"),
    ("timeout_keep_alive", "soon", "expected a number, got 'soon'"),
    ("timeout_keep_alive", "inf", "expected a number, got 'inf'"),
    ("timeout_keep_alive", "nan", "expected a number, got 'nan'"),
    ("reload", "maybe", "expected true or false, got 'maybe'"),
    ("fd", "stdin", "expected an integer, got 'stdin'"),
])
def test_parse_value_rejects_text_of_the_wrong_type(name, raw, message):
    with pytest.raises(ValueError) as info:
        parse_value(name, raw)
    assert str(info.value) == message


def test_from_environment_reads_only_prefixed_fields():
    environ = {"FASTHTTPD_PORT": "9001", "FASTHTTPD_ACCESS_LOG": "off",
               "FASTHTTPD_HOST": "::1", "PORT": "1", "FASTHTTPD_NOT_A_SETTING": "x"}
    assert from_environment(environ) == {"port": 9001, "access_log": False, "host": "::1"}


def test_from_environment_names_the_bad_variable():
    with pytest.raises(ValueError) as info:
        from_environment({"FASTHTTPD_BACKLOG": "lots"})
    assert str(info.value) == "FASTHTTPD_BACKLOG: expected an integer, got 'lots'"


def test_every_field_can_come_from_the_environment():
    samples = {bool: "true", int: "7", float: "1.5", str: "text"}
    for f in fields_of():
        raw = samples[value_type(f.name)]
        values = from_environment({env_name(f.name): raw})
        assert list(values) == [f.name]


def test_defaults_are_valid():
    validate(Config())


@pytest.mark.parametrize("changes, message", [
    ({"port": 70000}, "--port: 70000 is not a port number"),
    ({"loop": "trio"}, "--loop: 'trio' is not one of auto, uvloop, asyncio"),
    ({"timeout_keep_alive": 0.0}, "--timeout-keep-alive: must be positive"),
    ({"limit_concurrency": -1}, "--limit-concurrency: must be 0 or more"),
    ({"backlog": 0}, "--backlog: must be at least 1"),
    ({"workers": 0}, "--workers: must be at least 1"),
    ({"uds": "/tmp/x.sock", "fd": 3}, "--uds and --fd exclude each other: give one"),
    ({"fd": -1}, "--fd: -1 is not a file descriptor"),
    ({"host": " "}, "--host: must not be empty (use 0.0.0.0 or :: for every address)"),
    ({"ssl_keyfile": "key.pem"}, "--ssl-keyfile needs --ssl-certfile"),
    ({"ssl_certfile": "/nonexistent/cert.pem"}, "--ssl-certfile: no such file: "
                                                "/nonexistent/cert.pem"),
    ({"app_dir": "/nonexistent/dir"}, "--app-dir: no such directory: /nonexistent/dir"),
    ({"access_log_format": "%(nope)s"}, "--access-log-format: unknown field 'nope'"),
    ({"access_log_format": "%(status)d %"}, "--access-log-format: incomplete format"),
])
def test_validate_explains_the_first_problem_in_one_line(changes, message):
    config = dataclasses.replace(Config(), **changes)
    with pytest.raises(ValueError) as info:
        validate(config)
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_markdown_table_shows_choices_and_both_boolean_flags():
    rows = {line.split("|")[2].strip(): line for line in markdown_table().splitlines()[2:]}
    assert "(auto, on, off)" in rows["`FASTHTTPD_LIFESPAN`"]
    assert "`--access-log`, `--no-access-log`" in rows["`FASTHTTPD_ACCESS_LOG`"]
    assert "`8000`" in rows["`FASTHTTPD_PORT`"]


def test_update_readme_rewrites_only_the_options_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\n<!-- options:start -->\nold table\n<!-- options:end -->\n"
                      "\n## after\n", encoding="utf-8")
    assert update_readme(str(readme)) is True
    text = readme.read_text(encoding="utf-8")
    assert text == ("# title\n\n<!-- options:start -->\n" + markdown_table()
                    + "\n<!-- options:end -->\n\n## after\n")
    assert update_readme(str(readme)) is False


@pytest.mark.parametrize("changes, flag", [
    ({"h2_initial_window_size": 2**31}, "--h2-initial-window-size"),
    ({"h2_connection_window_size": 0}, "--h2-connection-window-size"),
    ({"h2_max_resets_per_second": 0}, "--h2-max-resets-per-second"),
    ({"h2_send_timeout": 0}, "--h2-send-timeout"),
    ({"worker_heartbeat_interval": 5.0, "worker_heartbeat_timeout": 5.0},
     "--worker-heartbeat-timeout"),
    ({"worker_crash_limit": 0}, "--worker-crash-limit"),
])
def test_http2_and_worker_settings_are_range_checked(changes, flag):
    config = dataclasses.replace(Config(), **changes)
    with pytest.raises(ValueError, match=flag):
        validate(config)
