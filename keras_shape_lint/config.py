"""The command line's settings from ``[tool.keras-shape-lint]`` in pyproject.toml.

The nearest ``pyproject.toml`` that holds the table, looking in the starting
folder and then its parents, supplies defaults that command-line options
override.  Keys: ``select``, ``extend-select``, ``ignore``, ``exclude`` (lists
of strings, or one comma-separated string), ``data-format``, ``format``,
``max-paths``, ``timeout``, ``cache`` (false: keep no results between runs) and
``cache-dir`` (the result cache's folder, relative to the pyproject.toml).  Unknown
keys, and a table whose name is a near miss of ``tool.keras-shape-lint``
(``[tool.keras_shape_lint]``, ``[tool.kerasshapelint]`` ...), are warned about, and
the run goes on.

The folder of that pyproject.toml is the project root, from which ``exclude``
patterns are matched; without one, the nearest folder above the current one
that holds a pyproject.toml, setup.cfg, setup.py or .git (:func:`project_root`).

TOML is read with :mod:`tomllib` (Python 3.11+), else with ``tomli`` when it is
installed, else with :func:`parse_table`, a small reader for the one table this
tool needs (strings, numbers, booleans and arrays of them), so that the tool
depends on nothing beyond libcst, flake8 and z3-solver.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .options import DATA_FORMATS, check_cache_dir, check_max_paths, check_timeout

TABLE = ("tool", "keras-shape-lint")

FORMATS = ("text", "json", "sarif", "github")
#: what makes a folder a project's root (as for the project's own modules: project.py)
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")

_LIST_KEYS = ("select", "extend-select", "ignore", "exclude")
_KNOWN_KEYS = _LIST_KEYS + ("data-format", "format", "max-paths", "timeout", "cache", "cache-dir")


class ConfigError(ValueError):
    """A configuration file that cannot be read or holds a bad value."""


@dataclass
class Config:
    """Settings read from a file; ``None`` or empty means "not set there"."""

    path: Path | None = None
    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    data_format: str | None = None
    format: str | None = None
    max_paths: int | None = None
    timeout: float | None = None
    cache: bool | None = None
    cache_dir: Path | None = None  # absolute: read relative to the configuration file's folder
    warnings: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path | None:
        return self.path.parent if self.path is not None else None


# --------------------------------------------------------------------------- finding


def find_pyproject(start: Path, warnings: list | None = None) -> Path | None:
    """The nearest pyproject.toml with a ``[tool.keras-shape-lint]`` table, from ``start`` up.

    A pyproject.toml passed on the way whose table name is a near miss adds a warning
    to ``warnings``."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if warnings is not None:
                warnings.extend(f"{candidate}: [{name}] is not read; did you mean [tool.keras-shape-lint]?"
                                for name in misspelt_tables(text))
            if _mentions_table(text):
                return candidate
    return None


def project_root(start: Path, config: Path | None = None) -> Path:
    """The folder whose relative paths ``exclude`` patterns name: that of the configuration
    file read, else the nearest folder from ``start`` up holding a :data:`ROOT_MARKERS` file,
    else ``start``."""
    if config is not None:
        return Path(config).resolve().parent
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def misspelt_tables(text: str) -> list[str]:
    """``tool.*`` table names in a pyproject.toml that look meant for this tool but are not its own."""
    wanted = "kerasshapelint"
    found = []
    for name in _tool_tables(text):
        if name == TABLE[1]:
            continue
        squashed = re.sub(r"[^a-z]", "", name.lower())
        if squashed.startswith(wanted) or difflib.SequenceMatcher(None, squashed, wanted).ratio() >= 0.8:
            label = f"tool.{name}"
            if label not in found:
                found.append(label)
    return found


def _mentions_table(text: str) -> bool:
    return any(name == TABLE[1] for name in _tool_tables(text))


# ``[tool.NAME]`` or ``[tool.NAME.more]`` headers; NAME bare or quoted (kept exactly as written)
_TOOL_TABLE = re.compile(r"""^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([A-Za-z0-9_-]+))""",
                         re.MULTILINE)


def _tool_tables(text: str) -> list[str]:
    return [next(group for group in match.groups() if group is not None) for match in _TOOL_TABLE.finditer(text)]


def load(start: Path | None = None, path: Path | None = None) -> Config:
    """Read the settings: from ``path`` if given, else from the nearest pyproject.toml."""
    warnings: list[str] = []
    if path is None:
        path = find_pyproject(start or Path.cwd(), warnings)
        if path is None:
            return Config(warnings=warnings)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    if not warnings:
        warnings.extend(f"{path}: [{name}] is not read; did you mean [tool.keras-shape-lint]?"
                        for name in misspelt_tables(text))
    table = read_table(text, str(path))
    config = from_table(table, path)
    config.warnings[:0] = warnings
    return config


def read_table(text: str, label: str = "pyproject.toml") -> dict:
    """The ``[tool.keras-shape-lint]`` table of a TOML document (empty if absent)."""
    loads = _toml_loads()
    if loads is None:
        return parse_table(text, label)
    try:
        document = loads(text)
    except ValueError as error:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"{label}: {error}") from error
    table = document
    for key in TABLE:
        table = table.get(key, {}) if isinstance(table, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: [tool.keras-shape-lint] is not a table")
    return table


def _toml_loads():
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads
    except ImportError:
        pass
    try:
        import tomli  # type: ignore[import-not-found]

        return tomli.loads
    except ImportError:
        return None


def from_table(table: dict, path: Path | None = None) -> Config:
    """Validate a table's values into a :class:`Config`."""
    label = str(path) if path is not None else "configuration"
    config = Config(path=path)
    for raw_key, value in table.items():
        key = raw_key.replace("_", "-")
        if key not in _KNOWN_KEYS:
            config.warnings.append(f"{label}: unknown key {raw_key!r} in [tool.keras-shape-lint] (ignored)")
            continue
        if key in _LIST_KEYS:
            items = _string_list(value, raw_key, label)
            if key == "select":
                config.select = items
            elif key == "extend-select":
                config.extend_select = items
            elif key == "ignore":
                config.ignore = items
            else:
                config.exclude = items
        elif key == "data-format":
            config.data_format = _choice(value, DATA_FORMATS, raw_key, label)
        elif key == "format":
            config.format = _choice(value, FORMATS, raw_key, label)
        elif key == "max-paths":
            if isinstance(value, str):  # TOML says what is a number: "8" is not one
                raise ConfigError(f"{label}: {raw_key} must be a whole number of at least 1, not {value!r}")
            config.max_paths = _checked(check_max_paths, value, raw_key, label)
        elif key == "timeout":
            if isinstance(value, str):
                raise ConfigError(f"{label}: {raw_key} must be a positive, finite number of seconds, not {value!r}")
            config.timeout = _checked(check_timeout, value, raw_key, label)
        elif key == "cache":
            if not isinstance(value, bool):
                raise ConfigError(f"{label}: {raw_key} must be true or false, not {value!r}")
            config.cache = value
        elif key == "cache-dir":
            where = Path(path).resolve().parent if path is not None else Path.cwd()
            given = str(where / Path(value).expanduser()) if isinstance(value, str) and value.strip() else value
            config.cache_dir = Path(_checked(check_cache_dir, given, raw_key, label))
    return config


def _checked(check, value, key: str, label: str):
    try:
        return check(value)
    except ValueError as error:
        raise ConfigError(f"{label}: {key} {error}") from None


def _string_list(value, key: str, label: str) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise ConfigError(f"{label}: {key} must be a list of strings, not {value!r}")


def _choice(value, choices, key: str, label: str) -> str:
    if value not in choices:
        raise ConfigError(f"{label}: {key} must be one of {', '.join(choices)}, not {value!r}")
    return value


# --------------------------------------------------------------------------- small TOML reader


_HEADER = re.compile(r"""^\s*\[\[?\s*([A-Za-z0-9_\-."' ]+?)\s*\]\]?\s*(?:#.*)?$""")


def parse_table(text: str, label: str = "pyproject.toml") -> dict:
    """Read ``[tool.keras-shape-lint]`` from TOML text without a TOML library.

    Other tables are skipped line by line, unread; inside this one it
    understands what the table needs: ``key = value`` pairs whose values are
    basic or literal strings, integers, floats, booleans and (possibly
    multi-line) arrays of those, and comments.
    """
    lines = text.splitlines(keepends=True)
    body: list[str] = []
    first_line = 0
    inside = False
    quote = None  # the delimiter of a multi-line string we are inside, if any
    for number, line in enumerate(lines, 1):
        was_inside_string = quote is not None
        quote = _multiline_state(line, quote)
        header = None if was_inside_string else _HEADER.match(line)
        if header:
            name = header.group(1).replace(" ", "").replace('"', "").replace("'", "")
            inside = name == ".".join(TABLE) and not line.lstrip().startswith("[[")
            if inside and not first_line:
                first_line = number
            continue
        if inside:
            body.append(line)
    reader = _Reader("".join(body), label, first_line)
    table: dict = {}
    while True:
        reader.skip_blank_lines()
        if reader.at_end():
            return table
        key = reader.read_key()
        reader.expect("=")
        value = reader.read_value()
        reader.end_of_line()
        if key in table:
            raise reader.error(f"duplicate key {key!r}")
        table[key] = value


def _multiline_state(line: str, quote: str | None) -> str | None:
    """Track triple-quoted strings across lines: the open delimiter after ``line``, or None."""
    i = 0
    while i < len(line):
        if quote is not None:
            end = line.find(quote, i)
            if end < 0:
                return quote
            i = end + 3
            quote = None
            continue
        char = line[i]
        if char == "#":
            return None
        if line.startswith('"""', i) or line.startswith("'''", i):
            quote = line[i:i + 3]
            i += 3
            continue
        if char in "\"'":  # a one-line string: skip to its end
            end = i + 1
            while end < len(line) and line[end] != char:
                end += 2 if line[end] == "\\" and char == '"' else 1
            i = end + 1
            continue
        i += 1
    return quote


class _Reader:
    def __init__(self, text: str, label: str, first_line: int = 0):
        self.text = text
        self.pos = 0
        self.label = label
        self.first_line = first_line

    @property
    def line(self) -> int:
        return self.first_line + self.text.count("\n", 0, self.pos) + 1

    def error(self, what: str) -> ConfigError:
        return ConfigError(f"{self.label}:{self.line}: {what}")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def skip_comment(self) -> None:
        if self.peek() == "#":
            while self.peek() not in ("\n", ""):
                self.pos += 1

    def skip_blank_lines(self) -> None:
        while True:
            self.skip_spaces()
            self.skip_comment()
            if self.peek() in ("\n", "\r"):
                self.pos += 1
                continue
            return

    def expect(self, char: str) -> None:
        self.skip_spaces()
        if self.peek() != char:
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def end_of_line(self) -> None:
        self.skip_spaces()
        self.skip_comment()
        if self.peek() == "\r":
            self.pos += 1
        if self.peek() not in ("\n", ""):
            raise self.error("unexpected text after a value")
        if self.peek() == "\n":
            self.pos += 1

    def read_key(self) -> str:
        self.skip_spaces()
        char = self.peek()
        if char in ('"', "'"):
            return self.read_string()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() in "-_"):
            self.pos += 1
        if start == self.pos:
            raise self.error("expected a key")
        return self.text[start:self.pos]

    def read_value(self):
        self.skip_spaces()
        char = self.peek()
        if char in ('"', "'"):
            return self.read_string()
        if char == "[":
            return self.read_array()
        start = self.pos
        while self.peek() and self.peek() not in " \t\r\n,]#":
            self.pos += 1
        word = self.text[start:self.pos]
        if word == "true":
            return True
        if word == "false":
            return False
        number = word.replace("_", "")
        for convert in (int, float):
            try:
                return convert(number)
            except ValueError:
                pass
        raise self.error(f"cannot read value {word!r}")

    def read_array(self) -> list:
        self.pos += 1  # [
        items = []
        while True:
            self.skip_blank_lines()
            if self.peek() == "]":
                self.pos += 1
                return items
            if self.at_end():
                raise self.error("unterminated array")
            items.append(self.read_value())
            self.skip_blank_lines()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise self.error("expected ',' or ']' in an array")

    def read_string(self) -> str:
        quote = self.peek()
        if self.text.startswith(quote * 3, self.pos):
            raise self.error("multi-line strings are not supported here; install tomli")
        self.pos += 1
        out = []
        while True:
            char = self.peek()
            if char in ("", "\n"):
                raise self.error("unterminated string")
            self.pos += 1
            if char == quote:
                return "".join(out)
            if char == "\\" and quote == '"':
                out.append(self.read_escape())
            else:
                out.append(char)

    def read_escape(self) -> str:
        char = self.peek()
        self.pos += 1
        simple = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
        if char in simple:
            return simple[char]
        if char in ("u", "U"):
            width = 4 if char == "u" else 8
            digits = self.text[self.pos:self.pos + width]
            self.pos += width
            try:
                return chr(int(digits, 16))
            except ValueError:
                raise self.error(f"bad escape \\{char}{digits}") from None
        raise self.error(f"bad escape \\{char}")
