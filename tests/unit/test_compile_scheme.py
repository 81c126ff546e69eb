"""The compile scheme's bookkeeping, checked (ARCHITECTURE.md, "Two ways to compile").

A module compiled from its Python source takes its C layout from the `.pxd` beside
it, and runs unchanged as Python where nothing is built. The two only behave alike
while three lists agree, which nothing else checks:
- a class's `__slots__` (what plain Python allows) and its `.pxd` fields (the C
  layout), which must be the same names;
- the attributes its methods assign (`self.x = ...`), every one of them declared;
- the module constants the `.pxd` types (`cdef int WAIT_HEAD, ...`), every one of them
  assigned (or imported: `from fasthttpd.http1.framing import FRAMING_NONE`) at the
  module's top level.
Also: the framing values that compiled code cimports from framing.pxd equal those of
framing.py.

The `.pxd` reader is small on purpose: it knows the declarations these files use
(`cdef class`, `cdef [public|readonly] TYPE a, b`, method declarations, decorators).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import fasthttpd

PACKAGE_DIR = Path(fasthttpd.__file__).resolve().parent
COMPILED_FROM_PYTHON = sorted(path for path in PACKAGE_DIR.rglob("*.py")
                              if path.with_suffix(".pxd").is_file())


@dataclass
class PxdClass:
    name: str
    base: str | None
    fields: set[str] = field(default_factory=set)


@dataclass
class Pxd:
    classes: dict[str, PxdClass] = field(default_factory=dict)
    constants: set[str] = field(default_factory=set)
    enums: dict[str, int] = field(default_factory=dict)


_CLASS = re.compile(r"cdef class (\w+)(?:\((\w+)\))?:")
_FIELDS = re.compile(r"cdef (?:(?:public|readonly) )?(?:[\w.]+\s*\**\s+)+(\w+(?:\s*,\s*\w+)*)$")
_ENUM_VALUE = re.compile(r"(\w+) = (-?\d+)")


def read_pxd(path: Path) -> Pxd:
    """Classes with their fields, typed module variables, and enum values of a .pxd."""
    pxd = Pxd()
    current: PxdClass | None = None
    in_enum = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        indented = line.startswith((" ", "\t"))
        text = line.strip()
        if not indented:
            current, in_enum = None, False
            if match := _CLASS.fullmatch(text):
                current = PxdClass(match.group(1), match.group(2))
                pxd.classes[current.name] = current
            elif text.startswith(("cdef enum", "cpdef enum")):
                in_enum = True
            elif (text.startswith("cdef ") and "(" not in text
                  and (match := _FIELDS.fullmatch(text))):
                pxd.constants.update(name.strip() for name in match.group(1).split(","))
        elif in_enum:
            if match := _ENUM_VALUE.fullmatch(text):
                pxd.enums[match.group(1)] = int(match.group(2))
        elif current is not None and text.startswith("cdef ") and "(" not in text:
            match = _FIELDS.fullmatch(text)
            assert match, f"{path.name}: cannot read the declaration {text!r}"
            current.fields.update(name.strip() for name in match.group(1).split(","))
    return pxd


@dataclass
class PyClass:
    slots: set[str] | None
    assigned: set[str]


def read_python(path: Path) -> tuple[dict[str, PyClass], set[str]]:
    """The module's classes (their __slots__ and the attributes their methods assign on
    self) and the names assigned or imported at its top level (including under if/try)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes: dict[str, PyClass] = {}
    top_level: set[str] = set()

    def targets(node: ast.AST) -> list[ast.expr]:
        if isinstance(node, ast.Assign):
            return node.targets
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            return [node.target]
        return []

    def visit_top(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.ClassDef):
                classes[node.name] = read_class(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                top_level.add(node.name)
            elif isinstance(node, ast.ImportFrom):  # a value taken from its home module
                top_level.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, (ast.If, ast.Try)):
                visit_top(node.body)
                visit_top(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit_top(handler.body)
            for target in targets(node):
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        top_level.add(name.id)

    def read_class(node: ast.ClassDef) -> PyClass:
        slots = None
        assigned: set[str] = set()
        for statement in node.body:
            for target in targets(statement):
                if isinstance(target, ast.Name) and target.id == "__slots__":
                    slots = set(ast.literal_eval(statement.value))
        for method in node.body:
            if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if not method.args.args:
                continue
            self_name = method.args.args[0].arg
            for statement in ast.walk(method):
                for target in targets(statement):
                    for part in ast.walk(target):
                        if (isinstance(part, ast.Attribute) and isinstance(part.value, ast.Name)
                                and part.value.id == self_name
                                and isinstance(part.ctx, ast.Store)):
                            assigned.add(part.attr)
        return PyClass(slots, assigned)

    visit_top(tree.body)
    return classes, top_level


def all_fields(pxd_classes: dict[str, PxdClass], name: str) -> set[str]:
    """A class's fields with those of its bases declared in the modules read."""
    fields: set[str] = set()
    while name in pxd_classes:
        fields |= pxd_classes[name].fields
        name = pxd_classes[name].base or ""
    return fields


def every_pxd_class() -> dict[str, PxdClass]:
    classes: dict[str, PxdClass] = {}
    for source in COMPILED_FROM_PYTHON:
        classes.update(read_pxd(source.with_suffix(".pxd")).classes)
    return classes


def module_id(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts)


def test_the_modules_compiled_from_python_are_found():
    names = {module_id(path) for path in COMPILED_FROM_PYTHON}
    assert {"client", "driver", "http1.driver", "http1.events"} <= names


@pytest.mark.parametrize("source", COMPILED_FROM_PYTHON, ids=module_id)
def test_slots_assignments_and_pxd_fields_agree(source: Path) -> None:
    pxd = read_pxd(source.with_suffix(".pxd"))
    classes, _ = read_python(source)
    known = every_pxd_class()
    problems = []
    for name, declared in pxd.classes.items():
        if name not in classes:
            problems.append(f"{name}: declared in the .pxd, not defined in the .py")
            continue
        python_class = classes[name]
        if python_class.slots is not None and python_class.slots != declared.fields:
            problems.append(
                f"{name}: __slots__ and .pxd fields differ: only in __slots__ "
                f"{sorted(python_class.slots - declared.fields)}, only in the .pxd "
                f"{sorted(declared.fields - python_class.slots)}")
        undeclared = python_class.assigned - all_fields(known, name)
        if undeclared:
            problems.append(f"{name}: assigns attributes the .pxd does not declare: "
                            f"{sorted(undeclared)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", COMPILED_FROM_PYTHON, ids=module_id)
def test_typed_module_constants_are_assigned(source: Path) -> None:
    pxd = read_pxd(source.with_suffix(".pxd"))
    _, top_level = read_python(source)
    missing = pxd.constants - top_level
    assert not missing, f"{source.name}: typed in the .pxd, never assigned: {sorted(missing)}"


def test_the_reader_sees_what_it_should():
    # Guard against a reader that silently finds nothing.
    events = read_pxd(PACKAGE_DIR / "http1" / "events.pxd")
    assert {"method", "target", "headers", "framing", "upgrade"} <= events.classes[
        "Request"].fields
    classes, _ = read_python(PACKAGE_DIR / "http1" / "events.py")
    assert classes["Request"].slots == events.classes["Request"].fields
    assert "framing" in classes["Request"].assigned


def test_framing_pxd_values_equal_framing_py():
    from fasthttpd.http1 import framing

    enums = read_pxd(PACKAGE_DIR / "http1" / "framing.pxd").enums
    python_values = {name: value for name, value in vars(framing).items()
                     if name.startswith(("FRAMING_", "FLAG_"))}
    assert enums == {f"C_{name}": value for name, value in python_values.items()}
