"""What the command line does with inputs it cannot read, settings it cannot use, and where
its exclusions are matched from.

* A file that names Keras but is not Python the command can read (a syntax error, Python 2,
  a null byte, bytes that do not decode) is an error: one line on standard error naming
  the file and the place, exit status 2, and the other files are still checked.  An
  internal error of the analyser (KSL902) is exit status 2 too.
* Bad values (``inf``, ``nan``, ``0``, ``-1``) stop the run with status 2; an unknown key, a
  misspelt ``[tool.keras-shape-lint]`` table or a ``--select`` prefix that matches no code is
  a warning on standard error, and the run goes on.
* ``--exclude`` patterns are paths from the project root (the folder of the pyproject.toml or
  setup.cfg), inside a git repository or not: run from a subfolder, the same files are excluded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keras_shape_lint import cli

from oracle import REPO_ROOT

FLAGGED = textwrap.dedent('''\
    from keras import layers


    def residual_block(x, filters):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        return layers.Add()([y, x])
''')
FLAGGED_LINE = 6


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "keras_shape_lint", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def write(folder: Path, name: str, content) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def flagged_files(output: str) -> set[str]:
    return {line.split(":")[0] for line in output.splitlines() if ": KSL" in line}


# --------------------------------------------------------------------------- unreadable inputs

UNREADABLE = {
    # name: (content, the place and words the error names)
    "syntax_error": (b"import keras\ndef block(x:\n    return x\n", "2:10: SyntaxError: '(' was never closed"),
    "python2": (b"import keras\nprint 'building'\n", "2:1: SyntaxError: Missing parentheses"),
    "null_byte": (b"import keras\nx = 1\x00\n", "2:6: holds a null byte"),
    "undecodable": (b"import keras\nname = '\xff\xfe'\n", "2:9: cannot be decoded as utf-8"),
    "wrong_cookie": (b"# -*- coding: klingon -*-\nimport keras\n", "1:1: unknown encoding"),
    "latin1_cookie_bad_utf8_bom": (b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nimport keras\n", "1:1: encoding problem"),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_an_unreadable_file_is_an_error_and_the_others_are_still_checked(tmp_path, name):
    content, reason = UNREADABLE[name]
    write(tmp_path, "bad.py", content)
    write(tmp_path, "good.py", FLAGGED)
    result = run("bad.py", "good.py", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    [message] = result.stderr.splitlines()
    assert message.startswith("keras-shape-lint: error: bad.py:"), message
    assert reason in message, message
    assert flagged_files(result.stdout) == {"good.py"}
    # SARIF says the run did not succeed, and why
    log = json.loads(run("--format", "sarif", "bad.py", cwd=tmp_path).stdout)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert [n["message"]["text"] for n in invocation["toolExecutionNotifications"]] == [message.split("error: ", 1)[1]]


def test_a_file_that_never_names_keras_is_not_parsed(tmp_path):
    """Only files the analysis would read are read as Python: a Python 2 script elsewhere in
    the folder is none of this tool's business (flake8 reports it as E999)."""
    write(tmp_path, "legacy.py", "print 'hello'\n")
    assert run("legacy.py", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("name", ["syntax_error", "python2", "null_byte"])
def test_flake8_reports_e999_and_the_plugin_stays_silent(tmp_path, name):
    write(tmp_path, "bad.py", UNREADABLE[name][0])
    result = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "KSL,E9", "bad.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "E999" in result.stdout
    assert "KSL" not in result.stdout and "Traceback" not in result.stderr


def test_an_internal_error_inside_the_analysis_exits_2(tmp_path, monkeypatch, capsys):
    """An error the analysis caught and noted (KSL902) still means the file was not fully checked."""
    write(tmp_path, "a.py", FLAGGED)
    monkeypatch.chdir(tmp_path)
    real = cli.analyse_text

    def noting(*args, **kwargs):
        findings, analysis = real(*args, **kwargs)
        analysis.note_internal("residual_block: TypeError: a bug in a layer model")
        return findings, analysis

    monkeypatch.setattr(cli, "analyse_text", noting)
    assert cli.main(["a.py"]) == 2
    captured = capsys.readouterr()
    assert "internal error analysing a.py: residual_block: TypeError: a bug in a layer model" in captured.err
    assert captured.out.startswith(f"a.py:{FLAGGED_LINE}:")  # what was found is still reported
    assert cli.main(["a.py", "--extend-select", "KSL902", "--format", "json"]) == 2
    codes = [(item["code"], item["line"]) for item in json.loads(capsys.readouterr().out)]
    assert ("KSL902", 1) in codes and ("KSL102", FLAGGED_LINE) in codes


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("args, words", [
    (["--timeout", "inf"], "--timeout must be a positive, finite number of seconds, not inf"),
    (["--timeout", "nan"], "--timeout must be a positive, finite number of seconds, not nan"),
    (["--timeout", "0"], "--timeout must be a positive, finite number of seconds, not 0.0"),
    (["--timeout", "-1"], "--timeout must be a positive, finite number of seconds, not -1.0"),
    (["--max-paths", "0"], "--max-paths must be a whole number of at least 1, not 0"),
])
def test_bad_budgets_on_the_command_line_exit_2(tmp_path, args, words):
    write(tmp_path, "a.py", FLAGGED)
    result = run("a.py", *args, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == f"keras-shape-lint: error: {words}"


@pytest.mark.parametrize("line, words", [
    ("timeout = inf", "timeout must be a positive, finite number of seconds, not inf"),
    ("timeout = nan", "timeout must be a positive, finite number of seconds"),
    ("timeout = 0", "timeout must be a positive, finite number of seconds, not 0"),
    ('timeout = "5"', "timeout must be a positive, finite number of seconds, not '5'"),
    ("max-paths = 0", "max-paths must be a whole number of at least 1, not 0"),
    ('data-format = "nhwc"', "data-format must be one of channels_last, channels_first, not 'nhwc'"),
])
def test_bad_budgets_in_pyproject_exit_2(tmp_path, line, words):
    write(tmp_path, "a.py", FLAGGED)
    write(tmp_path, "pyproject.toml", f"[tool.keras-shape-lint]\n{line}\n")
    result = run("a.py", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert words in result.stderr


@pytest.mark.parametrize("header", ["[tool.keras_shape_lint]", "[tool.kerasshapelint]", "[tool.keras-shape-lnt]",
                                    '[tool."keras-shape-lint "]'])
def test_a_misspelt_table_is_a_warning(tmp_path, header):
    write(tmp_path, "a.py", FLAGGED)
    write(tmp_path, "pyproject.toml", f'[project]\nname = "demo"\n\n{header}\nignore = ["KSL1"]\n')
    result = run("a.py", cwd=tmp_path)
    assert result.returncode == 1  # the misspelt table's ignore did not apply
    [warning] = result.stderr.splitlines()
    assert warning.startswith("keras-shape-lint: warning: ") and "did you mean [tool.keras-shape-lint]?" in warning
    # the table spelt right is read, and nothing is said
    write(tmp_path, "pyproject.toml", '[project]\nname = "demo"\n\n[tool.keras-shape-lint]\nignore = ["KSL1"]\n')
    result = run("a.py", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_unknown_keys_warn_and_the_run_goes_on(tmp_path):
    write(tmp_path, "a.py", FLAGGED)
    write(tmp_path, "pyproject.toml", '[tool.keras-shape-lint]\ntimout = 2\n[tool.keras-shape-lint.extra]\nx = 1\n')
    result = run("a.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown key 'timout'" in result.stderr and "unknown key 'extra'" in result.stderr


@pytest.mark.parametrize("args, warned", [
    (["--select", "FOO"], "--select FOO"),
    (["--extend-select", "KSL7"], "--extend-select KSL7"),
    (["--ignore", "E501"], "--ignore E501"),
])
def test_a_prefix_that_matches_no_code_is_a_warning(tmp_path, args, warned):
    write(tmp_path, "a.py", FLAGGED)
    result = run("a.py", *args, cwd=tmp_path)
    [warning] = result.stderr.splitlines()
    assert warning.startswith(f"keras-shape-lint: warning: {warned} matches no keras-shape-lint code")


@pytest.mark.parametrize("args", [["--select", "KSL"], ["--select", "K"], ["--select", "KSL10"],
                                  ["--extend-select", "KSL2"], ["--ignore", "KSL9"]])
def test_prefixes_that_match_codes_say_nothing(tmp_path, args):
    write(tmp_path, "a.py", FLAGGED)
    assert run("a.py", *args, cwd=tmp_path).stderr == ""


# --------------------------------------------------------------------------- the project root


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.cfg"])
def test_excludes_match_from_the_project_root_outside_git(tmp_path, marker):
    write(tmp_path, marker, "[tool.other]\n" if marker == "pyproject.toml" else "[metadata]\nname = demo\n")
    for name in ("src/models/keep.py", "src/legacy/old.py", "src/legacy/deeper/older.py"):
        write(tmp_path, name, FLAGGED)
    expected_from_root = {os.path.join("src", "models", "keep.py")}
    assert flagged_files(run(".", "--exclude", "src/legacy", cwd=tmp_path).stdout) == expected_from_root
    # the same command from a subfolder excludes the same files
    from_src = run(".", "--exclude", "src/legacy", cwd=tmp_path / "src")
    assert flagged_files(from_src.stdout) == {os.path.join("models", "keep.py")}
    # and a file inside an excluded folder, named on its own (as pre-commit names files), too
    named = run("legacy/deeper/older.py", "models/keep.py", "--exclude", "src/legacy", cwd=tmp_path / "src")
    assert flagged_files(named.stdout) == {os.path.join("models", "keep.py")}


def test_excludes_from_pyproject_hold_from_any_subfolder(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.keras-shape-lint]\nexclude = ["src/legacy"]\n')
    write(tmp_path, "src/models/keep.py", FLAGGED)
    write(tmp_path, "src/legacy/old.py", FLAGGED)
    for cwd, shown in ((tmp_path, os.path.join("src", "models", "keep.py")),
                       (tmp_path / "src", os.path.join("models", "keep.py")),
                       (tmp_path / "src" / "legacy", None)):
        result = run(".", cwd=cwd)
        assert flagged_files(result.stdout) == ({shown} if shown else set()), (cwd, result.stdout)


def test_gitignore_is_read_at_the_repository_root_when_the_project_is_below_it(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "generated/\n")
    write(tmp_path, "pkg/pyproject.toml", '[tool.keras-shape-lint]\nexclude = ["legacy"]\n')
    write(tmp_path, "pkg/generated/g.py", FLAGGED)
    write(tmp_path, "pkg/legacy/l.py", FLAGGED)
    write(tmp_path, "pkg/model.py", FLAGGED)
    result = run(".", "--format", "sarif", cwd=tmp_path / "pkg")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(result.stdout)["runs"][0]["results"]}
    assert uris == {"pkg/model.py"}  # SARIF paths stay relative to the repository root


def test_the_repository_declares_its_project_root_markers():
    """The command and the analyser (which reads the project's own modules) agree on what a
    project root is."""
    from keras_shape_lint import config, project

    assert config.ROOT_MARKERS == project._MARKERS
    assert (REPO_ROOT / "pyproject.toml").is_file()
