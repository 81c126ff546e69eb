"""HTTP/2 (RFC 9113): the compiled core when it is built, else the h2 library.

`Http2Driver` (fasthttpd/http2/_driver.pyx, on the sans-IO core in
fasthttpd/http2/_core.pyx) serves by default; `H2LibraryDriver` (fasthttpd/http2/driver.py,
on h2) is the fallback, used when the extensions are not built, under
`FASTHTTPD_NO_EXTENSIONS=1`, or when `--http2-impl h2` asks for it.
`COMPILED_AVAILABLE` says whether the compiled one can be loaded.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from fasthttpd.http2.driver import H2LibraryDriver
from fasthttpd.http2.stream import Http2Stream

if TYPE_CHECKING:
    from fasthttpd.state import ServerState

if os.environ.get("FASTHTTPD_NO_EXTENSIONS") == "1":
    Http2Driver: Any = None
else:
    try:
        from fasthttpd.http2._driver import Http2Driver
    except ImportError:
        Http2Driver = None

COMPILED_AVAILABLE = Http2Driver is not None


def driver_class(impl: str = "auto") -> Any:
    """The HTTP/2 driver class for `impl` ("auto", "compiled" or "h2")."""
    if impl == "h2" or (impl == "auto" and not COMPILED_AVAILABLE):
        return H2LibraryDriver
    if not COMPILED_AVAILABLE:
        raise RuntimeError("--http2-impl compiled: the compiled HTTP/2 core is not built "
                           "(or FASTHTTPD_NO_EXTENSIONS=1)")
    return Http2Driver


def new_http2_driver(state: ServerState) -> Any:
    """A driver for a new HTTP/2 connection, as the config's http2_impl asks: an
    HttpDriver with accept_h2c_upgrade() (either class; the compiled one is a
    registered HttpDriver, which type checkers cannot see)."""
    return driver_class(state.config.http2_impl)(state)


__all__ = ["COMPILED_AVAILABLE", "Http2Driver", "H2LibraryDriver", "Http2Stream",
           "driver_class", "new_http2_driver"]
