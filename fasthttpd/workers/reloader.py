"""Development reload: a new generation of workers when Python files change.

Theory of operation: watchfiles (the "reload" extra) watches --app-dir in a thread
of its own and yields batches of changes, already debounced, to this coroutine,
which calls the master's `reload`, the same graceful path as SIGHUP: new workers
import the changed code, then the old ones retire. Only `.py` files count, so
editor swap files and bytecode caches do not restart anything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

logger = logging.getLogger("fasthttpd.error")


async def watch(directory: str, reload: Callable[[str], None]) -> None:
    try:
        from watchfiles import PythonFilter, awatch
    except ImportError:
        logger.error("--reload needs watchfiles: pip install 'fasthttpd[reload]'")
        return
    logger.info("watching %s for changes to .py files", directory)
    async for changes in awatch(directory, watch_filter=PythonFilter()):
        names = sorted({os.path.relpath(path, directory) for _change, path in changes})
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        reload(f"{shown} changed")
