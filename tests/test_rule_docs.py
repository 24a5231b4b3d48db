"""Every rule page's examples are tests, so docs and behaviour cannot drift.

docs/rules/KSLnnn.md holds a ```` ```python failing ```` and a ```` ```python passing ````
block.  They use the fixtures' conventions (tests/oracle.py): the failing example
names its expected codes inline on the flagged line (``# KSL102``), and the
passing example says how to build it with ``# oracle: expr`` lines.

* the analyser reports exactly the inline expectations on the failing example and
  nothing on the passing one;
* Keras agrees: each finding's witness makes Keras raise at the flagged merge
  (KSL105: builds and broadcasts one channel there), and every ``# oracle:``
  expression of the passing example builds;
* KSL901 is exercised by a budget, not by Keras; KSL902 (an internal error) has no
  example, and tests/test_cli.py checks how it is reported.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from keras_shape_lint.findings import CODES

from oracle import REPO_ROOT, check_finding, eval_oracle, expected_findings, import_fixture, oracle_lines

RULES = REPO_ROOT / "docs" / "rules"
USAGE = REPO_ROOT / "docs" / "usage.md"
_BLOCK = re.compile(r"^```python (?P<kind>failing|passing)[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.M | re.S)

MERGE_CODES = [code for code in CODES if code.startswith("KSL1")]
STRICT_CODES = [code for code in CODES if code.startswith("KSL2")]


def page(code: str) -> str:
    return (RULES / f"{code}.md").read_text(encoding="utf-8")


def examples(code: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _BLOCK.finditer(page(code)):
        assert match.group("kind") not in found, f"{code}.md has two {match.group('kind')} examples"
        found[match.group("kind")] = match.group("code")
    return found


@pytest.fixture
def example_dir():
    """A scratch folder inside the repository (the oracle names files relative to it),
    under the git-ignored .pytest_cache, removed afterwards."""
    parent = REPO_ROOT / ".pytest_cache"
    parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rule-docs-", dir=parent) as folder:
        yield Path(folder)


def write_example(folder: Path, code: str, kind: str) -> Path:
    path = folder / f"{code.lower()}_{kind}.py"
    path.write_text(examples(code)[kind], encoding="utf-8")
    return path


def analyse(path: Path, *options) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "keras_shape_lint", "--format", "json", "--isolated", *options, path.name],
        cwd=path.parent, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- the pages


@pytest.mark.parametrize("code", list(CODES))
def test_every_code_has_a_page_with_the_parts_users_need(code):
    text = page(code)
    assert text.startswith(f"# {code}: "), "the title names the code"
    for heading in ("## What it means", "## How to fix"):
        assert heading in text, f"{code}.md lacks {heading!r}"
    assert ("on (selected by `KSL1`)" in text) is CODES[code].default_on
    if code in MERGE_CODES or code in STRICT_CODES or code == "KSL901":
        assert set(examples(code)) == {"failing", "passing"}


@pytest.mark.parametrize("code", ["KSL901", "KSL902"])
def test_incomplete_analysis_pages_say_how_to_enable_them(code):
    text = page(code)
    assert f"--select {code}" in text and "--ksl-report-incomplete" in text
    assert "**Default:** off" in text


def test_ksl902_page_quotes_the_real_message():
    prefix = CODES["KSL902"].template.split("{")[0]
    assert f"KSL902 {prefix}" in page("KSL902")


def test_budget_table_matches_the_defaults():
    from keras_shape_lint.analysis import Options

    text = page("KSL901")
    assert f"(`--max-paths N`, `--ksl-max-paths N`, default {Options.max_paths})" in text
    assert f"| `--timeout S` | `--ksl-timeout S` | {Options.time_budget_s} |" in text


# --------------------------------------------------------------------------- the analyser on the examples


@pytest.mark.parametrize("code", MERGE_CODES)
def test_failing_example_is_flagged_with_its_code(example_dir, code):
    path = write_example(example_dir, code, "failing")
    expected = expected_findings(path)
    assert code in {c for _, c in expected}, f"the failing example of {code} does not expect {code}"
    assert {(f["line"], f["code"]) for f in analyse(path)} == expected


@pytest.mark.parametrize("code", MERGE_CODES)
def test_passing_example_is_clean(example_dir, code):
    path = write_example(example_dir, code, "passing")
    assert not expected_findings(path)
    assert analyse(path, "--select", "KSL") == []


def test_ksl901_example_stops_at_the_symbolic_loop_bound(example_dir):
    failing = write_example(example_dir, "KSL901", "failing")
    passing = write_example(example_dir, "KSL901", "passing")
    found = analyse(failing, "--select", "KSL9")
    assert {(f["line"], f["code"]) for f in found} == expected_findings(failing)
    assert all("symbolic loop bound" in f["message"] for f in found), found  # the bound the page names
    assert analyse(failing) == []  # off by default
    assert analyse(passing, "--select", "KSL") == []
    # flake8 reports it too, with the option the page names
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "KSL", "--ksl-report-incomplete", failing.name],
        cwd=example_dir, capture_output=True, text=True, timeout=300,
    )
    assert f"{failing.name}:1:1: KSL901 " in result.stdout


@pytest.mark.parametrize("code", STRICT_CODES)
def test_strict_mode_examples(example_dir, code):
    failing = write_example(example_dir, code, "failing")
    passing = write_example(example_dir, code, "passing")
    assert "**Default:** off" in page(code) and "--extend-select KSL2" in page(code)
    assert analyse(failing) == []  # off by default
    assert {(f["line"], f["code"]) for f in analyse(failing, "--extend-select", "KSL2")} == expected_findings(failing)
    assert analyse(passing, "--select", "KSL1,KSL2") == []
    # flake8 reports it too, turned on the same way
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--extend-select", "KSL2", failing.name],
        cwd=example_dir, capture_output=True, text=True, timeout=300,
    )
    (line, _), = expected_findings(failing)
    assert f"{failing.name}:{line}:" in result.stdout and f" {code} " in result.stdout, result.stdout


# --------------------------------------------------------------------------- Keras on the examples


@pytest.mark.parametrize("code", MERGE_CODES)
def test_keras_fails_the_failing_example_at_the_merge(example_dir, code):
    path = write_example(example_dir, code, "failing")
    findings = analyse(path)
    assert findings
    for finding in findings:
        check_finding(path, finding)


@pytest.mark.parametrize("code", MERGE_CODES + STRICT_CODES + ["KSL901"])
def test_keras_builds_the_passing_example(example_dir, code):
    path = write_example(example_dir, code, "passing")
    lines = oracle_lines(path)
    assert lines, f"the passing example of {code} has no '# oracle:' line"
    module = import_fixture(path)
    for _, expression in lines:
        assert eval_oracle(path, expression, module) is not None


# --------------------------------------------------------------------------- docs/usage.md


def test_usage_names_only_options_that_exist():
    text = USAGE.read_text(encoding="utf-8")
    cli_help = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--help"],
                              capture_output=True, text=True).stdout
    flake8_help = subprocess.run([sys.executable, "-m", "flake8", "--help"], capture_output=True, text=True).stdout
    for option in set(re.findall(r"(?<![\w-])--ksl-[a-z-]+", text)):
        assert option in flake8_help, f"docs/usage.md names {option}, which flake8 does not know"
    flake8_only = {"--ksl-data-format", "--ksl-report-incomplete"}
    for option in set(re.findall(r"`(--[a-z][a-z-]+)", text)) - flake8_only:
        assert option in cli_help, f"docs/usage.md names {option}, which keras-shape-lint does not know"
    for code in CODES:
        assert f"rules/{code}.md" in text
