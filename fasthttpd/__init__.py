"""fasthttpd: a fast, strict HTTP/1.1 and HTTP/2 server for ASGI applications."""

import os

__version__ = "0.1.0"

if os.environ.get("FASTHTTPD_NO_EXTENSIONS") == "1":
    # No compiled code at all: the modules that are compiled from their Python
    # sources (those with a .pxd beside them) are imported from those sources.
    import glob
    import importlib.abc
    import importlib.util
    import sys

    class _SourceFirst(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if not name.startswith(__name__ + "."):
                return None
            base = os.path.join(os.path.dirname(__file__), *name.split(".")[1:])
            if os.path.isfile(base + ".py"):
                return importlib.util.spec_from_file_location(name, base + ".py")
            if glob.glob(glob.escape(base) + ".*.so") or glob.glob(glob.escape(base) + ".*.pyd"):
                # Compiled-only (the parser, the serializer): it would meet the
                # pure-Python versions of the classes it was compiled against.
                raise ImportError(f"{name} is compiled; FASTHTTPD_NO_EXTENSIONS=1 disables it")
            return None

    sys.meta_path.insert(0, _SourceFirst())
