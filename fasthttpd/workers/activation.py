"""systemd socket activation: listening sockets handed over by the service manager.

Theory of operation (sd_listen_fds(3)): systemd binds the sockets of a `.socket`
unit, starts the service with them open from file descriptor 3 on, and sets
LISTEN_FDS to their count and LISTEN_PID to the service's PID. The PID check
matters: a child that inherited the environment must not mistake its parent's
variables for its own. The variables are removed once read, as sd_listen_fds does
when asked to, so workers started later never see them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

# SD_LISTEN_FDS_START: the first passed descriptor.
FIRST_FD = 3
VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def listen_fds(environ: MutableMapping[str, str], pid: int) -> list[int]:
    """The descriptors systemd passed to process `pid`; [] when not socket-activated."""
    if environ.get("LISTEN_PID", "").strip() != str(pid):
        return []
    try:
        count = int(environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    return list(range(FIRST_FD, FIRST_FD + max(count, 0)))


def forget(environ: MutableMapping[str, str]) -> None:
    for name in VARIABLES:
        environ.pop(name, None)


def activated_sockets() -> list[socket.socket]:
    """This process's socket-activated listeners, non-blocking; [] when there are none."""
    from fasthttpd.sockets import socket_from_fd

    fds = listen_fds(os.environ, os.getpid())
    forget(os.environ)
    return [socket_from_fd(fd) for fd in fds]
