"""The `fasthttpd` command (also `python -m fasthttpd`).

Theory of operation: the argument parser is generated from the `Config` dataclass,
one option per field (`--field-name`, with `--no-field-name` for booleans), so a
field added to fasthttpd/config.py is a flag, an environment variable and a README
row at once. Settings are merged in increasing precedence: field default, then
`FASTHTTPD_*` environment variable, then flag. Options default to "not given"
(argparse.SUPPRESS) so that only flags actually typed override the environment.

Every error a user can cause is reported as one line, `fasthttpd: error: ...`, on
stderr, with exit code 2 for a usage problem (bad flag, bad environment variable, bad
value) and 1 for a runtime one (the application cannot be loaded, the address cannot
be bound). In single-process mode the application is loaded and the sockets bound
before the server starts, so these errors appear before anything else happens. With
`--workers` above 1 or `--reload`, the supervisor in fasthttpd/workers takes over.

uvicorn compatibility (a uvicorn 0.54 command line works with only the program name
changed): the uvicorn-only fields live together in config.py and
`config.normalize` maps their aliases (`--http h11` is `--http 1`,
`--timeout-worker-healthcheck` is `--worker-heartbeat-timeout`, ...); values whose
concept fasthttpd lacks are refused in one line by `config.validate`
(REFUSED_VALUES). click spells some booleans with a value
(`--ws-per-message-deflate false`), so `with_boolean_values` rewrites those to
`--flag`/`--no-flag` before argparse sees them. `--env-file` is loaded first, without
replacing variables already set (python-dotenv's default, which uvicorn uses), and
uvicorn's WEB_CONCURRENCY and FORWARDED_ALLOW_IPS count below FASTHTTPD_* ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any, NoReturn

from fasthttpd import __version__
from fasthttpd.config import (
    Config,
    env_name,
    fields_of,
    flag_name,
    from_environment,
    from_uvicorn_environment,
    is_repeated,
    normalize,
    parse_value,
    validate,
    value_type,
)

USAGE_ERROR = 2
RUNTIME_ERROR = 1

GROUP_TITLES = {
    "application": "application",
    "socket": "where to listen",
    "protocol": "protocols",
    "tls": "TLS",
    "proxy": "proxies and headers",
    "logging": "logging",
    "timeouts": "deadlines",
    "limits": "limits",
    "http2": "HTTP/2",
    "workers": "worker processes",
    "websocket": "WebSocket",
}


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line instead of the usage block plus a line."""

    def error(self, message: str) -> NoReturn:
        fail(message, USAGE_ERROR)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `fasthttpd` command; exits with the server's exit code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    config = config_from_command_line(argv)
    try:
        # The admin listener lives in the supervisor, so it implies a pool (of one).
        if config.workers > 1 or config.reload or config.admin_port is not None:
            return run_supervised(config)
        return run_single_process(config)
    except KeyboardInterrupt:
        # Ctrl-C while importing the app or before the server installed its handlers.
        return 130


def config_from_command_line(argv: list[str] | None) -> Config:
    """Parse flags and environment into a validated Config, or exit with one line.

    An --env-file is loaded into the environment first, so the variables it sets (the
    app's, and FASTHTTPD_* ones) are there before anything reads them.
    """
    args = sys.argv[1:] if argv is None else argv
    given = vars(build_parser().parse_args(with_boolean_values(args)))
    try:
        load_env_file(given)
        values = from_uvicorn_environment()
        values.update(from_environment())
    except ValueError as exc:
        fail(str(exc), USAGE_ERROR)
    values.update(given)
    config = normalize(Config(**values))
    try:
        validate(config)
    except ValueError as exc:
        fail(str(exc), USAGE_ERROR)
    return config


def load_env_file(given: dict[str, Any]) -> None:
    from fasthttpd.envfile import load_env_file as load

    path = given.get("env_file") or from_environment().get("env_file")
    if path:
        load(path)


BOOLEAN_WORDS = ("1", "0", "true", "false", "yes", "no", "on", "off")


def with_boolean_values(args: list[str]) -> list[str]:
    """`--flag VALUE` and `--flag=VALUE` for a boolean field, as `--flag` or `--no-flag`.

    uvicorn (click) spells some booleans with a value (`--ws-per-message-deflate false`);
    fasthttpd's own form is `--flag` / `--no-flag`. Only a following word that is a
    boolean is taken as the value, so `--reload main:app` keeps its APP.
    """
    booleans = {flag_name(f.name) for f in fields_of() if value_type(f.name) is bool}
    result: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        name, equals, value = arg.partition("=")
        if name in booleans and not equals and index < len(args) and \
                args[index].lower() in BOOLEAN_WORDS:
            value, equals = args[index], "="
            index += 1
        if name in booleans and equals:
            if value.lower() not in BOOLEAN_WORDS:
                fail(f"argument {name}: expected true or false, got {value!r}", USAGE_ERROR)
            truth = parse_value(name[2:].replace("-", "_"), value)
            result.append(name if truth else "--no-" + name[2:])
        else:
            result.append(arg)
        if arg == "--":
            result.extend(args[index:])
            break
    return result


def run_single_process(config: Config) -> int:
    from fasthttpd.importer import AppLoadError, load_app
    from fasthttpd.log import configure_logging
    from fasthttpd.sockets import BindError, bind_sockets

    try:
        configure_logging(config)
    except ValueError as exc:  # --log-config
        fail(str(exc), USAGE_ERROR)
    warn_about_log_config(config)
    from fasthttpd.workers.activation import activated_sockets

    try:
        app = load_app(config)
        check_tls_files(config)
        sockets = activated_sockets() or bind_sockets(config)
    except AppLoadError as exc:
        fail_loading(exc)
    except BindError as exc:
        fail(str(exc), RUNTIME_ERROR)
    # Imported once the app loaded: the user's mistakes are reported before the
    # server's own (heavier) imports run.
    from fasthttpd.log import log_how_to_stop, log_startup
    from fasthttpd.server import Server

    log_startup(config)
    return Server(config, app, on_ready=lambda server: log_how_to_stop()).run(sockets)


def warn_about_log_config(config: Config) -> None:
    """Once per server (not per worker): a uvicorn log config that would change nothing."""
    from fasthttpd.log import ERROR_LOGGER, uvicorn_loggers_warning

    warning = uvicorn_loggers_warning(config.log_config) if config.log_config else None
    if warning:
        logging.getLogger(ERROR_LOGGER).warning(warning)


def check_tls_files(config: Config) -> None:
    """A certificate or key that cannot be loaded is a one-line error, before serving."""
    if not config.is_tls:
        return
    import ssl

    from fasthttpd.sockets import BindError
    from fasthttpd.tls import create_ssl_context

    try:
        create_ssl_context(config)
    except ValueError as exc:  # says what is wrong, in words
        raise BindError(str(exc)) from None
    except (ssl.SSLError, OSError) as exc:
        raise BindError(f"TLS: cannot load the certificate or key: {exc}") from None


def run_supervised(config: Config) -> int:
    from fasthttpd.importer import AppLoadError, check_app_path
    from fasthttpd.log import configure_logging
    from fasthttpd.sockets import BindError

    try:
        configure_logging(config)
    except ValueError as exc:  # --log-config
        fail(str(exc), USAGE_ERROR)
    warn_about_log_config(config)
    try:
        from fasthttpd.workers import run_supervised as supervise
    except ImportError as exc:
        fail(f"--workers/--reload are not available: {exc}", RUNTIME_ERROR)
    if config.reload:
        from fasthttpd.workers.reloader import check_available

        try:
            check_available()
        except ImportError as exc:
            fail(str(exc), RUNTIME_ERROR)
    try:
        # Workers import the app themselves; a misspelt path is caught here, once,
        # instead of as a crash loop of workers.
        check_app_path(config)
        check_tls_files(config)
        return supervise(config)
    except (AppLoadError, BindError) as exc:
        fail(str(exc), RUNTIME_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="fasthttpd",
        description="Serve an ASGI 3 application over HTTP/1.1 and HTTP/2. Every option "
                    "can also be set with the environment variable named in its help; a "
                    "flag wins over the environment.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--version", action="version", version=version_text())
    groups: dict[str, argparse._ArgumentGroup] = {}
    for field in fields_of():
        group_name = field.metadata.get("group", "server")
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(GROUP_TITLES.get(group_name,
                                                                            group_name))
        add_option(groups[group_name], field)
    return parser


def add_option(group: argparse._ArgumentGroup, field: dataclasses.Field[Any]) -> None:
    help_text = option_help(field)
    choices = field.metadata.get("choices")
    if field.name == "app":
        group.add_argument("app", nargs="?", metavar="APP", help=help_text)
        return
    if value_type(field.name) is bool:
        group.add_argument(flag_name(field.name), dest=field.name, help=help_text,
                           action=argparse.BooleanOptionalAction)
        return
    if is_repeated(field.name):
        group.add_argument(flag_name(field.name), dest=field.name, help=help_text,
                           action="append", metavar=metavar(field.name))
        return
    group.add_argument(flag_name(field.name), dest=field.name, help=help_text,
                       choices=choices, type=converter(field.name),
                       metavar=None if choices else metavar(field.name))


def converter(name: str) -> Any:
    """argparse `type=` callable turning the flag's text into the field's value."""
    def convert(raw: str) -> Any:
        try:
            return parse_value(name, raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = name  # argparse names the type in some messages
    return convert


PATH_FIELDS = ("uds", "app_dir", "ssl_certfile", "ssl_keyfile", "ssl_ca_certs", "env_file",
               "log_config", "reload_dir")
METAVARS = {"header": "NAME:VALUE", "reload_include": "GLOB", "reload_exclude": "GLOB"}
DURATION_WORDS = ("timeout", "ttl", "interval", "window")


def metavar(name: str) -> str:
    if name in METAVARS:
        return METAVARS[name]
    kind = value_type(name)
    if kind is int:
        return "INT"
    if kind is float:
        return "SECONDS" if any(word in name for word in DURATION_WORDS) else "NUMBER"
    if name in PATH_FIELDS:
        return "PATH"
    return name.upper().rsplit("_", 1)[-1]


def option_help(field: dataclasses.Field[Any]) -> str:
    default = field.default
    shown = "not set" if default is None or default == () else repr(default) \
        if field.name == "access_log_format" else str(default)
    text = f"{field.metadata['help']} [env {env_name(field.name)}; default: {shown}]"
    return text.replace("%", "%%")  # argparse %-formats help texts


def version_text() -> str:
    return f"fasthttpd {__version__} (Python {sys.version.split()[0]})"


def fail_loading(exc: Any) -> NoReturn:
    """An app that cannot be loaded: where it failed (its traceback), then the one line."""
    if exc.traceback:
        sys.stderr.write(exc.traceback + "\n")
    fail(str(exc), RUNTIME_ERROR)


def fail(message: str, exit_code: int) -> NoReturn:
    one_line = " ".join(line.strip() for line in message.strip().splitlines())
    sys.stderr.write(f"fasthttpd: error: {one_line}\n")
    sys.stderr.flush()
    sys.exit(exit_code)
