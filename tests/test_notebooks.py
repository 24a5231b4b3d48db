"""Jupyter notebooks on the command line: code cells analysed as one module, findings by cell.

tests/data/notebooks holds two notebooks in nbformat 4's own layout (one-space
indent, sorted keys, each source line on a line of its own): the same residual
block with and without its projection, behind cells of IPython syntax (a line
magic, a shell line, a ``%%time`` cell magic) that are not Python.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keras_shape_lint.notebook import Cells, python_lines, read_notebook

from oracle import REPO_ROOT, build_from_witness, merge_error_line

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
BROKEN = NOTEBOOKS / "residual_broken.ipynb"
CLEAN = NOTEBOOKS / "residual_clean.ipynb"
BROKEN_NAME = BROKEN.relative_to(REPO_ROOT).as_posix()


def run(*args, cwd=REPO_ROOT, stdin=None):
    return subprocess.run([sys.executable, "-m", "keras_shape_lint", *map(str, args)],
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300)


def cell_source(path: Path, number: int) -> list[str]:
    """The lines of code cell ``number`` (from 1), read straight from the notebook's JSON."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    return "".join(cells[number - 1]["source"]).splitlines()


def test_the_flagged_merge_is_reported_by_cell_and_line():
    result = run(BROKEN_NAME)
    assert result.returncode == 1, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{BROKEN_NAME}:cell_3:5:12: KSL101 ")
    assert "called residual_block() at cell_4 line 2" in line
    # cell 3, line 5 is the Add; cell 4, line 2 the call
    assert "layers.Add()([y, shortcut])" in cell_source(BROKEN, 3)[4]
    assert cell_source(BROKEN, 3)[4][11:].startswith("layers.Add()")
    assert "residual_block(inputs, 32)" in cell_source(BROKEN, 4)[1]


def test_json_and_sarif_give_the_cell_and_the_line_in_it():
    [item] = json.loads(run("--format", "json", BROKEN_NAME).stdout)
    assert (item["path"], item["cell"], item["line"], item["column"], item["code"]) == (BROKEN_NAME, 3, 5, 12, "KSL101")
    assert item["call_chain"] == [{"function": "residual_block", "line": 2, "cell": 4}]
    log = json.loads(run("--format", "sarif", BROKEN_NAME).stdout)
    [result] = log["runs"][0]["results"]
    assert (result["properties"]["cell"], result["properties"]["cellLine"]) == (3, 5)
    # the region is the line of the .ipynb file that holds the flagged source line
    raw = BROKEN.read_text().splitlines()
    region = result["locations"][0]["physicalLocation"]["region"]
    assert "return layers.Add()([y, shortcut])" in raw[region["startLine"] - 1]
    [related] = result["relatedLocations"]
    assert "residual_block(inputs, 32)" in raw[related["physicalLocation"]["region"]["startLine"] - 1]


def test_the_finding_is_real_keras_fails_at_that_merge(tmp_path):
    """The witness replayed on the notebook's module text: Keras raises at the flagged Add."""
    [item] = json.loads(run("--format", "json", BROKEN_NAME).stdout)
    text = read_notebook(BROKEN.read_text())
    module = tmp_path / "residual_broken_cells.py"
    module.write_text(str(text))
    module_line = text.cells.starts[text.cells.numbers.index(item["cell"])] + item["line"] - 1
    outcome = build_from_witness(module, item["witness"])
    assert merge_error_line(outcome.error, module) == (True, module_line), repr(outcome.error)


def test_the_clean_notebook_is_silent_and_folders_include_notebooks(tmp_path):
    assert (run(CLEAN).returncode, run(CLEAN).stdout) == (0, "")
    result = run(NOTEBOOKS)
    assert result.returncode == 1
    assert {line.split(":")[0] for line in result.stdout.splitlines()} == {str(NOTEBOOKS / "residual_broken.ipynb")}


def test_a_notebook_on_standard_input_with_its_name():
    result = run("-", "--stdin-display-name", "model.ipynb", stdin=BROKEN.read_text())
    assert result.returncode == 1
    assert result.stdout.startswith("model.ipynb:cell_3:5:12: KSL101 ")


def test_ipython_syntax_is_left_out_and_lines_keep_their_numbers():
    text = read_notebook(BROKEN.read_text())
    lines = str(text).splitlines()
    assert lines[0] == "pass"  # %matplotlib inline
    assert lines[3] == "pass"  # !pip list | grep keras (cell 2, alone)
    assert lines[-2:] == ["", ""]  # the %%time cell
    code_cells = [c for c in json.loads(BROKEN.read_text())["cells"] if c["cell_type"] == "code"]
    assert len(lines) == sum(len("".join(c["source"]).splitlines()) for c in code_cells)
    assert python_lines("def f(x):\n    !ls\n    y = %time g(x)\n    x?\n    return x\n") == [
        "def f(x):", "    pass", "    pass", "    pass", "    return x"]
    # a valid cell is taken as it is: '%' inside a string is not a magic
    assert python_lines("s = '''\n%not a magic\n'''\n") == ["s = '''", "%not a magic", "'''"]


def test_cells_map_module_lines_back():
    cells = Cells(starts=[1, 4, 10], numbers=[1, 2, 3])
    assert [cells.locate(line) for line in (1, 3, 4, 9, 10, 12)] == [(1, 1), (1, 3), (2, 1), (2, 6), (3, 1), (3, 3)]


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not a notebook"),
    ('{"cells": 3}', "no list of cells"),
    ('{"cells": [], "metadata": {"language_info": {"name": "R"}}}', "not Python"),
])
def test_a_file_that_is_not_a_python_notebook_is_an_error(tmp_path, content, reason):
    (tmp_path / "bad.ipynb").write_text(content)
    result = run("bad.ipynb", cwd=tmp_path)
    assert result.returncode == 2
    [message] = result.stderr.splitlines()
    assert message.startswith("keras-shape-lint: error: bad.ipynb:1:1: ") and reason in message


def test_a_syntax_error_in_a_cell_is_named_by_cell(tmp_path):
    notebook = json.loads(BROKEN.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    code[2]["source"][1] = "    shortcut = x +\n"
    (tmp_path / "typo.ipynb").write_text(json.dumps(notebook))
    result = run("typo.ipynb", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("keras-shape-lint: error: typo.ipynb:cell_3:2:")


def test_the_notebook_hook_runs_on_notebooks():
    """pre-commit's second hook: the same command, on the files pre-commit types as jupyter."""
    from test_precommit import HOOKS_FILE, parse_hooks

    hooks = {hook["id"]: hook for hook in parse_hooks(HOOKS_FILE.read_text(encoding="utf-8"))}
    hook = hooks["keras-shape-lint-jupyter"]
    assert (hook["entry"], hook["language"], hook["types"]) == ("keras-shape-lint", "python", ["jupyter"])
    assert hooks["keras-shape-lint"]["entry"] == hook["entry"]
    script = Path(sys.executable).parent / hook["entry"]
    result = subprocess.run([str(script), BROKEN_NAME, CLEAN.relative_to(REPO_ROOT).as_posix()],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"{BROKEN_NAME}:cell_3:5:12: KSL101 ")
