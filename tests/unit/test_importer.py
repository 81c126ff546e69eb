"""Loading the application: what works, and the one-line message for each mistake."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import sys
import textwrap

import pytest

from fasthttpd.config import Config
from fasthttpd.importer import AppLoadError, check_app_path, load_app

_unique = itertools.count()


@pytest.fixture
def app_dir(tmp_path, monkeypatch):
    """A directory for throwaway app modules; sys.path and sys.modules are restored."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write_module(directory, source: str) -> str:
    """Write a module with a name no other test uses (imports are cached per process)."""
    name = f"fasthttpd_test_app_{next(_unique)}"
    (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


def load(app: str, app_dir, **changes):
    return load_app(dataclasses.replace(Config(), app=app, app_dir=str(app_dir), **changes))


def error_of(app: str, app_dir, **changes) -> str:
    with pytest.raises(AppLoadError) as info:
        load(app, app_dir, **changes)
    message = str(info.value)
    assert "\n" not in message
    return message


ASGI3_MODULE = """
    async def app(scope, receive, send):
        pass

    class Holder:
        class inner:
            @staticmethod
            async def app(scope, receive, send):
                pass

    class App:
        async def __call__(self, scope, receive, send):
            pass

    instance = App()

    def create_app():
        return app

    def broken_factory():
        raise RuntimeError("database unreachable\\nsecond line")

    class Asgi2:
        def __init__(self, scope):
            self.scope = scope

        async def __call__(self, receive, send):
            pass

    def asgi2_function(scope):
        async def inner(receive, send):
            pass
        return inner

    def two_args(scope, receive):
        pass

    not_callable = 42
"""


def test_loads_a_coroutine_function(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    app = load(f"{name}:app", app_dir)
    assert app is sys.modules[name].app


def test_dotted_attribute_path(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert load(f"{name}:Holder.inner.app", app_dir) is sys.modules[name].Holder.inner.app


def test_instance_with_async_call(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert load(f"{name}:instance", app_dir) is sys.modules[name].instance


def test_factory_is_called(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert load(f"{name}:create_app", app_dir, factory=True) is sys.modules[name].app


def test_app_dir_goes_first_on_sys_path(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    load(f"{name}:app", app_dir)
    assert sys.path[0] == str(app_dir)


def test_builtin_demo_app_loads_by_default():
    from fasthttpd import demo

    assert load_app(Config()) is demo.app


def test_missing_colon(app_dir):
    assert error_of("main.app", app_dir) == (
        'APP must be "module:attribute" (for example "main:app"), got \'main.app\'')


def test_empty_attribute(app_dir):
    assert error_of("main:", app_dir).startswith('APP must be "module:attribute"')


def test_module_not_found(app_dir):
    message = error_of("no_such_module_xyz:app", app_dir)
    assert message.startswith("module 'no_such_module_xyz' not found")
    assert str(app_dir) in message


def test_submodule_of_missing_package_is_reported_as_not_found(app_dir):
    assert error_of("no_such_pkg_xyz.web:app", app_dir).startswith(
        "module 'no_such_pkg_xyz.web' not found")


def test_missing_import_inside_the_app_is_not_mistaken_for_a_missing_app(app_dir):
    name = write_module(app_dir, "x = 1\nimport not_installed_dependency_xyz\napp = None\n")
    assert error_of(f"{name}:app", app_dir) == (
        f"error while importing {name!r}: ModuleNotFoundError: "
        "No module named 'not_installed_dependency_xyz' "
        f'(File "{app_dir / name}.py", line 2, in <module>)')


def test_exception_raised_while_importing_shows_its_first_line_and_where(app_dir):
    name = write_module(app_dir, "x = 1\nraise RuntimeError('bad settings\\nmore detail')\n")
    assert error_of(f"{name}:app", app_dir) == (
        f"error while importing {name!r}: RuntimeError: bad settings "
        f'(File "{app_dir / name}.py", line 2, in <module>)')


def test_import_error_names_the_innermost_frame_and_keeps_the_traceback(app_dir):
    helper = write_module(app_dir, "def connect():\n    return {}['DATABASE_URL']\n")
    name = write_module(app_dir, f"import {helper}\n\n{helper}.connect()\n")
    with pytest.raises(AppLoadError) as info:
        load(f"{name}:app", app_dir)
    assert str(info.value).endswith(
        f"KeyError: 'DATABASE_URL' (File \"{app_dir / helper}.py\", line 2, in connect)")
    shown = info.value.traceback
    assert shown is not None and shown.startswith("Traceback (most recent call last):")
    assert f'File "{app_dir / name}.py", line 3, in <module>' in shown
    assert f'File "{app_dir / helper}.py", line 2, in connect' in shown
    assert "importlib" not in shown and "importer.py" not in shown
    assert shown.endswith("KeyError: 'DATABASE_URL'")


def test_syntax_error_names_the_file_and_line(app_dir):
    name = write_module(app_dir, "x = 1\ndef broken(:\n")
    message = error_of(f"{name}:app", app_dir)
    assert message.startswith(f"error while importing {name!r}: SyntaxError:")
    assert "line 2" in message


def test_attribute_not_found(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert error_of(f"{name}:application", app_dir) == (
        f"attribute 'application' not found in module {name!r}")


def test_dotted_attribute_not_found_names_the_path_walked(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert error_of(f"{name}:Holder.missing.app", app_dir) == (
        f"attribute 'Holder.missing' not found in module {name!r}")


def test_not_callable(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert error_of(f"{name}:not_callable", app_dir) == (
        f"'{name}:not_callable' (int) is not callable, so it is not an ASGI application")


def test_asgi2_class_is_rejected_with_a_hint_when_asgi3_is_asked_for(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    message = error_of(f"{name}:Asgi2", app_dir, interface="asgi3")
    assert "looks like an ASGI 2 application" in message
    assert message.endswith("serve it with --interface asgi2 (or auto)")


def test_asgi2_function_is_rejected_with_a_hint_when_asgi3_is_asked_for(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert "takes one argument, which looks like an ASGI 2 application" in error_of(
        f"{name}:asgi2_function", app_dir, interface="asgi3")


def run_http(app) -> list[dict]:
    """Call an ASGI 3 app with one GET and return what it sent."""
    import asyncio

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "path": "/"}, receive, send))
    return sent


ASGI2_MODULE = """
    class Asgi2:
        def __init__(self, scope):
            self.scope = scope

        async def __call__(self, receive, send):
            body = ("class " + self.scope["path"]).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})

    def asgi2_function(scope):
        async def instance(receive, send):
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"function"})
        return instance

    class Asgi2Callable:
        def __call__(self, scope):
            return asgi2_function(scope)

    asgi2_instance = Asgi2Callable()

    def sync_asgi3(scope, receive, send):
        return asgi3(scope, receive, send)

    async def asgi3(scope, receive, send):
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi3"})
"""


@pytest.mark.parametrize("attribute, interface, status, body", [
    ("Asgi2", "auto", 200, b"class /"),
    ("Asgi2", "asgi2", 200, b"class /"),
    ("asgi2_function", "auto", 201, b"function"),
    ("asgi2_function", "asgi2", 201, b"function"),
    ("asgi2_instance", "auto", 201, b"function"),
    # uvicorn's rule would call a plain function ASGI 2; taking three arguments, it is not.
    ("sync_asgi3", "auto", 202, b"asgi3"),
    ("asgi3", "auto", 202, b"asgi3"),
])
def test_asgi2_apps_are_wrapped_as_uvicorn_does(app_dir, attribute, interface, status, body):
    name = write_module(app_dir, ASGI2_MODULE)
    sent = run_http(load(f"{name}:{attribute}", app_dir, interface=interface))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert (sent[0]["status"], sent[1]["body"]) == (status, body)


def test_header_option_adds_headers_before_the_apps_own(app_dir):
    name = write_module(app_dir, ASGI2_MODULE)
    app = load(f"{name}:asgi3", app_dir, header=("X-Served-By: edge 1", "Cache-Control:no-store"))
    sent = run_http(app)
    assert sent[0]["headers"] == [(b"x-served-by", b"edge 1"), (b"cache-control", b"no-store")]
    assert sent[1]["body"] == b"asgi3"


def test_without_header_or_asgi2_the_app_is_called_directly(app_dir):
    name = write_module(app_dir, ASGI2_MODULE)
    app = load(f"{name}:asgi3", app_dir)
    assert app is sys.modules[name].asgi3


def test_factory_without_the_flag_is_called_with_a_warning_as_uvicorn_does(app_dir, caplog,
                                                                           monkeypatch):
    # `uvicorn main:create_app` serves what create_app() returns, warning that --factory
    # says so explicitly; the same command line does the same here.
    name = write_module(app_dir, ASGI3_MODULE)
    # Other tests may have configured the server's logging, which stops propagation.
    monkeypatch.setattr(logging.getLogger("fasthttpd.error"), "propagate", True)
    with caplog.at_level(logging.WARNING, logger="fasthttpd.error"):
        app = load(f"{name}:create_app", app_dir)
    assert app is sys.modules[name].app
    assert [r.getMessage() for r in caplog.records] == [
        f"'{name}:create_app' takes no arguments: called it as an application factory, as "
        "uvicorn does; add --factory to say so"]


def test_factory_without_the_flag_that_raises_says_where(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert error_of(f"{name}:broken_factory", app_dir).startswith(
        f"factory '{name}:broken_factory' raised RuntimeError: database unreachable")


def test_wrong_signature(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert error_of(f"{name}:two_args", app_dir).endswith(
        "does not accept (scope, receive, send), so it is not an ASGI 3 application")


def test_factory_that_raises(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert error_of(f"{name}:broken_factory", app_dir, factory=True) == (
        f"factory '{name}:broken_factory' raised RuntimeError: database unreachable "
        f'(File "{app_dir / name}.py", line 21, in broken_factory)')


def test_factory_that_is_not_callable(app_dir):
    name = write_module(app_dir, ASGI3_MODULE)
    assert error_of(f"{name}:not_callable", app_dir, factory=True) == (
        f"'{name}:not_callable' is not callable, so it cannot be used with --factory")


def test_factory_returning_something_else(app_dir):
    name = write_module(app_dir, "def make():\n    return 'app'\n")
    assert error_of(f"{name}:make", app_dir, factory=True) == (
        f"the factory '{name}:make' returned str is not callable, so it is not an ASGI "
        "application")


def test_check_app_path_accepts_an_importable_path_without_importing_it(app_dir):
    name = write_module(app_dir, "raise RuntimeError('must not run')\n")
    check_app_path(dataclasses.replace(Config(), app=f"{name}:app", app_dir=str(app_dir)))
    assert name not in sys.modules


@pytest.mark.parametrize("app, message", [
    ("no_such_module_xyz.web:app", "module 'no_such_module_xyz' not found"),
    ("main", 'APP must be "module:attribute"'),
])
def test_check_app_path_catches_typos(app_dir, app, message):
    with pytest.raises(AppLoadError) as info:
        check_app_path(dataclasses.replace(Config(), app=app, app_dir=str(app_dir)))
    assert str(info.value).startswith(message)
