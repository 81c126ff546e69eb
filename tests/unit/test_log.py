"""Logging setup and access log lines, as they appear on stdout and stderr."""

from __future__ import annotations

import dataclasses
import json
import logging
import re

import pytest

from fasthttpd.config import Config
from fasthttpd.log import TRACE, AccessLog, check_access_log_format, configure_logging

REQUEST = dict(client="127.0.0.1:50123", method="GET", path="/items", query="page=2",
               http_version="1.1", status=200, size=13, duration=0.00125,
               user_agent="curl/8.5.0", referer="http://example.com/")


def config(**changes) -> Config:
    return dataclasses.replace(Config(), **changes)


def test_error_log_goes_to_stderr_with_time_and_level(capsys):
    configure_logging(config())
    logging.getLogger("fasthttpd.error").warning("disk %s", "full")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} WARNING disk full\n",
                        captured.err)


def test_level_filters_messages(capsys):
    configure_logging(config(log_level="warning"))
    error_log = logging.getLogger("fasthttpd.error")
    error_log.info("hidden")
    error_log.error("shown")
    assert "hidden" not in capsys.readouterr().err


def test_trace_level_is_below_debug(capsys):
    configure_logging(config(log_level="trace"))
    logging.getLogger("fasthttpd.error").log(TRACE, "bytes in")
    assert " TRACE bytes in" in capsys.readouterr().err
    configure_logging(config(log_level="debug"))
    logging.getLogger("fasthttpd.error").log(TRACE, "bytes in")
    assert capsys.readouterr().err == ""


def test_configuring_twice_does_not_duplicate_lines(capsys):
    configure_logging(config())
    configure_logging(config())
    logging.getLogger("fasthttpd.error").warning("once")
    assert capsys.readouterr().err.count("once") == 1


def test_handlers_added_by_the_user_are_kept():
    user_handler = logging.NullHandler()
    logging.getLogger("fasthttpd.error").addHandler(user_handler)
    configure_logging(config())
    assert user_handler in logging.getLogger("fasthttpd.error").handlers


def test_access_line_in_the_default_format_goes_to_stdout(capsys):
    configure_logging(config())
    AccessLog(config()).log(**REQUEST)
    captured = capsys.readouterr()
    assert captured.err == ""
    line = captured.out
    assert line.endswith(' 127.0.0.1:50123 - "GET /items HTTP/1.1" 200 13 1.2ms\n')
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", line)


def test_custom_format_uses_every_documented_field(capsys):
    line_format = ("%(client)s|%(method)s|%(path)s|%(query)s|%(http_version)s|%(status)d|"
                   "%(bytes)d|%(duration_ms).3f|%(user_agent)s|%(referer)s")
    configure_logging(config())
    AccessLog(config(access_log_format=line_format)).log(**REQUEST)
    assert capsys.readouterr().out.split(" ", 2)[2] == (
        "127.0.0.1:50123|GET|/items|page=2|1.1|200|13|1.250|curl/8.5.0|http://example.com/\n")


def test_json_lines(capsys):
    settings = config(access_log_json=True)
    configure_logging(settings)
    access_log = AccessLog(settings)
    access_log.log(**REQUEST)
    access_log.log(**{**REQUEST, "path": '/quote"d', "status": 404})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first.pop("time"))
    assert first == {"client": "127.0.0.1:50123", "method": "GET", "path": "/items",
                     "query": "page=2", "http_version": "1.1", "status": 200, "bytes": 13,
                     "duration_ms": 1.25, "user_agent": "curl/8.5.0",
                     "referer": "http://example.com/"}
    assert second["path"] == '/quote"d' and second["status"] == 404


def test_control_characters_in_the_path_cannot_split_the_line(capsys):
    configure_logging(config())
    AccessLog(config()).log(**{**REQUEST, "path": "/a\nfake line"})
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "/a\\nfake line" in out


def test_disabled_access_log_writes_nothing(capsys):
    settings = config(access_log=False)
    configure_logging(settings)
    AccessLog(settings).log(**REQUEST)
    assert capsys.readouterr().out == ""


def test_access_log_is_silent_above_info(capsys):
    settings = config(log_level="warning")
    configure_logging(settings)
    AccessLog(settings).log(**REQUEST)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("line_format, message", [
    ("%(host)s", "--access-log-format: unknown field 'host'; known fields: client, method"),
    ("%(status)d %", "--access-log-format: incomplete format"),
    ("%(method)d", "--access-log-format: %d format: a real number is required, not str"),
])
def test_invalid_format_is_a_one_line_error(line_format, message):
    with pytest.raises(ValueError) as info:
        check_access_log_format(line_format)
    assert str(info.value).startswith(message)
    with pytest.raises(ValueError):
        AccessLog(config(access_log_format=line_format))


def test_user_handlers_on_the_access_logger_receive_the_lines(capsys):
    configure_logging(config())
    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("fasthttpd.access").addHandler(collector)
    AccessLog(config()).log(**REQUEST)
    assert [record.getMessage() for record in records] == [
        '127.0.0.1:50123 - "GET /items HTTP/1.1" 200 13 1.2ms']
    assert capsys.readouterr().out.endswith('"GET /items HTTP/1.1" 200 13 1.2ms\n')


def test_lines_written_directly_and_through_logging_look_the_same(capsys):
    configure_logging(config())
    AccessLog(config()).log(**REQUEST)
    direct = capsys.readouterr().out
    logging.getLogger("fasthttpd.access").addFilter(lambda record: True)  # forces logging
    try:
        AccessLog(config()).log(**REQUEST)
    finally:
        logging.getLogger("fasthttpd.access").filters.clear()
    via_logging = capsys.readouterr().out
    timestamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "
    assert re.sub(timestamp, "", direct) == re.sub(timestamp, "", via_logging) != ""
    assert re.match(timestamp, direct) and re.match(timestamp, via_logging)


# --log-config and --use-colors (uvicorn's options).

def test_log_config_json_is_applied_on_top(tmp_path, capsys):
    log_file = tmp_path / "server.log"
    path = tmp_path / "logging.json"
    path.write_text(json.dumps({
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "[%(name)s] %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(log_file),
                              "formatter": "plain"}},
        "loggers": {"fasthttpd.error": {"handlers": ["file"], "level": "DEBUG",
                                        "propagate": False}},
    }))
    configure_logging(config(log_config=str(path)))
    logging.getLogger("fasthttpd.error").debug("to the file")
    for handler in logging.getLogger("fasthttpd.error").handlers:
        handler.flush()
    assert log_file.read_text() == "[fasthttpd.error] DEBUG to the file\n"
    assert capsys.readouterr().err == ""  # the config replaced the stderr handler


def test_log_config_ini_is_file_config(tmp_path, capsys):
    path = tmp_path / "logging.ini"
    path.write_text(
        "[loggers]\nkeys=root,error\n[handlers]\nkeys=out\n[formatters]\nkeys=short\n"
        "[logger_root]\nhandlers=\n[logger_error]\nqualname=fasthttpd.error\nhandlers=out\n"
        "level=WARNING\npropagate=0\n"
        "[handler_out]\nclass=StreamHandler\nargs=(sys.stdout,)\nformatter=short\n"
        "[formatter_short]\nformat=INI %(levelname)s %(message)s\n")
    configure_logging(config(log_config=str(path)))
    logging.getLogger("fasthttpd.error").info("hidden")
    logging.getLogger("fasthttpd.error").warning("shown")
    assert capsys.readouterr().out == "INI WARNING shown\n"


def test_log_config_yaml(tmp_path, capsys):
    path = tmp_path / "logging.yaml"
    path.write_text(
        "version: 1\ndisable_existing_loggers: false\n"
        "formatters: {short: {format: 'YAML %(message)s'}}\n"
        "handlers: {out: {class: logging.StreamHandler, stream: ext://sys.stdout, "
        "formatter: short}}\n"
        "loggers: {fasthttpd.access: {handlers: [out], level: INFO, propagate: false}}\n")
    configure_logging(config(log_config=str(path)))
    logging.getLogger("fasthttpd.access").info("a line")
    assert capsys.readouterr().out == "YAML a line\n"


def test_log_config_yaml_without_pyyaml_says_so(tmp_path, monkeypatch):
    path = tmp_path / "logging.yml"
    path.write_text("version: 1\n")
    monkeypatch.setitem(__import__("sys").modules, "yaml", None)  # import yaml fails
    with pytest.raises(ValueError) as info:
        configure_logging(config(log_config=str(path)))
    assert str(info.value) == (f"--log-config: {path} is YAML, which needs PyYAML: "
                               "pip install pyyaml")


def test_broken_log_config_is_one_line(tmp_path):
    path = tmp_path / "logging.json"
    path.write_text('{"version": 1, "handlers": {"x": {"class": "no.such.Handler"}}}')
    with pytest.raises(ValueError) as info:
        configure_logging(config(log_config=str(path)))
    assert str(info.value).startswith(f"--log-config: cannot apply {path}: ")
    assert "\n" not in str(info.value)


def test_use_colors_colors_the_level_name(capsys):
    configure_logging(config(use_colors=True))
    logging.getLogger("fasthttpd.error").warning("careful")
    assert "\x1b[33mWARNING\x1b[0m careful" in capsys.readouterr().err
    configure_logging(config(use_colors=False))
    logging.getLogger("fasthttpd.error").warning("careful")
    assert " WARNING careful" in capsys.readouterr().err
    # Not set: colors only on a terminal, and pytest's capture is not one.
    configure_logging(config())
    logging.getLogger("fasthttpd.error").warning("careful")
    assert "\x1b[" not in capsys.readouterr().err


UVICORN_STYLE_JSON = {  # as uvicorn users write them: disable_existing_loggers left out
    "version": 1,
    "formatters": {"default": {"format": "%(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default",
                             "stream": "ext://sys.stderr"}},
    "loggers": {"uvicorn": {"handlers": ["console"], "level": "INFO"},
                "uvicorn.access": {"handlers": ["console"], "level": "INFO",
                                   "propagate": False}},
}


def test_dict_log_config_naming_other_loggers_does_not_silence_fasthttpd(tmp_path, capsys):
    # dictConfig disables the loggers that exist and that the file does not name;
    # fasthttpd's own would go silent, app errors included.
    path = tmp_path / "log.json"
    path.write_text(json.dumps(UVICORN_STYLE_JSON))
    configure_logging(config(log_config=str(path)))
    logging.getLogger("fasthttpd.error").error("an app error")
    assert "ERROR an app error" in capsys.readouterr().err


def test_log_config_of_uvicorn_loggers_only_is_warned_about(tmp_path):
    from fasthttpd.log import uvicorn_loggers_warning

    path = tmp_path / "log.json"
    path.write_text(json.dumps(UVICORN_STYLE_JSON))
    warning = uvicorn_loggers_warning(str(path))
    assert warning is not None
    assert "uvicorn, uvicorn.access" in warning and "'fasthttpd.access'" in warning
    ini = tmp_path / "log.ini"
    ini.write_text("[loggers]\nkeys=root,access\n[logger_root]\nhandlers=\n"
                   "[logger_access]\nqualname=uvicorn.access\nhandlers=\n")
    assert "(uvicorn.access)" in str(uvicorn_loggers_warning(str(ini)))
    # A file that names fasthttpd's loggers too is taken as meant for fasthttpd.
    both = dict(UVICORN_STYLE_JSON, loggers={"uvicorn": {}, "fasthttpd.error": {}})
    path.write_text(json.dumps(both))
    assert uvicorn_loggers_warning(str(path)) is None
