"""The analyser reads code, it never runs it.

``fixtures/_never_run_me.py`` writes a marker file under the temp dir and exits the
process (``sys.exit(3)``, then ``os._exit(3)``) the moment it is imported or executed.
Every front end lints it here, in a subprocess whose ``TMPDIR`` points at a fresh
folder: the marker must not appear, the process must exit normally, and the analyser
must have really read the module's merge (the statistics count it as proven).

The fixture's name starts with ``_`` so that the Keras oracle, which imports every other
fixture module (tests/oracle.py ``fixture_paths``), leaves it alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "_never_run_me.py"
MARKER_NAME = "keras_shape_lint_never_run_me.marker"
DEFAULT_MARKER = Path(tempfile.gettempdir()) / MARKER_NAME


@pytest.fixture
def sandbox(tmp_path):
    """A private temp dir for the child processes, and the time the test started."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp), TEMP=str(temp), TMP=str(temp))
    before = DEFAULT_MARKER.stat().st_mtime if DEFAULT_MARKER.exists() else None
    yield env, temp / MARKER_NAME
    after = DEFAULT_MARKER.stat().st_mtime if DEFAULT_MARKER.exists() else None
    assert after == before, f"{DEFAULT_MARKER} was written: something imported {FIXTURE.name}"


def run(argv, env, cwd=ROOT, timeout=300):
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def assert_not_executed(result, marker):
    assert not marker.exists(), f"the fixture was executed: {marker.read_text()!r}"
    assert result.returncode in (0, 1), (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


def stats_lines(stderr: str) -> list[dict]:
    found = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def test_the_guard_really_fires_when_the_fixture_is_run(sandbox):
    """Without this, the other tests could pass because the fixture does nothing."""
    env, marker = sandbox
    result = run([sys.executable, "-c", f"import runpy; runpy.run_path({str(FIXTURE)!r})"], env)
    assert result.returncode == 3
    assert marker.exists()
    marker.unlink()


def test_fixture_is_clean_and_has_no_oracle_line():
    text = FIXTURE.read_text(encoding="utf-8")
    assert "# oracle:" not in text
    assert "# KSL" not in text
    assert "Add()" in text


def test_cli_reads_without_executing(sandbox):
    env, marker = sandbox
    result = run([sys.executable, "-m", "keras_shape_lint", "--no-cache", "--format", "json", "--stats",
                  str(FIXTURE.relative_to(ROOT))], env)
    assert_not_executed(result, marker)
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout) == []
    per_file = [s for s in stats_lines(result.stderr) if "merges" in s and "_never_run_me" in str(s.get("path", ""))]
    assert per_file, f"no statistics for the fixture in: {result.stderr[-2000:]}"
    assert per_file[0]["merges"] >= 1 and per_file[0]["proven"] >= 1, per_file[0]


def test_cli_reads_stdin_without_executing(sandbox):
    env, marker = sandbox
    result = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--no-cache", "--format", "json", "-"],
                            input=FIXTURE.read_text(encoding="utf-8"), capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=300)
    assert_not_executed(result, marker)
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("extra", [[], ["--ksl-report-incomplete"], ["-j", "2"]], ids=["plain", "incomplete", "jobs2"])
def test_flake8_reads_without_executing(sandbox, extra):
    env, marker = sandbox
    result = run([sys.executable, "-m", "flake8", "--select", "KSL", "--ksl-no-cache", *extra, str(FIXTURE.relative_to(ROOT))], env)
    assert_not_executed(result, marker)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == ""


def test_flake8_stdin_reads_without_executing(sandbox):
    env, marker = sandbox
    result = subprocess.run([sys.executable, "-m", "flake8", "--select", "KSL", "--ksl-no-cache", "-",
                             "--stdin-display-name", "model.py"],
                            input=FIXTURE.read_text(encoding="utf-8"), capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=300)
    assert_not_executed(result, marker)
    assert result.stdout.strip() == ""


def test_checker_in_process_reads_without_executing(sandbox):
    env, marker = sandbox
    probe = textwrap.dedent(f"""
        import argparse
        from keras_shape_lint.flake8_plugin import KerasShapeChecker
        KerasShapeChecker.parse_options(argparse.Namespace(
            ksl_data_format="channels_last", ksl_max_paths=32, ksl_timeout=5.0, ksl_report_incomplete=True))
        path = {str(FIXTURE)!r}
        lines = open(path, encoding="utf-8").readlines()
        found = list(KerasShapeChecker(None, lines, path).run())
        print("RESULTS", found)
        assert found == [], found
    """)
    result = run([sys.executable, "-c", probe], env)
    assert_not_executed(result, marker)
    assert result.returncode == 0 and "RESULTS []" in result.stdout, result.stdout + result.stderr


def test_imported_project_module_is_read_not_executed(sandbox, tmp_path):
    """The analyser follows ``from never_run_me import ...`` into the project: reading only."""
    env, marker = sandbox
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
    shutil.copy(FIXTURE, project / "never_run_me.py")
    (project / "model.py").write_text(textwrap.dedent("""\
        import keras
        from never_run_me import residual_block


        def build(input_shape=(32, 32, 3)):
            inputs = keras.Input(shape=input_shape)
            x = residual_block(inputs, 16, strides=2)
            x = residual_block(x, 16)
            return keras.Model(inputs, x)
    """))
    cli = run([sys.executable, "-m", "keras_shape_lint", "--no-cache", "--format", "json", "--stats", "model.py"], env, cwd=project)
    assert_not_executed(cli, marker)
    assert json.loads(cli.stdout) == []
    flake8 = run([sys.executable, "-m", "flake8", "--select", "KSL", "--ksl-no-cache", "--ksl-report-incomplete", "model.py"], env,
                 cwd=project)
    assert_not_executed(flake8, marker)
    assert flake8.stdout.strip() == ""
    assert not (project / "__pycache__").exists(), "something compiled (imported) a project module"
