"""The Keras applications corpus: real model code the analyser must read quietly and well.

The corpus is the installed Keras's ``keras/src/applications/*.py`` (tests excluded),
read in place (found with ``importlib.util.find_spec``, never imported or copied).  Every
module is analysed once per session with its real path, so that the sibling modules it
imports (``imagenet_utils``, ``resnet`` for ``resnet_v2``) are read as well.

* no module yields a finding that claims Keras fails while building the graph (KSL101-104)
  or that a merge silently broadcasts one channel (KSL105): these models build as
  written, so any such finding is a false alarm.  Findings of other KSL codes (a merge
  that fails only once data flows, when the graph leaves sizes to the data) can be true
  of this code and are printed, not failed on;
* over the whole corpus at least 90% of the merges are *proven* compatible (``merges``
  counts every merge site written in a module, reached or not);
* no module records an internal error.

Run with ``-s`` to see the per-module numbers (they are also attached to the test report
as ``record_property`` entries).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from keras_shape_lint.analysis import Options, analyse_text

PROVEN_SHARE = 0.90
BUILD_CODES = ("KSL101", "KSL102", "KSL103", "KSL104", "KSL105")


def corpus_files() -> list[Path]:
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(list(spec.submodule_search_locations)[0]) / "src" / "applications"
    return sorted(p for p in folder.glob("*.py") if not p.name.endswith("_test.py"))


FILES = corpus_files()
pytestmark = pytest.mark.skipif(not FILES, reason="keras (the corpus) is not installed")


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[list, dict]]:
    """name -> (findings, statistics) for every corpus module (analysed once)."""
    results = {}
    for path in FILES:
        findings, analysis = analyse_text(path.read_text(encoding="utf-8"), Options(), str(path))
        stats = analysis.statistics() if analysis is not None else {
            "merges": 0, "proven": 0, "flagged": 0, "undecided": 0, "unreached": 0,
            "opaque": {}, "budget": {}, "internal_errors": []}
        results[path.name] = (findings, stats)
    return results


def _row(name: str, stats: dict) -> str:
    return (f"{name:24} merges {stats['merges']:3d}  proven {stats['proven']:3d}  "
            f"flagged {stats['flagged']:2d}  undecided {stats['undecided']:2d}  "
            f"unreached {stats['unreached']:2d}  budget notes {len(stats.get('budget') or {}):3d}")


@pytest.mark.parametrize("name", [p.name for p in FILES])
def test_no_findings(corpus, name, record_property):
    findings, _ = corpus[name]
    others = [f for f in findings if f.code not in BUILD_CODES]
    if others:
        record_property("other_findings", [(f.code, f.line) for f in others])
        listed = ", ".join(f"{f.code} line {f.line}" for f in others)
        print(f"\n{name}: {len(others)} finding(s) of other codes: {listed}")
    wrong = [f for f in findings if f.code in BUILD_CODES]
    assert not wrong, f"{name}: findings on a model that builds:\n" + "\n".join(
        f"  line {f.line}: {f.code} {f.message}" for f in wrong)


@pytest.mark.parametrize("name", [p.name for p in FILES])
def test_no_internal_errors(corpus, name):
    _, stats = corpus[name]
    assert not stats["internal_errors"], f"{name}: internal errors:\n" + "\n".join(
        f"  {e}" for e in stats["internal_errors"])


def test_proven_share(corpus, record_property):
    merges = proven = 0
    lines = []
    for name, (_, stats) in sorted(corpus.items()):
        merges += stats["merges"]
        proven += stats["proven"]
        lines.append(_row(name, stats))
        record_property(name, {k: stats[k] for k in ("merges", "proven", "flagged", "undecided", "unreached")})
    share = proven / merges if merges else 1.0
    lines.append(f"{'total':24} merges {merges:3d}  proven {proven:3d}  ({share:.1%} proven)")
    print("\n" + "\n".join(lines))
    record_property("proven_share", round(share, 4))
    assert merges > 0, "the corpus holds no merges: is keras/src/applications where it should be?"
    not_proven = {name: {k: stats[k] for k in ("undecided", "unreached", "flagged") if stats[k]}
                  for name, (_, stats) in corpus.items() if stats["proven"] < stats["merges"]}
    assert share >= PROVEN_SHARE, (
        f"only {proven}/{merges} = {share:.1%} of the corpus merges are proven "
        f"(need {PROVEN_SHARE:.0%}); not proven: {not_proven}")


def test_data_time_findings_are_real(corpus):
    """Each module's first KSL106 finding, replayed: the model builds, then fails on data.

    The witness keeps the entry's defaults, and ``weights="imagenet"`` would download
    weights (no network here); the replay passes ``weights=None``, which builds the same
    graph without loading anything.
    """
    import inspect

    import oracle

    replayed = 0
    for path in FILES:
        findings, _ = corpus[path.name]
        data_time = [f for f in findings if f.code == "KSL106"]
        if not data_time:
            continue
        witness = data_time[0].witness.to_json()
        module = oracle.import_fixture(path)
        if "weights" in inspect.signature(getattr(module, witness["entry"])).parameters:
            witness["args"] = {**witness["args"], "weights": None}
        outcome = oracle.build_from_witness(path, witness)
        assert outcome.error is None, f"{path.name}: the witness does not build: {outcome.error}"
        oracle._assert_data_fails(outcome.result, witness["data"])
        replayed += 1
    print(f"\nKSL106 findings replayed through Keras in {replayed} module(s)")
