"""HTTP/1.1: the compiled core when it is built, else the pure-Python fallback.

`FASTHTTPD_NO_EXTENSIONS=1` forces the fallback (the test suite runs both).
`IMPLEMENTATION` says which one was loaded: "compiled" or "python".
`IMPLEMENTATIONS` names both, with their (parser, serializer) modules: the one list
the tests run over.
"""

import os

IMPLEMENTATIONS = {
    "compiled": ("fasthttpd._parser", "fasthttpd._serializer"),
    "python": ("fasthttpd.http1.fallback_parser", "fasthttpd.http1.fallback_serializer"),
}

if os.environ.get("FASTHTTPD_NO_EXTENSIONS") == "1":
    _compiled = False
else:
    try:
        from fasthttpd import _parser, _serializer  # noqa: F401

        _compiled = True
    except ImportError:
        _compiled = False

# Static imports (not the table above) so that type checkers see the stubs.
if _compiled:
    from fasthttpd import _parser as parser
    from fasthttpd import _serializer as serializer
else:
    from fasthttpd.http1 import fallback_parser as parser  # type: ignore[no-redef]
    from fasthttpd.http1 import fallback_serializer as serializer  # type: ignore[no-redef]

IMPLEMENTATION = "compiled" if _compiled else "python"

__all__ = ["IMPLEMENTATION", "IMPLEMENTATIONS", "parser", "serializer"]
