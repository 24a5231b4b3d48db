"""The command line's inputs: bytes to module text, or a one-line reason why not.

A file is decoded as Python decodes it (a BOM or a coding cookie, else UTF-8),
strictly: undecodable bytes and null bytes make the file unreadable rather than
silently changed.  Notebooks (``.ipynb``) become the module text of their code
cells (:mod:`.notebook`).  Each reason names the place, ``line:column`` (or
``cell_N:line:column`` in a notebook), and the command prints it after the file
name.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize

from .notebook import NotebookError, NotebookText, is_notebook, read_notebook


class UnreadableSource(ValueError):
    """A file the command cannot read as Python; the message says where and why."""


def read_source(path: str, display: str | None = None) -> str:
    """The module text of the file ``path`` ('-': standard input, a notebook when ``display``
    names one).  Raises OSError, or UnreadableSource with a one-line reason."""
    if path == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    else:
        with open(path, "rb") as handle:
            data = handle.read()
    text = decode(data)
    if is_notebook(display if path == "-" and display else path):
        try:
            return read_notebook(text)
        except NotebookError as error:
            raise UnreadableSource(f"1:1: {error}") from None
    return text


def decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:  # an unknown coding cookie, or a BOM that contradicts one
        raise UnreadableSource(f"1:1: {error}") from None
    try:
        text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise UnreadableSource(f"{line}:{column}: cannot be decoded as {encoding}: {error.reason} "
                               f"(byte 0x{data[error.start]:02x})") from None
    if "\x00" in text:
        at = text.index("\x00")
        line = text.count("\n", 0, at) + 1
        raise UnreadableSource(f"{line}:{at - (text.rfind(chr(10), 0, at) + 1) + 1}: holds a null byte")
    return text


def syntax_problem(text: str) -> str | None:
    """Why Python would refuse ``text`` (``line:column: message``), or None if it parses."""
    try:
        ast.parse(text)
    except SyntaxError as error:
        where = place(text, error.lineno or 1, error.offset or 1)
        return f"{where}: {type(error).__name__}: {error.msg}"
    except (RecursionError, MemoryError):
        return f"{place(text, 1, 1)}: too deeply nested to parse"
    except (ValueError, OverflowError) as error:
        return f"{place(text, 1, 1)}: {error}"
    return None


def place(text: str, line: int, column: int) -> str:
    """``line:column``, or ``cell_N:line:column`` for a line of a notebook's module text."""
    if isinstance(text, NotebookText):
        cell, in_cell = text.cells.locate(line)
        return f"cell_{cell}:{in_cell}:{column}"
    return f"{line}:{column}"
