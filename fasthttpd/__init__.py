"""fasthttpd: a fast, strict HTTP/1.1 and HTTP/2 server for ASGI applications."""

import os

__version__ = "0.1.0"

if os.environ.get("FASTHTTPD_NO_EXTENSIONS") == "1":
    # No compiled code at all: the modules that are compiled from their Python
    # sources (those with a .pxd beside them) are imported from those sources.
    import importlib.abc
    import importlib.util
    import sys

    class _SourceFirst(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
            if not name.startswith(__name__ + "."):
                return None
            source = os.path.join(os.path.dirname(__file__), *name.split(".")[1:]) + ".py"
            if not os.path.isfile(source):
                return None
            return importlib.util.spec_from_file_location(name, source)

    sys.meta_path.insert(0, _SourceFirst())
