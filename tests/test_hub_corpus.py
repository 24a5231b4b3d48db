"""Third-party Keras code: keras-hub 0.32.0's models, analysed, and every finding proven by Keras.

The corpus is ``keras_hub/src/models`` of keras-hub installed without its dependencies
(``.ci/run`` does ``pip install --no-deps keras-hub==0.32.0``; tests/hub.py imports its
modules one by one).  Every module is analysed with its real path, so the modules of the
package it imports are read too, in two worker processes.

* no module records an internal error (KSL902);
* every KSL101-106 finding is real: its witness, replayed through Keras (TensorFlow on the
  CPU), makes Keras raise at the flagged merge (KSL106: the model builds and the witness's
  data fails), as the fixtures' findings must;
* the share of merges decided (proven or flagged) and of files whose analysis stopped early
  are printed, and held to floors well below what an idle machine measures (the per-file
  time budget makes them move with load); bench/coverage.py reports them in full.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from hub import install_package_stub, model_files  # noqa: E402
from oracle import check_finding  # noqa: E402

FILES = model_files()
pytestmark = pytest.mark.skipif(not FILES, reason="keras-hub is not installed (.ci/run installs it with --no-deps)")

MERGE_CODES = ("KSL101", "KSL102", "KSL103", "KSL104", "KSL105", "KSL106")
DECIDED_FLOOR = 0.65  # a 2-core machine measures about 0.85 with bench/coverage.py -j 2 (lower when loaded)
WORKERS = int(os.environ.get("KSL_CORPUS_WORKERS", "2"))  # CI's machine has 2 cores
STOPPED_CEILING = 0.3  # about 0.008 (5 files) with -j 2 on an otherwise idle 2-core machine; more when loaded


def _analyse(path: str) -> dict:
    from keras_shape_lint.analysis import Options, analyse_text

    findings, analysis = analyse_text(Path(path).read_text(encoding="utf-8"), Options(), path)
    stats = analysis.statistics() if analysis is not None else None
    return {"path": path, "findings": [f.to_json() for f in findings], "stats": stats}


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    with ProcessPoolExecutor(WORKERS) as pool:
        return list(pool.map(_analyse, map(str, FILES), chunksize=8))


def test_no_internal_errors(corpus):
    errors = [(row["path"], error) for row in corpus if row["stats"] for error in row["stats"]["internal_errors"]]
    assert not errors, "\n".join(f"{path}: {error}" for path, error in errors)


def test_every_finding_is_real(corpus):
    assert install_package_stub()
    backend = os.environ["KERAS_BACKEND"]
    failures = []
    checked = other_backend = 0
    for row in corpus:
        for finding in row["findings"]:
            if finding["code"] not in MERGE_CODES:
                continue
            if backend != "tensorflow" and any("backend()" in text for text in finding["path_condition"]):
                # the finding's path took a branch on the backend as TensorFlow takes it (its
                # message says so): this backend runs other code there
                other_backend += 1
                continue
            checked += 1
            try:
                check_finding(Path(row["path"]), finding)
            except Exception as error:  # noqa: BLE001 -- collected, reported together
                head, _, rest = str(error).partition("\n")
                failures.append(f"{row['path']}:{finding['line']} {finding['code']} {finding['message'][:160]}\n"
                                f"    witness {finding['witness']}\n    {head}\n"
                                + "\n".join(rest.splitlines()[-12:]))
    print(f"{checked} findings replayed through Keras ({backend})"
          + (f"; {other_backend} on the TensorFlow backend only, not replayed" if other_backend else ""))
    assert not failures, f"{len(failures)} of {checked} findings are not real:\n" + "\n".join(failures)


def test_most_merges_are_decided(corpus):
    rows = [row["stats"] for row in corpus if row["stats"]]
    merges = sum(s["merges"] for s in rows)
    decided = sum(s["proven"] + s["flagged"] for s in rows)
    stopped = sum(1 for s in rows if s["budget"])
    share, stopped_share = decided / merges, stopped / len(rows)
    print(f"keras-hub: {merges} merges, {decided} decided ({share:.1%}); "
          f"{stopped} of {len(rows)} files stopped early ({stopped_share:.1%})")
    assert share >= DECIDED_FLOOR, f"only {share:.1%} of the merges are decided"
    assert stopped_share <= STOPPED_CEILING, f"{stopped_share:.1%} of the files stopped early"


def test_a_witness_never_empties_an_axis_a_reshape_makes():
    # MiT's attention reshapes to ``C // num_heads`` per head: a witness with more heads than
    # channels gave that axis no size, which TensorFlow builds and JAX cannot (it divides by it)
    from keras_shape_lint.analysis import analyse_text

    path = next(p for p in FILES if p.as_posix().endswith("mit/mit_layers.py"))
    findings, _ = analyse_text(path.read_text(encoding="utf-8"), None, str(path))
    witness = next(f.witness for f in findings if f.code == "KSL102" and f.line == 118)
    channels = witness.call["x"]["shape"][-1]
    assert channels // witness.args["num_heads"] >= 1, witness
