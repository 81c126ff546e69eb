"""The worker pool: a master process supervising N server processes.

`run_supervised(config)` is what the `fasthttpd` command calls for --workers above
1, --reload or --admin-port. The pieces: `pool` decides (pure state machine),
`master` acts (processes, signals, pipes), `worker` is the process entry point,
`channel` is the worker-to-master pipe format, `metrics` counts and renders,
`admin` serves /health, /ready and /metrics, `activation` reads systemd's
socket-activation variables, `reloader` watches files for --reload.
"""

from __future__ import annotations

from fasthttpd.config import Config

__all__ = ["run_supervised"]


def run_supervised(config: Config) -> int:
    """Run the master until it is stopped; returns the process exit code.

    Raises BindError when the listening sockets (or the admin port) cannot be bound.
    """
    import logging

    from fasthttpd.workers.master import Master

    try:
        master = Master(config)
    except ValueError as exc:  # worker settings that cannot work
        logging.getLogger("fasthttpd.error").error("%s", exc)
        return USAGE_ERROR
    return master.run()


# The command's exit code for a bad setting (as fasthttpd.cli).
USAGE_ERROR = 2
