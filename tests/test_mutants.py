"""Mutation testing against Keras: broken variants of the keras.applications models.

``bench/mutants.py`` mutates the installed Keras's ``keras/src/applications`` modules
(shortcut projection filters, the ``conv_shortcut`` flag, identity-add guards, one-branch
strides, concat axes, the last conv's channel multiplier, a merge operand swapped for the
block input). Keras judges each mutant by building the family's smallest model: it is
*rejected* when the build raises Keras's merge error at a merge, and it *builds* when
every build succeeds. The analyser has to agree with Keras:

* recall: every sampled mutant that Keras rejects at a merge is flagged (each one, except
  the known misses listed with their reason, and at least 90% of the sample in all);
* precision: a mutant that builds is not flagged, unless the finding's witness, replayed
  through Keras on the mutant file, really makes that merge fail (the finding is then
  real; the model builders just never pass that input).

The sample is deterministic and small (model builds cost seconds each). The full set runs
with ``python bench/mutants.py``, or here with ``KSL_FULL_MUTANTS=1`` (the ``slow`` test).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import mutants as M  # noqa: E402

RECALL_TARGET = 0.90

# (corpus module, operator, index among that operator's mutants of the module): a spread
# over families and operators, with models that build quickly, including mutants that
# Keras rejects and mutants that still build.
SAMPLE = [
    ("resnet.py", "shortcut_filters", 0),       # block1 projection 4*filters -> 2*filters
    ("resnet.py", "conv_shortcut_flip", 0),     # stack_v1 first block: conv_shortcut=False
    ("resnet.py", "conv_shortcut_flip", 1),     # later v1 blocks get a projection: builds
    ("resnet.py", "conv_shortcut_flip", 2),     # v2 first block unprojected: ResNet50 builds
    #                                             (v2 is ResNet50V2's), the finding replays
    ("resnet.py", "branch_stride", 0),          # v1 block's last conv strided
    ("mobilenet_v2.py", "guard_drop", 0),       # identity add without the channel test
    ("mobilenet_v2.py", "guard_drop", 1),       # without the stride test: still builds
    ("mobilenet_v2.py", "last_conv_multiplier", 0),  # pointwise_filters -> * 2
    ("mobilenet_v3.py", "guard_drop", 0),       # identity add without the stride test
    ("mobilenet_v3.py", "operand_swap", 0),     # SE Multiply([inputs, inputs]): builds
    ("efficientnet.py", "guard_drop", 3),       # filters_in == filters_out dropped
    ("efficientnet.py", "operand_swap", 0),     # SE multiply of the block input
    ("densenet.py", "concat_axis", 0),          # Concatenate on a spatial axis
    ("inception_v3.py", "concat_axis", 0),
    ("xception.py", "shortcut_filters", 0),     # residual projection 128 -> 64
    ("xception.py", "branch_stride", 0),
    ("convnext.py", "branch_stride", 0),        # strided depthwise conv before x + y
]

# Mutants Keras rejects that the analyser does not flag yet, with the reason (they stay in
# the sample: the recall bound counts them, and a fix turns their xfail into a pass).
KNOWN_MISSES: dict = {}


def _sample() -> list:
    chosen = []
    by_module: dict = {}
    for module, operator, index in SAMPLE:
        key = (module, operator)
        if key not in by_module:
            path = M.applications_dir() / module
            by_module[key] = M.mutants_of(path, {operator}) if path.exists() else []
        found = by_module[key]
        if index < len(found):
            chosen.append(found[index])
    return chosen


try:
    MUTANTS = _sample() if M.corpus_files() else []
except RuntimeError:  # keras not installed
    MUTANTS = []

pytestmark = pytest.mark.skipif(not MUTANTS, reason="keras (the corpus and the oracle) is not installed")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return M.Workspace(str(tmp_path_factory.mktemp("mutants")))


@pytest.fixture(scope="module")
def results(workspace):
    """Each sampled mutant judged once (by Keras and by the analyser), on first use."""
    cache: dict = {}

    def get(mutant):
        if mutant.mutant_id not in cache:
            cache[mutant.mutant_id] = M.evaluate(mutant, workspace)
        return cache[mutant.mutant_id]

    return get


def _explain(result, mutant) -> str:
    original = (M.applications_dir() / mutant.module).read_text(encoding="utf-8")
    findings = "\n".join(f"  {f['code']} line {f['line']}: {f['message']}" for f in result.findings) or "  none"
    return (f"{mutant.mutant_id}: {mutant.description}\nKeras: {result.keras} {result.keras_detail}\n"
            f"findings:\n{findings}\nreplays: {result.replayed}\nanalysis: {result.statistics}\n"
            f"{mutant.diff(original)}")


def test_sample_is_as_chosen():
    """Every sampled site exists in the installed Keras (a new Keras may move them)."""
    assert len(MUTANTS) >= 12, f"only {len(MUTANTS)} of {len(SAMPLE)} sampled mutants exist"


def test_every_operator_has_sites_and_keeps_lines():
    mutants = M.all_mutants()
    by_operator = {name: 0 for name in M.OPERATORS}
    for mutant in mutants:
        by_operator[mutant.operator] += 1
        assert mutant.source.count("\n") == (M.applications_dir() / mutant.module).read_text(
            encoding="utf-8").count("\n"), mutant.mutant_id
        compile(mutant.source, mutant.module, "exec")
    assert all(by_operator.values()), f"operators without a site: {by_operator}"
    assert len({m.mutant_id for m in mutants}) == len(mutants), "mutant ids are not unique"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.mutant_id for m in MUTANTS])
def test_rejected_mutant_is_flagged(results, mutant):
    """A mutant that Keras rejects at a merge is flagged by the analyser."""
    result = results(mutant)
    if result.keras != "rejected":
        pytest.skip(f"Keras does not reject it at a merge ({result.keras})")
    if not result.flagged and mutant.mutant_id in KNOWN_MISSES:
        pytest.xfail(KNOWN_MISSES[mutant.mutant_id])
    assert result.flagged, "missed:\n" + _explain(result, mutant)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.mutant_id for m in MUTANTS])
def test_no_false_alarm(results, mutant):
    """A mutant that Keras builds is flagged only by findings whose witness really fails."""
    result = results(mutant)
    if result.keras == "other":
        pytest.skip(f"Keras neither builds it nor rejects it at a merge: {result.keras_detail}")
    if result.keras == "builds" and result.flagged:
        assert any(r == "real" for r in result.replayed), "false alarm:\n" + _explain(result, mutant)


def test_sample_recall(results):
    """At least 90% of the sampled mutants that Keras rejects at a merge are flagged."""
    judged = [(m, results(m)) for m in MUTANTS]
    rejected = [(m, r) for m, r in judged if r.keras == "rejected"]
    builds = [r for _, r in judged if r.keras == "builds"]
    assert len(rejected) >= 8, f"the sample holds only {len(rejected)} mutants that Keras rejects"
    assert builds, "the sample holds no mutant that builds"
    missed = [(m, r) for m, r in rejected if not r.flagged]
    recall = 1 - len(missed) / len(rejected)
    assert recall >= RECALL_TARGET, (
        f"recall {recall:.0%} over the sample; missed:\n" + "\n".join(_explain(r, m) for m, r in missed))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KSL_FULL_MUTANTS") != "1",
                    reason="the full mutation run takes many minutes; set KSL_FULL_MUTANTS=1 to run it")
def test_full_mutation_run():
    jobs = int(os.environ.get("KSL_MUTANT_JOBS", min(2, os.cpu_count() or 1)))
    all_results = M.run(M.all_mutants(), jobs)
    M.print_table(all_results)
    summary = M.summarise(all_results)
    M.print_summary(summary, all_results)
    assert summary["rejected"] > 0
    assert summary["recall"] >= RECALL_TARGET, f"recall {summary['recall']:.1%}; missed {summary['missed']}"
    assert not summary["false_alarms"], f"false alarms: {summary['false_alarms']}"
