"""Cython extension declarations; everything else lives in pyproject.toml.

FASTHTTPD_DEBUG_BUILD=1 builds with line tracing, bounds checks and no optimisation,
for profilers and coverage of the compiled code.
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTHTTPD_DEBUG_BUILD") == "1"

compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
macros = [("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
directives = {
    "language_level": "3",
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "cdivision": True,
    "linetrace": DEBUG,
    "profile": DEBUG,
}
# A Python module keeps Python's semantics when compiled (negative indexes, bounds
# and zero-division checks); its annotations are for type checkers, and the .pxd
# beside it alone gives C types.
python_directives = {**directives, "boundscheck": True, "wraparound": True,
                     "cdivision": False, "annotation_typing": False}


def extension(source: Path) -> Extension:
    return Extension(str(source.with_suffix("")).replace(os.sep, "."), [str(source)],
                     extra_compile_args=compile_args, define_macros=macros)


compiled = [extension(Path("fasthttpd") / f"{name}.pyx") for name in ("_parser", "_serializer",
                                                                   "websocket/_codec")]
# A Python module with an augmenting .pxd beside it is compiled from its source,
# with the layout the .pxd gives it; it also runs as plain Python.
compiled_python = [extension(source) for source in sorted(Path("fasthttpd").rglob("*.py"))
                   if source.with_suffix(".pxd").exists()]

setup(ext_modules=cythonize(compiled, compiler_directives=directives)
      + cythonize(compiled_python, compiler_directives=python_directives))
