"""Cython extension declarations; everything else lives in pyproject.toml.

Two kinds of compiled module, both found by walking fasthttpd/ (ARCHITECTURE.md says
why there are two):
- every `.pyx` file: a compiled codec with a separate pure-Python fallback;
- every `.py` file with a `.pxd` beside it: a Python module compiled with the C layout
  the `.pxd` gives it, which also runs unchanged as plain Python.

Cython runs in the build_ext step, not when this file is imported, so `setup.py
sdist` and metadata queries need no compiler. C compiler warnings are on (-Wall).

FASTHTTPD_DEBUG_BUILD=1 builds with line tracing, bounds checks and no optimisation,
for profilers and for coverage of the compiled code (ARCHITECTURE.md, "Coverage").
"""

import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PACKAGE = Path("fasthttpd")
DEBUG = os.environ.get("FASTHTTPD_DEBUG_BUILD") == "1"

compile_args = ["-Wall"] + (["-O0", "-g"] if DEBUG else ["-O3"])
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


def codec_sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.pyx"))


def python_sources() -> list[Path]:
    return sorted(source for source in PACKAGE.rglob("*.py")
                  if source.with_suffix(".pxd").exists())


def extension(source: Path) -> Extension:
    return Extension(".".join(source.with_suffix("").parts), [str(source)],
                     extra_compile_args=compile_args, define_macros=macros)


class CythonBuildExt(build_ext):
    """Translates the sources to C with Cython, then builds as usual."""

    def finalize_options(self) -> None:
        from Cython.Build import cythonize

        python_modules = {".".join(source.with_suffix("").parts) for source in python_sources()}
        codecs = [ext for ext in self.distribution.ext_modules if ext.name not in python_modules]
        python = [ext for ext in self.distribution.ext_modules if ext.name in python_modules]
        self.distribution.ext_modules = (
            cythonize(codecs, compiler_directives=directives, force=bool(self.force))
            + cythonize(python, compiler_directives=python_directives, force=bool(self.force)))
        super().finalize_options()


setup(ext_modules=[extension(source) for source in codec_sources() + python_sources()],
      cmdclass={"build_ext": CythonBuildExt})
