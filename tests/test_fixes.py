"""Every suggested fix, applied, does what it says: the analyser and Keras both agree.

For every fixture and example:

* ``keras-shape-lint --fix`` rewrites a copy; linted again, every finding that had a
  suggested fix is gone and no finding is new; the exit status follows what remains;
* Keras builds the fixed module: each ``# oracle:`` expression, and the witness of
  every finding a fix cleared (KSL105: the merge no longer broadcasts a single channel;
  KSL106: the model now runs on the witness's data);
* each suggested fix on its own (as ``--explain`` shows it) clears every finding it
  names, adds none, and the witnesses of those findings now build;
* ``--diff`` prints exactly the change ``--fix`` makes, and changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from keras_shape_lint.analysis import Options, analyse_text
from keras_shape_lint.fixcheck import apply_edits, line_map, plan

from oracle import (REPO_ROOT, _broadcasts_one_channel, build_from_witness, eval_oracle, fixture_paths,
                    import_fixture, keras, oracle_lines, recorded_merges)

SOURCES = fixture_paths() + [REPO_ROOT / "examples" / "resnext_block.py"]
TWOFILE = REPO_ROOT / "fixtures" / "twofile" / "model_bad.py"
ALL = SOURCES + [TWOFILE]
# the fixtures finish well within the default budget on an idle machine; a loaded one must not
# make a file stop early in one of the runs compared here and not in the other
BUDGET_S = 120
OPTIONS = Options(time_budget_s=BUDGET_S)


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


@pytest.fixture(scope="module")
def fixed_tree():
    """Copies of fixtures/ and examples/ (inside the repository, where the oracle names files,
    under the git-ignored .pytest_cache): the findings and suggested fixes before, then
    ``--fix`` run on them, with its exit status and its JSON report of what remains."""
    parent = REPO_ROOT / ".pytest_cache"
    parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fixed-", dir=parent) as folder:
        yield _fixed(Path(folder))


def _fixed(root: Path):
    for folder in ("fixtures", "examples"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    before = {}
    for source in ALL:
        copy = root / _relative(source)
        text = copy.read_text(encoding="utf-8")
        findings, _ = analyse_text(text, OPTIONS, str(copy))
        before[_relative(source)] = (text, findings, plan(text, findings, OPTIONS, str(copy)))
    result = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--fix", "--isolated", "--no-gitignore",
                             "--format", "json", "--timeout", str(BUDGET_S), "fixtures", "examples"],
                            cwd=root, capture_output=True, text=True, timeout=900)
    return root, before, result


@pytest.mark.parametrize("source", ALL, ids=[_relative(p) for p in ALL])
def test_fix_clears_every_offered_finding_and_adds_none(fixed_tree, source):
    root, before, _ = fixed_tree
    text, findings, fixes = before[_relative(source)]
    copy = root / _relative(source)
    fixed = copy.read_text(encoding="utf-8")
    after, _ = analyse_text(fixed, OPTIONS, str(copy))
    lines = line_map(text, fixed)
    now = {(f.code, f.line) for f in after}
    offered = [f for f, fix in zip(findings, fixes) if fix is not None]
    assert all((f.code, lines.get(f.line)) not in now for f in offered), (
        f"still reported after --fix: {sorted(now)}")
    assert not now - {(f.code, lines.get(f.line)) for f in findings}, f"new after --fix: {sorted(now)}"
    if offered:
        assert fixed != text
    else:
        assert fixed == text, "--fix changed a file that had no suggested fix"


def test_fix_reports_what_remains_and_exits_by_it(fixed_tree):
    root, before, result = fixed_tree
    remaining = json.loads(result.stdout)
    assert result.returncode == (1 if remaining else 0), result.stderr[-2000:]
    for item in remaining:
        fixed = (root / item["path"]).read_text(encoding="utf-8")
        assert (item["code"], item["line"]) in {(f.code, f.line) for f in analyse_text(fixed, OPTIONS,
                                                                                       str(root / item["path"]))[0]}
    offered = sum(1 for _, _, fixes in before.values() for fix in fixes if fix is not None)
    assert offered >= 20, f"only {offered} findings have a suggested fix"


def _witness_builds(path: Path, finding, line: int) -> str | None:
    """None when the finding's witness now builds (and runs, for KSL106), else what went wrong."""
    witness = finding.witness.to_json()
    if finding.code == "KSL105":
        with recorded_merges() as merges:
            outcome = build_from_witness(path, witness)
        at_line = [shapes for where, shapes in merges if where == (os.path.realpath(path), line)]
        if outcome.error is not None:
            return f"did not build: {outcome.error!r}"
        if any(_broadcasts_one_channel(shapes) for shapes in at_line):
            return f"the merge still broadcasts one channel: {at_line}"
        return None
    outcome = build_from_witness(path, witness)
    if outcome.error is not None:
        return f"did not build: {outcome.error!r}"
    if finding.code == "KSL106":
        import numpy as np

        batch = [np.zeros([1] + list(shape[1:]), dtype="float32") for shape in witness["data"]]
        try:
            outcome.result(batch[0] if len(batch) == 1 else batch)
        except Exception as error:  # noqa: BLE001 -- the failure is the finding
            return f"the model fails on data of the witness's shape: {error!r}"
    return None


@pytest.mark.parametrize("source", SOURCES, ids=[_relative(p) for p in SOURCES])
def test_fixed_module_builds_in_keras(fixed_tree, source):
    root, before, _ = fixed_tree
    text, findings, fixes = before[_relative(source)]
    copy = root / _relative(source)
    fixed = copy.read_text(encoding="utf-8")
    keras()
    module = import_fixture(copy)
    for _, expression in oracle_lines(copy):
        assert eval_oracle(copy, expression, module) is not None
    lines = line_map(text, fixed)
    failures = []
    for finding, fix in zip(findings, fixes):
        if fix is not None:
            problem = _witness_builds(copy, finding, lines.get(finding.line, 0))
            if problem:
                failures.append(f"line {finding.line} {finding.code}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("source", SOURCES, ids=[_relative(p) for p in SOURCES])
def test_each_suggested_fix_alone(tmp_path, source):
    """A fix as --explain shows it, applied alone: what it names is gone, nothing is new,
    and Keras builds the witnesses of what it names."""
    text = source.read_text(encoding="utf-8")
    findings, _ = analyse_text(text, OPTIONS, str(source))
    fixes = plan(text, findings, OPTIONS, str(source))
    failures = []
    for fix in {id(f): f for f in fixes if f is not None}.values():
        fixed = apply_edits(text, fix.edits)
        copy = tmp_path / f"fix{len(list(tmp_path.iterdir()))}_{source.name}"
        copy.write_text(fixed, encoding="utf-8")
        after, _ = analyse_text(fixed, OPTIONS, str(source))
        lines = line_map(text, fixed)
        now = {(f.code, f.line) for f in after}
        for cleared in fix.clears:
            if (cleared.code, lines.get(cleared.line)) in now:
                failures.append(f"{cleared.code} at line {cleared.line} is still reported")
            problem = _witness_builds(copy, cleared, lines.get(cleared.line, 0))
            if problem:
                failures.append(f"{cleared.code} at line {cleared.line}: {problem}")
        if now - {(f.code, lines.get(f.line)) for f in findings}:
            failures.append(f"new findings: {sorted(now)}")
    assert not failures, "\n".join(failures)


def test_diff_prints_what_fix_does_and_changes_nothing(tmp_path):
    names = ("seed_resnext_block.py", "tcn_valid_padding.py", "siamese_subtract.py")
    for name in names:
        shutil.copy(REPO_ROOT / "fixtures" / name, tmp_path / name)
    original = {name: (tmp_path / name).read_text(encoding="utf-8") for name in names}
    shown = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--diff", "--isolated", "--timeout", str(BUDGET_S), *names],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert {name: (tmp_path / name).read_text(encoding="utf-8") for name in names} == original
    assert shown.returncode == 1  # --diff changes nothing: the findings are still there
    fixed = subprocess.run([sys.executable, "-m", "keras_shape_lint", "--fix", "--isolated", "--timeout", str(BUDGET_S), *names],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert fixed.returncode == 1  # siamese_subtract.py has no suggested fix: its finding remains
    assert "siamese_subtract.py" in fixed.stdout and "seed_resnext_block.py" not in fixed.stdout
    files = {}
    for line in shown.stdout.splitlines():
        if line.startswith("--- a/"):
            current = files.setdefault(line[len("--- a/"):], ([], []))
        elif line.startswith("+") and not line.startswith("+++"):
            current[0].append(line[1:])
        elif line.startswith("-"):
            current[1].append(line[1:])
    assert set(files) == {"seed_resnext_block.py", "tcn_valid_padding.py"}
    for name, (added, removed) in files.items():
        before = original[name].splitlines()
        after = (tmp_path / name).read_text(encoding="utf-8").splitlines()
        assert Counter(added) == Counter(after) - Counter(before)
        assert Counter(removed) == Counter(before) - Counter(after)
