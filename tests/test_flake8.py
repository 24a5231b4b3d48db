"""The plugin as users run it: the real flake8, on files and through stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "resnext_block.py"
ADD_LINE = next(i for i, line in enumerate(EXAMPLE.read_text().splitlines(), 1) if "Add()([x, shortcut])" in line)


def flake8(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "KSL", *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT,
    )


def codes_by_line(output: str) -> set:
    found = set()
    for line in output.splitlines():
        _path, lineno, _col, rest = line.split(":", 3)
        found.add((int(lineno), rest.split()[0]))
    return found


def test_flake8_reports_the_seed_block_on_a_file():
    result = flake8(str(EXAMPLE))
    assert result.returncode == 1, result.stderr
    assert codes_by_line(result.stdout) == {(ADD_LINE, "KSL102"), (ADD_LINE, "KSL103")}
    assert "conv_shortcut=False" in result.stdout
    assert "filters*2" in result.stdout


def test_flake8_reads_stdin_with_a_display_name():
    result = flake8("-", "--stdin-display-name", "model.py", stdin=EXAMPLE.read_text())
    assert result.returncode == 1, result.stderr
    assert all(line.startswith("model.py:") for line in result.stdout.splitlines())
    assert codes_by_line(result.stdout) == {(ADD_LINE, "KSL102"), (ADD_LINE, "KSL103")}


def test_noqa_silences_only_the_named_code(tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    lines[ADD_LINE - 1] += "  # noqa: KSL102"
    target = tmp_path / "block.py"
    target.write_text("\n".join(lines) + "\n")
    result = flake8(str(target))
    assert codes_by_line(result.stdout) == {(ADD_LINE, "KSL103")}


def test_syntax_errors_are_left_to_flake8(tmp_path):
    target = tmp_path / "broken.py"
    target.write_text("import keras\ndef block(x:\n    return keras.layers.Add()([x, x])\n")
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "KSL,E999", str(target)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert "E999" in result.stdout
    assert "KSL" not in result.stdout
    assert "Traceback" not in result.stderr


def test_options_are_registered_with_flake8():
    result = subprocess.run([sys.executable, "-m", "flake8", "--help"], capture_output=True, text=True)
    for option in ("--ksl-data-format", "--ksl-max-paths", "--ksl-timeout", "--ksl-report-incomplete"):
        assert option in result.stdout


def test_linting_never_imports_a_framework():
    probe = (
        "import sys, keras_shape_lint.flake8_plugin as p\n"
        f"lines = open({str(EXAMPLE)!r}).readlines()\n"
        "found = list(p.KerasShapeChecker(None, lines).run())\n"
        "assert found, 'expected findings'\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax', 'torch'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_runtime_requirements_hold_no_framework():
    from importlib.metadata import requires

    runtime = [r for r in requires("keras-shape-lint") if "extra ==" not in r]
    names = sorted(r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in runtime)
    assert names == ["flake8", "libcst", "z3-solver"]


def test_files_without_keras_load_neither_parser_nor_solver():
    # flake8 runs every installed plugin on every file, so a repository without Keras
    # must not pay for importing libcst and z3; a file that names Keras then loads both
    probe = (
        "import sys, keras_shape_lint.flake8_plugin as p\n"
        "plain = ['def f(a, b):\\n', '    return a + b\\n']\n"
        "assert list(p.KerasShapeChecker(None, plain).run()) == []\n"
        "print(sorted(m for m in ('libcst', 'z3') if m in sys.modules))\n"
        f"lines = open({str(EXAMPLE)!r}).readlines()\n"
        "assert list(p.KerasShapeChecker(None, lines).run())\n"
        "print(sorted(m for m in ('libcst', 'z3') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "['libcst', 'z3']"]
