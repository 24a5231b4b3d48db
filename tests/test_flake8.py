"""The plugin as users run it: the real flake8, on files and through stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


# --------------------------------------------------------------------------- optional codes


INCOMPLETE = (  # a while loop no path decides: the analysis stops at the symbolic loop bound (KSL901)
    "from keras import layers\n\n\ndef shrinking_stack(x, size):\n    while size > 1:\n"
    "        x = layers.Dense(size)(x)\n        size = size // 2\n    return layers.Add()([x, x])\n"
)


def _codes(result) -> set:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return {line.split()[1] for line in result.stdout.splitlines() if " KSL" in line}


@pytest.mark.parametrize("args, shown", [
    ([], False),  # off by default, through flake8's default ignore list
    (["--select", "KSL1"], False),
    (["--extend-select", "KSL9"], True),
    (["--extend-select", "KSL901"], True),
    (["--ksl-report-incomplete"], True),  # the older spelling of --extend-select KSL9
    (["--select", "KSL1", "--ksl-report-incomplete"], True),
    (["--select", "KSL"], True),  # an explicit prefix selects every code under it, as for B9
    (["--select", "KSL", "--extend-ignore", "KSL9"], False),
])
def test_ksl9xx_follow_flake8s_selection(tmp_path, args, shown):
    (tmp_path / "paths.py").write_text(INCOMPLETE)
    result = subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args, "paths.py"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert ("KSL901" in _codes(result)) is shown, result.stdout


def test_extend_select_ksl9_shows_what_the_command_line_shows(tmp_path):
    (tmp_path / "paths.py").write_text(INCOMPLETE)
    by_flake8 = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--extend-select", "KSL9",
                                "paths.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    by_command = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--isolated", "--extend-select", "KSL9",
                                 "paths.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert by_flake8.stdout.strip()
    ksl = [line for line in by_flake8.stdout.splitlines() if " KSL" in line]
    assert ksl == by_command.stdout.splitlines()


def test_optional_codes_are_on_flake8s_default_ignore_list():
    from flake8.options.manager import OptionManager

    from keras_shape_lint.flake8_plugin import KerasShapeChecker

    manager = OptionManager(version="0", plugin_versions="", parents=[], formatter_names=[])
    KerasShapeChecker.add_options(manager)
    assert manager.extended_default_ignore == ["KSL9", "KSL2"]


# --------------------------------------------------------------------------- option values


BAD_VALUES = [
    ("ksl-timeout", "inf", "must be a positive, finite number of seconds, not 'inf'"),
    ("ksl-timeout", "nan", "must be a positive, finite number of seconds, not 'nan'"),
    ("ksl-timeout", "0", "must be a positive, finite number of seconds, not '0'"),
    ("ksl-timeout", "-1", "must be a positive, finite number of seconds, not '-1'"),
    ("ksl-max-paths", "0", "must be a whole number of at least 1, not '0'"),
    ("ksl-max-paths", "many", "must be a whole number of at least 1, not 'many'"),
    ("ksl-data-format", "nhwc", "must be one of channels_last, channels_first, not 'nhwc'"),
]


@pytest.mark.parametrize("where", ["setup.cfg", "tox.ini", ".flake8", "command line"])
@pytest.mark.parametrize("option, value, words", BAD_VALUES)
def test_bad_option_values_stop_flake8_with_a_clear_error(tmp_path, where, option, value, words):
    (tmp_path / "model.py").write_text(EXAMPLE.read_text())
    args = []
    if where == "command line":
        args = [f"--{option}={value}"]
    else:
        (tmp_path / where).write_text(f"[flake8]\n{option} = {value}\n")
    result = subprocess.run([sys.executable, "-m", "flake8", *args, "model.py"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == f"flake8: error: argument --{option}: {words}"


def test_good_option_values_from_a_configuration_file_apply(tmp_path):
    (tmp_path / "model.py").write_text(EXAMPLE.read_text())
    (tmp_path / "setup.cfg").write_text("[flake8]\nselect = KSL\nksl-timeout = 2.5\nksl-max-paths = 1\n"
                                        "ksl-data-format = channels_first\n")
    result = subprocess.run([sys.executable, "-m", "flake8", "model.py"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 1, result.stderr
    # one path per function: the paths are joined, and the shortcut they disagree on leaves the
    # block's merge undecided (KSL201, selected by 'select = KSL') where it is flagged otherwise
    codes = _codes(result)
    assert "KSL201" in codes and "KSL102" not in codes, codes


def test_parse_options_refuses_bad_values_without_flake8():
    import argparse

    from keras_shape_lint.flake8_plugin import KerasShapeChecker

    saved = KerasShapeChecker.options, KerasShapeChecker.report_incomplete
    try:
        for timeout in (float("inf"), float("nan"), 0.0):
            namespace = argparse.Namespace(ksl_data_format="channels_last", ksl_max_paths=32,
                                           ksl_timeout=timeout, ksl_report_incomplete=False)
            with pytest.raises(ValueError, match="--ksl-timeout"):
                KerasShapeChecker.parse_options(namespace)
    finally:
        KerasShapeChecker.options, KerasShapeChecker.report_incomplete = saved
