"""Which changed files restart the workers under --reload (uvicorn's include/exclude rules)."""

from __future__ import annotations

import pytest

from fasthttpd.workers.reloader import ChangeFilter

ROOT = "/home/dev/.local/src/app"  # a watched folder below a dot-directory


@pytest.mark.parametrize("path, counts", [
    ("x.py", True),
    ("pkg/models.py", True),
    ("templates/index.html", False),  # only *.py by default
    (".git/hooks/x.py", False),  # .* excludes directories on the way
    ("pkg/x.pyc", False),
    (".x.py.swp", False),
    ("~backup.py", False),
])
def test_defaults_watch_python_files_only(path, counts):
    assert ChangeFilter([ROOT])(None, f"{ROOT}/{path}") is counts


def test_includes_and_excludes_add_to_the_defaults():
    change_filter = ChangeFilter([ROOT], includes=["*.html", ".env"], excludes=["tests/*"])
    assert change_filter(None, f"{ROOT}/templates/index.html")
    assert change_filter(None, f"{ROOT}/.env")  # named by the user: the `.*` default yields
    assert not change_filter(None, f"{ROOT}/tests/test_x.py")
    assert not change_filter(None, f"{ROOT}/tests/page.html")
    assert change_filter(None, f"{ROOT}/x.py")


def test_excluding_a_default_include_drops_it():
    change_filter = ChangeFilter([ROOT], includes=["*.toml"], excludes=["*.py"])
    assert not change_filter(None, f"{ROOT}/x.py")
    assert change_filter(None, f"{ROOT}/pyproject.toml")


def test_several_directories():
    change_filter = ChangeFilter(["/srv/a", "/srv/b"])
    assert change_filter(None, "/srv/b/x.py") and change_filter(None, "/srv/a/y.py")
