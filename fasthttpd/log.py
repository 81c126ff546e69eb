"""Logging: the server's error log and its access log.

Theory of operation: two loggers, "fasthttpd.error" (startup, shutdown, application
errors; to stderr) and "fasthttpd.access" (one line per response; to stdout, so the
two streams can be routed apart). `configure_logging(config)` installs one handler
on each, tagged so that calling it again replaces them instead of doubling every line;
handlers the user added are left alone. A "trace" level (5, below debug) is
registered for protocol-level detail.

`AccessLog` formats one line per response, either with the %-format of
`--access-log-format` or as a JSON object (`--access-log-json`). The server only
calls it when `--access-log` is on; it also checks once, at construction, whether the
access logger would emit anything, so a disabled access log costs one attribute test
per response.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from fasthttpd.config import Config

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

ERROR_LOGGER = "fasthttpd.error"
ACCESS_LOGGER = "fasthttpd.access"

LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}

# The names an access log format may use, with sample values for checking a format.
ACCESS_LOG_FIELDS: dict[str, Any] = {
    "client": "127.0.0.1:51000",
    "method": "GET",
    "path": "/",
    "query": "",
    "http_version": "1.1",
    "status": 200,
    "bytes": 13,
    "bytes_received": 0,
    "duration_ms": 0.25,
    "user_agent": "curl/8.0",
    "referer": "",
}

LINE_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(message)s"
ACCESS_LINE_FORMAT = "%(asctime)s.%(msecs)03d %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Marks the handlers this module installed, so reconfiguring replaces only those.
_OWN_HANDLER = "_fasthttpd_handler"


def configure_logging(config: Config) -> None:
    """Send the error log to stderr and the access log to stdout at config.log_level."""
    level = LEVELS[config.log_level]
    access_format = "%(message)s" if config.access_log_json else ACCESS_LINE_FORMAT
    install_handler(logging.getLogger(ERROR_LOGGER), sys.stderr, LINE_FORMAT, level)
    install_handler(logging.getLogger(ACCESS_LOGGER), sys.stdout, access_format, level)


def install_handler(logger: logging.Logger, stream: Any, line_format: str, level: int) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _OWN_HANDLER, False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(line_format, DATE_FORMAT))
    setattr(handler, _OWN_HANDLER, True)
    logger.addHandler(handler)
    logger.setLevel(level)
    # Our handler prints the line; letting it reach the root logger too would print
    # it twice wherever the application configured logging.
    logger.propagate = False


def check_access_log_format(line_format: str) -> None:
    """Raise ValueError (one line) when the format cannot render an access log line."""
    try:
        line_format % ACCESS_LOG_FIELDS
    except KeyError as exc:
        raise ValueError(f"--access-log-format: unknown field {exc.args[0]!r}; known fields: "
                         + ", ".join(ACCESS_LOG_FIELDS)) from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--access-log-format: {exc}") from None


class AccessLog:
    """Writes one access log line per response to the "fasthttpd.access" logger.

    When that logger has only the handler `configure_logging` installed (the usual
    case), lines are written to its stream directly, with the same layout: going
    through logging.Logger costs several times more than formatting the line, once per
    request. Any other setup (handlers or filters of the user's, set before the server
    starts) goes through the logging module as usual.
    """

    def __init__(self, config: Config) -> None:
        check_access_log_format(config.access_log_format)
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.line_format = config.access_log_format
        self.json = config.access_log_json
        self.enabled = config.access_log and self.logger.isEnabledFor(logging.INFO)
        self.stream = direct_stream(self.logger)
        self.clock = LineClock()

    def log(self, client: str, method: str, path: str, query: str, http_version: str,
            status: int, size: int, duration: float, user_agent: str, referer: str,
            received: int | None = None) -> None:
        """Log one response; `duration` is in seconds, `size` the body bytes sent
        (a WebSocket's line: every byte sent, and `received` every byte received)."""
        if not self.enabled:
            return
        if not path.isprintable():
            # A percent-decoded path can hold control characters (%0A); escape them so
            # one response stays one log line.
            path = path.encode("unicode_escape").decode("ascii")
        fields = {
            "client": client,
            "method": method,
            "path": path,
            "query": query,
            "http_version": http_version,
            "status": status,
            "bytes": size,
            "duration_ms": duration * 1000.0,
            "user_agent": user_agent,
            "referer": referer,
        }
        if received is not None or not self.json:  # JSON lines of HTTP requests keep their keys
            fields["bytes_received"] = received or 0
        if self.json:
            fields["time"] = iso_timestamp(time.time())
            line = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        else:
            line = self.line_format % fields
        stream = self.stream
        if stream is None:
            self.logger.info(line)
            return
        if not self.json:
            line = self.clock.prefix() + line
        stream.write(line + "\n")
        stream.flush()  # one line, one write: lines show up at once in `tail -f`


def direct_stream(logger: logging.Logger) -> Any:
    """The stream of our own handler when it is the logger's only way out, else None."""
    if len(logger.handlers) != 1 or logger.filters or logger.propagate:
        return None
    handler = logger.handlers[0]
    if not getattr(handler, _OWN_HANDLER, False) or handler.filters:
        return None
    if handler.level > logging.INFO:
        return None
    return getattr(handler, "stream", None)


class LineClock:
    """The "2026-11-05 14:03:07.123 " prefix of a line, as ACCESS_LINE_FORMAT writes it.

    The date and time part is formatted once per second, not once per line.
    """

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def prefix(self) -> str:
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.text = time.strftime(DATE_FORMAT, time.localtime(second))
        return f"{self.text}.{int((now - second) * 1000):03d} "


def iso_timestamp(seconds: float) -> str:
    """UTC time as ISO 8601 with milliseconds: "2026-11-05T14:03:07.123Z"."""
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
