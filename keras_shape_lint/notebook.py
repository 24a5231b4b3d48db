"""Jupyter notebooks read as one module: the code cells in order, IPython syntax left out.

A notebook (``.ipynb``) is JSON; it is read with the standard library's json
module.  Its code cells are joined into one module text, one module line per
cell line, so that every module line maps back to a cell and a line in it.
Cells are numbered from 1 among the code cells, as ``nbqa`` numbers them
(``model.ipynb:cell_3:12:5``).  IPython's own syntax is not Python and is left
out, its lines kept as placeholders so that numbering holds:

* a cell magic (a cell whose first line starts with ``%%``): the whole cell;
* line magics (``%time ...``), shell lines (``!pip ...``) and help (``obj?``),
  and assignments from them (``files = !ls``): the line becomes ``pass``.

A cell that is valid Python is taken as it is, so a ``%`` or ``!`` at the start
of a line inside a string or a bracket is never touched.
"""

from __future__ import annotations

import ast
import bisect
import json
import re
from dataclasses import dataclass, field

SUFFIX = ".ipynb"

_IPYTHON_LINE = re.compile(r"^(\s*)(?:[%!?]|[\w.]+\s*=\s*[%!])")
_HELP_LINE = re.compile(r"^(\s*)[\w.]+\?{1,2}\s*$")
_LARGEST_CELL_CHECKED = 200_000  # characters: larger cells are cleaned without a trial parse


class NotebookError(ValueError):
    """A file that is not a notebook this reader understands."""


def is_notebook(name: str) -> bool:
    return name.lower().endswith(SUFFIX)


@dataclass
class Cells:
    """Where each module line of a notebook came from."""

    starts: list[int] = field(default_factory=list)  # first module line of each code cell, in order
    numbers: list[int] = field(default_factory=list)  # that cell's number (code cells from 1)
    raw_lines: dict = field(default_factory=dict)  # module line -> line of the .ipynb file holding it

    def locate(self, line: int) -> tuple[int, int]:
        """(cell number, line in the cell) of a module line (both from 1)."""
        index = bisect.bisect_right(self.starts, line) - 1
        if index < 0:
            return (self.numbers[0] if self.numbers else 1), line
        return self.numbers[index], line - self.starts[index] + 1

    def label(self, line: int) -> str:
        cell, _ = self.locate(line)
        return f"cell_{cell}"


class NotebookText(str):
    """The module text of a notebook; ``cells`` maps its lines back to the notebook."""

    cells: Cells

    def __new__(cls, text: str, cells: Cells):
        made = super().__new__(cls, text)
        made.cells = cells
        return made


def read_notebook(raw: str) -> NotebookText:
    """The code cells of the notebook JSON ``raw`` as one module text."""
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise NotebookError(f"not a notebook: {error}") from None
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("not a notebook: no list of cells")
    language = (document.get("metadata") or {}).get("language_info", {}) if isinstance(
        document.get("metadata"), dict) else {}
    if isinstance(language, dict) and language.get("name") not in (None, "python"):
        raise NotebookError(f"a notebook in {language.get('name')!r}, not Python")
    out: list[str] = []
    mapping = Cells()
    number = 0
    firsts: list = []  # per cell: its first module line (None: not a code cell)
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            firsts.append(None)
            continue
        number += 1
        lines = python_lines(_source_text(cell.get("source", "")))
        firsts.append(len(out) + 1)
        mapping.starts.append(len(out) + 1)
        mapping.numbers.append(number)
        out.extend(lines)
    mapping.raw_lines = _raw_lines(raw, cells, firsts)
    return NotebookText("".join(line + "\n" for line in out), mapping)


def _source_text(source) -> str:
    if isinstance(source, list):
        return "".join(item for item in source if isinstance(item, str))
    return source if isinstance(source, str) else ""


def python_lines(source: str) -> list[str]:
    """A code cell's lines with IPython syntax replaced by placeholders (as many lines)."""
    lines = source.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("%%"):
        return [""] * len(lines)  # a cell magic: the cell is not Python (%%bash, %%writefile ...)
    if len(source) <= _LARGEST_CELL_CHECKED:
        try:
            ast.parse(source)
            return lines
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            pass
    out = []
    for line in lines:
        match = _IPYTHON_LINE.match(line) or _HELP_LINE.match(line)
        out.append(match.group(1) + "pass" if match else line)
    return out


def _raw_lines(raw: str, cells: list, firsts: list) -> dict:
    """Module line -> the line of the notebook file where that source line is written.

    Notebook writers put each source line of a cell on a line of its own, as a JSON
    string in the cell's ``source`` list.  Each cell's ``source`` key is looked for in
    order, then each of its strings after it; a line not found gets no entry."""
    found: dict = {}
    position = 0
    for cell, first in zip(cells, firsts):
        key = raw.find('"source"', position)
        if key < 0:
            break
        position = key + len('"source"')
        if first is None:
            continue
        source = cell.get("source", "")
        pieces = [source] if isinstance(source, str) else [p for p in source if isinstance(p, str)] \
            if isinstance(source, list) else []
        line = first
        for piece in pieces:
            at = raw.find(json.dumps(piece, ensure_ascii=False), position)
            if at < 0:
                at = raw.find(json.dumps(piece), position)
            if at < 0:
                break
            raw_line = raw.count("\n", 0, at) + 1
            for _ in piece.splitlines():
                found[line] = raw_line
                line += 1
            position = at + 1
    return found
