"""``--explain`` on the seed block and its neighbours: the fix is for the finding's path,
covers every finding it clears, and is checked.

* the seed block: the KSL102 projection (with strides=strides) also clears KSL103, so
  the KSL103 explanation points to it instead of offering a second change that would
  downsample twice;
* the seed block with its main convolution changed to ``filters``: the finding is
  KSL101 "when conv_shortcut=True", and its fix changes that branch (or the main
  branch), never the ``else`` branch's ``shortcut = x``; Keras then builds the witness;
* KSL106 is explained as a model that builds and then fails on data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from keras_shape_lint.analysis import Options, analyse_text
from keras_shape_lint.explain import explain
from keras_shape_lint.fixcheck import apply_edits, plan

from oracle import REPO_ROOT, build_from_witness, eval_oracle, import_fixture, oracle_lines

SEED = REPO_ROOT / "fixtures" / "seed_resnext_block.py"
# ten times the solver's default limit and a minute per file: a fix is checked by linting the changed
# file, and a query or a file cut short by a busy machine would reject it (the fix logic is tested here,
# not the budgets)
SOLVER = Options(timeout_ms=2000, time_budget_s=60.0)
MAIN_CONV = 'x = Conv2D(filters=filters * 2, kernel_size=(1, 1), strides=1, padding="same", use_bias=False)(x)'


@pytest.fixture
def scratch():
    parent = REPO_ROOT / ".pytest_cache"
    parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="explain-", dir=parent) as folder:
        yield Path(folder)


def _explained(text: str, path: str):
    findings, _ = analyse_text(text, SOLVER, path)
    fixes = plan(text, findings, SOLVER, path)
    return findings, fixes, [explain(f, text, fix=fix, path=path) for f, fix in zip(findings, fixes)]


def test_one_fix_for_the_seed_clears_both_findings():
    text = SEED.read_text(encoding="utf-8")
    findings, fixes, explanations = _explained(text, str(SEED))
    assert [f.code for f in findings] == ["KSL102", "KSL103"]
    assert fixes[0] is fixes[1]
    assert {f.code for f in fixes[0].clears} == {"KSL102", "KSL103"}
    assert "Conv2D(filters * 2, 1, strides=strides)(x)" in explanations[0]
    assert "no longer reports KSL102 and KSL103 at line 35" in " ".join(explanations[0].split())
    assert "the change shown for KSL102 at line 35 clears this finding too" in explanations[1]
    assert "AveragePooling2D" not in explanations[1]
    fixed = apply_edits(text, fixes[0].edits)
    assert analyse_text(fixed, SOLVER, str(SEED))[0] == []


def test_the_fix_follows_the_path_of_the_finding(scratch):
    text = SEED.read_text(encoding="utf-8")
    assert MAIN_CONV in text
    variant = text.replace(MAIN_CONV, MAIN_CONV.replace("filters=filters * 2", "filters=filters"))
    path = scratch / "seed_variant.py"
    path.write_text(variant, encoding="utf-8")
    findings, fixes, explanations = _explained(variant, str(path))
    never = next(f for f in findings if f.code == "KSL101")
    assert never.path_condition == ["conv_shortcut=True"]
    assert "filters and filters*2 channels when conv_shortcut=True: they can never be equal" in never.message
    fix = fixes[findings.index(never)]
    assert fix is not None
    lines = variant.splitlines()
    identity = next(i for i, line in enumerate(lines, 1) if line.strip() == "shortcut = x")
    projection = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("shortcut = Conv2D("))
    main = next(i for i, line in enumerate(lines, 1) if "x = Conv2D(filters=filters," in line)
    assert {e.start for e in fix.edits} <= {projection, main}, fix.edits
    assert identity not in {e.start for e in fix.edits}
    fixed = apply_edits(variant, fix.edits)
    after, _ = analyse_text(fixed, SOLVER, str(path))
    assert "KSL101" not in {f.code for f in after}
    path.write_text(fixed, encoding="utf-8")
    outcome = build_from_witness(path, never.witness.to_json())
    assert outcome.error is None, repr(outcome.error)
    # with every offered fix the block is whole again: the fixture's own uses build
    edits = [e for f in {id(f): f for f in fixes if f is not None}.values() for e in f.edits]
    path.write_text(apply_edits(variant, edits), encoding="utf-8")
    assert analyse_text(path.read_text(encoding="utf-8"), SOLVER, str(path))[0] == []
    module = import_fixture(path)
    for _, expression in oracle_lines(path):
        assert eval_oracle(path, expression, module) is not None


def test_all_offered_fixes_together_add_no_finding():
    for source in (SEED, REPO_ROOT / "examples" / "resnext_block.py"):
        text = source.read_text(encoding="utf-8")
        findings, _ = analyse_text(text, SOLVER, str(source))
        offered = {id(f): f for f in plan(text, findings, SOLVER, str(source)) if f is not None}.values()
        edits = [e for fix in offered for e in fix.edits]
        assert edits
        assert analyse_text(apply_edits(text, edits), SOLVER, str(source))[0] == []


def test_data_time_findings_are_explained_as_failing_on_data():
    source = REPO_ROOT / "fixtures" / "dynamic_size_stride_branch.py"
    _, _, explanations = _explained(source.read_text(encoding="utf-8"), str(source))
    assert "builds the model; a batch of shape (1, 56, 56, 3) for `image` then fails" in explanations[0]
    assert "raise" not in explanations[0]
    assert "image.shape[1]" in explanations[0]


def test_a_finding_without_a_checked_fix_gets_advice_only():
    source = REPO_ROOT / "fixtures" / "siamese_subtract.py"
    findings, fixes, explanations = _explained(source.read_text(encoding="utf-8"), str(source))
    assert fixes == [None]
    assert "advice:" in explanations[0] and "fix:" not in explanations[0]
    assert "\n      line " not in explanations[0]  # no edits offered


def test_a_call_into_another_module_is_fixed_at_the_call():
    source = REPO_ROOT / "fixtures" / "twofile" / "model_bad.py"
    _, fixes, explanations = _explained(source.read_text(encoding="utf-8"), str(source))
    assert fixes[0] is not None
    assert "x = block(inputs, 64, project=True)" in explanations[0]
