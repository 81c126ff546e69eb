"""Settings: one dataclass, the single source of truth.

Every field becomes a command-line flag (`--field-name`), an environment variable
(`FASTHTTPD_FIELD_NAME`) and a row of the README's options table
(`python -m fasthttpd.config` prints it). Precedence: flag, then environment, then
the default below. A field's help text says why its default is what it is.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, get_type_hints

ENV_PREFIX = "FASTHTTPD_"


def setting(default: Any, help: str, *, choices: tuple[str, ...] | None = None,
            group: str = "server") -> Any:
    """A dataclass field carrying what the CLI, the environment and the docs need."""
    return field(default=default, metadata={"help": help, "choices": choices, "group": group})


@dataclass
class Config:
    # The application.
    app: str = setting("fasthttpd.demo:app", "ASGI application as `module:attribute`.",
                       group="application")
    factory: bool = setting(False, "Treat APP as a factory: call it with no arguments to get "
                            "the application. Without it, an APP that takes no arguments "
                            "is called all the same, with a warning, as uvicorn does.",
                            group="application")
    app_dir: str = setting(".", "Directory put first on sys.path before importing APP.",
                           group="application")
    lifespan: str = setting("auto", "ASGI lifespan: `auto` runs it when the app supports it, "
                            "`on` requires it, `off` skips it.", choices=("auto", "on", "off"),
                            group="application")
    root_path: str = setting("", "ASGI `root_path` for an app mounted below a prefix.",
                             group="application")

    # Where to listen.
    host: str = setting("127.0.0.1", "Address to bind; `::` for every IPv6 and IPv4 address. "
                        "Loopback by default so nothing is exposed by accident.", group="socket")
    port: int = setting(8000, "TCP port to bind.", group="socket")
    uds: str | None = setting(None, "Bind a Unix domain socket at this path instead of TCP. "
                              "A stale socket file is replaced, any other file is not; the "
                              "socket's permissions follow the umask.", group="socket")
    fd: int | None = setting(None, "Serve on an already-bound listening socket with this file "
                             "descriptor (systemd, process managers).", group="socket")
    backlog: int = setting(2048, "Listen backlog: pending connections the kernel queues; "
                           "uvicorn's and nginx's order of magnitude.", group="socket")
    reuse_port: bool = setting(False, "Bind with SO_REUSEPORT: each worker binds its own socket "
                               "and the kernel balances between them.", group="socket")

    # Protocols and TLS.
    http: str = setting("auto", "Protocols offered: `auto` (HTTP/1.1 and HTTP/2), `1` "
                        "(HTTP/1.1 only) or `2` (HTTP/2 only: ALPN h2 on TLS, prior knowledge "
                        "on cleartext). uvicorn's `h11`, `httptools` and `zttp` are accepted "
                        "and all served by fasthttpd's HTTP/1.1 core, HTTP/1.1 only as with "
                        "uvicorn (both protocols with --http2).",
                        choices=("auto", "1", "2", "h11", "httptools", "zttp"), group="protocol")
    loop: str = setting("auto", "Event loop: `auto` picks uvloop when it is installed.",
                        choices=("auto", "uvloop", "asyncio", "zuvloop"), group="protocol")
    ssl_certfile: str | None = setting(None, "TLS certificate chain (PEM); enables TLS.",
                                       group="tls")
    ssl_keyfile: str | None = setting(None, "TLS private key (PEM).", group="tls")
    ssl_keyfile_password: str | None = setting(
        None, "Password of an encrypted private key; without it such a key is refused "
        "with a message, never asked for on the terminal.", group="tls")
    ssl_ca_certs: str | None = setting(None, "CA bundle used to verify client certificates.",
                                       group="tls")
    ssl_cert_reqs: int = setting(0, "Client certificates: 0 none, 1 optional, 2 required "
                                 "(mutual TLS).", group="tls")
    ssl_ciphers: str | None = setting(None, "OpenSSL cipher list for TLS 1.2; None keeps "
                                      "Python's secure default.", group="tls")

    # Proxies and headers.
    proxy_headers: bool = setting(True, "Trust X-Forwarded-For/-Proto from the addresses in "
                                  "--forwarded-allow-ips to set the client and scheme.",
                                  group="proxy")
    forwarded_allow_ips: str = setting("127.0.0.1", "Comma-separated addresses (or `*`) whose "
                                       "proxy headers are trusted.", group="proxy")
    server_header: bool = setting(True, "Send `Server: fasthttpd`.", group="proxy")
    date_header: bool = setting(True, "Send a Date header (RFC 9110 6.6.1: origin servers with "
                                "a clock must).", group="proxy")

    # Logging.
    log_level: str = setting("info", "Least severe level logged; `trace` (as uvicorn's) "
                             "adds protocol detail: each connection made, its protocol and "
                             "its end, and every ASGI message of each request and "
                             "WebSocket. Above `info` the access log is silent too.",
                             choices=("critical", "error", "warning",
                             "info", "debug", "trace"), group="logging")
    access_log: bool = setting(True, "Write an access log line per response.", group="logging")
    access_log_format: str = setting(
        '%(client)s - "%(method)s %(path)s HTTP/%(http_version)s" %(status)s %(bytes)s '
        '%(duration_ms).1fms',
        "Access log line as a %-format over: client, method, path, query, http_version, "
        "status, bytes, bytes_received (WebSocket sessions), duration_ms, user_agent, referer.",
        group="logging")
    access_log_json: bool = setting(False, "Write access log lines as JSON objects, one per "
                                    "line: the format's fields plus `time` (UTC).",
                                    group="logging")

    # Deadlines.
    timeout_keep_alive: float = setting(5.0, "Seconds an idle keep-alive connection is kept "
                                        "(uvicorn's default; frees sockets from idle browsers).",
                                        group="timeouts")
    timeout_request_header: float = setting(10.0, "Seconds to receive a complete request head, "
                                            "however slowly it trickles in (slowloris guard); "
                                            "the first one's are counted from the moment the "
                                            "connection is accepted. Also bounds the TLS "
                                            "handshake.", group="timeouts")
    timeout_request_body: float = setting(30.0, "Longest gap in seconds while reading a "
                                          "request body (nginx's client_body_timeout idea).",
                                          group="timeouts")
    timeout_graceful_shutdown: float = setting(30.0, "Seconds in-flight requests get to finish "
                                               "on shutdown before they are cancelled "
                                               "(gunicorn's graceful_timeout).",
                                               group="timeouts")

    # Limits.
    limit_concurrency: int = setting(0, "Most requests in progress at once; more get 503. "
                                     "0: no limit.", group="limits")
    limit_request_body: int = setting(0, "Largest request body in bytes (413 beyond). 0: no "
                                      "limit, since bodies stream to the app with "
                                      "backpressure and cost bounded memory.", group="limits")
    limit_request_line: int = setting(8190, "Largest request line in bytes (414 beyond), as "
                                      "nginx and gunicorn.", group="limits")
    limit_request_fields: int = setting(100, "Most header fields in a request (431 beyond), "
                                        "as gunicorn.", group="limits")
    limit_request_field_size: int = setting(8190, "Largest header field line in bytes (431 "
                                            "beyond), as gunicorn.", group="limits")

    # Slow clients on HTTP/1.1 (HTTP/2 has --h2-send-timeout and its windows).
    limit_request_body_rate: float = setting(
        240.0, "Least average rate in bytes per second at which a request body must arrive, "
        "checked at the end of each --timeout-request-body window (the first window is the "
        "grace period) and counting only time in which the server waits on the client, not "
        "time in which the app leaves the body unread; below it: 408 and close (on HTTP/2: "
        "408 on the stream, or the stream reset if the response has started). Kestrel's "
        "MinRequestBodyDataRate default, slow enough for any real client, fast enough that a "
        "body trickled a byte at a time (slow POST) cannot hold a connection for ever. "
        "0: no minimum.", group="limits")
    timeout_response_send: float = setting(
        60.0, "Seconds an HTTP/1.1 response may stay blocked on a client that does not read "
        "(the connection's write buffer above its 256 KiB high-water mark without draining to "
        "64 KiB) before the connection is aborted: a client must take 192 KiB per window, "
        "about 3 KiB/s at the default (nginx's send_timeout is 60 s; the HTTP/1.1 "
        "counterpart of --h2-send-timeout).", group="timeouts")

    # HTTP/2.
    http2_impl: str = setting("auto", "HTTP/2 implementation: `compiled` (fasthttpd's own "
                              "core, the fastest), `h2` (the h2 library, the fallback) or "
                              "`auto`: compiled when the extensions are built.",
                              choices=("auto", "compiled", "h2"), group="http2")
    h2_max_concurrent_streams: int = setting(100, "SETTINGS_MAX_CONCURRENT_STREAMS advertised "
                                             "and enforced (RFC 9113 recommends at least 100).",
                                             group="http2")
    h2_initial_window_size: int = setting(262144, "Per-stream receive window in bytes "
                                          "(SETTINGS_INITIAL_WINDOW_SIZE): the most request-body "
                                          "bytes buffered per stream before the app reads them.",
                                          group="http2")
    h2_connection_window_size: int = setting(1048576, "Connection receive window in bytes: the "
                                             "most request-body bytes buffered per connection, "
                                             "all streams together.", group="http2")
    h2_max_header_list_size: int = setting(65536, "SETTINGS_MAX_HEADER_LIST_SIZE: largest decoded "
                                           "request header list in bytes; beyond it the "
                                           "connection ends (HPACK bomb guard).", group="http2")
    h2_max_resets_per_second: int = setting(200, "Streams reset per second on one connection, by "
                                            "the client or by the server because the client "
                                            "erred, before GOAWAY ENHANCE_YOUR_CALM (rapid reset "
                                            "CVE-2023-44487, MadeYouReset CVE-2025-8671).",
                                            group="http2")
    h2_max_control_frames_per_second: int = setting(1000, "PING, SETTINGS, PRIORITY, empty DATA, "
                                                    "needless WINDOW_UPDATE and unknown frames "
                                                    "per second on one connection before GOAWAY "
                                                    "ENHANCE_YOUR_CALM (flood guard).",
                                                    group="http2")
    h2_max_queued_control_frames: int = setting(10000, "PING and SETTINGS acknowledgements queued "
                                                "while the client does not read before the "
                                                "connection is closed (Go's limit).",
                                                group="http2")
    h2_send_timeout: float = setting(30.0, "Seconds a response may wait for flow-control window, "
                                     "or for the client to read, before its stream is reset "
                                     "(zero-window stall guard).", group="http2")

    # WebSocket.
    ws: str = setting("auto", "WebSocket support: `auto` serves RFC 6455 (and RFC 8441 over "
                      "HTTP/2); `none` serves upgrade requests as plain HTTP. uvicorn's "
                      "`websockets`, `websockets-sansio` and `wsproto` mean `auto`.",
                      choices=("auto", "none", "websockets", "websockets-sansio", "wsproto"),
                      group="websocket")
    ws_max_size: int = setting(16777216, "Largest WebSocket message in bytes, after "
                               "decompression; beyond it the connection closes with 1009 "
                               "(uvicorn's default, 16 MiB).", group="websocket")
    ws_max_queue: int = setting(32, "Received WebSocket messages queued for an app that has not "
                                "asked for them before reading from the client pauses "
                                "(uvicorn's default).", group="websocket")
    ws_ping_interval: float | None = setting(20.0, "Seconds between keepalive pings on a "
                                             "WebSocket; 0 or none: no pings (uvicorn's "
                                             "default).", group="websocket")
    ws_ping_timeout: float | None = setting(20.0, "Seconds a ping waits for its pong before "
                                            "the connection is closed with 1011; 0 or none: "
                                            "no limit (uvicorn's default).", group="websocket")
    ws_per_message_deflate: bool = setting(True, "Negotiate permessage-deflate (RFC 7692) when "
                                           "the client offers it (uvicorn's default).",
                                           group="websocket")

    # Worker processes.
    workers: int = setting(1, "Worker processes; 1 serves in this process.", group="workers")
    limit_max_requests: int = setting(0, "Recycle a worker after this many requests. 0: never.",
                                      group="workers")
    limit_max_requests_jitter: int = setting(0, "Random extra requests added to "
                                             "--limit-max-requests so workers do not recycle "
                                             "together.", group="workers")
    worker_max_rss: int = setting(0, "Recycle a worker whose resident memory exceeds this many "
                                  "MB. 0: never.", group="workers")
    worker_ttl: float = setting(0.0, "Recycle a worker after this many seconds. 0: never.",
                                group="workers")
    admin_port: int | None = setting(None, "Serve /health, /ready and /metrics on this port.",
                                     group="workers")
    admin_host: str = setting("127.0.0.1", "Address of the admin listener.", group="workers")
    reload: bool = setting(False, "Restart when Python files under --app-dir change "
                           "(development only).", group="workers")
    worker_heartbeat_interval: float = setting(1.0, "Seconds between a worker's heartbeats "
                                               "(and metrics reports) to the master.",
                                               group="workers")
    worker_heartbeat_timeout: float = setting(30.0, "Kill and replace a worker whose event loop "
                                              "sent no heartbeat for this many seconds "
                                              "(gunicorn's --timeout).", group="workers")
    worker_startup_timeout: float = setting(60.0, "Seconds a new worker gets to import the app, "
                                            "run lifespan startup and listen before it is "
                                            "killed as failed.", group="workers")
    worker_crash_window: float = setting(5.0, "A worker that dies within this many seconds of "
                                         "starting counts toward a crash loop.",
                                         group="workers")
    worker_crash_limit: int = setting(5, "This many quick worker deaths in a row is a crash "
                                      "loop: the master logs the cause and exits with an error "
                                      "instead of restarting forever.", group="workers")

    # uvicorn compatibility (issue 10 item 8): a uvicorn command line works with only the
    # program name changed. Each has uvicorn's meaning; `normalize` maps the aliases.
    env_file: str | None = setting(None, "Load environment variables from this file (dotenv "
                                   "format: KEY=VALUE lines, `export`, quotes, ${VAR}) before "
                                   "the app is imported; variables already set win.",
                                   group="application")
    interface: str = setting("auto", "Application interface: `asgi3`, `asgi2` (wrapped as "
                             "uvicorn does: app(scope) returns the coroutine function), or "
                             "`auto` (a class, or a plain function or callable that is not a "
                             "coroutine function and takes one argument, is ASGI 2). `wsgi` is "
                             "refused: fasthttpd serves ASGI only.",
                             choices=("auto", "asgi3", "asgi2", "wsgi"), group="application")
    header: tuple[str, ...] = setting((), "Add this `NAME:VALUE` header to every HTTP "
                                      "response (repeatable; one per line in the environment "
                                      "variable). A `server` or `date` header replaces "
                                      "fasthttpd's own.", group="proxy")
    http2: bool = setting(False, "With --http h11, httptools or zttp, serve HTTP/2 too "
                          "(uvicorn's flag; --http auto already does).", group="protocol")
    h11_max_incomplete_event_size: int | None = setting(
        None, "uvicorn's bound on a request head being received: when set, the largest "
        "request line and header line (--limit-request-line, --limit-request-field-size) "
        "in bytes.", group="limits")
    ssl_version: int = setting(17, "uvicorn's ssl module protocol number: 17 "
                               "(PROTOCOL_TLS_SERVER) and 2 (PROTOCOL_TLS) negotiate TLS 1.2 "
                               "or later, 5 (PROTOCOL_TLSv1_2) TLS 1.2 only. Older versions "
                               "are refused (RFC 8996).", group="tls")
    log_config: str | None = setting(None, "Logging configuration file applied after "
                                     "fasthttpd's own: dictConfig as .json or .yaml/.yml "
                                     "(YAML needs PyYAML), else fileConfig (.ini). The loggers "
                                     "are `fasthttpd.error` and `fasthttpd.access`.",
                                     group="logging")
    use_colors: bool | None = setting(None, "Color the level names of log lines; not set: "
                                      "only when the error log goes to a terminal.",
                                      group="logging")
    timeout_worker_healthcheck: float | None = setting(
        None, "uvicorn's name for --worker-heartbeat-timeout: when set, it replaces it.",
        group="workers")
    reload_dir: tuple[str, ...] = setting((), "With --reload, watch these directories "
                                          "(repeatable) instead of --app-dir.",
                                          group="workers")
    reload_include: tuple[str, ...] = setting((), "With --reload, also watch files matching "
                                              "this glob (repeatable; `*.py` always).",
                                              group="workers")
    reload_exclude: tuple[str, ...] = setting((), "With --reload, ignore files matching this "
                                              "glob (repeatable; `.*`, `.py[cod]`, `.sw.*` and "
                                              "`~*` always, unless included explicitly).",
                                              group="workers")
    reload_delay: float = setting(0.25, "With --reload, seconds to wait for more changes "
                                  "before restarting (uvicorn's default).", group="workers")
    reset_contextvars: bool = setting(False, "uvicorn's opt-in is fasthttpd's only behaviour: "
                                      "each request runs in a fresh copy of the server's "
                                      "context, which never holds what the lifespan set. "
                                      "Accepted, with no effect.", group="application")

    @property
    def is_tls(self) -> bool:
        return self.ssl_certfile is not None


def fields_of(config_cls: type = Config) -> list[dataclasses.Field[Any]]:
    return list(dataclasses.fields(config_cls))


@functools.cache
def field_types() -> dict[str, Any]:
    # Cached: resolving the string annotations is slow and Config never changes.
    return get_type_hints(Config)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def value_type(name: str) -> type:
    """The field's type with Optional removed: bool, int, float or str."""
    kind = field_types()[name]
    members = [arg for arg in get_args(kind) if arg is not type(None)]
    if members:
        kind = members[0]
    return kind if isinstance(kind, type) else str


def is_optional(name: str) -> bool:
    return type(None) in get_args(field_types()[name])


def is_repeated(name: str) -> bool:
    """A tuple field: its flag may be given several times, each adding one value."""
    return get_origin(field_types()[name]) is tuple


TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number"}


def parse_value(name: str, raw: str) -> Any:
    """Convert text from a flag or an environment variable to the field's type.

    Raises ValueError with a short message ("expected an integer, got 'x'").
    """
    if is_repeated(name):
        # From the environment: one value per line (header values may hold commas).
        return tuple(line.strip() for line in raw.splitlines() if line.strip())
    kind = value_type(name)
    text = raw.strip()
    if is_optional(name) and text.lower() in ("", "none"):
        return None
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    elif kind is int:
        try:
            return int(text, 10)
        except ValueError:
            pass
    elif kind is float:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    else:
        return raw
    raise ValueError(f"expected {TYPE_WORDS[kind]}, got {raw!r}")


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings given through FASTHTTPD_* variables."""
    source: Mapping[str, str] = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields_of():
        raw = source.get(env_name(f.name))
        if raw is not None:
            try:
                values[f.name] = parse_value(f.name, raw)
            except ValueError as exc:
                raise ValueError(f"{env_name(f.name)}: {exc}") from None
    return values


# uvicorn's variables, read as uvicorn does and below FASTHTTPD_* in precedence.
UVICORN_ENVIRONMENT = {"WEB_CONCURRENCY": "workers", "FORWARDED_ALLOW_IPS": "forwarded_allow_ips"}


def from_uvicorn_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings from the variables uvicorn reads (WEB_CONCURRENCY, FORWARDED_ALLOW_IPS)."""
    source: Mapping[str, str] = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for variable, name in UVICORN_ENVIRONMENT.items():
        raw = source.get(variable)
        if raw:
            try:
                values[name] = parse_value(name, raw)
            except ValueError as exc:
                raise ValueError(f"{variable}: {exc}") from None
    return values


# uvicorn values whose concept fasthttpd deliberately lacks, with what to use instead.
REFUSED_VALUES = {
    ("interface", "wsgi"): "--interface wsgi: fasthttpd serves ASGI only; use a2wsgi's "
                           "WSGIMiddleware to wrap the WSGI app and serve that",
    ("loop", "zuvloop"): "--loop zuvloop: not available in fasthttpd; use --loop uvloop",
}
# uvicorn's --http values, all served by the HTTP/1.1 core.
HTTP1_ALIASES = ("h11", "httptools", "zttp")


def normalize(config: Config) -> Config:
    """The settings with uvicorn's aliases turned into fasthttpd's own."""
    changes: dict[str, Any] = {}
    if config.http in HTTP1_ALIASES:
        changes["http"] = "auto" if config.http2 else "1"
    if config.timeout_worker_healthcheck is not None:
        changes["worker_heartbeat_timeout"] = config.timeout_worker_healthcheck
    if config.h11_max_incomplete_event_size is not None:
        changes["limit_request_line"] = config.h11_max_incomplete_event_size
        changes["limit_request_field_size"] = config.h11_max_incomplete_event_size
    names = {line.partition(":")[0].strip().lower() for line in config.header}
    # As uvicorn: a server or date header given here is sent instead of the default one.
    if "server" in names:
        changes["server_header"] = False
    if "date" in names:
        changes["date_header"] = False
    return dataclasses.replace(config, **changes) if changes else config


# RFC 9110 5.1 (token) and 5.5 (field value: visible characters, spaces and tabs).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def parse_headers(lines: tuple[str, ...] | list[str]) -> list[tuple[bytes, bytes]]:
    """--header values as (lower-case name, value) pairs; ValueError for a bad one."""
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ValueError(f"--header: {line!r} is not NAME:VALUE with a valid header name "
                             "and value")
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return headers


# ssl module protocol numbers uvicorn's --ssl-version takes; None: refused, with why.
SSL_VERSIONS: dict[int, str | None] = {
    2: "tls", 17: "tls", 5: "tls1.2",
    3: None, 4: None,  # TLS 1.0 and 1.1: RFC 8996 deprecates them
}


def validate(config: Config) -> None:
    """Raise ValueError with a one-line message for a value that cannot work."""
    for f in fields_of():
        choices = f.metadata.get("choices")
        value = getattr(config, f.name)
        if choices and value not in choices:
            raise ValueError(f"{flag_name(f.name)}: {value!r} is not one of {', '.join(choices)}")
        refusal = REFUSED_VALUES.get((f.name, value)) if choices else None
        if refusal:
            raise ValueError(refusal)
    validate_uvicorn_settings(config)
    if not 0 <= config.port <= 65535:
        raise ValueError(f"--port: {config.port} is not a port number")
    if config.ssl_cert_reqs not in (0, 1, 2):
        raise ValueError("--ssl-cert-reqs: must be 0, 1 or 2")
    if config.ssl_keyfile and not config.ssl_certfile:
        raise ValueError("--ssl-keyfile needs --ssl-certfile")
    for name in ("timeout_keep_alive", "timeout_request_header", "timeout_request_body",
                 "timeout_graceful_shutdown", "timeout_response_send"):
        if getattr(config, name) <= 0:
            raise ValueError(f"{flag_name(name)}: must be positive")
    for name in ("limit_concurrency", "limit_request_body", "limit_request_body_rate",
                 "limit_max_requests",
                 "limit_max_requests_jitter", "worker_max_rss"):
        if getattr(config, name) < 0:
            raise ValueError(f"{flag_name(name)}: must be 0 or more")
    for name in ("limit_request_line", "limit_request_fields", "limit_request_field_size",
                 "h2_max_concurrent_streams", "h2_max_header_list_size",
                 "h2_max_resets_per_second", "h2_max_control_frames_per_second",
                 "h2_max_queued_control_frames", "workers", "backlog", "worker_crash_limit"):
        if getattr(config, name) < 1:
            raise ValueError(f"{flag_name(name)}: must be at least 1")
    for name in ("ws_max_size", "ws_max_queue"):
        if getattr(config, name) < 1:
            raise ValueError(f"{flag_name(name)}: must be at least 1")
    for name in ("ws_ping_interval", "ws_ping_timeout"):
        if (getattr(config, name) or 0) < 0:
            raise ValueError(f"{flag_name(name)}: must be 0 or more")
    for name in ("h2_initial_window_size", "h2_connection_window_size"):
        # RFC 9113 6.5.2 and 6.9.1: a window is at most 2**31 - 1.
        if not 1 <= getattr(config, name) <= 2**31 - 1:
            raise ValueError(f"{flag_name(name)}: must be between 1 and 2147483647")
    for name in ("h2_send_timeout", "worker_heartbeat_interval", "worker_heartbeat_timeout",
                 "worker_startup_timeout", "worker_crash_window"):
        if getattr(config, name) <= 0:
            raise ValueError(f"{flag_name(name)}: must be positive")
    if config.worker_heartbeat_timeout <= config.worker_heartbeat_interval:
        raise ValueError("--worker-heartbeat-timeout: must be longer than "
                         "--worker-heartbeat-interval")
    if config.http2_impl == "compiled":
        from fasthttpd.http2 import COMPILED_AVAILABLE  # http2 imports this module

        if not COMPILED_AVAILABLE:
            raise ValueError("--http2-impl compiled: the compiled HTTP/2 core is not built "
                             "(or FASTHTTPD_NO_EXTENSIONS=1); use auto or h2")
    validate_listening(config)
    validate_files(config)
    from fasthttpd.log import check_access_log_format  # log imports this module

    check_access_log_format(config.access_log_format)


def validate_uvicorn_settings(config: Config) -> None:
    parse_headers(config.header)
    if config.ssl_version not in SSL_VERSIONS:
        raise ValueError(f"--ssl-version: {config.ssl_version} is not a server protocol; use "
                         "17 (PROTOCOL_TLS_SERVER, TLS 1.2 or later) or 5 (TLS 1.2 only)")
    if SSL_VERSIONS[config.ssl_version] is None:
        raise ValueError(f"--ssl-version: {config.ssl_version} asks for TLS 1.0 or 1.1, which "
                         "RFC 8996 deprecates; use 17 (TLS 1.2 or later)")
    if config.reload_delay < 0:
        raise ValueError("--reload-delay: must be 0 or more")
    if config.h11_max_incomplete_event_size is not None and \
            config.h11_max_incomplete_event_size < 1:
        raise ValueError("--h11-max-incomplete-event-size: must be at least 1")
    for name in ("env_file", "log_config"):
        path = getattr(config, name)
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{flag_name(name)}: no such file: {path}")
    for path in config.reload_dir:
        if not os.path.isdir(path):
            raise ValueError(f"--reload-dir: no such directory: {path}")


def validate_listening(config: Config) -> None:
    if config.uds and config.fd is not None:
        raise ValueError("--uds and --fd exclude each other: give one")
    if config.fd is not None and config.fd < 0:
        raise ValueError(f"--fd: {config.fd} is not a file descriptor")
    if not config.uds and config.fd is None and not config.host.strip():
        raise ValueError("--host: must not be empty (use 0.0.0.0 or :: for every address)")
    if config.admin_port is not None and not 0 <= config.admin_port <= 65535:
        raise ValueError(f"--admin-port: {config.admin_port} is not a port number")
    if config.worker_ttl < 0:
        raise ValueError("--worker-ttl: must be 0 or more")


def validate_files(config: Config) -> None:
    """Missing TLS files are reported here, in one line, before anything starts."""
    for name in ("ssl_certfile", "ssl_keyfile", "ssl_ca_certs"):
        path = getattr(config, name)
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{flag_name(name)}: no such file: {path}")
    if config.app_dir and not os.path.isdir(config.app_dir):
        raise ValueError(f"--app-dir: no such directory: {config.app_dir}")


def markdown_table() -> str:
    """The README's options table, generated from the fields above."""
    rows = ["| flag | environment | default | meaning |", "|---|---|---|---|"]
    for f in fields_of():
        default = f.default
        shown = "" if default is None or default == () else f"`{default}`"
        if f.metadata.get("choices"):
            shown += " (" + ", ".join(f.metadata["choices"]) + ")"
        meaning = f.metadata["help"].replace("|", "\\|")
        shown = shown.replace("|", "\\|")
        flag = "`APP` (positional)" if f.name == "app" else f"`{flag_name(f.name)}`"
        if value_type(f.name) is bool:
            flag += f", `--no-{flag_name(f.name)[2:]}`"
        if is_repeated(f.name):
            flag += " (repeatable)"
        rows.append(f"| {flag} | `{env_name(f.name)}` | {shown} | {meaning} |")
    return "\n".join(rows)


OPTIONS_START = "<!-- options:start -->"
OPTIONS_END = "<!-- options:end -->"


def update_readme(path: str) -> bool:
    """Rewrite the table between the options markers of `path`; True when it changed."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    start = text.index(OPTIONS_START) + len(OPTIONS_START)
    end = text.index(OPTIONS_END, start)
    updated = text[:start] + "\n" + markdown_table() + "\n" + text[end:]
    if updated == text:
        return False
    with open(path, "w", encoding="utf-8") as file:
        file.write(updated)
    return True


if __name__ == "__main__":
    # `python -m fasthttpd.config` prints the table; with `--update-readme [PATH]` it
    # rewrites the README's options section after a field was added or changed.
    if len(sys.argv) > 1 and sys.argv[1] == "--update-readme":
        readme = sys.argv[2] if len(sys.argv) > 2 else "README.md"
        print(f"{readme}: {'updated' if update_readme(readme) else 'already current'}")
    else:
        sys.stdout.write(markdown_table() + "\n")
