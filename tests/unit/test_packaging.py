"""What the installed package must hold, wherever the tests run (checkout or wheel).

The wheel tests (pyproject.toml's [tool.cibuildwheel]) run this suite from a copy of
tests/ outside the source tree, against the installed wheel: these checks then make
sure the wheel carries its compiled extensions, the typing stubs and marker, and that
the runtime modules expose what the stubs promise.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fasthttpd

PACKAGE_DIR = Path(fasthttpd.__file__).resolve().parent

# stub -> the modules that follow it
STUBS = {
    "_parser.pyi": ["fasthttpd._parser", "fasthttpd.http1.fallback_parser"],
    "_serializer.pyi": ["fasthttpd._serializer", "fasthttpd.http1.fallback_serializer"],
}




def compiled_modules() -> list[str]:
    """What setup.py compiles, found the way it finds it, in the imported package (the
    sources and .pxd files ship with it): every .pyx, and every .py with a .pxd beside it.
    Names relative to the package ("http1.driver")."""
    sources = [path for path in PACKAGE_DIR.rglob("*.pyx")]
    sources += [path for path in PACKAGE_DIR.rglob("*.py") if path.with_suffix(".pxd").is_file()]
    return sorted(".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
                  for path in sources)


COMPILED = compiled_modules()
CODECS = sorted(".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
                for path in PACKAGE_DIR.rglob("*.pyx"))


def test_the_known_compiled_modules_are_found():
    assert {"_parser", "_serializer", "asgi", "driver", "http1.driver",
            "http1.events"} <= set(COMPILED)


def module_file(name: str, no_extensions: bool) -> Path:
    """Where a fresh interpreter imports fasthttpd.NAME from, with or without
    FASTHTTPD_NO_EXTENSIONS=1 (whatever this test run itself was started with)."""
    env = {key: value for key, value in os.environ.items() if key != "FASTHTTPD_NO_EXTENSIONS"}
    if no_extensions:
        env["FASTHTTPD_NO_EXTENSIONS"] = "1"
    code = f"import fasthttpd.{name} as module; print(module.__file__)"
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, timeout=60, check=True)
    return Path(completed.stdout.strip()).resolve()


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_extension_is_part_of_the_imported_package(name):
    path = module_file(name, no_extensions=False)
    assert path.parent == PACKAGE_DIR.joinpath(*name.split(".")[:-1]), \
        "extension and package come from different trees"
    assert path.suffix in (".so", ".pyd"), f"{path.name} is not a compiled extension"


# A compiled codec (.pyx) has a typing stub beside it; modules compiled from Python
# are their own stubs.
@pytest.mark.parametrize("name", ["py.typed"] + [codec.replace(".", "/") + ".pyi"
                                                 for codec in CODECS])
def test_typing_files_ship_with_the_package(name):
    assert (PACKAGE_DIR / name).is_file()


def test_compiled_implementation_is_selected_by_default():
    code = ("import fasthttpd.http1 as h; "
            "print(h.IMPLEMENTATION, h.serializer.__name__, h.parser.__name__)")
    env = {key: value for key, value in os.environ.items() if key != "FASTHTTPD_NO_EXTENSIONS"}
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, timeout=60, check=True)
    assert completed.stdout.split() == ["compiled", "fasthttpd._serializer", "fasthttpd._parser"]


def test_no_extensions_switch_selects_the_fallback():
    code = ("import fasthttpd.http1 as h; "
            "print(h.IMPLEMENTATION, h.serializer.__name__, h.parser.__name__)")
    env = dict(os.environ, FASTHTTPD_NO_EXTENSIONS="1")
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, timeout=60, check=True)
    assert completed.stdout.split() == [
        "python", "fasthttpd.http1.fallback_serializer", "fasthttpd.http1.fallback_parser"
    ]


@pytest.mark.parametrize("name", [name for name in COMPILED if name not in CODECS])
def test_no_extensions_switch_imports_compiled_modules_from_source(name):
    assert module_file(name, no_extensions=True).suffix == ".py"


def test_no_extensions_switch_refuses_compiled_only_modules():
    code = "import fasthttpd._parser"
    env = dict(os.environ, FASTHTTPD_NO_EXTENSIONS="1")
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode != 0
    assert "FASTHTTPD_NO_EXTENSIONS=1 disables it" in completed.stderr


def stub_names(stub: str) -> tuple[dict[str, list[str]], set[str], set[str]]:
    """(functions with their parameter names, classes, constants) the stub declares."""
    tree = ast.parse((PACKAGE_DIR / stub).read_text(encoding="utf-8"))
    functions: dict[str, list[str]] = {}
    classes: set[str] = set()
    constants: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            arguments = node.args
            functions[node.name] = [arg.arg for arg in
                                    arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
        elif isinstance(node, ast.ClassDef):
            classes.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if "Final" in ast.unparse(node.annotation):
                constants.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and node.module in ("fasthttpd.http1.framing",
                                                                  "fasthttpd.errors"):
            # Explicit re-exports (`import X as X`): shared values and classes.
            names = {alias.name for alias in node.names if alias.asname == alias.name}
            (constants if node.module.endswith("framing") else classes).update(names)
    return functions, classes, constants


@pytest.mark.parametrize(
    ("stub", "module_name"),
    [pytest.param(stub, module, marks=[pytest.mark.compiled] if module == modules[0] else [])
     for stub, modules in STUBS.items() for module in modules],
)
def test_runtime_module_follows_its_stub(stub, module_name):
    module = importlib.import_module(module_name)
    functions, classes, constants = stub_names(stub)
    for name, parameters in functions.items():
        function = getattr(module, name, None)
        assert callable(function), f"{module_name}.{name} is missing"
        assert list(inspect.signature(function).parameters) == parameters, name
    for name in classes:
        assert isinstance(getattr(module, name, None), type), f"{module_name}.{name} is missing"
    for name in constants:
        assert isinstance(getattr(module, name, None), int), f"{module_name}.{name} is missing"
