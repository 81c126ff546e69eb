"""Logging: the server's error log and its access log.

Theory of operation: two loggers, "fasthttpd.error" (startup, shutdown, application
errors; to stderr) and "fasthttpd.access" (one line per response; to stdout, so the
two streams can be routed apart). `configure_logging(config)` installs one handler
on each, tagged so that calling it again replaces them instead of doubling every line;
handlers the user added are left alone. A "trace" level (5, below debug, as
uvicorn's) is registered for protocol detail: with `--log-level trace` the error log
also says when each connection is made (peer, TLS or not), which protocol serves it
and when it is lost (and by whom), and every ASGI message each HTTP request and
WebSocket receives and sends (type, status, sizes; never headers or body bytes).
`ServerState.trace` reads the level once at startup, so without it nothing is paid
per request.

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


def format_peer(address: Any) -> str:
    """A client address for a log line: "host:port", or "-" when there is none
    (a Unix socket)."""
    if address is None:
        return "-"
    return f"{address[0]}:{address[1]}"


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
    """Send the error log to stderr and the access log to stdout at config.log_level.

    Then --log-config, when given, is applied on top (as uvicorn does): it may replace
    these handlers, add its own, or configure other loggers. Raises ValueError (one
    line) when that file cannot be applied.
    """
    level = LEVELS[config.log_level]
    access_format = "%(message)s" if config.access_log_json else ACCESS_LINE_FORMAT
    colors = config.use_colors
    if colors is None:
        colors = is_terminal(sys.stderr)
    install_handler(logging.getLogger(ERROR_LOGGER), sys.stderr, LINE_FORMAT, level,
                    colors=colors)
    install_handler(logging.getLogger(ACCESS_LOGGER), sys.stdout, access_format, level)
    if config.log_config:
        apply_log_config(config.log_config)


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def apply_log_config(path: str) -> None:
    """dictConfig from .json, .yaml or .yml; fileConfig (INI) from anything else.

    fasthttpd's own two loggers stay enabled unless the file names them: they exist
    only because configure_logging set them up a moment before, so dictConfig's
    `disable_existing_loggers` (true unless the file says otherwise, and a uvicorn
    log config rarely says otherwise) would otherwise silence every startup line, app
    error and access line.
    """
    import logging.config

    try:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as file:
                logging.config.dictConfig(json.load(file))
        elif path.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise ValueError(f"--log-config: {path} is YAML, which needs PyYAML: "
                                 "pip install pyyaml") from None
            with open(path, encoding="utf-8") as file:
                logging.config.dictConfig(yaml.safe_load(file))
        else:
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except ValueError as exc:
        if str(exc).startswith("--log-config"):
            raise
        raise ValueError(f"--log-config: cannot apply {path}: {exc}") from None
    except Exception as exc:  # json, yaml, configparser and the logging module's errors
        raise ValueError(f"--log-config: cannot apply {path}: {type(exc).__name__}: "
                         f"{exc}") from None
    for name in (ERROR_LOGGER, ACCESS_LOGGER):
        logging.getLogger(name).disabled = False


def uvicorn_loggers_warning(path: str) -> str | None:
    """A warning when the --log-config file configures uvicorn's loggers and not ours.

    A uvicorn user's file routes "uvicorn.error" and "uvicorn.access"; fasthttpd logs
    to "fasthttpd.error" and "fasthttpd.access", so such a file would change nothing
    without a word. The names are not mapped: uvicorn's formatters read fields of
    uvicorn's own log records that fasthttpd's records do not have.
    """
    names = configured_logger_names(path)
    uvicorn = sorted(n for n in names if n == "uvicorn" or n.startswith("uvicorn."))
    if not uvicorn or any(n == "fasthttpd" or n.startswith("fasthttpd.") for n in names):
        return None
    return (f"--log-config {path} configures uvicorn's loggers ({', '.join(uvicorn)}) and "
            f"none of fasthttpd's: fasthttpd logs to {ERROR_LOGGER!r} and {ACCESS_LOGGER!r}; "
            "rename the loggers in the file for it to apply to them")


def configured_logger_names(path: str) -> set[str]:
    """Logger names a logging config file configures (empty when it cannot be read)."""
    try:
        if path.endswith((".json", ".yaml", ".yml")):
            with open(path, encoding="utf-8") as file:
                if path.endswith(".json"):
                    data = json.load(file)
                else:
                    import yaml

                    data = yaml.safe_load(file)
            loggers = data.get("loggers") if isinstance(data, dict) else None
            return {str(name) for name in loggers} if isinstance(loggers, dict) else set()
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
        keys = [k.strip() for k in parser.get("loggers", "keys", fallback="").split(",")]
        return {parser.get(f"logger_{key}", "qualname", fallback=key) for key in keys if key}
    except Exception:  # the file was applied already; this is only a hint
        return set()


class ColorFormatter(logging.Formatter):
    """Level names in color (ANSI escapes), for --use-colors and terminals."""

    COLORS = {logging.CRITICAL: "\x1b[91m", logging.ERROR: "\x1b[31m",
              logging.WARNING: "\x1b[33m", logging.INFO: "\x1b[32m",
              logging.DEBUG: "\x1b[36m", TRACE: "\x1b[34m"}

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        color = self.COLORS.get(record.levelno)
        if color is None:
            return super().formatMessage(record)
        plain = record.levelname
        record.levelname = f"{color}{plain}\x1b[0m"
        try:
            return super().formatMessage(record)
        finally:
            record.levelname = plain


def implementation() -> str:
    """"compiled" or "pure Python": which HTTP/1.1 core this process runs."""
    from fasthttpd.http1 import IMPLEMENTATION

    return "compiled" if IMPLEMENTATION == "compiled" else "pure Python"


def running_fasthttpd() -> str:
    """What this process runs: "fasthttpd 0.1.0 (compiled) from /path/to/fasthttpd"."""
    import os

    import fasthttpd

    where = os.path.dirname(os.path.abspath(fasthttpd.__file__))
    return f"fasthttpd {fasthttpd.__version__} ({implementation()}) from {where}"


def log_startup(config: Config) -> None:
    """The first startup line: what runs, and which app."""
    logging.getLogger(ERROR_LOGGER).info("%s, Python %s, running the app %r",
                                         running_fasthttpd(), sys.version.split()[0],
                                         config.app)


def log_how_to_stop() -> None:
    logging.getLogger(ERROR_LOGGER).info("press Ctrl+C or send SIGTERM to stop "
                                         "(a second one skips the graceful wait)")


def install_handler(logger: logging.Logger, stream: Any, line_format: str, level: int, *,
                    colors: bool = False) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _OWN_HANDLER, False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    formatter = ColorFormatter if colors else logging.Formatter
    handler.setFormatter(formatter(line_format, DATE_FORMAT))
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
