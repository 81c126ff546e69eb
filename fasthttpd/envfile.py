"""--env-file: environment variables from a dotenv file, loaded before the app is imported.

Theory of operation: uvicorn hands --env-file to python-dotenv, so that is the format
its users write. This reader covers what such files hold, without the dependency:

    # a comment                    blank lines and comments are skipped
    export NAME=value              `export ` is allowed and ignored
    NAME=value  # comment          unquoted: trimmed, ` #` starts a comment
    NAME='no \\n escapes'          single quotes: no escapes; may span lines
    NAME="line\\nbreak ${OTHER}"    double quotes: \\n \\t \\" \\\\ escapes, may span lines
    URL=${HOST:-localhost}:8000    ${VAR} and ${VAR:-default} expand, quoted or not
                                   (as python-dotenv does, single quotes included)
    NAME                           no `=`: skipped (dotenv would set no value)

As with python-dotenv's default, a variable already in the environment is not
replaced, and ${VAR} sees the environment first, then the file's earlier lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_EXPANSION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}


class EnvFileError(ValueError):
    """A line that cannot be read; the message names the file and line."""


def load_env_file(path: str, environ: MutableMapping[str, str] | None = None) -> None:
    """Set the file's variables in `environ` (os.environ) unless they are already set."""
    target = os.environ if environ is None else environ
    if not os.path.isfile(path):
        raise EnvFileError(f"--env-file: no such file: {path}")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"--env-file: cannot read {path}: {exc}") from None
    for name, value in parse_env(text, target, path).items():
        target.setdefault(name, value)


def parse_env(text: str, environ: MutableMapping[str, str], path: str = "<env>",
              ) -> dict[str, str]:
    """The file's variables, in order, with expansions done."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, equals, rest = line.partition("=")
        name = name.strip()
        if not _NAME.fullmatch(name):
            raise EnvFileError(f"--env-file: {path}, line {number}: {name!r} is not a "
                               "variable name")
        if not equals:
            continue
        rest = rest.strip()
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            # A quoted value may continue on the next lines until its closing quote.
            while closing_quote(rest, quote) < 0 and index < len(lines):
                rest += "\n" + lines[index]
                index += 1
            end = closing_quote(rest, quote)
            if end < 0:
                raise EnvFileError(f"--env-file: {path}, line {number}: unclosed {quote}")
            raw = rest[1:end]
            value = raw if quote == "'" else unescape(raw)
        else:
            value = strip_comment(rest)
        values[name] = expand(value, environ, values)
    return values


def closing_quote(text: str, quote: str) -> int:
    """Index of the quote that closes text[0], or -1; backslash escapes in double quotes."""
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and quote == '"':
            index += 2
            continue
        if char == quote:
            return index
        index += 1
    return -1


def unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw)


def strip_comment(value: str) -> str:
    position = value.find(" #")
    return (value[:position] if position >= 0 else value).strip()


def expand(value: str, environ: MutableMapping[str, str], earlier: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = environ.get(name, earlier.get(name))
        if found:
            return found
        return default or ""

    return _EXPANSION.sub(replace, value)
