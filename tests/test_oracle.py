"""The Keras oracle: Keras itself confirms what the analyser says.

* Every finding's witness, replayed through Keras, makes the flagged merge raise
  Keras's merge error at the finding's line (and not earlier, elsewhere).
* Every ``# oracle:`` expression in a fixture builds without error: the fixture,
  used as intended, is valid Keras.

Keras runs on the TensorFlow backend on the CPU unless KERAS_BACKEND says
otherwise (tests/test_oracle_gpu.py reruns this file under JAX).
"""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

import oracle  # noqa: E402
from oracle import (  # noqa: E402
    assert_merge_error_at,
    build_from_witness,
    check_finding,
    display_path,
    eval_oracle,
    expected_findings,
    fixture_paths,
    import_fixture,
    is_clean,
    oracle_backends,
    oracle_lines,
)

FIXTURES = fixture_paths()
ORACLE_CASES = [(path, line, expression) for path in FIXTURES for line, expression in oracle_lines(path)]


def _needs_missing_tensorflow(path) -> str | None:
    """Why a fixture that imports TensorFlow cannot run here, if it cannot: TensorFlow is not
    installed (the GPU machine's JAX), or Keras runs on another backend, whose tensors
    TensorFlow's own ops (``tf.gather``, ``tf.concat``) do not take."""
    text = path.read_text(encoding="utf-8")
    if "import tensorflow" not in text and "from tensorflow" not in text:
        return None
    if importlib.util.find_spec("tensorflow") is None:
        return "which is not installed here"
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return None if backend == "tensorflow" else f"whose ops do not take the tensors of Keras's {backend} backend"


def _skip_without_tensorflow(path):
    why = _needs_missing_tensorflow(path)
    if why is not None:
        pytest.skip(f"{path.name} imports tensorflow, {why}")


def test_backend_is_the_requested_one():
    keras = oracle.keras()
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"]


def test_fixture_set_is_big_enough():
    clean = [p for p in FIXTURES if is_clean(p)]
    assert len(FIXTURES) >= 30, f"only {len(FIXTURES)} fixture modules"
    assert len(clean) >= 12, f"only {len(clean)} clean fixtures"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_says_how_it_is_used(path):
    """Clean fixtures must show Keras building them; every expectation names a real code."""
    if is_clean(path):
        assert oracle_lines(path), f"{path.name} is clean but has no '# oracle:' line"
    limits = oracle_backends(path)
    if limits is not None:
        # the CI oracle runs on TensorFlow, so every fixture is built there
        assert "tensorflow" in limits[0] <= {"tensorflow", "jax", "torch", "numpy"}, limits
    for line, code in expected_findings(path):
        assert code in {"KSL101", "KSL102", "KSL103", "KSL104", "KSL105", "KSL106"}, f"{path.name}:{line}: unknown code {code}"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_imports(path):
    """Importing a fixture runs its module-level code, which must build."""
    _skip_without_tensorflow(path)
    import_fixture(path)


@pytest.mark.parametrize(
    "path, line, expression",
    ORACLE_CASES,
    ids=[f"{path.stem}:{line}" for path, line, _ in ORACLE_CASES],
)
def test_oracle_line_builds(path, line, expression):
    _skip_without_tensorflow(path)
    limits = oracle_backends(path)
    if limits is not None and os.environ["KERAS_BACKEND"] not in limits[0]:
        pytest.skip(f"{path.name}'s oracle lines hold on {', '.join(sorted(limits[0]))} only: {limits[1]}")
    eval_oracle(path, expression)


FLAGGED = [p for p in FIXTURES if not is_clean(p)]


@pytest.mark.parametrize("path", FLAGGED, ids=[p.stem for p in FLAGGED])
def test_witnesses_fail_at_the_merge(path, analyser_findings):
    """Each finding's witness makes Keras raise its merge error on the finding's line."""
    findings = analyser_findings[display_path(path)]
    assert findings, f"{path.name} expects findings but the analyser reported none"
    _skip_without_tensorflow(path)
    failures = []
    for finding in findings:
        if finding.get("witness") is None:
            failures.append(f"line {finding['line']} {finding['code']}: no witness")
            continue
        try:
            check_finding(path, finding)
        except AssertionError as error:
            failures.append(f"line {finding['line']} {finding['code']} witness={finding['witness']}: {error}")
    assert not failures, "\n\n".join(failures)


# ---------------------------------------------------------------- the helpers themselves

SEED = oracle.FIXTURES_DIR / "seed_resnext_block.py"


def _seed_add_line():
    (line, _), *_ = sorted(expected_findings(SEED))
    return line


def test_helper_accepts_a_witness_that_breaks_the_merge():
    _skip_without_tensorflow(SEED)
    witness = {
        "entry": "block",
        "args": {"x": {"shape": [None, 8, 8, 64]}, "filters": 64, "strides": 1, "conv_shortcut": False},
    }
    outcome = build_from_witness(SEED, witness)
    assert_merge_error_at(outcome.error, SEED, _seed_add_line())


def test_helper_rejects_a_witness_that_builds():
    _skip_without_tensorflow(SEED)
    witness = {"entry": "block", "args": {"x": {"shape": [None, 8, 8, 128]}, "filters": 64, "conv_shortcut": False}}
    outcome = build_from_witness(SEED, witness)
    assert outcome.error is None
    with pytest.raises(AssertionError, match="built without error"):
        assert_merge_error_at(outcome.error, SEED, _seed_add_line())


def test_helper_rejects_an_error_on_another_line():
    _skip_without_tensorflow(SEED)
    witness = {"entry": "block", "args": {"x": {"shape": [None, 8, 8, 64]}, "filters": 64, "conv_shortcut": False}}
    outcome = build_from_witness(SEED, witness)
    with pytest.raises(AssertionError, match="innermost fixture frame"):
        assert_merge_error_at(outcome.error, SEED, _seed_add_line() - 1)


def test_helper_rejects_an_error_that_is_not_the_merge():
    _skip_without_tensorflow(SEED)
    # 48 input channels are not divisible by 32 groups: Conv2D fails before the Add
    witness = {"entry": "block", "args": {"x": {"shape": [None, 8, 8, 48]}, "filters": 48, "conv_shortcut": False}}
    outcome = build_from_witness(SEED, witness)
    assert isinstance(outcome.error, ValueError)
    with pytest.raises(AssertionError, match="not with Keras's merge error"):
        assert_merge_error_at(outcome.error, SEED, _seed_add_line())


def test_helper_passes_a_list_where_the_path_took_a_list():
    # JSON writes lists and tuples alike; a flat list goes as a tuple (a kernel size), but as a
    # list where the finding's path took ``isinstance(x, list)``
    finding = {"path_condition": ["isinstance(self.points, list)", "wide=True", "isinstance(sizes, list)"]}
    assert oracle.list_parameters(finding) == {"points", "sizes"}
    assert oracle.list_parameters({"path_condition": ["not isinstance(points, list)"]}) == frozenset()
