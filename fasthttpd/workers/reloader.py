"""Development reload: a new generation of workers when watched files change.

Theory of operation: watchfiles (the "reload" extra) watches the --reload-dir
directories (--app-dir when none is given) in a thread of its own and yields batches
of changes to this coroutine, which calls the master's `reload`, the same graceful
path as SIGHUP: new workers import the changed code, then the old ones retire.

Which files count follows uvicorn's rules: a file counts when its path matches an
include glob (`*.py`, plus --reload-include) and no exclude glob (`.*`, `.py[cod]`,
`.sw.*`, `~*`, plus --reload-exclude), a glob matching from the right as
pathlib's `match` does; an exclude glob also matches a directory on the way (so `.*`
skips `.git/`). A default that the user names on the other side is dropped, and a
file the user's own include matches is hidden only by the user's own excludes: with
--reload-include '.env' the default `.*` exclusion does not hide it. --reload-delay is how
long watchfiles waits for more changes before yielding a batch.

`--reload` without watchfiles installed is refused when the command starts
(`check_available`), rather than serving without reloading.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import PurePath

logger = logging.getLogger("fasthttpd.error")

DEFAULT_INCLUDES = ("*.py",)
DEFAULT_EXCLUDES = (".*", ".py[cod]", ".sw.*", "~*")
INSTALL_HINT = "--reload needs watchfiles: pip install 'fasthttpd[reload]'"


def check_available() -> None:
    """Raise ImportError with the install hint when watchfiles cannot be imported."""
    try:
        import watchfiles  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from None


class ChangeFilter:
    """Decides which changed paths restart the workers."""

    def __init__(self, directories: list[str], includes: Iterable[str] = (),
                 excludes: Iterable[str] = ()) -> None:
        self.directories = directories
        self.user_includes = list(includes)
        self.user_excludes = list(excludes)
        self.default_includes = [p for p in DEFAULT_INCLUDES if p not in self.user_excludes]
        self.default_excludes = [p for p in DEFAULT_EXCLUDES if p not in self.user_includes]

    @property
    def includes(self) -> list[str]:
        return self.default_includes + self.user_includes

    def __call__(self, _change: object, path: str) -> bool:
        pure = PurePath(path)
        # Directories below the watched one only: the watched directory's own path
        # (say ~/.local/src/app) must not exclude everything.
        below = PurePath(relative_name(path, self.directories)).parent.parts

        def matches(patterns: list[str]) -> bool:
            return any(pure.match(pattern) or any(PurePath(part).match(pattern)
                                                  for part in below) for pattern in patterns)

        if any(pure.match(pattern) for pattern in self.user_includes):
            # Named by the user: only the user's own exclusions can hide it.
            return not matches(self.user_excludes)
        if not any(pure.match(pattern) for pattern in self.default_includes):
            return False
        return not matches(self.default_excludes + self.user_excludes)


async def watch(directories: list[str], reload: Callable[[str], None], *,
                includes: Iterable[str] = (), excludes: Iterable[str] = (),
                delay: float = 0.25) -> None:
    from watchfiles import awatch

    change_filter = ChangeFilter(directories, includes, excludes)
    logger.info("watching %s for changes to %s", ", ".join(directories),
                ", ".join(change_filter.includes))
    step = max(1, int(delay * 1000))
    async for changes in awatch(*directories, watch_filter=change_filter, step=step):
        names = sorted({relative_name(path, directories) for _change, path in changes})
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        reload(f"{shown} changed")


def relative_name(path: str, directories: list[str]) -> str:
    for directory in directories:
        if path.startswith(directory.rstrip(os.sep) + os.sep):
            return os.path.relpath(path, directory)
    return path
