"""Creating the listening sockets from the settings.

Theory of operation: exactly one of three sources gives the sockets, checked in this
order: an inherited file descriptor (`--fd`), a Unix domain socket path (`--uds`), or
TCP on `--host`:`--port`. Every socket comes back bound, listening with `--backlog`
and non-blocking, ready for `loop.create_server(sock=...)`. Failures raise `BindError`
with a one-line message naming the address, and close whatever was opened already.

TCP: an IP literal is bound as is; `::` is made dual-stack (IPV6_V6ONLY off) where
the OS allows, so one socket serves IPv6 and IPv4-mapped clients. A hostname is
resolved with getaddrinfo and each address it yields is bound (IPv6 ones with
IPV6_V6ONLY on, so "localhost" can hold ::1 and 127.0.0.1 side by side); with port 0
the port the first socket got is reused for the others. SO_REUSEADDR is always set
(a restarted server can bind while old connections sit in TIME_WAIT); SO_REUSEPORT
only with `--reuse-port`. TCP_NODELAY is a per-connection option: the server sets it
on accepted connections, not here.

Unix sockets: a socket file left behind by a server that is gone is removed first;
a file that is not a socket is never removed, and a socket with a live server behind
it is reported as in use. The socket file is not chmod-ed: its permissions follow
the process umask, so access stays as restricted as the operator's environment says
(uvicorn makes it 0o666, world-writable; run with `umask 000` or put the socket in a
directory the proxy can reach to get that effect deliberately).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import stat

from fasthttpd.config import Config


class BindError(OSError):
    """A listening socket could not be created; the message is one line."""

    def __init__(self, message: str, error_number: int | None = None) -> None:
        super().__init__(message)
        self.errno = error_number


def bind_sockets(config: Config) -> list[socket.socket]:
    """Create the listening sockets `config` asks for."""
    if config.fd is not None:
        return [socket_from_fd(config.fd)]
    if config.uds:
        return [bind_unix(config.uds, config.backlog)]
    return bind_tcp(config.host, config.port, config.backlog, config.reuse_port)


def describe(sock: socket.socket, scheme: str = "http") -> str:
    """How a listening socket is shown in the startup log: "http://127.0.0.1:8000"."""
    if sock.family == socket.AF_UNIX:
        path = sock.getsockname()
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        return f"unix:{path}"
    address = sock.getsockname()
    return f"{scheme}://{host_port(address[0], address[1])}"


def host_port(host: str, port: int) -> str:
    """"127.0.0.1:8000" or "[::1]:8000" (RFC 3986 3.2.2: IPv6 literals in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# TCP.

def bind_tcp(host: str, port: int, backlog: int, reuse_port: bool) -> list[socket.socket]:
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise BindError("--reuse-port: SO_REUSEPORT is not available on this platform")
    literal = strip_brackets(host)
    addresses = literal_address(literal, port)
    # Only the literal "::" asks for dual-stack; resolved names bind each family apart.
    dual_stack = literal == "::"
    if addresses is None:
        addresses = resolve(literal, port)
    sockets: list[socket.socket] = []
    try:
        for family, address in addresses:
            if port == 0 and sockets:
                # Keep every address of one hostname on the same port.
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sockets.append(bind_inet(family, address, backlog, reuse_port, dual_stack))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def strip_brackets(host: str) -> str:
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def literal_address(host: str, port: int) -> list[tuple[socket.AddressFamily, tuple]] | None:
    """The address of an IP literal, or None when `host` is a name to resolve."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return [(socket.AF_INET6, (host, port, 0, 0))]
    return [(socket.AF_INET, (host, port))]


def resolve(host: str, port: int) -> list[tuple[socket.AddressFamily, tuple]]:
    try:
        infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                   0, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    addresses: list[tuple[socket.AddressFamily, tuple]] = []
    seen: set[tuple] = set()
    for family, _type, _proto, _name, address in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or address in seen:
            continue
        seen.add(address)
        addresses.append((family, address))
    if not addresses:
        raise BindError(f"host {host!r} has no IPv4 or IPv6 address")
    return addresses


def bind_inet(family: socket.AddressFamily, address: tuple, backlog: int,
              reuse_port: bool, dual_stack: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            set_v6only(sock, not dual_stack)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise bind_error(host_port(address[0], address[1]), exc) from None
    return sock


def set_v6only(sock: socket.socket, v6only: bool) -> None:
    if not hasattr(socket, "IPV6_V6ONLY"):
        return
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    except OSError:
        pass  # Some systems (OpenBSD) are always IPv6-only; the socket still works.


def bind_error(where: str, exc: OSError) -> BindError:
    code = exc.errno
    if code == errno.EADDRINUSE:
        return BindError(f"{where} is already in use", code)
    if code == errno.EADDRNOTAVAIL:
        return BindError(f"cannot bind {where}: the address is not on this machine", code)
    if code == errno.EACCES:
        return BindError(f"cannot bind {where}: permission denied (ports below 1024 usually "
                         "need privileges)", code)
    if code == errno.EAFNOSUPPORT:
        return BindError(f"cannot bind {where}: address family not supported (IPv6 off?)",
                         code)
    return BindError(f"cannot bind {where}: {exc.strerror or exc}", code)


# Unix domain sockets.

def bind_unix(path: str, backlog: int) -> socket.socket:
    where = f"unix:{path}"
    remove_stale_socket_file(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise bind_error(where, exc) from None
    return sock


def remove_stale_socket_file(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise bind_error(f"unix:{path}", exc) from None
    if not stat.S_ISSOCK(mode):
        raise BindError(f"cannot bind unix:{path}: the path exists and is not a socket "
                        "(refusing to remove it)", errno.EEXIST)
    if unix_socket_is_live(path):
        raise BindError(f"unix:{path} is already in use", errno.EADDRINUSE)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # Another process cleaned it up first.
    except OSError as exc:
        raise bind_error(f"unix:{path}", exc) from None


def unix_socket_is_live(path: str) -> bool:
    """True when a server accepts connections on the socket file (so it is not stale)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        return False  # ECONNREFUSED: nobody listens; the file is left over.
    finally:
        probe.close()
    return True


# Inherited file descriptors.

def socket_from_fd(fd: int) -> socket.socket:
    where = f"--fd {fd}"
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise BindError(f"{where}: not an open file descriptor", exc.errno) from None
        if exc.errno == errno.ENOTSOCK:
            raise BindError(f"{where}: not a socket", exc.errno) from None
        raise BindError(f"{where}: {exc.strerror or exc}", exc.errno) from None
    problem = fd_socket_problem(sock)
    if problem is not None:
        sock.detach()  # The descriptor belongs to whoever passed it; leave it open.
        raise BindError(f"{where}: {problem}", errno.EINVAL)
    sock.setblocking(False)
    return sock


def fd_socket_problem(sock: socket.socket) -> str | None:
    if sock.type != socket.SOCK_STREAM:
        return "not a stream socket"
    if sock.family not in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
        return "not a TCP or Unix socket"
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    except (OSError, AttributeError):
        return None  # The platform cannot tell; accept() will report it if wrong.
    if not listening:
        return "the socket is not listening (call listen() before passing it)"
    return None
