"""--env-file: the dotenv format uvicorn users write (python-dotenv's), read without it."""

from __future__ import annotations

import pytest

from fasthttpd.envfile import EnvFileError, load_env_file, parse_env

SAMPLE = """\
# settings for the app
export DATABASE_URL=postgres://db:5432/app
PLAIN = spaced value   # a comment
EMPTY=
SINGLE='no \\n escape, ${PORT} # not a comment'
DOUBLE="tab\\there \\"quoted\\" ${PLAIN}"
MULTI="first
second"
HOSTPORT=${HOST:-localhost}:${PORT:-8000}
NO_VALUE
HASH=a#b
"""


def test_the_formats_python_dotenv_reads():
    values = parse_env(SAMPLE, {"PORT": "9000"})
    assert values == {
        "DATABASE_URL": "postgres://db:5432/app",
        "PLAIN": "spaced value",
        "EMPTY": "",
        "SINGLE": "no \\n escape, 9000 # not a comment",
        "DOUBLE": 'tab\there "quoted" spaced value',
        "MULTI": "first\nsecond",
        "HOSTPORT": "localhost:9000",
        "HASH": "a#b",
    }


def test_variables_already_set_win(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=file\nB=file\nC=${A}\n")
    environ = {"A": "shell"}
    load_env_file(str(path), environ)
    assert environ == {"A": "shell", "B": "file", "C": "shell"}


@pytest.mark.parametrize("text, message", [
    ("1BAD=x\n", "line 1: '1BAD' is not a variable name"),
    ("A=1\nB='open\n", "line 2: unclosed '"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / ".env"
    path.write_text(text)
    with pytest.raises(EnvFileError) as info:
        load_env_file(str(path), {})
    assert str(info.value) == f"--env-file: {path}, {message}"


def test_missing_file(tmp_path):
    with pytest.raises(EnvFileError, match="no such file"):
        load_env_file(str(tmp_path / "missing"), {})
