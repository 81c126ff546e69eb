"""Loading the application named on the command line.

Theory of operation: `config.app` is "module:attribute", where the attribute may be
dotted ("pkg.web:api.app"). `config.app_dir` goes first on sys.path so that a module
next to the user's working directory wins over an installed one of the same name. The
module is imported, the attribute looked up, and with `--factory` called with no
arguments; without it, an attribute that takes no arguments is called all the same,
with a warning, as uvicorn does. Every failure becomes one `AppLoadError` whose
message fits on one line; the full traceback of an error raised inside the user's
module is logged at debug level for whoever needs it.

The server calls one shape of application, ASGI 3: `app(scope, receive, send)`
returning an awaitable. `--interface` says what the loaded object is: `asgi3`, `asgi2`
(`app(scope)` returns a coroutine function taking receive and send; it is wrapped in
fasthttpd.wrappers.ASGI2App), or `auto`, which tells them apart as uvicorn does: a
class is ASGI 2 unless it is awaitable, a function or other callable is ASGI 2 unless
it (or its `__call__`) is a coroutine function. Where uvicorn's rule would call ASGI 2
something that plainly takes (scope, receive, send), it is taken as ASGI 3. With
--header the app is wrapped once more (fasthttpd.wrappers.DefaultHeaders).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import sys
import traceback
from types import ModuleType, TracebackType
from typing import Any

from fasthttpd.config import Config
from fasthttpd.wrappers import ASGI2App, DefaultHeaders

logger = logging.getLogger("fasthttpd.error")

ASGI2_HINT = "serve it with --interface asgi2 (or auto)"


class AppLoadError(Exception):
    """The application could not be imported or is not an ASGI 3 callable.

    The message is one line. `traceback` holds, for an exception raised by the app's
    own code, the frames that led to it (importlib's machinery left out), as Python
    prints them, for the command to show above that line.
    """

    def __init__(self, message: str, traceback: str | None = None) -> None:
        super().__init__(message)
        self.traceback = traceback


def load_app(config: Config) -> Any:
    """Import `config.app` and return the ASGI 3 application it names."""
    module_name, attribute_path = split_app_path(config.app)
    put_app_dir_first(config.app_dir)
    module = import_app_module(module_name)
    target = find_attribute(module, module_name, attribute_path)
    from_factory = config.factory
    if config.factory:
        target = call_factory(target, config.app)
    elif is_factory(target):
        # uvicorn calls the app with no arguments and, when that works, serves what it
        # returned (with a warning): a command line relying on it works here too. Only
        # a callable that takes no arguments is called, never an app on a guess.
        logger.warning("%r takes no arguments: called it as an application factory, as "
                       "uvicorn does; add --factory to say so", config.app)
        target = call_factory(target, config.app)
        from_factory = True
    interface = config.interface
    if interface == "auto":
        interface = "asgi2" if looks_like_asgi2(target) else "asgi3"
    if interface == "asgi2":
        if not callable(target):
            raise AppLoadError(f"{config.app!r} ({type(target).__name__}) is not callable, so "
                               "it is not an ASGI 2 application")
        target = ASGI2App(target)
    else:
        check_asgi3(target, config.app, from_factory)
    if config.header:
        from fasthttpd.config import parse_headers

        target = DefaultHeaders(target, parse_headers(config.header))
    return target


def is_factory(target: Any) -> bool:
    """A function or callable object (not a class) that takes no arguments."""
    if inspect.isclass(target) or not callable(target):
        return False
    signature = signature_of(target)
    return signature is not None and accepts(signature, 0) and not accepts(signature, 1)


def looks_like_asgi2(app: Any) -> bool:
    """uvicorn's --interface auto rule, narrowed to callables that take (scope) alone."""
    if inspect.isclass(app):
        return not hasattr(app, "__await__")
    call: Any
    if inspect.isfunction(app) or inspect.ismethod(app):
        call = app
    else:
        call = getattr(app, "__call__", None)  # noqa: B004 (the bound method is wanted)
        if call is None:
            return False
    if inspect.iscoroutinefunction(call):
        return False
    # uvicorn would call any such callable ASGI 2; only one taking (scope) alone can work
    # as one, and the others get check_asgi3's explanation instead.
    signature = signature_of(app)
    return signature is not None and accepts(signature, 1) and not accepts(signature, 3)


def check_app_path(config: Config) -> None:
    """Catch the common typos without running any of the app's code.

    Used where the app is imported elsewhere (worker processes): checks the
    "module:attribute" shape and that the top-level package can be found.
    """
    module_name, _ = split_app_path(config.app)
    put_app_dir_first(config.app_dir)
    top_level = module_name.split(".", 1)[0]
    try:
        spec = importlib.util.find_spec(top_level)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise AppLoadError(
            f"module {top_level!r} not found (searched sys.path, which starts with the app "
            f"directory {sys.path[0]!r})")


def split_app_path(app_path: str) -> tuple[str, str]:
    module_name, colon, attribute_path = app_path.partition(":")
    if not colon or not module_name or not attribute_path:
        raise AppLoadError(
            f'APP must be "module:attribute" (for example "main:app"), got {app_path!r}')
    return module_name.strip(), attribute_path.strip()


def put_app_dir_first(app_dir: str) -> None:
    path = os.path.abspath(app_dir)
    if not sys.path or sys.path[0] != path:
        sys.path.insert(0, path)


def import_app_module(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Tell "the app module does not exist" apart from "the app module imports
        # something that does not exist": exc.name is the module that was missing.
        if exc.name is not None and is_same_or_parent(exc.name, module_name):
            raise AppLoadError(
                f"module {module_name!r} not found (searched sys.path, which starts with "
                f"the app directory {sys.path[0]!r})") from None
        raise import_error(module_name, exc) from None
    except Exception as exc:
        raise import_error(module_name, exc) from None


def import_error(module_name: str, exc: BaseException) -> AppLoadError:
    """The one-line error for an exception raised while importing the app, with where."""
    log_import_traceback(module_name)
    where = error_location(exc)
    message = f"error while importing {module_name!r}: {first_line(exc)}"
    if where:
        message += f" ({where})"
    return AppLoadError(message, app_traceback(exc))


# Files whose frames are the import machinery, not the app: left out of tracebacks.
_MACHINERY = frozenset({__file__, importlib.__file__})


def user_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    """The traceback's frames without importlib's ("<frozen importlib._bootstrap>") or ours."""
    return [frame for frame in traceback.extract_tb(tb)
            if not frame.filename.startswith("<frozen ") and frame.filename not in _MACHINERY]


def error_location(exc: BaseException) -> str:
    """'File "/srv/app.py", line 3' for the innermost frame of the failure."""
    if isinstance(exc, SyntaxError) and exc.filename:
        # The error is in the file being compiled, which has no frame of its own.
        return f'File "{exc.filename}", line {exc.lineno}'
    frames = user_frames(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}'


def app_traceback(exc: BaseException) -> str:
    """The traceback as Python prints it, importlib's frames left out."""
    lines = ["Traceback (most recent call last):\n"]
    lines.extend(traceback.format_list(user_frames(exc.__traceback__)))
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(lines).rstrip()


def is_same_or_parent(missing: str, module_name: str) -> bool:
    return module_name == missing or module_name.startswith(missing + ".")


def find_attribute(module: ModuleType, module_name: str, attribute_path: str) -> Any:
    target: Any = module
    walked: list[str] = []
    for part in attribute_path.split("."):
        walked.append(part)
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(
                f"attribute {'.'.join(walked)!r} not found in module {module_name!r}"
            ) from None
    return target


def call_factory(factory: Any, app_path: str) -> Any:
    if not callable(factory):
        raise AppLoadError(f"{app_path!r} is not callable, so it cannot be used with --factory")
    try:
        return factory()
    except Exception as exc:
        logger.debug("factory %s raised", app_path, exc_info=True)
        where = error_location(exc)
        raise AppLoadError(f"factory {app_path!r} raised {first_line(exc)}"
                           + (f" ({where})" if where else ""), app_traceback(exc)) from None


def check_asgi3(app: Any, app_path: str, from_factory: bool) -> None:
    what = f"the factory {app_path!r} returned {type(app).__name__}" if from_factory \
        else f"{app_path!r} ({type(app).__name__})"
    if not callable(app):
        raise AppLoadError(f"{what} is not callable, so it is not an ASGI application")
    if inspect.isclass(app):
        raise AppLoadError(f"{what} is a class, which looks like an ASGI 2 application; "
                           + ASGI2_HINT)
    signature = signature_of(app)
    if signature is None or accepts(signature, 3):
        return
    if accepts(signature, 1):
        raise AppLoadError(f"{what} takes one argument, which looks like an ASGI 2 "
                           "application; " + ASGI2_HINT)
    if accepts(signature, 0) and not from_factory:
        raise AppLoadError(f"{what} takes no arguments: if it creates the application, "
                           "add --factory")
    raise AppLoadError(f"{what} does not accept (scope, receive, send), so it is not an "
                       "ASGI 3 application")


def signature_of(app: Any) -> inspect.Signature | None:
    """The call signature, or None where Python cannot tell (some builtins, C types)."""
    try:
        return inspect.signature(app)
    except (TypeError, ValueError):
        return None


def accepts(signature: inspect.Signature, positional_count: int) -> bool:
    try:
        signature.bind(*([None] * positional_count))
    except TypeError:
        return False
    return True


def log_import_traceback(module_name: str) -> None:
    logger.debug("importing %s failed", module_name, exc_info=True)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
